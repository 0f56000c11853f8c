/**
 * fstab and mount(8): `famfs install-helpers` puts /sbin/mount.fuse.famfs and
 * /sbin/mount.famfs in place; the real mount command then mounts famfs lines
 * of a temporary fstab (-T FILE; /etc/fstab is never touched) with
 * `mount DIR`, `mount -a` and `umount DIR`. The helpers are removed afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { helperArgs } from '../../src/cli/mounthelper.js';
import { famfs, famfsOk, GiB, makeHost, removeAllShm, removeHost, sparseFile, type Host } from '../core/helpers.js';
import { HAVE_FUSE, isMounted, NO_FUSE_REASON, tempMountpoint, waitFor } from './mounted.js';

const SBIN = '/sbin';
const HELPERS = ['mount.fuse.famfs', 'mount.famfs'].map((n) => path.join(SBIN, n));
const HAVE_MOUNT = spawnSync('mount', ['--version']).status === 0 && spawnSync('findmnt', ['--version']).status === 0;
const foreign = HELPERS.find((f) => fs.existsSync(f) && !fs.readFileSync(f, 'utf8').includes('famfs install-helpers'));
const skip = !HAVE_FUSE ? NO_FUSE_REASON : !HAVE_MOUNT ? 'SKIPPED: util-linux mount/findmnt not found' : foreign ? `SKIPPED: ${foreign} exists and is not ours` : false;

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv): { status: number; out: string } {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, out: (r.stdout + r.stderr).trim() };
}

describe('mount helper: argument translation', () => {
  test('fstab-only options are dropped; famfs options map to famfs mount flags; the rest pass as -o', () => {
    assert.deepEqual(helperArgs(['/dev/dax0.0', '/mnt/f', '-o', 'defaults,_netdev,noauto,nofail,x-systemd.requires=a.service,rw']).argv, ['mount', '/dev/dax0.0', '/mnt/f']);
    assert.deepEqual(helperArgs(['/d', '/m', '-n', '-t', 'fuse.famfs', '-o', 'client,data_path=daemon,commit_delay=50,timeout=5,workers=3,log=/tmp/l,ro,noatime']).argv,
      ['mount', '--client', '--data-path', 'daemon', '--commit-delay', '50', '--timeout', '5', '--workers', '3', '--log', '/tmp/l', '-o', 'ro', '-o', 'noatime', '/d', '/m']);
    assert.equal(helperArgs(['/d', '/m', '-f']).fake, true);
    assert.deepEqual(helperArgs(['/d', '/m', '-r']).argv, ['mount', '-o', 'ro', '/d', '/m']);
  });

  test('bad input: one clear error', () => {
    assert.throws(() => helperArgs(['/d']), /usage: mount\.famfs DEVICE MOUNTPOINT/);
    assert.throws(() => helperArgs(['/d', '/m', '-o', 'data_path=fast']), /data_path=fast: must be one of auto, kernel, daemon/);
    assert.throws(() => helperArgs(['/d', '/m', '-o', 'workers=many']), /workers must be a number/);
    assert.throws(() => helperArgs(['/d', '/m', '-Z']), /unknown option -Z/);
  });
});

describe('fstab + mount(8) + umount', { skip }, () => {
  let host: Host;
  let dev1: string, dev2: string, mp1: string, mp2: string, fstab: string;
  let installed = false;

  before(() => {
    host = makeHost('fstab');
    dev1 = sparseFile('fstab1', 4 * GiB);
    dev2 = sparseFile('fstab2', 4 * GiB);
    famfsOk(host, ['mkfs', dev1]);
    famfsOk(host, ['mkfs', dev2]);
    famfsOk(host, ['mkdir', '-d', dev1, 'one']);
    mp1 = tempMountpoint('fstab1');
    mp2 = tempMountpoint('fstab2');
    fstab = path.join(host.dir, 'fstab');
    const out = JSON.parse(famfsOk(host, ['install-helpers', '--json']).stdout) as { installed: string[] };
    installed = true;
    assert.deepEqual(out.installed, HELPERS);
  });

  after(() => {
    for (const mp of [mp1, mp2]) {
      if (mp && isMounted(mp)) spawnSync('umount', ['-l', mp]);
      if (mp && !isMounted(mp)) fs.rmdirSync(mp);
    }
    if (installed) famfs(host, ['install-helpers', '--remove']);
    removeAllShm();
    removeHost(host);
  });

  test('the helpers are two-line scripts running this package with this node', () => {
    for (const f of HELPERS) {
      const text = fs.readFileSync(f, 'utf8');
      assert.match(text, /^#!\/bin\/sh\n# famfs mount helper/);
      assert.ok(text.includes(process.execPath) && text.includes('bin/mount.famfs.js'), text);
      assert.equal(fs.statSync(f).mode & 0o777, 0o755);
    }
  });

  test('mount DIR / findmnt shows the device / umount DIR; the daemon exits', async () => {
    fs.writeFileSync(fstab, `# test fstab\n${dev1} ${mp1} fuse.famfs defaults,_netdev,noauto 0 0\n`);
    const m = sh('mount', ['-T', fstab, mp1], host.env);
    assert.equal(m.status, 0, m.out);
    const f = sh('findmnt', ['-n', '-o', 'SOURCE,TARGET,FSTYPE', mp1], host.env);
    assert.deepEqual(f.out.split(/\s+/), [dev1, mp1, 'fuse.famfs']);
    assert.deepEqual(fs.readdirSync(mp1).sort(), ['.meta', 'one']);
    const [st] = JSON.parse(famfsOk(host, ['status', '--json', mp1]).stdout) as { pid: number }[];
    const u = sh('umount', [mp1], host.env);
    assert.equal(u.status, 0, u.out);
    assert.equal(isMounted(mp1), false);
    await waitFor(() => {
      try {
        process.kill(st!.pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 10_000, 20);
  });

  test('mount -a mounts every auto line (types fuse.famfs and famfs), once; options reach the daemon', () => {
    fs.writeFileSync(fstab, [
      `${dev1} ${mp1} fuse.famfs defaults,_netdev 0 0`,
      `${dev2} ${mp2} famfs _netdev,client,data_path=daemon,ro 0 0`,
      `/dev/shm/famfs-never-${process.pid}.img /nonexistent fuse.famfs noauto 0 0`,
    ].join('\n') + '\n');
    for (let i = 0; i < 2; i++) {
      const a = sh('mount', ['-a', '-T', fstab], host.env);
      assert.equal(a.status, 0, `mount -a #${i + 1}: ${a.out}`);
    }
    assert.equal(sh('findmnt', ['-n', '-o', 'SOURCE', mp1], host.env).out, dev1);
    assert.equal(sh('findmnt', ['-n', '-o', 'SOURCE', mp2], host.env).out, dev2);
    const lines = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === mp1 || l.split(' ')[4] === mp2);
    assert.equal(lines.length, 2, 'a second mount -a mounts nothing twice');
    const s = JSON.parse(famfsOk(host, ['status', '--json']).stdout) as { mountpoint: string; role: string; dataPath: string }[];
    assert.equal(s.find((r) => r.mountpoint === mp1)?.role, 'master');
    assert.equal(s.find((r) => r.mountpoint === mp2)?.role, 'client', 'the client option reached famfs mount');
    assert.ok(/\bro\b/.test(lines.find((l) => l.split(' ')[4] === mp2)!.split(' ')[5]!), 'ro reached the kernel');
    for (const mp of [mp1, mp2]) assert.equal(sh('umount', [mp], host.env).status, 0);
  });

  test('a bad fstab option fails the mount with one line from the helper, and mounts nothing', () => {
    fs.writeFileSync(fstab, `${dev1} ${mp1} fuse.famfs data_path=fast 0 0\n`);
    const m = sh('mount', ['-T', fstab, mp1], host.env);
    assert.notEqual(m.status, 0);
    assert.match(m.out, /^mount\.famfs: data_path=fast: must be one of auto, kernel, daemon$/m);
    assert.equal(isMounted(mp1), false);
  });

  test('install-helpers --remove removes exactly what it installed; bad input is one line', () => {
    const r = JSON.parse(famfsOk(host, ['install-helpers', '--remove', '--json']).stdout) as { removed: string[] };
    installed = false;
    assert.deepEqual(r.removed, HELPERS);
    for (const f of HELPERS) assert.equal(fs.existsSync(f), false);
    const bad = famfs(host, ['install-helpers', '--dir', '/nonexistent-dir']);
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr, 'famfs install-helpers: /nonexistent-dir: not a directory\n');
  });
});
