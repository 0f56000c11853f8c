/**
 * famfs cp on a file device stores through the device's fd (copy_file_range, or
 * pread + pwrite when the kernel refuses it), not through the mapping: the bytes must be
 * exactly the source's, every piece of an interleaved map included, and a mapping opened
 * afterwards (what the daemon and other processes use) must see them.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Device } from '../../src/device/device.js';
import { Famfs } from '../../src/api/famfs.js';
import { mkfs } from '../../src/api/mkfs.js';
import { copyIn } from '../../src/api/copy.js';
import { asHost, GiB, makeHost, MiB, removeAllShm, removeHost, sparseFile } from './helpers.js';

const host = makeHost('cpfd');
const tmpDirs: string[] = [];

function tmpDir(base: string): string {
  const d = fs.mkdtempSync(path.join(base, 'famfs-cpfd-'));
  tmpDirs.push(d);
  return d;
}

/** The file's bytes as a fresh open of the device (its own mapping) sees them. */
function readBack(dev: string, rel: string): Buffer {
  const f = asHost(host, () => Famfs.open(dev));
  try {
    return Buffer.concat(f.slices(f.file(rel), 0, Infinity).map((s) => Buffer.from(s)));
  } finally {
    f.close();
  }
}

describe('famfs cp through the device fd', () => {
  after(() => {
    removeAllShm();
    for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
    removeHost(host);
  });

  it('copies byte-exact, interleaved pieces included, from tmpfs (copy_file_range) and ext4 (fallback)', () => {
    const dev = sparseFile('cpfd', 4 * GiB);
    asHost(host, () => mkfs(dev));
    const sizes = [0, 1, 4096, 3 * MiB + 17, 9 * MiB + 5];
    const sources: [string, Buffer][] = [];
    for (const base of ['/dev/shm', os.tmpdir()]) {
      const d = tmpDir(base);
      for (const s of sizes) {
        const p = path.join(d, `f${s}`);
        const b = randomBytes(s);
        fs.writeFileSync(p, b);
        sources.push([p, b]);
      }
    }
    const f = asHost(host, () => Famfs.open(dev, { writable: true }));
    try {
      assert.equal(f.device.writesThroughFd, true);
      sources.forEach(([src], i) => {
        copyIn(f, [src], `plain${i}`);
        copyIn(f, [src], `striped${i}`, { interleave: { nstrips: 3, chunkSize: 2 * MiB, nbuckets: 4 } });
      });
    } finally {
      f.close();
    }
    sources.forEach(([src, b], i) => {
      assert.ok(readBack(dev, `plain${i}`).equals(b), `plain copy of ${src}`);
      assert.ok(readBack(dev, `striped${i}`).equals(b), `striped copy of ${src}`);
    });
  });

  it('Famfs.write stores through the fd (pwrite) exactly what a mapping then reads, interleaved pieces included; writeAt refuses a shrunk device instead of growing it', () => {
    const dev = sparseFile('cpfd-write', 4 * GiB);
    asHost(host, () => mkfs(dev));
    const data = randomBytes(5 * MiB + 123);
    const f = asHost(host, () => Famfs.open(dev, { writable: true }));
    try {
      asHost(host, () => f.writer((w) => {
        w.creat('w-plain', data.length);
        w.creat('w-striped', data.length, { interleave: { nstrips: 3, chunkSize: 2 * MiB, nbuckets: 4 } });
      }));
      for (const name of ['w-plain', 'w-striped']) {
        const file = f.file(name);
        assert.equal(f.rangeThroughFd(file, 0, data.length), true);
        // Two writes, the second crossing chunk boundaries at an odd offset.
        assert.equal(f.write(file, 0, data.subarray(0, 777)), 777);
        assert.equal(f.write(file, 777, data.subarray(777)), data.length - 777);
      }
    } finally {
      f.close();
    }
    assert.ok(readBack(dev, 'w-plain').equals(data), 'plain file through a fresh mapping');
    assert.ok(readBack(dev, 'w-striped').equals(data), 'striped file through a fresh mapping');
    const d = Device.open(dev, { writable: true });
    try {
      fs.truncateSync(dev, 3 * GiB);
      assert.throws(() => d.writeAt(3 * GiB + 8192, Buffer.alloc(4096, 1)), (e: Error & { code?: string }) => e.code === 'EIO');
      assert.equal(fs.statSync(dev).size, 3 * GiB, 'a refused write does not grow the device file');
    } finally {
      d.close();
    }
  });

  it('writeFromFile returns a short count when the source ends early, and is refused where stores must go through the mapping', () => {
    const dev = sparseFile('cpfd-short', 64 * MiB);
    const src = path.join(tmpDir('/dev/shm'), 'short');
    fs.writeFileSync(src, randomBytes(5000));
    const d = Device.open(dev, { writable: true });
    const fd = fs.openSync(src, 'r');
    try {
      assert.equal(d.writeFromFile(fd, 1000, 8 * MiB, 10_000), 4000);
      assert.throws(() => d.writeFromFile(fd, 0, 64 * MiB - 10, 100), /outside the device/);
    } finally {
      fs.closeSync(fd);
      d.close();
    }
    const ro = Device.open(dev);
    try {
      assert.equal(ro.writesThroughFd, false);
    } finally {
      ro.close();
    }
    const old = process.env.FAMFS_COHERENT;
    process.env.FAMFS_COHERENT = '0'; // CPU cache write-back requested: stores go through the mapping
    try {
      const c = Device.open(dev, { writable: true });
      assert.equal(c.writesThroughFd, false);
      c.close();
    } finally {
      if (old === undefined) delete process.env.FAMFS_COHERENT;
      else process.env.FAMFS_COHERENT = old;
    }
  });
});
