/**
 * Issue 11 item 5: a device file that shrinks under a mount (or under a
 * library user) must never kill the process with SIGBUS. Pieces past the
 * current end are refused with EIO; a mount then answers ESTALE and says why.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { asHost, famfs, GiB } from '../core/helpers.js';
import { errnoOf, HAVE_FUSE, mount, NO_FUSE_REASON, pidAlive, twoHosts, umount, waitFor } from '../fs/mounted.js';
import { Famfs } from '../../src/api/famfs.js';
import { getxattr } from '../../src/sys/libc.js';
import { shrinkGrowCycles } from '../../torture/lib/shrink.js';
import { shrinkFixture } from './shrink-fixture.js';

describe('a device that shrinks under its users', () => {
  const { master, client } = twoHosts('shr');

  test('library: reads, writes and flushes of pieces past the new end fail with EIO; pieces below still work', () => {
    const dev = shrinkFixture(master, 'lib');
    asHost(master, () => {
      const f = Famfs.open(dev, { writable: true });
      try {
        const high = f.file('high'), low = f.file('low');
        fs.truncateSync(dev, 5 * GiB);
        assert.throws(() => f.slices(high, 0, 4096), (e: NodeJS.ErrnoException) => e.code === 'EIO' && /shrank/.test(e.message));
        assert.throws(() => f.write(high, 0, Buffer.alloc(16, 1)), (e: NodeJS.ErrnoException) => e.code === 'EIO');
        assert.throws(() => f.flushFile(high), (e: NodeJS.ErrnoException) => e.code === 'EIO');
        assert.equal(fs.statSync(dev).size, 5 * GiB); // the refused write did not grow the file again
        assert.equal(f.slices(low, 0, 4096)[0]!.length, 4096);
        // a write below the end goes through the fd with one size check (its flush skips the second)
        assert.equal(f.write(low, 0, Buffer.alloc(16, 7)), 16);
        assert.deepEqual(f.slices(low, 0, 16)[0], Buffer.alloc(16, 7));
        // creates still work below the end; zeroing or filling past it is refused, never a SIGBUS
        f.writer((w) => w.mkdir('d'));
      } finally {
        f.close();
      }
    });
    const r = famfs(master, ['cat', '-d', dev, 'high']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  test('torture property 9, short: truncates under master and client mounts with I/O running', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, async () => {
    const r = await shrinkGrowCycles(3, 8);
    assert.deepEqual(r.errors, []);
    assert.equal(r.tried, 3);
    assert.equal(r.lost, 0);
    assert.ok(r.ioOps > 0);
  });

  for (const role of ['master', 'client'] as const) {
    test(`${role} mount: truncate the device to 5 GiB, then write and read past it → EIO/ESTALE, the daemon lives and says why`, { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, async () => {
      const dev = shrinkFixture(master, `mnt-${role}`);
      const host = role === 'master' ? master : client;
      const logFile = path.join(host.dir, `shrink-${role}-${Date.now()}.log`);
      const mp = mount(host, dev, `shrink-${role}`, ['--log', logFile, '--data-path', 'daemon']);
      try {
        const pid = Number(getxattr(mp, 'user.famfs.pid'));
        assert.equal(fs.readFileSync(path.join(mp, 'high'))[0], 0x5a);
        fs.truncateSync(dev, 5 * GiB);
        const w = errnoOf(() => {
          const fd = fs.openSync(path.join(mp, 'high'), 'r+');
          try {
            fs.writeSync(fd, Buffer.alloc(4096, 1), 0, 4096, 0);
          } finally {
            fs.closeSync(fd);
          }
        });
        assert.ok(w === 'EIO' || w === 'ESTALE', `write past the end: ${w ?? 'succeeded'}`);
        assert.ok(['EIO', 'ESTALE'].includes(errnoOf(() => fs.readFileSync(path.join(mp, 'high'))) ?? 'ok'));
        await waitFor(() => errnoOf(() => fs.readFileSync(path.join(mp, 'low'))) === 'ESTALE', 2000, 10);
        assert.equal(errnoOf(() => fs.readdirSync(mp)), 'ESTALE');
        assert.ok(pidAlive(pid), 'the daemon died');
        await waitFor(() => /shrank/.test(fs.readFileSync(logFile, 'utf8')), 2000, 20);
        assert.match(fs.readFileSync(logFile, 'utf8'), /shrank from 8589934592 to 5368709120 bytes/);
        assert.doesNotMatch(fs.readFileSync(logFile, 'utf8'), /handler threw/);
      } finally {
        umount(host, mp);
      }
    });
  }
});
