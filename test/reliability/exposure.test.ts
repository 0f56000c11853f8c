/**
 * Issue 11, exposure: the reserved root name `.meta` (item 10), the meta
 * files' permissions (item 9) and `nodefault_permissions` (item 8), checked
 * through the CLI, the library and real mounts, as uid 65534 where it matters.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { asHost, famfs, famfsOk, GiB, readRange, sparseFile, writeRange } from '../core/helpers.js';
import { errnoOf, HAVE_FUSE, isMounted, mount, NO_FUSE_REASON, tempMountpoint, twoHosts, umount } from '../fs/mounted.js';
import { Famfs } from '../../src/api/famfs.js';
import { Device } from '../../src/device/device.js';
import { LOG_OFFSET } from '../../src/format/constants.js';

const HAVE_SETPRIV = spawnSync('setpriv', ['--version']).status === 0;
const LOG_BYTES = 48 + 16 * 544;
const MOUNTED = HAVE_FUSE ? (HAVE_SETPRIV ? false : 'setpriv missing') : NO_FUSE_REASON;

/** Run a command as uid 65534 with the given gid and no supplementary groups. */
function asNobody(gid: number, ...args: string[]): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync('setpriv', ['--reuid=65534', `--regid=${gid}`, '--clear-groups', ...args]);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

