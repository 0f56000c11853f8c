/**
 * Files created with ordinary tools on the master's mount (cp, tar, rsync, dd,
 * O_CREAT programs): byte- and mode-identical on the master, on a client and
 * through `famfs cat`; write-once commit; forbidden operations; ENOSPC; a
 * daemon killed in the middle of a copy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { famfs, famfsOk, GiB, makeHost, MiB, removeAllShm, removeHost, sparseFile, type Host } from '../core/helpers.js';
import { daemonPid, errnoOf, HAVE_FUSE, mount, NO_FUSE_REASON, reapKilledDaemon, umount, umountAll, waitFor } from './mounted.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A tree of files of mixed sizes (0 B … 200 MiB) and modes, in memory-backed /dev/shm. */
function makeTree(root: string): void {
  let n = 0;
  const put = (rel: string, size: number, mode: number): void => {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, size ? randomBytes(size) : Buffer.alloc(0));
    fs.chmodSync(p, mode);
    n++;
  };
  for (let d = 0; d < 20; d++) for (let i = 0; i < 100; i++) put(`d${d}/sub${i % 3}/f${i}`, (i * 977 + d * 131) % 70000, [0o644, 0o600, 0o755, 0o640][i % 4]!);
  for (let i = 0; i < 12; i++) put(`mid/m${i}`, (i + 1) * 333 * 1024 + i, 0o644);
  put('big/b100', 100 * MiB, 0o644);
  put('big/b33', 33 * MiB + 5, 0o600);
  put('empty', 0, 0o644);
  fs.chmodSync(path.join(root, 'd3'), 0o700);
  fs.chmodSync(path.join(root, 'mid'), 0o750);
  assert.ok(n > 2000);
}

