/**
 * famfs mounted through our FUSE daemon: data read back byte-exact through the
 * mount, writes inside files, forbidden operations, statfs, meta files, two
 * hosts on one device, daemon death and remount.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { famfs, famfsOk, GiB, makeHost, MiB, removeAllShm, removeHost, sparseFile, type Host } from '../core/helpers.js';
import { errnoOf, HAVE_FUSE, isMounted, mount, NO_FUSE_REASON, umount, umountAll, waitFor } from './mounted.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('famfs mount', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  let master: Host;
  let client: Host;
  let dev: string;
  let mp: string;
  const sizes = [1, 4095, 4096, 65537, 2 * MiB, 2 * MiB + 1, 7 * MiB + 3, 100 * MiB];

  before(() => {
    master = makeHost('master');
    client = makeHost('client');
    dev = sparseFile('mount', 8 * GiB);
    famfsOk(master, ['mkfs', dev]);
    famfsOk(master, ['mkdir', '-d', dev, 'simple']);
    famfsOk(master, ['mkdir', '-d', dev, 'striped']);
    for (const [i, s] of sizes.entries()) {
      famfsOk(master, ['creat', '-d', dev, '-s', String(s), '-r', '-S', String(100 + i), `simple/f${i}`]);
      famfsOk(master, ['creat', '-d', dev, '-s', String(s), '-r', '-S', String(200 + i), '-N', '3', '-B', '4', '-C', '2m', `striped/f${i}`]);
    }
    mp = mount(master, dev, 'master');
  });

  after(() => {
    umountAll(master);
    removeAllShm();
    removeHost(master);
    removeHost(client);
  });

  test('the mount is listed with type fuse.famfs and the device as source', () => {
    const line = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === mp);
    assert.ok(line, 'mount point in mountinfo');
    assert.match(line!, / - fuse\.famfs /);
    assert.ok(line!.includes(` ${dev} `), 'device as source');
  });

  test('every file reads back byte-exact (simple and interleaved, 1 B … 100 MiB)', () => {
    for (const dir of ['simple', 'striped']) {
      for (let i = 0; i < sizes.length; i++) {
        const viaMount = fs.readFileSync(path.join(mp, dir, `f${i}`));
        assert.equal(viaMount.length, sizes[i]);
        const viaCli = famfsOk(master, ['cat', '-d', dev, `${dir}/f${i}`], { binary: true }).raw;
        assert.equal(sha(viaMount), sha(viaCli), `${dir}/f${i}`);
        assert.equal(famfs(master, ['verify', '-S', String((dir === 'simple' ? 100 : 200) + i), path.join(mp, dir, `f${i}`)]).status, 0);
      }
    }
  });

  test('reads at every alignment match the whole-file contents', () => {
    for (const dir of ['simple', 'striped']) {
      const name = path.join(mp, dir, `f${sizes.length - 2}`); // 7 MiB + 3: crosses chunks and strips
      const whole = fs.readFileSync(name);
      const fd = fs.openSync(name, 'r');
      try {
        for (let k = 0; k < 200; k++) {
          const off = k < 20 ? k * 2 * MiB - 1 + (k % 3) : Math.floor(Math.random() * whole.length);
          if (off < 0) continue;
          const len = [1, 7, 4096, 131072, 1 << 20, 3 * MiB][k % 6]!;
          const b = Buffer.alloc(len);
          const n = fs.readSync(fd, b, 0, len, off);
          assert.equal(n, Math.max(0, Math.min(len, whole.length - off)));
          assert.ok(b.subarray(0, n).equals(whole.subarray(off, off + n)), `${dir} offset ${off} len ${len}`);
        }
      } finally {
        fs.closeSync(fd);
      }
    }
  });

  test('mmap reads by an application see the file bytes', () => {
    const name = path.join(mp, 'striped', 'f4');
    const r = spawnSync('python3', ['-c', 'import mmap,sys,hashlib\nf=open(sys.argv[1],"rb")\nm=mmap.mmap(f.fileno(),0,access=mmap.ACCESS_READ)\nprint(hashlib.sha256(m[:]).hexdigest())', name]);
    if (r.error) return; // no python3: nothing to drive mmap with
    assert.equal(r.status, 0, r.stderr.toString());
    assert.equal(r.stdout.toString().trim(), sha(fs.readFileSync(name)));
  });

  test('writes inside a file change the shared bytes; writes past the end fail with EFBIG', () => {
    const name = path.join(mp, 'simple', 'f4'); // 2 MiB
    const data = randomBytes(5000);
    const fd = fs.openSync(name, 'r+');
    try {
      assert.equal(fs.writeSync(fd, data, 0, data.length, 2 * MiB - 6000), data.length);
      assert.equal(errnoOf(() => fs.writeSync(fd, data, 0, 10, 2 * MiB)), 'EFBIG');
      assert.equal(fs.writeSync(fd, data, 0, 100, 2 * MiB - 40), 40, 'a write crossing EOF is cut at EOF');
    } finally {
      fs.closeSync(fd);
    }
    const viaCli = famfsOk(master, ['cat', '-d', dev, 'simple/f4'], { binary: true }).raw;
    assert.ok(viaCli.subarray(2 * MiB - 6000, 2 * MiB - 1000).equals(data));
    assert.equal(fs.statSync(name).size, 2 * MiB, 'size unchanged');
  });

  test('forbidden operations fail with documented errnos and change nothing', () => {
    const f = path.join(mp, 'simple', 'f0');
    assert.equal(errnoOf(() => fs.truncateSync(f, 0)), 'EPERM');
    assert.equal(errnoOf(() => fs.unlinkSync(f)), 'EPERM');
    assert.equal(errnoOf(() => fs.renameSync(f, path.join(mp, 'simple', 'moved'))), 'EPERM');
    assert.equal(errnoOf(() => fs.rmdirSync(path.join(mp, 'striped'))), 'EPERM');
    assert.equal(errnoOf(() => fs.symlinkSync('f0', path.join(mp, 'link'))), 'EPERM');
    assert.equal(errnoOf(() => fs.linkSync(f, path.join(mp, 'hard'))), 'EPERM');
    assert.equal(errnoOf(() => fs.chmodSync(f, 0o600)), 'EPERM');
    assert.equal(errnoOf(() => fs.writeFileSync(f, 'x')), 'EPERM', 'O_TRUNC is a size change');
    assert.equal(fs.statSync(f).size, 1);
    const r = famfs(master, ['fsck', '-d', dev]);
    assert.equal(r.status, 0, r.stdout);
  });

  test('.meta holds the superblock and the log, root-only (issue 11 item 9; upstream makes them 0444/0644)', () => {
    const sb = fs.statSync(path.join(mp, '.meta/.superblock'));
    const log = fs.statSync(path.join(mp, '.meta/.log'));
    assert.equal(sb.size, 2 * MiB);
    assert.equal(sb.mode & 0o777, 0o400);
    assert.equal(log.size, 8 * MiB);
    assert.equal(log.mode & 0o777, 0o600);
    assert.equal(errnoOf(() => fs.openSync(path.join(mp, '.meta/.superblock'), 'r+')), 'EACCES', 'even root cannot write the superblock');
    const raw = fs.readFileSync(path.join(mp, '.meta/.superblock'));
    assert.equal(raw.readUInt32LE(0), 0x87b282ff);
  });

  test('statfs reports famfs capacity and free space', () => {
    const st = fs.statfsSync(mp);
    const report = JSON.parse(famfsOk(master, ['fsck', '--json', '-d', dev]).stdout);
    assert.equal(st.blocks * st.bsize, report.capacity.bitmapCapacity);
    assert.equal(st.bfree * st.bsize, report.capacity.freeSpace);
  });

  test('xattrs name the device and the role', () => {
    const r = famfsOk(master, ['status', '--json']);
    const row = JSON.parse(r.stdout).find((x: { mountpoint: string }) => x.mountpoint === mp);
    assert.equal(row.device, dev);
    assert.equal(row.role, 'master');
    assert.ok(row.pid > 0);
  });

  test('CLI verbs accept paths inside the mount; new files show up at once', async () => {
    famfsOk(master, ['mkdir', path.join(mp, 'viacli')]);
    famfsOk(master, ['creat', '-s', '3m', '-r', '-S', '77', path.join(mp, 'viacli/file')]);
    assert.equal(fs.statSync(path.join(mp, 'viacli/file')).size, 3 * MiB);
    assert.equal(famfs(master, ['verify', '-S', '77', path.join(mp, 'viacli/file')]).status, 0);
    assert.deepEqual(fs.readdirSync(path.join(mp, 'viacli')), ['file']);
    fs.mkdirSync(path.join(mp, 'viacli/bymkdir'));
    assert.ok(fs.statSync(path.join(mp, 'viacli/bymkdir')).isDirectory());
    // A directory made through the mount is logged once the mount has been idle for the commit delay.
    const logged = (): string[] => JSON.parse(famfsOk(master, ['ls', '--json', '-d', dev, 'viacli']).stdout).map((n: { path: string }) => n.path).sort();
    await waitFor(() => logged().length === 2, 5000, 50);
    assert.deepEqual(logged(), ['viacli/bymkdir', 'viacli/file']);
  });

  test('the same device twice on one host is refused; a second host mounts it as a client', async () => {
    const dupDir = fs.mkdtempSync('/tmp/famfs-dup-');
    const again = famfs(master, ['mount', dev, dupDir]);
    fs.rmdirSync(dupDir);
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /already mounted/);
    const cmp = mount(client, dev, 'client');
    try {
      const ls = (p: string): string[] => fs.readdirSync(p).sort();
      assert.deepEqual(ls(cmp), ls(mp));
      assert.equal(fs.statSync(path.join(cmp, '.meta/.log')).mode & 0o777, 0o400);
      assert.equal(sha(fs.readFileSync(path.join(cmp, 'striped/f7'))), sha(fs.readFileSync(path.join(mp, 'striped/f7'))));
      // The master creates; the client sees it without any logplay.
      for (let i = 0; i < 5; i++) {
        famfsOk(master, ['creat', '-s', '4096', path.join(mp, `late${i}`)]);
        const ms = await waitFor(() => fs.existsSync(path.join(cmp, `late${i}`)), 100, 2);
        assert.ok(ms <= 100);
      }
      // Clients cannot change metadata or write the log; they may write file data.
      assert.equal(errnoOf(() => fs.mkdirSync(path.join(cmp, 'nope'))), 'EROFS');
      assert.equal(errnoOf(() => fs.openSync(path.join(cmp, '.meta/.log'), 'r+')), 'EACCES');
      const r = famfs(client, ['mkdir', path.join(cmp, 'nope2')]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /client/);
      const fd = fs.openSync(path.join(cmp, 'simple/f3'), 'r+');
      fs.writeSync(fd, Buffer.from('from-client'), 0, 11, 10);
      fs.closeSync(fd);
      assert.equal(fs.readFileSync(path.join(mp, 'simple/f3')).subarray(10, 21).toString(), 'from-client');
    } finally {
      umount(client, cmp);
    }
  });

  test('a 10,000-entry directory lists and stats completely', () => {
    const big = sparseFile('bigdir', 24 * GiB);
    famfsOk(master, ['mkfs', big]);
    const src = fs.mkdtempSync('/tmp/famfs-10k-');
    try {
      for (let i = 0; i < 10000; i++) fs.writeFileSync(path.join(src, `f${i}`), '');
      famfsOk(master, ['cp', '-r', '-d', big, src, 'many']);
      const bmp = mount(master, big, 'big');
      try {
        const names = fs.readdirSync(path.join(bmp, 'many'));
        assert.equal(names.length, 10000);
        assert.equal(new Set(names).size, 10000);
        let n = 0;
        for (const name of names) n += fs.statSync(path.join(bmp, 'many', name)).isFile() ? 1 : 0;
        assert.equal(n, 10000);
      } finally {
        umount(master, bmp);
      }
    } finally {
      fs.rmSync(src, { recursive: true, force: true });
    }
  });

  test('a killed daemon leaves ENOTCONN; famfs umount cleans up; a new mount shows everything', async () => {
    const before = fs.readdirSync(mp).sort();
    const pid = JSON.parse(famfsOk(master, ['status', '--json']).stdout).find((x: { mountpoint: string }) => x.mountpoint === mp).pid;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => errnoOf(() => fs.readdirSync(mp)) === 'ENOTCONN', 3000);
    famfsOk(master, ['umount', mp]);
    assert.equal(isMounted(mp), false);
    famfsOk(master, ['mount', dev, mp]);
    assert.deepEqual(fs.readdirSync(mp).sort(), before);
    assert.equal(famfs(master, ['verify', '-S', '207', path.join(mp, 'striped/f7')]).status, 0);
  });
});