describe('exposure: reserved .meta, meta file permissions, nodefault_permissions', () => {
  const { master, client } = twoHosts('exp');

  function fresh(tag: string): string {
    const dev = sparseFile(tag, 4 * GiB);
    famfsOk(master, ['mkfs', dev]);
    famfsOk(master, ['creat', '-d', dev, '-s', '100', '-m', '0644', '-u', '0', '-g', '0', '-r', '-S', '3', 'public']);
    return dev;
  }

  /** Fill [dataStart, +len) with a secret pattern, as a file dropped before commit leaves it. */
  function dirty(dev: string, len: number): void {
    const f = asHost(master, () => Famfs.open(dev));
    const start = f.geometry.dataStart;
    f.close();
    const chunk = Buffer.alloc(4 * 1024 * 1024, 'SECRET!');
    for (let off = 0; off < len; off += chunk.length) writeRange(dev, start + off, chunk);
  }

  /** Every extent byte of a file's map (its whole allocation, not only up to its size). */
  function extentBytes(dev: string, rel: string): Buffer {
    const j = JSON.parse(famfsOk(master, ['getmap', '-d', dev, '--json', rel]).stdout) as { map: { extents: { offset: number; length: number }[] } };
    return Buffer.concat(j.map.extents.map((e) => readRange(dev, e.offset, e.length)));
  }

  test('item 7: creat without -r hands out only zeroed bytes on space that held old bytes; creat -r keeps its meaning', () => {
    const dev = fresh('zero');
    dirty(dev, 64 * 1024 * 1024);
    famfsOk(master, ['creat', '-d', dev, '-s', '5m', '-m', '0644', 'plain']);
    const bytes = extentBytes(dev, 'plain');
    assert.equal(bytes.length, 6 * 1024 * 1024);
    assert.equal(bytes.indexOf('SECRET'), -1, 'old bytes handed to a new file');
    assert.ok(bytes.equals(Buffer.alloc(bytes.length)));
    assert.equal(famfsOk(master, ['cat', '-d', dev, 'plain'], { binary: true }).raw.indexOf('SECRET'), -1);
    // library: Writer.creat without a fill
    asHost(master, () => {
      const f = Famfs.open(dev, { writable: true });
      try {
        const node = f.writer((w) => w.creat('lib', 3 * 1024 * 1024 + 5));
        for (const sl of f.slices(node, 0, node.size)) assert.ok(sl.equals(Buffer.alloc(sl.length)));
      } finally {
        f.close();
      }
    });
    assert.equal(extentBytes(dev, 'lib').indexOf('SECRET'), -1);
    famfsOk(master, ['creat', '-d', dev, '-s', '3m', '-r', '-S', '77', 'rand']);
    famfsOk(master, ['verify', '-d', dev, '-S', '77', 'rand']);
  });

  test('item 7: the DAX fallback (compare, then store) zeroes exactly the range and leaves its neighbours', () => {
    const file = sparseFile('zfall', 8 * 1024 * 1024);
    writeRange(file, 0, Buffer.alloc(8 * 1024 * 1024, 0xa5));
    const d = Device.open(file, { writable: true });
    try {
      d.zeroByStores(1024 * 1024 + 7, 3 * 1024 * 1024);
    } finally {
      d.close();
    }
    const all = readRange(file, 0, 8 * 1024 * 1024);
    assert.ok(all.subarray(1024 * 1024 + 7, 4 * 1024 * 1024 + 7).equals(Buffer.alloc(3 * 1024 * 1024)));
    assert.ok(all.subarray(0, 1024 * 1024 + 7).equals(Buffer.alloc(1024 * 1024 + 7, 0xa5)));
    assert.ok(all.subarray(4 * 1024 * 1024 + 7).equals(Buffer.alloc(4 * 1024 * 1024 - 7, 0xa5)));
  });

  test('item 10: CLI and library refuse .meta at the root on every create path; the log is unchanged', () => {
    const dev = fresh('meta-cli');
    const logBefore = readRange(dev, LOG_OFFSET, LOG_BYTES);
    for (const args of [['mkdir', '-d', dev, '.meta'], ['mkdir', '-d', dev, '-p', '.meta/x'], ['creat', '-d', dev, '-s', '4096', '.meta'], ['cp', '-d', dev, '/etc/hostname', '.meta'], ['mkdir', '-d', dev, '/./.meta']]) {
      const r = famfs(master, args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /\.meta.*reserved/, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    asHost(master, () => {
      const f = Famfs.open(dev, { writable: true });
      try {
        assert.throws(() => f.writer((w) => w.mkdir('.meta')), /reserved/);
        assert.throws(() => f.writer((w) => w.creat('.meta', 10)), /reserved/);
        assert.throws(() => f.writer((w) => w.clone('public', '.meta')), /reserved/);
        assert.ok(readRange(dev, LOG_OFFSET, LOG_BYTES).equals(logBefore), 'a refused create changed the log');
        // below the root the name is an ordinary one
        f.writer((w) => w.mkdir('sub/.meta', { parents: true }));
        assert.equal(f.lookup('sub/.meta').kind, 'dir');
      } finally {
        f.close();
      }
    });
  });

  test('item 10: replay counts a logged root .meta as refused; the mount lists .meta once', () => {
    const dev = fresh('meta-replay');
    asHost(master, () => {
      const f = Famfs.open(dev, { writable: true });
      try {
        f.writer(() => {
          f.log.append({ type: 'mkdir', path: '.meta', mode: 0o755, uid: 0, gid: 0 });
          f.log.append({ type: 'file', path: '.meta/x', size: 1, flags: 2, mode: 0o644, uid: 0, gid: 0, map: { kind: 'simple', extents: [{ devindex: 0, offset: 1 << 30, length: 2 << 20 }] } });
          f.log.append({ type: 'mkdir', path: 'after', mode: 0o755, uid: 0, gid: 0 });
        });
      } finally {
        f.close();
      }
    });
    const r = famfs(master, ['fsck', '-d', dev, '--json']);
    const j = JSON.parse(r.stdout) as { problems: { index: number; kind: string }[] };
    assert.ok(j.problems.some((p) => p.index === 1 && p.kind === 'bad-path'), r.stdout);
    assert.ok(j.problems.some((p) => p.index === 2), r.stdout);
    if (!HAVE_FUSE) return;
    const mp = mount(client, dev, 'meta-list');
    try {
      const names = fs.readdirSync(mp);
      assert.deepEqual(names.filter((n) => n === '.meta'), ['.meta']);
      assert.ok(names.includes('after'));
      assert.deepEqual(fs.readdirSync(path.join(mp, '.meta')).sort(), ['.log', '.superblock']);
    } finally {
      umount(client, mp);
    }
  });

  test('item 10: through a master mount, .meta cannot be made at the root (mkdir, create, CLI on the mount path)', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
    const dev = fresh('meta-mnt');
    const mp = mount(master, dev, 'meta-mnt', ['--commit-delay', '0']);
    try {
      assert.equal(errnoOf(() => fs.mkdirSync(path.join(mp, '.meta'))), 'EEXIST');
      assert.equal(errnoOf(() => fs.writeFileSync(path.join(mp, '.meta'), 'x', { flag: 'wx' })), 'EEXIST');
      const r = famfs(master, ['mkdir', path.join(mp, '.meta')]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /reserved/);
      assert.deepEqual(fs.readdirSync(mp).filter((n) => n === '.meta'), ['.meta']);
    } finally {
      umount(master, mp);
    }
  });

  test('item 9: .meta/.log and .meta/.superblock are root-only by default (uid 65534 cannot read them)', { skip: MOUNTED }, () => {
    const dev = fresh('meta-perm');
    const m = mount(master, dev, 'perm-m');
    const c = mount(client, dev, 'perm-c');
    try {
      for (const [mp, logMode] of [[m, 0o600], [c, 0o400]] as const) {
        const log = fs.statSync(path.join(mp, '.meta/.log'));
        assert.equal(log.mode & 0o7777, logMode, mp);
        assert.equal(log.uid, 0);
        assert.equal(fs.statSync(path.join(mp, '.meta/.superblock')).mode & 0o7777, 0o400);
        for (const f of ['.log', '.superblock']) {
          const r = asNobody(65534, 'head', '-c', '16', path.join(mp, '.meta', f));
          assert.notEqual(r.status, 0, `${mp}/.meta/${f} readable by nobody`);
          assert.match(r.stderr, /Permission denied/);
        }
        // root still reads them
        assert.equal(fs.readFileSync(path.join(mp, '.meta/.superblock')).length > 0, true);
      }
    } finally {
      umount(client, c);
      umount(master, m);
    }
  });

  test('item 9: -o meta_group=GID gives that group read access, nobody else', { skip: MOUNTED }, () => {
    const dev = fresh('meta-group');
    const m = mount(master, dev, 'grp-m', ['-o', 'meta_group=4242']);
    const c = mount(client, dev, 'grp-c', ['-o', 'meta_group=4242']);
    try {
      for (const [mp, logMode] of [[m, 0o640], [c, 0o440]] as const) {
        const log = fs.statSync(path.join(mp, '.meta/.log'));
        assert.equal(log.mode & 0o7777, logMode);
        assert.equal(log.gid, 4242);
        assert.equal(fs.statSync(path.join(mp, '.meta/.superblock')).mode & 0o7777, 0o440);
        const ok = asNobody(4242, 'head', '-c', '16', path.join(mp, '.meta/.log'));
        assert.equal(ok.status, 0, ok.stderr);
        assert.equal(ok.stdout.length, 16);
        assert.notEqual(asNobody(65534, 'head', '-c', '16', path.join(mp, '.meta/.log')).status, 0);
        // the group reads but never writes
        assert.notEqual(asNobody(4242, 'sh', '-c', `echo x >> ${path.join(mp, '.meta/.log')}`).status, 0);
      }
      const bad = famfs(master, ['mount', '-o', 'meta_group=wheel!', dev, tempMountpoint('grp-bad')]);
      assert.equal(bad.status, 2, bad.stderr);
      assert.match(bad.stderr, /meta_group/);
    } finally {
      umount(client, c);
      umount(master, m);
    }
  });

  test('item 8: nodefault_permissions with allow_other is refused; with noallow_other only root gets in', { skip: MOUNTED }, () => {
    const dev = fresh('nodefperm');
    famfsOk(master, ['creat', '-d', dev, '-s', '100', '-m', '0600', '-u', '0', '-g', '0', '-r', '-S', '4', 'secret']);
    const mp = tempMountpoint('nodef');
    try {
      const r = famfs(master, ['mount', '-o', 'nodefault_permissions', dev, mp]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /nodefault_permissions.*allow_other/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.ok(!isMounted(mp));
      assert.equal(famfs(master, ['mount', '-o', 'allow_other,nodefault_permissions', dev, mp]).status, 2);
      assert.ok(!isMounted(mp));
    } finally {
      fs.rmdirSync(mp);
    }
    const m = mount(master, dev, 'nodef-ok', ['-o', 'nodefault_permissions,noallow_other']);
    try {
      const secret = path.join(m, 'secret');
      assert.notEqual(asNobody(65534, 'cat', secret).status, 0);
      assert.notEqual(asNobody(65534, 'sh', '-c', `echo x > ${secret}`).status, 0);
      assert.notEqual(asNobody(65534, 'cat', path.join(m, 'public')).status, 0);
      assert.equal(fs.readFileSync(secret).length, 100);
    } finally {
      umount(master, m);
    }
  });
});
