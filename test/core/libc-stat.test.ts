/** fileSize and sizeAndMode (statx through koffi) agree with fs.fstatSync / fs.statSync, errors included. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileSize, sizeAndMode } from '../../src/sys/libc.js';

const dir = fs.mkdtempSync('/dev/shm/famfs-libcstat-');

describe('statx helpers', () => {
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('fileSize follows a file through writes and truncation, as fstat', () => {
    const p = path.join(dir, 'f');
    const fd = fs.openSync(p, 'w+');
    try {
      for (const size of [0, 1, 4096, 5 * 2 ** 30 + 3, 7]) {
        fs.ftruncateSync(fd, size);
        assert.equal(fileSize(fd), size);
        assert.equal(fileSize(fd), fs.fstatSync(fd).size);
      }
    } finally {
      fs.closeSync(fd);
    }
    assert.throws(() => fileSize(fd), (e: NodeJS.ErrnoException) => e.code === 'EBADF');
  });

  it('sizeAndMode: size and mode as statSync, symbolic links followed; ENOENT and ENOTDIR as codes', () => {
    const f = path.join(dir, 'g');
    fs.writeFileSync(f, Buffer.alloc(12345));
    fs.chmodSync(f, 0o640);
    fs.symlinkSync(f, path.join(dir, 'link'));
    for (const p of [f, path.join(dir, 'link'), dir]) {
      const st = fs.statSync(p);
      assert.deepEqual(sizeAndMode(p), { size: st.size, mode: st.mode }, p);
    }
    assert.throws(() => sizeAndMode(path.join(dir, 'missing')), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
    assert.throws(() => sizeAndMode(path.join(f, 'below')), (e: NodeJS.ErrnoException) => e.code === 'ENOTDIR');
  });
});
