/**
 * Famfs.readThroughFd / Device.readInto: a daemon's small READs of a device file are
 * read with pread instead of through the mapping. The bytes must be the ones the
 * mapping shows (also across extents, right after a store through the mapping), a
 * device that shrank must give EIO (never a SIGBUS, never short data), and devices that
 * must be read through their mapping (not coherent through one page cache) are left to it.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Famfs } from '../../src/api/famfs.js';
import { Device } from '../../src/device/device.js';
import { FM_ALL_HOSTS_RW } from '../../src/format/constants.js';
import { asHost, famfsOk, GiB, makeHost, MiB, prng, removeHost, sparseFile } from './helpers.js';

describe('reads through the device fd', () => {
  const host = makeHost('readfd');
  after(() => removeHost(host));

  /** A famfs whose file `f` (5 MiB of pseudo-random bytes) has three extents, the last one at 3 GiB. */
  function fixture(tag: string): string {
    const dev = sparseFile(tag, 4 * GiB);
    famfsOk(host, ['mkfs', dev]);
    asHost(host, () => {
      const f = Famfs.open(dev, { writable: true });
      try {
        const extents = [{ devindex: 0, offset: 512 * MiB, length: 2 * MiB }, { devindex: 0, offset: 256 * MiB, length: 2 * MiB }, { devindex: 0, offset: 3 * GiB, length: 2 * MiB }];
        f.writer(() => f.log.append({ type: 'file', path: 'f', size: 5 * MiB, flags: FM_ALL_HOSTS_RW, mode: 0o644, uid: 0, gid: 0, map: { kind: 'simple', extents } }));
        f.refresh();
        const rnd = prng(7);
        const bytes = Buffer.alloc(5 * MiB);
        for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE((rnd() * 2 ** 32) >>> 0, i);
        assert.ok(bytes.readUInt32LE(0) !== bytes.readUInt32LE(4));
        f.write(f.file('f'), 0, bytes);
      } finally {
        f.close();
      }
    });
    return dev;
  }

  test('the bytes the mapping shows, for ranges inside and across extents and at the end of the file', () => {
    const dev = fixture('same');
    asHost(host, () => {
      const f = Famfs.open(dev, { writable: true });
      try {
        const file = f.file('f');
        const buf = Buffer.alloc(1 * MiB);
        for (const [off, len] of [[0, 4096], [2 * MiB - 100, 200], [2 * MiB - 1, 2 * MiB + 2], [5 * MiB - 4096, 1 * MiB], [123_457, 777_777], [5 * MiB - 1, 10]] as const) {
          const n = Math.min(len, buf.length);
          const got = f.readThroughFd(file, off, n, buf);
          assert.ok(got, 'a file device is read through its fd');
          const want = Buffer.concat(f.slices(file, off, n));
          assert.equal(got.length, Math.min(n, 5 * MiB - off));
          assert.ok(got.equals(want), `[${off}, +${len})`);
        }
        // A store through the mapping is seen by the next pread (one page cache).
        f.slices(file, 2 * MiB, 4)[0]!.write('ABCD');
        assert.equal(f.readThroughFd(file, 2 * MiB, 4, buf)!.toString(), 'ABCD');
      } finally {
        f.close();
      }
    });
  });

  test('a device that shrank: EIO for pieces past its end, the pieces below still read', () => {
    const dev = fixture('shrink');
    asHost(host, () => {
      const f = Famfs.open(dev, { writable: false });
      try {
        const file = f.file('f');
        const buf = Buffer.alloc(8 * MiB);
        fs.truncateSync(dev, 2 * GiB);
        assert.equal(f.readThroughFd(file, 0, 4 * MiB, buf)!.length, 4 * MiB);
        assert.throws(() => f.readThroughFd(file, 4 * MiB, 4096, buf), (e: NodeJS.ErrnoException) => e.code === 'EIO' && /shrank/.test(e.message));
        assert.throws(() => f.readThroughFd(file, 0, 5 * MiB, buf), (e: NodeJS.ErrnoException) => e.code === 'EIO');
      } finally {
        f.close();
      }
    });
  });

  test('devices kept on their mapping: CPU-managed coherence (FAMFS_COHERENT=0), a simulated cache', () => {
    const dev = fixture('mapped');
    for (const env of [{ FAMFS_COHERENT: '0' }, { FAMFS_SIM_NONCOHERENT: '1' }]) {
      const old = { ...process.env };
      Object.assign(process.env, env);
      try {
        const d = Device.open(dev, { writable: false });
        try {
          assert.equal(d.readsThroughFd, false, JSON.stringify(env));
          assert.throws(() => d.readInto(0, 16, Buffer.alloc(16), 0), /cannot be read through its descriptor/);
        } finally {
          d.close();
        }
        asHost(host, () => {
          const f = Famfs.open(dev, { writable: false });
          try {
            assert.equal(f.readThroughFd(f.file('f'), 0, 4096, Buffer.alloc(4096)), undefined);
          } finally {
            f.close();
          }
        });
      } finally {
        for (const k of Object.keys(env)) if (old[k] === undefined) delete process.env[k];
      }
    }
  });
});
