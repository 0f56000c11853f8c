/**
 * Properties 6 and 7 on real mounts: re-format detection (ESTALE within a
 * deadline, a clear daemon message, mount refused without a superblock) and
 * permissions (clients can't append or write .meta/.log through the CLI or
 * the mount; default_permissions enforces the logged mode/uid/gid for an
 * unprivileged uid; a crafted entry pointing past the device end is never
 * served).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { famfs, famfsOk, GiB, readRange, sparseFile, writeRange } from '../core/helpers.js';
import { errnoOf, HAVE_FUSE, isMounted, mount, NO_FUSE_REASON, twoHosts, umount, waitFor } from '../fs/mounted.js';
import { encodeLogEntry } from '../../src/format/logentry.js';
import { encodeLogHeader } from '../../src/format/logheader.js';
import { entryOffset, LOG_OFFSET } from '../../src/format/constants.js';

const HAVE_SETPRIV = spawnSync('setpriv', ['--version']).status === 0;
const LOG_BYTES = 48 + 64 * 544;

describe('mounted: re-format detection and permissions', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  const { master, client } = twoHosts('rel');

  function fresh(tag: string): string {
    const dev = sparseFile(tag, 4 * GiB);
    famfsOk(master, ['mkfs', dev]);
    famfsOk(master, ['mkdir', '-d', dev, 'd']);
    famfsOk(master, ['creat', '-d', dev, '-s', '5000', '-r', '-S', '5', 'd/f']);
    return dev;
  }

  // The "other host" is simulated on this one, so its mount is on this host too: mkfs needs --even-if-mounted.
  for (const [what, args] of [['mkfs --force', ['mkfs', '--force', '--even-if-mounted']], ['mkfs --force --kill (superblock destroyed)', ['mkfs', '--force', '--kill', '--even-if-mounted']]] as const) {
    test(`master ${what} under a client mount → client reads fail with ESTALE within 2 s, with a clear daemon message`, async () => {
      const dev = fresh('reformat');
      const logFile = path.join(client.dir, `daemon-${Date.now()}.log`);
      const mp = mount(client, dev, 'client', ['--log', logFile]);
      try {
        assert.equal(fs.readFileSync(path.join(mp, 'd/f')).length, 5000);
        famfsOk(master, [...args, dev]);
        let last: string | undefined;
        const ms = await waitFor(() => (last = errnoOf(() => fs.readFileSync(path.join(mp, 'd/f')))) === 'ESTALE', 2000, 10).catch((e) => {
          throw new Error(`${(e as Error).message}; last read: ${last}`);
        });
        assert.ok(ms < 2000);
        assert.equal(errnoOf(() => fs.readdirSync(path.join(mp, 'd'))), 'ESTALE');
        await waitFor(() => fs.existsSync(logFile) && /superblock changed/.test(fs.readFileSync(logFile, 'utf8')), 2000, 20);
        assert.match(fs.readFileSync(logFile, 'utf8'), /re-formatted or destroyed by another host\); refusing to serve stale maps/);
      } finally {
        umount(client, mp);
      }
    });
  }

  test('mount of a device without a valid superblock is refused, nothing is left mounted', () => {
    const dev = sparseFile('nosb', 4 * GiB);
    const mp = fs.mkdtempSync(path.join(client.dir, 'mnt-'));
    const r = famfs(client, ['mount', dev, mp]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /superblock/);
    assert.ok(!isMounted(mp));
    // a destroyed (killed) superblock too
    const dev2 = fresh('killed');
    famfsOk(master, ['mkfs', '--force', '--kill', dev2]);
    const r2 = famfs(client, ['mount', dev2, mp]);
    assert.notEqual(r2.status, 0);
    assert.ok(!isMounted(mp));
    fs.rmdirSync(mp);
  });

  test('clients cannot append: CLI verbs are refused and the log is unchanged', () => {
    const dev = fresh('cliperm');
    const before = readRange(dev, LOG_OFFSET, LOG_BYTES);
    for (const args of [['mkdir', '-d', dev, 'x'], ['creat', '-d', dev, '-s', '4096', 'y'], ['cp', '-d', dev, '/etc/hostname', 'z']]) {
      const r = famfs(client, args);
      assert.notEqual(r.status, 0, args.join(' '));
      assert.match(r.stderr, /client|master/i, args.join(' '));
    }
    assert.ok(readRange(dev, LOG_OFFSET, LOG_BYTES).equals(before));
  });

  test('client mount: .meta/.log cannot be opened for writing (even by root); mkdir fails; the log is unchanged', () => {
    const dev = fresh('mntperm');
    const mp = mount(client, dev, 'client');
    try {
      const before = readRange(dev, LOG_OFFSET, LOG_BYTES);
      assert.equal(fs.statSync(path.join(mp, '.meta/.log')).mode & 0o777, 0o400);
      assert.equal(errnoOf(() => fs.openSync(path.join(mp, '.meta/.log'), 'r+')), 'EACCES');
      assert.ok(['EROFS', 'EACCES', 'EPERM'].includes(errnoOf(() => fs.mkdirSync(path.join(mp, 'newdir'))) ?? 'ok'));
      assert.ok(readRange(dev, LOG_OFFSET, LOG_BYTES).equals(before));
    } finally {
      umount(client, mp);
    }
  });

  test('default_permissions: as uid 65534, a 0600 root file is unreadable, a 0644 one readable', { skip: HAVE_SETPRIV ? false : 'setpriv missing' }, () => {
    const dev = fresh('nobody');
    famfsOk(master, ['creat', '-d', dev, '-s', '100', '-m', '0600', '-u', '0', '-g', '0', '-r', '-S', '9', 'secret']);
    famfsOk(master, ['creat', '-d', dev, '-s', '100', '-m', '0644', '-u', '0', '-g', '0', '-r', '-S', '9', 'public']);
    const mp = mount(master, dev, 'nobody');
    try {
      const asNobody = (...args: string[]) => spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...args]);
      const secret = asNobody('cat', path.join(mp, 'secret'));
      assert.notEqual(secret.status, 0);
      assert.match(secret.stderr.toString(), /Permission denied/);
      const pub = asNobody('cat', path.join(mp, 'public'));
      assert.equal(pub.status, 0, pub.stderr.toString());
      assert.ok(pub.stdout.equals(fs.readFileSync(path.join(mp, 'public'))));
      // nobody cannot write a 0644 root file either, nor the master's 0644 log
      const w = asNobody('sh', '-c', `echo x > ${path.join(mp, 'public')}`);
      assert.notEqual(w.status, 0);
      const wl = asNobody('sh', '-c', `echo x >> ${path.join(mp, '.meta/.log')}`);
      assert.notEqual(wl.status, 0);
    } finally {
      umount(master, mp);
    }
  });

  test('a crafted valid-CRC entry with an extent past the device end is never served; fsck reports it', async () => {
    const dev = fresh('pastend');
    const mp = mount(client, dev, 'client');
    try {
      // slot 2, after d and d/f: a file whose 2 MiB extent ends 2 MiB past the device end
      const size = fs.statSync(dev).size;
      writeRange(dev, entryOffset(2), encodeLogEntry({ type: 'file', path: 'evil', size: 4096, flags: 2, uid: 0, gid: 0, mode: 0o644, map: { kind: 'simple', extents: [{ devindex: 0, offset: size, length: 2 * 1024 * 1024 }] } }, 2));
      writeRange(dev, entryOffset(3), encodeLogEntry({ type: 'mkdir', path: 'after', uid: 0, gid: 0, mode: 0o755 }, 3));
      writeRange(dev, LOG_OFFSET, encodeLogHeader(0x800000, 4, 4));
      await waitFor(() => fs.existsSync(path.join(mp, 'after')), 2000, 10);
      assert.equal(errnoOf(() => fs.readFileSync(path.join(mp, 'evil'))), 'ENOENT');
      const r = famfs(client, ['fsck', '-d', dev, '--json']);
      const j = JSON.parse(r.stdout) as { rejectedEntries: number; problems: { index: number; kind: string }[]; clean: boolean };
      assert.equal(j.clean, false);
      assert.ok(j.problems.some((p) => p.index === 2 && p.kind === 'bad-map'), r.stdout);
    } finally {
      umount(client, mp);
    }
  });

  test('root on a client cannot overwrite .meta/.superblock through the mount (found here, fixed in 66527ba)', () => {
    const dev = fresh('sbwrite');
    const mp = mount(client, dev, 'client');
    try {
      const before = readRange(dev, 0, 200);
      const err = errnoOf(() => {
        const fd = fs.openSync(path.join(mp, '.meta/.superblock'), 'r+');
        try {
          fs.writeSync(fd, Buffer.alloc(8), 0, 8, 0);
        } finally {
          fs.closeSync(fd);
        }
      });
      const after = readRange(dev, 0, 200);
      assert.ok(after.equals(before), `the superblock was overwritten through a client mount (open/write → ${err ?? 'success'})`);
    } finally {
      umount(client, mp);
    }
  });
});
