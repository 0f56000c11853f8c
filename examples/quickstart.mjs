#!/usr/bin/env node
// Open a famfs (a device, an image file, or any path in a famfs mount), list it, and read a
// file three ways: zero-copy views on the shared mapping, chunks, and a stream.
// Usage: node examples/quickstart.mjs DEVICE|MOUNTED-PATH [FILE]
import { createHash } from 'node:crypto';
import { Famfs, isFamfsError } from 'famfs';

const [where, wanted] = process.argv.slice(2);
if (!where) {
  console.error('usage: quickstart.mjs DEVICE|MOUNTED-PATH [FILE]');
  process.exit(2);
}

const fs = Famfs.openPath(where);
try {
  console.log(`famfs ${fs.sb.uuid}: role ${fs.role}${fs.mountpoint ? `, mounted at ${fs.mountpoint}` : ''}${fs.device.metadataOnly ? ' (through the mount)' : ''}`);
  // List the whole tree: stat records, as `ls -lR` would show them.
  const walk = (dir) => {
    for (const st of fs.readdir(dir)) {
      console.log(`${st.type === 'dir' ? 'd' : '-'} ${st.mode.toString(8).padStart(4, '0')} ${String(st.nlink).padStart(2)} ${String(st.size).padStart(10)} ${st.path}`);
      if (st.type === 'dir') walk(st.path);
    }
  };
  walk('');

  const file = wanted ?? fs.readdir('').find((s) => s.type === 'file')?.path;
  if (file) {
    const st = fs.stat(file);
    console.log(`${file}: ${st.size} bytes, map ${st.map.kind}`);
    if (!fs.device.metadataOnly) {
      // One Buffer per piece of the file, straight on the shared memory: no copy.
      const views = fs.views(file);
      const h = createHash('sha256');
      for (const v of views) h.update(v);
      console.log(`views: ${views.length} [${views.map((v) => v.length).join(', ')}] sha256 ${h.digest('hex')}`);
    }
    const h2 = createHash('sha256');
    for (const c of fs.chunks(file)) h2.update(c);
    console.log(`chunks: sha256 ${h2.digest('hex')}`);
    const h3 = createHash('sha256');
    for await (const c of fs.createReadStream(file)) h3.update(c);
    console.log(`stream: sha256 ${h3.digest('hex')}`);
  }

  // Errors carry stable codes.
  try {
    fs.stat('no/such/file');
  } catch (e) {
    if (isFamfsError(e, 'ENOENT')) console.log(`error code: ${e.code}`);
    else throw e;
  }
} finally {
  fs.close();
}