/** Every path under root with its mode, type and content hash. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      const rel = path.relative(root, p);
      const st = fs.statSync(p);
      if (e.isDirectory()) {
        out.set(rel, `dir ${(st.mode & 0o7777).toString(8)}`);
        walk(p);
      } else out.set(rel, `file ${(st.mode & 0o7777).toString(8)} ${st.size} ${sha(fs.readFileSync(p))}`);
    }
  };
  walk(root);
  return out;
}

function sameTree(a: Map<string, string>, b: Map<string, string>, what: string): void {
  assert.equal(b.size, a.size, `${what}: entry count`);
  for (const [k, v] of a) assert.equal(b.get(k), v, `${what}: ${k}`);
}

describe('creating files with ordinary tools on the master', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  let master: Host;
  let client: Host;
  let dev: string;
  let mp: string;
  let src: string;
  let want: Map<string, string>;

  before(() => {
    master = makeHost('cmaster');
    client = makeHost('cclient');
    dev = sparseFile('create', 24 * GiB);
    famfsOk(master, ['mkfs', dev]);
    mp = mount(master, dev, 'create', ['--commit-delay', '100']);
    src = fs.mkdtempSync('/dev/shm/famfs-src-');
    // tar restores the mode of "." on the destination last; a destination logged meanwhile keeps its own.
    fs.chmodSync(src, 0o755);
    makeTree(src);
    want = snapshot(src);
  });

  after(() => {
    umountAll(master);
    fs.rmSync(src, { recursive: true, force: true });
    removeAllShm();
    removeHost(master);
    removeHost(client);
  });

  const logged = (rel: string): boolean => famfs(master, ['ls', '-d', dev, rel]).status === 0;

  test('cp -r, tar -x and rsync -a --inplace produce identical trees on the master, a client and famfs cat', async () => {
    const cp = spawnSync('cp', ['-r', '--preserve=mode', src, path.join(mp, 'bycp')]);
    assert.equal(cp.status, 0, cp.stderr.toString());
    const tar = spawnSync('bash', ['-c', `tar -C ${src} -cf - . | tar -xf - -C ${path.join(mp, 'bytar')}`], { env: process.env });
    fs.mkdirSync(path.join(mp, 'bytar'), { recursive: true });
    const tar2 = tar.status === 0 ? tar : spawnSync('bash', ['-c', `tar -C ${src} -cf - . | tar -xf - -C ${path.join(mp, 'bytar')}`]);
    assert.equal(tar2.status, 0, tar2.stderr.toString());
    const rs = spawnSync('rsync', ['-a', '--inplace', `${src}/`, path.join(mp, 'byrsync/')]);
    if (rs.error) console.error('rsync is not installed: skipping the rsync copy (apt-get install -y rsync)');
    else assert.equal(rs.status, 0, rs.stderr.toString());
    const copies = rs.error ? ['bycp', 'bytar'] : ['bycp', 'bytar', 'byrsync'];
    for (const c of copies) sameTree(want, snapshot(path.join(mp, c)), `master ${c}`);
    await waitFor(() => logged('bycp/empty') && logged(`${copies[copies.length - 1]}/big/b100`), 10_000, 50);
    const cmp = mount(client, dev, 'cclient');
    try {
      for (const c of copies) sameTree(want, snapshot(path.join(cmp, c)), `client ${c}`);
    } finally {
      umount(client, cmp);
    }
    for (const rel of ['big/b33', 'd7/sub1/f13', 'mid/m4', 'empty']) {
      assert.equal(sha(famfsOk(master, ['cat', '-d', dev, `bytar/${rel}`], { binary: true }).raw), want.get(rel)!.split(' ')[3]);
    }
    const r = famfs(master, ['fsck', '-d', dev]);
    assert.equal(r.status, 0, r.stdout);
  });

  test('dd and a program writing at random offsets create byte-identical files', async () => {
    const data = randomBytes(9 * MiB + 123);
    fs.writeFileSync('/dev/shm/famfs-dd-src', data);
    try {
      const dd = spawnSync('dd', ['if=/dev/shm/famfs-dd-src', `of=${path.join(mp, 'dd.bin')}`, 'bs=1M', 'status=none']);
      assert.equal(dd.status, 0, dd.stderr.toString());
    } finally {
      fs.rmSync('/dev/shm/famfs-dd-src');
    }
    assert.ok(fs.readFileSync(path.join(mp, 'dd.bin')).equals(data));
    // Random-offset writes, including one far past EOF: the hole reads as zeros.
    const fd = fs.openSync(path.join(mp, 'random.bin'), 'wx', 0o640);
    const expect = Buffer.alloc(7 * MiB);
    for (const [off, len] of [[5 * MiB, 4096], [0, 1000], [3 * MiB + 7, 2 * MiB], [7 * MiB - 10, 10], [100, 50]] as const) {
      const b = randomBytes(len);
      b.copy(expect, off);
      assert.equal(fs.writeSync(fd, b, 0, len, off), len);
    }
    fs.closeSync(fd);
    await waitFor(() => logged('random.bin'), 5000, 20);
    const back = famfsOk(master, ['cat', '-d', dev, 'random.bin'], { binary: true }).raw;
    assert.ok(back.equals(expect), 'famfs cat of the committed file');
    assert.equal(fs.statSync(path.join(mp, 'random.bin')).mode & 0o777, 0o640);
  });

  test('a new file is write-once: it grows while open, then has a fixed size', async () => {
    const p = path.join(mp, 'once.txt');
    fs.writeFileSync(p, 'first version');
    await waitFor(() => logged('once.txt'), 5000, 20);
    assert.equal(errnoOf(() => fs.appendFileSync(p, 'more')), 'EFBIG');
    assert.equal(errnoOf(() => fs.truncateSync(p, 3)), 'EPERM');
    assert.equal(errnoOf(() => fs.chmodSync(p, 0o600)), 'EPERM', 'the log cannot change a committed mode');
    assert.equal(errnoOf(() => fs.unlinkSync(p)), 'EPERM');
    assert.equal(errnoOf(() => fs.renameSync(p, path.join(mp, 'moved'))), 'EPERM');
    assert.equal(errnoOf(() => fs.linkSync(p, path.join(mp, 'hard'))), 'EPERM');
    assert.equal(fs.readFileSync(p, 'utf8'), 'first version');
    // touch makes an empty file that is logged (size 0, one unit) so every host sees it.
    assert.equal(spawnSync('touch', [path.join(mp, 'touched')]).status, 0);
    await waitFor(() => logged('touched'), 5000, 20);
    assert.equal(fs.statSync(path.join(mp, 'touched')).size, 0);
  });

  test('fsync commits at once; chmod before commit shapes the logged entry', () => {
    const p = path.join(mp, 'synced');
    const fd = fs.openSync(p, 'wx', 0o600);
    fs.writeSync(fd, 'abc');
    fs.fchmodSync(fd, 0o604);
    fs.fsyncSync(fd);
    assert.ok(logged('synced'), 'logged by fsync while still open');
    fs.closeSync(fd);
    const ls = JSON.parse(famfsOk(master, ['ls', '--json', '-d', dev, 'synced']).stdout);
    assert.equal(ls[0].mode, 0o604);
    assert.equal(ls[0].size, 3);
  });

  test('out of space: the write fails with ENOSPC and nothing is logged', async () => {
    // A small device filled (without touching its memory) by one big file, leaving 16 MiB.
    const sdev = sparseFile('full', 4 * GiB);
    famfsOk(master, ['mkfs', sdev]);
    const free0 = JSON.parse(famfsOk(master, ['fsck', '--json', '-d', sdev]).stdout).capacity.freeSpace;
    famfsOk(master, ['creat', '-d', sdev, '-s', String(free0 - 16 * MiB), 'filler']);
    const smp = mount(master, sdev, 'full', ['--commit-delay', '50']);
    try {
      const before = JSON.parse(famfsOk(master, ['fsck', '--json', '-d', sdev]).stdout);
      assert.equal(before.capacity.freeSpace, 16 * MiB);
      const dd = spawnSync('dd', ['if=/dev/zero', `of=${path.join(smp, 'toolarge')}`, 'bs=1M', 'count=40', 'status=none']);
      assert.notEqual(dd.status, 0);
      assert.match(dd.stderr.toString(), /No space left on device/);
      await new Promise((r) => setTimeout(r, 300));
      const afterR = JSON.parse(famfsOk(master, ['fsck', '--json', '-d', sdev]).stdout);
      assert.equal(afterR.files, 1, 'the failed file was not logged');
      assert.equal(afterR.capacity.freeSpace, before.capacity.freeSpace, 'its space was given back');
      assert.equal(afterR.clean, true);
      // A file that fits still works afterwards.
      fs.writeFileSync(path.join(smp, 'fits'), randomBytes(3 * MiB));
      await waitFor(() => famfs(master, ['ls', '-d', sdev, 'fits']).status === 0, 5000, 20);
    } finally {
      umount(master, smp);
    }
  });

  test('a daemon killed in the middle of a copy loses only unfinished files', async () => {
    const kdev = sparseFile('kill', 16 * GiB);
    famfsOk(master, ['mkfs', kdev]);
    const kmp = mount(master, kdev, 'kill', ['--commit-delay', '0']);
    const pid = daemonPid(master, kmp);
    const cp = spawn('cp', ['-r', src, `${kmp}/tree`], { stdio: 'ignore' });
    const cpDone = new Promise((r) => cp.on('close', r));
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(pid, 'SIGKILL');
    // Not a stat of the mount: a daemon killed mid-notification can wedge it (docs/reliability.md).
    await reapKilledDaemon(kmp, pid);
    await cpDone;
    assert.equal(errnoOf(() => fs.readdirSync(kmp)), 'ENOTCONN'); // the daemon's fds are closed: the connection is aborted
    umount(master, kmp);
    const r = famfs(master, ['fsck', '--json', '-d', kdev]);
    const report = JSON.parse(r.stdout);
    assert.equal(report.clean, true, r.stdout);
    const files = JSON.parse(famfsOk(master, ['ls', '-R', '--json', '-d', kdev]).stdout).filter((n: { type: string }) => n.type === 'file');
    assert.ok(files.length > 0, 'some files were committed before the kill');
    for (const f of files) {
      const rel = path.relative('tree', f.path);
      const exp = want.get(rel)!;
      assert.ok(exp, `unexpected ${f.path}`);
      assert.equal(`file ${f.mode.toString(8)} ${f.size}`, exp.split(' ').slice(0, 3).join(' '), f.path);
    }
    // Spot-check contents of committed files.
    for (const f of files.slice(0, 50)) {
      const got = famfsOk(master, ['cat', '-d', kdev, f.path], { binary: true }).raw;
      assert.equal(sha(got), want.get(path.relative('tree', f.path))!.split(' ')[3], f.path);
    }
  });
});
