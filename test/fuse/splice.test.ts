/**
 * READ replies spliced from files into /dev/fuse (src/fuse/splice.ts): the message that
 * leaves the pipe is exactly header + the pieces' bytes, in order, also for unaligned pieces
 * of several files; a piece past its file's end sends nothing and leaves the pipe clean for
 * the next message; a READ too big for the pipe is refused (the caller answers another way).
 * Then through a real famfs mount: 4 KiB … 1 MiB READs at odd offsets give the device's
 * bytes, and a device that shrank gives EIO for the spliced READ, then ESTALE.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { FdReply, readPieces, ShortPieceError, SplicePipe } from '../../src/fuse/splice.js';
import { pipe, setPipeSize } from '../../src/sys/libc.js';
import { famfsOk, GiB, makeHost, MiB, prng, removeHost } from '../core/helpers.js';
import { errnoOf, HAVE_FUSE, mount, NO_FUSE_REASON, umount, waitFor } from '../fs/mounted.js';
import { shrinkFixture } from '../reliability/shrink-fixture.js';

function randomBytes(n: number, seed: number): Buffer {
  const rnd = prng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i + 4 <= n; i += 4) b.writeUInt32LE((rnd() * 2 ** 32) >>> 0, i);
  return b;
}

/** Everything waiting in pipe `fd` (non-blocking: stops at EAGAIN). */
function drain(fd: number): Buffer {
  const parts: Buffer[] = [];
  const buf = Buffer.alloc(1 << 20);
  for (;;) {
    try {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      parts.push(Buffer.from(buf.subarray(0, n)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw e;
    }
  }
  return Buffer.concat(parts);
}

describe('splicing READ replies', () => {
  const host = makeHost('splice');
  after(() => removeHost(host));
  const a = path.join(host.dir, 'a.bin');
  const b = path.join(host.dir, 'b.bin');
  fs.writeFileSync(a, randomBytes(3 * MiB, 1));
  fs.writeFileSync(b, randomBytes(1 * MiB, 2));
  const A = fs.readFileSync(a);
  const B = fs.readFileSync(b);

  test('the message is the header and the pieces in order; a short piece sends nothing; too big is refused', () => {
    const fa = fs.openSync(a, 'r');
    const fb = fs.openSync(b, 'r');
    // The "kernel": a non-blocking pipe standing for /dev/fuse (splice pipe → pipe).
    const [outR, outW] = pipe(0o2000000 | 0o4000);
    setPipeSize(outW, 1 << 20);
    const sp = new SplicePipe();
    try {
      const header = Buffer.from('0123456789abcdef');
      const pieces = [{ fd: fa, offset: 4097, length: 100_000 }, { fd: fb, offset: 13, length: 5_000 }, { fd: fa, offset: 2 * MiB - 1, length: 70_000 }];
      const reply = new FdReply(pieces);
      assert.equal(reply.length, 175_000);
      assert.ok(sp.fits(reply));
      assert.equal(sp.send(outW, header, reply), true);
      const want = Buffer.concat([header, A.subarray(4097, 104_097), B.subarray(13, 5_013), A.subarray(2 * MiB - 1, 2 * MiB + 69_999)]);
      assert.ok(drain(outR).equals(want), 'spliced bytes differ from the files');
      assert.ok(readPieces(reply).equals(want.subarray(16)), 'readPieces differs');

      // A piece past the end of its file: ShortPieceError, nothing sent, and the next message is whole.
      let shorted: string | undefined;
      const short = new FdReply([{ fd: fb, offset: MiB - 4096, length: 8192 }], (why) => (shorted = why));
      assert.throws(() => sp.send(outW, header, short), ShortPieceError);
      assert.throws(() => readPieces(short), ShortPieceError);
      assert.equal(shorted, undefined, 'onShort is the session\'s to call');
      assert.equal(drain(outR).length, 0, 'a short reply must not reach the kernel');
      assert.equal(sp.send(outW, header, new FdReply([{ fd: fb, offset: 0, length: 4096 }])), true);
      assert.ok(drain(outR).equals(Buffer.concat([header, B.subarray(0, 4096)])));

      // Larger than any pipe this process may make: refused, nothing sent.
      const huge = new FdReply([{ fd: fa, offset: 0, length: 3 * MiB }, { fd: fa, offset: 0, length: 3 * MiB }, { fd: fa, offset: 0, length: 3 * MiB }, { fd: fa, offset: 0, length: 3 * MiB }, { fd: fa, offset: 0, length: 3 * MiB }, { fd: fa, offset: 0, length: 3 * MiB }]);
      assert.equal(sp.fits(huge), false);
      assert.equal(sp.send(outW, header, huge), false);
      assert.equal(drain(outR).length, 0);
      // trimmed() keeps the first bytes, across pieces.
      const t = reply.trimmed(100_010);
      assert.deepEqual(t.pieces.map((p) => p.length), [100_000, 10]);
    } finally {
      sp.close();
      for (const fd of [fa, fb, outR, outW]) fs.closeSync(fd);
    }
  });

  test('a disabled pipe (FAMFS_READ_SPLICE=0) fits nothing', () => {
    const sp = new SplicePipe(true);
    assert.equal(sp.fits(new FdReply([{ fd: 0, offset: 0, length: 1 }])), false);
  });

  test('famfs mount: READs of 4 KiB to 1 MiB at odd offsets give the device bytes; a shrunk device gives EIO, then ESTALE', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, async () => {
    const dev = shrinkFixture(host, 'splice-mnt');
    const bytes = randomBytes(4 * MiB, 9);
    famfsOk(host, ['cp', '-d', dev, writeTmp(host.dir, bytes), 'rnd']);
    const logFile = path.join(host.dir, `splice-${process.pid}.log`);
    const mp = mount(host, dev, 'splice', ['--log', logFile, '--data-path', 'daemon']);
    try {
      const fd = fs.openSync(path.join(mp, 'rnd'), 'r');
      try {
        const buf = Buffer.alloc(MiB);
        for (const [off, len] of [[0, MiB], [4095, 128 * 1024], [MiB + 1, MiB], [3 * MiB + 12345, MiB], [17, 4096]] as const) {
          const n = fs.readSync(fd, buf, 0, len, off);
          assert.equal(n, Math.min(len, 4 * MiB - off));
          assert.ok(buf.subarray(0, n).equals(bytes.subarray(off, off + n)), `[${off}, +${len})`);
        }
      } finally {
        fs.closeSync(fd);
      }
      // 'high' lies at 6 GiB: after the shrink its pieces end early (splice returns 0).
      // (opened first: an OPEN checks the device's size and would answer ESTALE itself)
      const hfd = fs.openSync(path.join(mp, 'high'), 'r');
      let first: string | undefined;
      try {
        assert.equal(fs.readSync(hfd, Buffer.alloc(MiB), 0, MiB, 0), MiB);
        fs.truncateSync(dev, 5 * GiB);
        // 128 KiB fits any pipe: spliced, its piece ends early → EIO, and the mount goes stale.
        // The log watcher checks the device size every 10 ms: under load it may see the shrink
        // before this READ arrives, and then the mount is already stale (ESTALE). Either answer
        // keeps the guarantee (no byte past the end); the log says which path refused.
        first = errnoOf(() => fs.readSync(hfd, Buffer.alloc(128 * 1024), 0, 128 * 1024, MiB));
        assert.ok(first === 'EIO' || first === 'ESTALE', `first READ after the shrink: ${first}`);
        assert.equal(errnoOf(() => fs.readSync(hfd, Buffer.alloc(128 * 1024), 0, 128 * 1024, 0)), 'ESTALE');
      } finally {
        fs.closeSync(hfd);
      }
      await waitFor(() => errnoOf(() => fs.readFileSync(path.join(mp, 'low'))) === 'ESTALE', 2000, 10);
      assert.equal(errnoOf(() => fs.readFileSync(path.join(mp, 'low'))), 'ESTALE');
      await waitFor(() => /past its end/.test(fs.readFileSync(logFile, 'utf8')), 2000, 20);
      // Either the spliced piece ended early (EIO), or the watcher saw the shrink first: then
      // pieces past the end answer EIO and everything else ESTALE.
      const watcherFirst = /the device shrank from \d+ to \d+ bytes under the mount; pieces past its end are refused/;
      assert.match(fs.readFileSync(logFile, 'utf8'), first === 'EIO' ? /is past its end; refusing to serve|pieces past its end are refused/ : watcherFirst);
      assert.doesNotMatch(fs.readFileSync(logFile, 'utf8'), /handler threw|failed:/);
    } finally {
      umount(host, mp);
    }
  });
});

function writeTmp(dir: string, bytes: Buffer): string {
  const p = path.join(dir, `src-${process.pid}.bin`);
  fs.writeFileSync(p, bytes);
  return p;
}
