/**
 * Issue 11, files made through the master's mount (M) and read on a client (C):
 * one owner for a new file's size (item 1, and property 8 in short), a bound on
 * how long a closed file stays unlogged and fsync of a directory (item 3), no
 * phantom node or stuck lock after a long lock wait (item 4), users cannot keep
 * CLI writers waiting (item 6), creates fail on a full device (item 13), and
 * bytes a creator did not write read as zero (item 7, mount side).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { asHost, famfs, famfsOk, GiB, MiB, readRange, sparseFile, type Host } from '../core/helpers.js';
import { errnoOf, HAVE_FUSE, mount, NO_FUSE_REASON, twoHosts, umount, waitFor } from '../fs/mounted.js';
import { Famfs } from '../../src/api/famfs.js';
import type { FileNode } from '../../src/meta/tree.js';
import { ALLOC_UNIT, FM_ALL_HOSTS_RW } from '../../src/format/constants.js';
import { newFilesProperty } from '../../torture/lib/newfiles.js';
import { makeHost as tortureHost, cleanup as tortureCleanup } from '../../torture/lib/common.js';

const HAVE_SETPRIV = spawnSync('setpriv', ['--version']).status === 0;
const HAVE_FLOCK = spawnSync('flock', ['--version']).status === 0;

describe('new files on the master mount (issue 11)', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  const kids: ChildProcess[] = [];
  after(() => {
    for (const k of kids) if (k.exitCode === null && k.signalCode === null) k.kill('SIGKILL');
  });
  const { master, client } = twoHosts('nf');
  after(() => tortureCleanup());

  /** The logged node at `rel`, read straight from the device (undefined while not logged). */
  const logged = (dev: string, rel: string): FileNode | undefined => asHost(master, () => {
    const f = Famfs.open(dev);
    try {
      const n = f.tree.lookup(rel);
      return n?.kind === 'file' ? n : undefined;
    } finally {
      f.close();
    }
  });
  const fresh = (tag: string, size = 8 * GiB): string => {
    const dev = sparseFile(tag, size);
    famfsOk(master, ['mkfs', dev]);
    return dev;
  };

  test('item 1: overwriting and truncating a file that is not logged yet keeps its new content', async () => {
    const dev = fresh('nf-over');
    const mp = mount(master, dev, 'nf-over');
    const small = randomBytes(3000);
    for (let i = 0; i < 6; i++) {
      const p = path.join(mp, `g${i}`);
      fs.writeFileSync(p, randomBytes(3 * MiB));
      fs.writeFileSync(p, small); // cp over it: O_TRUNC, then writes
      assert.equal(fs.statSync(p).size, small.length, `g${i}: size after the overwrite`);
    }
    const fd = fs.openSync(path.join(mp, 'h'), 'wx+');
    fs.writeSync(fd, randomBytes(6 * MiB), 0, 6 * MiB, 0);
    fs.ftruncateSync(fd, 0);
    const tail = randomBytes(4096);
    assert.equal(fs.writeSync(fd, tail, 0, 4096, 5 * MiB), 4096);
    assert.equal(fs.fstatSync(fd).size, 5 * MiB + 4096, 'fstat after ftruncate(0) + pwrite at 5 MiB');
    fs.closeSync(fd);
    await waitFor(() => logged(dev, 'h') !== undefined && logged(dev, 'g5') !== undefined, 5000, 20);
    for (let i = 0; i < 6; i++) {
      assert.equal(logged(dev, `g${i}`)!.size, small.length, `g${i}: logged size`);
      assert.ok(fs.readFileSync(path.join(mp, `g${i}`)).equals(small));
    }
    const h = fs.readFileSync(path.join(mp, 'h'));
    assert.equal(logged(dev, 'h')!.size, 5 * MiB + 4096);
    assert.ok(h.subarray(0, 5 * MiB).equals(Buffer.alloc(5 * MiB)), 'the truncated bytes read as zero');
    assert.ok(h.subarray(5 * MiB).equals(tail));
    umount(master, mp);
  });

  test('property 8 (short): 3 processes × random open(O_TRUNC)/pwrite/ftruncate/close match tmpfs on M and C', async () => {
    const r = await newFilesProperty({ master: tortureHost('nf-pm'), client: tortureHost('nf-pc'), procs: 3, files: 2, ops: 120, seed: 11 });
    assert.deepEqual(r.errors, []);
    assert.equal(r.lost, 0);
    assert.equal(r.files, 6);
    assert.ok(r.tried > 250, `${r.tried} steps ran`);
  });

  test('item 3: a closed file is logged within 1 s under continuous activity, with the mode set after close; fsync of a directory logs what is below it', async () => {
    const dev = fresh('nf-bound');
    // A long idle window: only the max-age bound (or fsync) can log anything here.
    const mp = mount(master, dev, 'nf-bound', ['--commit-delay', '60000']);
    let busy = true;
    const noise = fs.openSync(path.join(mp, 'noise'), 'wx');
    const keepBusy = (async () => {
      for (let i = 0; busy; i++) {
        fs.writeSync(noise, 'x', null);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      fs.mkdirSync(path.join(mp, 'tree'));
      fs.writeFileSync(path.join(mp, 'tree/a'), 'abc');
      fs.chmodSync(path.join(mp, 'tree/a'), 0o640); // tar/rsync set the mode right after close
      const closed = performance.now();
      const ms = await waitFor(() => logged(dev, 'tree/a') !== undefined, 3000, 10);
      const took = performance.now() - closed;
      assert.ok(took <= 1000, `logged ${took.toFixed(0)} ms after its close (bound 1 s)`);
      assert.ok(ms >= 0);
      assert.equal(logged(dev, 'tree/a')!.mode & 0o777, 0o640);
      // fsync of a directory: it and everything closed below it, at once.
      fs.mkdirSync(path.join(mp, 'd'));
      fs.mkdirSync(path.join(mp, 'd/e'));
      fs.writeFileSync(path.join(mp, 'd/e/f'), 'f');
      fs.writeFileSync(path.join(mp, 'd/g'), 'g');
      const dfd = fs.openSync(path.join(mp, 'd'), 'r');
      fs.fsyncSync(dfd);
      fs.closeSync(dfd);
      assert.ok(logged(dev, 'd/e/f') && logged(dev, 'd/g'), 'logged when fsync(dir) returned');
    } finally {
      busy = false;
      await keepBusy;
      fs.closeSync(noise);
    }
    umount(master, mp);
  });

  test('item 4: a create that waits past the lock deadline changes nothing; the lock is released once nothing is pending', { skip: HAVE_FLOCK ? false : 'flock(1) is not installed' }, async () => {
    const dev = fresh('nf-lock', 4 * GiB);
    const slow: Host = { ...master, env: { ...master.env, FAMFS_LOCK_WAIT_MS: '1500' } };
    const mp = mount(slow, dev, 'nf-lock');
    // A famfs writer stopped while it holds the log lock.
    const holder = spawn('flock', ['-o', dev, 'sleep', '600'], { stdio: 'ignore', detached: true });
    kids.push(holder);
    const group = (sig: NodeJS.Signals): void => void process.kill(-holder.pid!, sig);
    try {
      await waitFor(() => spawnSync('flock', ['-n', dev, 'true']).status !== 0, 5000, 20);
      group('SIGSTOP');
      const t0 = performance.now();
      assert.equal(errnoOf(() => fs.writeFileSync(path.join(mp, 'during_stop'), 'x')), 'EAGAIN');
      assert.ok(performance.now() - t0 >= 1400, 'it waited for the lock first');
    } finally {
      group('SIGCONT');
      group('SIGKILL');
    }
    await waitFor(() => spawnSync('flock', ['-n', dev, 'true']).status === 0, 5000, 20);
    assert.equal(errnoOf(() => fs.statSync(path.join(mp, 'during_stop'))), 'ENOENT', 'no phantom file');
    fs.mkdirSync(path.join(mp, 'after'));
    await waitFor(() => asHost(master, () => {
      const f = Famfs.open(dev);
      try {
        return f.tree.lookup('after') !== undefined;
      } finally {
        f.close();
      }
    }), 3000, 20);
    // Nothing pending: the daemon holds no lock, so a CLI writer goes straight through.
    await waitFor(() => spawnSync('flock', ['-n', dev, 'true']).status === 0, 2000, 20);
    const c = famfs(master, ['creat', '-s', '4096', '-d', dev, 'cli']);
    assert.equal(c.status, 0, c.stderr);
    assert.doesNotMatch(c.stderr, /waiting/);
    assert.equal(fs.readdirSync(mp).filter((n) => n === 'during_stop').length, 0);
    umount(master, mp);
  });

  test('item 6: a user holding a new file open cannot keep root\'s famfs creat waiting', { skip: HAVE_SETPRIV ? false : 'setpriv is not installed' }, async () => {
    const dev = fresh('nf-user', 4 * GiB);
    const mp = mount(master, dev, 'nf-user');
    fs.mkdirSync(path.join(mp, 'pub'), 0o777);
    fs.chmodSync(path.join(mp, 'pub'), 0o777);
    await waitFor(() => asHost(master, () => {
      const f = Famfs.open(dev);
      try {
        return f.tree.lookup('pub') !== undefined;
      } finally {
        f.close();
      }
    }), 3000, 20);
    const held = path.join(mp, 'pub/held');
    const user = spawn('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', 'bash', '-c', `exec 3>${held}; printf abc >&3; echo ready; exec sleep 600`], { stdio: ['ignore', 'pipe', 'inherit'] });
    kids.push(user);
    await new Promise<void>((r) => user.stdout!.once('data', () => r()));
    const t0 = performance.now();
    const c = famfs(master, ['creat', '-s', '4096', path.join(mp, 'rootfile')]);
    const took = performance.now() - t0;
    assert.equal(c.status, 0, c.stderr);
    assert.ok(took < 4000, `famfs creat took ${took.toFixed(0)} ms`);
    const h = logged(dev, 'pub/held');
    assert.ok(h, 'the held file was logged at its current size');
    assert.equal(h.size, 3);
    assert.equal(h.uid, 65534);
    user.kill('SIGKILL');
    await new Promise((r) => user.once('close', r));
    umount(master, mp);
  });

  test('item 13: touch on a full master mount fails with ENOSPC and leaves nothing', async () => {
    const dev = fresh('nf-full', 4 * GiB);
    // Every free unit goes to one logged file, without touching its memory.
    asHost(master, () => {
      const f = Famfs.open(dev, { writable: true });
      try {
        f.device.lock();
        const { bitmap } = f.buildBitmap();
        const units = bitmap.freeBytes / ALLOC_UNIT;
        const u = bitmap.findAndMark(units);
        f.log.append({ type: 'file', path: 'filler', size: units * ALLOC_UNIT, flags: FM_ALL_HOSTS_RW, mode: 0o644, uid: 0, gid: 0, map: { kind: 'simple', extents: [{ devindex: 0, offset: u * ALLOC_UNIT, length: units * ALLOC_UNIT }] } });
        f.device.unlock();
      } finally {
        f.close();
      }
    });
    assert.equal(JSON.parse(famfsOk(master, ['fsck', '--json', '-d', dev]).stdout).capacity.freeSpace, 0);
    const mp = mount(master, dev, 'nf-full', ['--commit-delay', '50']);
    const r = spawnSync('touch', [path.join(mp, 't')], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /No space left on device/);
    assert.equal(errnoOf(() => fs.statSync(path.join(mp, 't'))), 'ENOENT');
    fs.mkdirSync(path.join(mp, 'dir-still-works'));
    await new Promise((res) => setTimeout(res, 1200));
    const rep = JSON.parse(famfsOk(master, ['fsck', '--json', '-d', dev]).stdout);
    assert.equal(rep.files, 1);
    assert.equal(rep.clean, true);
    umount(master, mp);
  });

  test('item 7: bytes of a new file its creator did not write read as zero on M and on C, even over a dropped file\'s space', async () => {
    const dev = fresh('nf-zero', 4 * GiB);
    const mp = mount(master, dev, 'nf-zero', ['--commit-delay', '100']);
    // A secret written and dropped before commit: its units go back to the free pool with their bytes.
    const secret = Buffer.alloc(6 * MiB, 0xa5);
    fs.writeFileSync(path.join(mp, 'secret'), secret, { mode: 0o600 });
    fs.unlinkSync(path.join(mp, 'secret'));
    const fd = fs.openSync(path.join(mp, 'n'), 'wx+', 0o644);
    fs.ftruncateSync(fd, 2 * MiB); // grown by truncate
    fs.writeSync(fd, Buffer.from('Z'), 0, 1, 3 * MiB + 5); // a hole before it
    fs.writeSync(fd, Buffer.alloc(MiB, 0xbb), 0, MiB, 0);
    fs.ftruncateSync(fd, 100); // shrink …
    fs.ftruncateSync(fd, MiB); // … and grow: the cut bytes read as zero
    fs.writeSync(fd, Buffer.from('end'), 0, 3, 3 * MiB + 100);
    fs.closeSync(fd);
    const want = Buffer.alloc(3 * MiB + 103);
    want.fill(0xbb, 0, 100);
    want.write('end', 3 * MiB + 100);
    assert.ok(fs.readFileSync(path.join(mp, 'n')).equals(want), 'on M before commit');
    await waitFor(() => logged(dev, 'n') !== undefined, 5000, 20);
    const node = logged(dev, 'n')!;
    assert.equal(node.size, want.length);
    // A famfs kernel maps whole pages: the rest of the last page is zero on the device too.
    const ext = node.map.kind === 'simple' ? node.map.extents : [];
    let base = 0;
    for (const e of ext) {
      if (want.length < base + e.length) {
        const at = e.offset + (want.length - base);
        const rest = 4096 - (want.length % 4096);
        assert.ok(readRange(dev, at, rest).equals(Buffer.alloc(rest)), 'the last page after EOF');
        break;
      }
      base += e.length;
    }
    const cmp = mount(client, dev, 'nf-zero-c');
    assert.ok(fs.readFileSync(path.join(cmp, 'n')).equals(want), 'on C');
    umount(client, cmp);
    umount(master, mp);
  });
});
