/**
 * A file made through the master's mount and removed (rm, or `mv other over it`) while
 * another descriptor or a mapping still has it, before it was ever logged: the holder keeps
 * reading its bytes (POSIX unlink semantics). Found by torture property 10: such holders got
 * ESTALE from read/fstat and SIGBUS from their mappings.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { asHost, famfsOk, GiB, makeHost, removeAllShm, removeHost, sparseFile, type Host } from '../core/helpers.js';
import { Famfs } from '../../src/api/famfs.js';
import { fsck } from '../../src/api/fsck.js';
import { HAVE_FUSE, mount, NO_FUSE_REASON, umountAll, waitFor } from './mounted.js';

/** A child maps `file` (already open here too), waits for "go" on stdin, then sums every page. */
const MAPPER = `
import fs from 'node:fs';
import { mmap, viewOf, PROT_READ, MAP_SHARED } from ${JSON.stringify(path.resolve('dist/src/sys/libc.js'))};
const fd = fs.openSync(process.argv[1], 'r');
const size = fs.fstatSync(fd).size;
const v = viewOf(mmap(size, PROT_READ, MAP_SHARED, fd, 0), size);
fs.closeSync(fd);
process.stdout.write('mapped\\n');
fs.readSync(0, Buffer.alloc(2));
let s = 0;
for (let o = 0; o < size; o += 512) s += v[o];
process.stdout.write(String(s));
`;

describe('unlinked new files stay readable to their holders (master mount)', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  let master: Host;
  let mp: string;
  let dev: string;

  before(() => {
    master = makeHost('unl-master');
    dev = sparseFile('unlinked', 4 * GiB);
    famfsOk(master, ['mkfs', '--features', 'delete', dev]);
    mp = mount(master, dev, 'unl-master');
  });

  after(() => {
    umountAll(master);
    removeAllShm();
    removeHost(master);
  });

  for (const how of ['rm', 'mv over it'] as const) {
    test(`${how}: read, fstat and a mapping of the still-new file keep its bytes`, async () => {
      const p = path.join(mp, `f-${how.replace(/ /g, '')}`);
      const bytes = Buffer.alloc(1 << 20);
      for (let i = 0; i < bytes.length; i += 512) bytes[i] = 1 + ((i / 512) % 251);
      const want = bytes.reduce((s, b) => s + b, 0);
      fs.writeFileSync(p, bytes);
      // Held open from here on: a file held open is not logged, so it is still new when removed.
      const fd = fs.openSync(p, 'r');
      const child = spawn(process.execPath, ['--input-type=module', '-e', MAPPER, p], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '', err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const exited = new Promise<number | string>((r) => child.on('close', (code, sig) => r(code ?? String(sig))));
      try {
        await waitFor(() => out.startsWith('mapped'), 30_000);
        if (how === 'rm') fs.unlinkSync(p);
        else {
          fs.writeFileSync(`${p}.new`, 'other');
          fs.renameSync(`${p}.new`, p);
        }
        const got = Buffer.alloc(bytes.length);
        assert.equal(fs.readSync(fd, got, 0, got.length, 0), bytes.length);
        assert.ok(got.equals(bytes), 'read through the held descriptor');
        assert.equal(fs.fstatSync(fd).size, bytes.length);
        child.stdin.end('go');
        assert.equal(await exited, 0, `the mapping holder died: ${err}`);
        assert.equal(Number(out.slice('mapped\n'.length)), want, 'every page of the mapping has the file\'s bytes');
      } finally {
        child.kill('SIGKILL');
        fs.closeSync(fd);
      }
    });
  }

  // Found by torture property 10 with writable mappings (msync is a FUSE FSYNC): an fsync through
  // the holder logged the removed file at its old name, where the file that replaced it (or a
  // later one) already was; replay refused the entry and its space stayed taken.
  for (const how of ['rm', 'mv over it'] as const) {
    test(`${how}, then fsync through the holder: the removed new file is not logged`, async () => {
      const name = `s-${how.replace(/ /g, '')}`;
      const p = path.join(mp, name);
      fs.writeFileSync(p, Buffer.alloc(1 << 20, 7));
      const fd = fs.openSync(p, 'r+');
      try {
        if (how === 'rm') fs.unlinkSync(p);
        else {
          fs.writeFileSync(`${p}.new`, 'other');
          fs.renameSync(`${p}.new`, p);
        }
        fs.writeSync(fd, Buffer.alloc(4096, 8), 0, 4096, 0);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.fsyncSync(fs.openSync(mp, 'r'));
      const f = asHost(master, () => Famfs.open(dev));
      try {
        const r = fsck(f);
        assert.deepEqual(r.problems, [], 'replay refused an entry');
        const node = f.tree.lookup(name);
        if (how === 'rm') assert.equal(node, undefined, 'the removed file is in the log');
        else assert.equal(node?.kind === 'file' ? node.size : -1, 5, 'the name holds the file that replaced it');
      } finally {
        f.close();
      }
    });
  }
});
