/**
 * A famfs mount used by someone who cannot open the device: the read-only
 * verbs and MountReader see exactly what the mount shows that user (readdir,
 * lstat, the daemon's user.famfs.* xattrs, read(2)); the root-only .meta files
 * stay closed to them. Run as uid/gid 65534 against a device readable by root
 * only. The library's other fallback, Famfs.openPath through .meta/.superblock
 * and .meta/.log, is tested on a mount that names a meta_group.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Famfs, type LogEvent } from 'famfs';
import { famfsOk, formattedHost, FAMFS_BIN, GiB, MiB, REPO, sparseFile, type Host } from '../core/helpers.js';
import { HAVE_FUSE, mount, NO_FUSE_REASON, umount, umountAll } from './mounted.js';
import { getxattr } from '../../src/sys/libc.js';
import { NEW_NODE_ID_BASE } from '../../src/fs/newtable.js';
import { INDEX_XATTR, MAP_XATTR } from '../../src/fs/xattrs.js';

const NOBODY = 65534;
const LIB = path.join(REPO, 'dist/src/api/index.js');

function asNobody(host: Host, cmd: string[], input?: string): { status: number; stdout: string; stderr: string; raw: Buffer } {
  const r = spawnSync(process.execPath, cmd, { env: host.env, cwd: '/', uid: NOBODY, gid: NOBODY, input, maxBuffer: 64 * MiB });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString(), raw: r.stdout };
}
const famfsNobody = (host: Host, args: string[]) => asNobody(host, [FAMFS_BIN, ...args]);
function okNobody(host: Host, args: string[]): { stdout: string; raw: Buffer } {
  const r = famfsNobody(host, args);
  if (r.status !== 0) throw new Error(`as uid ${NOBODY}: famfs ${args.join(' ')} → exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r;
}
/** A refusal: exit 1, nothing on stdout, exactly one line on stderr matching `why`. */
function refusedNobody(host: Host, args: string[], why: RegExp): void {
  const r = famfsNobody(host, args);
  assert.equal(r.status, 1, `famfs ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
  assert.match(r.stderr, why);
}
const libScript = (script: string): string[] => ['--input-type=module', '-e', script.replaceAll("from 'famfs'", `from ${JSON.stringify(LIB)}`)];

describe('non-root users of a mount', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  const { host, dev } = formattedHost('nonroot', { cleanup: umountAll });
  let mp: string;

  before(() => {
    famfsOk(host, ['mkdir', '-d', dev, 'd']);
    famfsOk(host, ['creat', '-d', dev, '-s', String(5 * MiB + 3), '-r', '-S', '77', 'd/rand']);
    famfsOk(host, ['creat', '-d', dev, '-s', String(8 * MiB), '-r', '-S', '78', '-N', '2', '-B', '2', '-C', '2m', 'd/striped']);
    famfsOk(host, ['creat', '-d', dev, '-s', String(MiB), '-r', '-S', '80', '-m', '0600', 'd/secret']);
    famfsOk(host, ['mkdir', '-d', dev, '-m', '0700', 'priv']);
    famfsOk(host, ['creat', '-d', dev, '-s', '4096', '-m', '0644', 'priv/open']);
    famfsOk(host, ['mkdir', '-d', dev, '-m', '0711', 'blind']); // searchable, not listable
    famfsOk(host, ['creat', '-d', dev, '-s', String(2 * MiB), '-r', '-S', '81', 'blind/known']);
    fs.chmodSync(dev, 0o600);
    mp = mount(host, dev, 'nonroot'); // no meta_group: .meta stays root-only
    fs.chmodSync(mp, 0o755); // mkdtemp made it 0700; the mount's root is 0755 anyway
    assert.notEqual(famfsNobody(host, ['ls', '-d', dev]).status, 0, 'the device itself must be closed to uid 65534');
    for (const f of ['.superblock', '.log']) {
      const r = spawnSync('head', ['-c', '1', path.join(mp, '.meta', f)], { uid: NOBODY, gid: NOBODY });
      assert.notEqual(r.status, 0, `.meta/${f} must stay closed to uid 65534`);
    }
  });

  test('the mount serves each readable file its map and log slot as read-only xattrs', () => {
    const want = JSON.parse(famfsOk(host, ['getmap', '-d', dev, '--json', 'd/striped']).stdout) as { map: unknown };
    assert.deepEqual(JSON.parse(getxattr(path.join(mp, 'd/striped'), MAP_XATTR)!), want.map);
    assert.equal(getxattr(path.join(mp, 'd'), INDEX_XATTR), '0');
    assert.equal(getxattr(path.join(mp, 'd/striped'), INDEX_XATTR), '2');
    assert.equal(getxattr(path.join(mp, 'd'), MAP_XATTR), undefined, 'directories have no map');
    assert.equal(NEW_NODE_ID_BASE, 2 ** 40, 'MountReader assumes new-node ids start at 2^40');
  });

  test('ls, ls -l, ls --json, cat, getmap, verify and status as uid 65534 match what root sees through the device', () => {
    assert.deepEqual(okNobody(host, ['ls', path.join(mp, 'd')]).stdout.split('\n').filter(Boolean), ['rand', 'secret', 'striped']);
    for (const args of [['-l'], ['-ln'], ['-lh'], ['-lR']]) {
      assert.equal(okNobody(host, ['ls', ...args, path.join(mp, 'd')]).stdout, famfsOk(host, ['ls', ...args, '-d', dev, 'd']).stdout, `famfs ls ${args.join(' ')}`);
    }
    type N = { path: string; map: unknown };
    const json = JSON.parse(famfsOk(host, ['ls', '--json', '-d', dev, 'd']).stdout) as N[];
    json.find((n) => n.path === 'd/secret')!.map = null; // a file this user may not read: no map
    assert.deepEqual(JSON.parse(okNobody(host, ['ls', '--json', path.join(mp, 'd')]).stdout), json);
    assert.match(okNobody(host, ['ls', '-l', path.join(mp, 'd')]).stdout, /^-rw------- 1 root root 1048576 secret$/m, 'a file the user may not read is still listed, as ls -l does');
    assert.equal(okNobody(host, ['ls', '-l', path.join(mp, 'blind/known')]).stdout, '-rw-r--r-- 1 root root 2097152 blind/known\n', 'a known name in a directory that may be searched but not listed');
    const viaRoot = famfsOk(host, ['cat', '-d', dev, 'd/striped'], { binary: true }).raw;
    const viaNobody = okNobody(host, ['cat', path.join(mp, 'd/striped')]).raw;
    assert.equal(viaNobody.length, 8 * MiB);
    assert.ok(viaNobody.equals(viaRoot), 'cat through the mount gives the same bytes');
    for (const f of ['d/rand', 'd/striped']) {
      assert.deepEqual(JSON.parse(okNobody(host, ['getmap', '--json', path.join(mp, f)]).stdout), JSON.parse(famfsOk(host, ['getmap', '-d', dev, '--json', f]).stdout));
      assert.equal(okNobody(host, ['getmap', path.join(mp, f)]).stdout, famfsOk(host, ['getmap', '-d', dev, f]).stdout);
      assert.equal(okNobody(host, ['getmap', '--format', 'famfs', path.join(mp, f)]).stdout, famfsOk(host, ['getmap', '--format', 'famfs', '-d', dev, f]).stdout);
    }
    assert.match(okNobody(host, ['verify', '-S', '77', path.join(mp, 'd/rand')]).stdout, /Success: verified 5242883 bytes/);
    assert.match(okNobody(host, ['verify', '-S', '78', path.join(mp, 'd/striped')]).stdout, /Success/);
    assert.match(okNobody(host, ['verify', '-S', '81', path.join(mp, 'blind/known')]).stdout, /Success/);
    const bad = famfsNobody(host, ['verify', '-S', '79', path.join(mp, 'd/rand')]);
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /Verify fail: d\/rand at offset 0/);
    const st = JSON.parse(okNobody(host, ['status', '--json', mp]).stdout) as { mountpoint: string; role: string; log: { used: number } }[];
    assert.equal(st.length, 1);
    assert.equal(st[0]!.mountpoint, mp);
    assert.equal(st[0]!.role, 'master');
    assert.equal(st[0]!.log.used, 8);
    assert.match(okNobody(host, ['status', path.join(mp, 'd')]).stdout, /^ {2}log: 8 of \d+ entries used$/m);
  });

  test('as uid 65534: a file it may not read, a directory it may not search or list: one clear line, exit 1', () => {
    for (const verb of [['cat'], ['getmap'], ['getmap', '--json'], ['verify', '-S', '80']]) {
      refusedNobody(host, [...verb, path.join(mp, 'd/secret')], /^famfs (cat|getmap|verify): \S+\/d\/secret: permission denied \(this user may not read it\)$/m);
      refusedNobody(host, [...verb, path.join(mp, 'priv/open')], /^famfs \w+: \S+\/priv\/open: permission denied \(a directory on the way may not be searched by this user\)$/m);
    }
    refusedNobody(host, ['ls', '-l', path.join(mp, 'priv')], /^famfs ls: \S+\/priv: permission denied \(this user may not list it\)$/m);
    refusedNobody(host, ['ls', path.join(mp, 'blind')], /^famfs ls: \S+\/blind: permission denied \(this user may not list it\)$/m);
    refusedNobody(host, ['ls', path.join(mp, 'd/nothing')], /^famfs ls: \S+\/d\/nothing: no such file or directory in famfs$/m);
    refusedNobody(host, ['ls', path.join(mp, '.meta')], /no such file or directory in famfs/);
    refusedNobody(host, ['cat', path.join(mp, 'd')], /^famfs cat: d: is a directory$/m);
    // ls -R lists what it may and names each directory it may not, as ls(1) does.
    const r = famfsNobody(host, ['ls', '-R', mp]);
    assert.equal(r.status, 1);
    assert.deepEqual(r.stdout.split('\n').filter(Boolean), ['blind', 'd', 'd/rand', 'd/secret', 'd/striped', 'priv']);
    assert.deepEqual(r.stderr.split('\n').filter(Boolean).map((l) => l.replace(mp, 'MP')), [
      'famfs ls: MP/blind: permission denied (this user may not list it)',
      'famfs ls: MP/priv: permission denied (this user may not list it)',
    ]);
    assert.equal(famfsOk(host, ['ls', '-R', mp]).stdout, 'blind\nblind/known\nd\nd/rand\nd/secret\nd/striped\npriv\npriv/open\n', 'root lists everything');
  });

  test('the library as uid 65534: MountReader lists, stats, reads and refuses like the CLI', () => {
    const script = `
      import { MountReader, isFamfsError } from 'famfs';
      import { createHash } from 'node:crypto';
      const r = MountReader.open(${JSON.stringify(path.join(mp, 'd'))});
      const rel = r.relative(${JSON.stringify(path.join(mp, 'd/striped'))});
      const h = createHash('sha256');
      for await (const c of r.createReadStream(rel)) h.update(c);
      const code = (fn) => { try { fn(); return 'none'; } catch (e) { return isFamfsError(e) ? e.code : 'other'; } };
      const s = r.stat('d/striped');
      console.log(JSON.stringify({ rel, names: r.readdir('d').map((s) => s.name), sha: h.digest('hex'),
        striped: [s.type, s.size, s.index, s.map.kind], secret: r.stat('d/secret').map, root: r.readdir().map((s) => s.name),
        light: (({ map, index }) => ({ map, index }))(r.stat('d/striped', { xattrs: false })),
        walk: [...r.walk('', () => {})].map((s) => s.path),
        secretFile: code(() => r.file('d/secret')), privOpen: code(() => r.stat('priv/open')), meta: code(() => r.stat('.meta/.log')) }));`;
    const out = asNobody(host, libScript(script));
    assert.equal(out.status, 0, out.stderr);
    const want = createHash('sha256').update(famfsOk(host, ['cat', '-d', dev, 'd/striped'], { binary: true }).raw).digest('hex');
    assert.deepEqual(JSON.parse(out.stdout), {
      rel: 'd/striped', names: ['rand', 'secret', 'striped'], sha: want,
      striped: ['file', 8 * MiB, 2, 'interleave'], secret: null, root: ['blind', 'd', 'priv'],
      light: { map: null, index: 2 }, // without xattrs: no map, the slot from the inode number
      walk: ['blind', 'd', 'd/rand', 'd/secret', 'd/striped', 'priv'],
      secretFile: 'EACCES', privOpen: 'EACCES', meta: 'ENOENT',
    });
  });

  test('the library as a member of the meta group: openPath falls back to the .meta files; views need the device, chunks and streams do not', () => {
    const dev2 = sparseFile('nonroot-grp', 4 * GiB);
    famfsOk(host, ['mkfs', dev2]);
    famfsOk(host, ['mkdir', '-d', dev2, 'd']);
    famfsOk(host, ['creat', '-d', dev2, '-s', String(4 * MiB), '-r', '-S', '5', 'd/f']);
    fs.chmodSync(dev2, 0o600);
    const mp2 = mount(host, dev2, 'nonroot-grp', ['-o', `meta_group=${NOBODY}`]);
    try {
      const script = `
        import { Famfs, isFamfsError } from 'famfs';
        import { createHash } from 'node:crypto';
        const f = Famfs.openPath(${JSON.stringify(path.join(mp2, 'd'))});
        const rel = f.relative(${JSON.stringify(path.join(mp2, 'd/f'))});
        const h = createHash('sha256');
        for await (const c of f.createReadStream(rel)) h.update(c);
        let viewsCode = 'none';
        try { f.views(rel); } catch (e) { viewsCode = isFamfsError(e) ? e.code : 'other'; }
        console.log(JSON.stringify({ metadataOnly: f.device.metadataOnly, rel, names: f.readdir('d').map((s) => s.name), sha: h.digest('hex'), viewsCode }));
        f.close();`;
      const r = asNobody(host, libScript(script));
      assert.equal(r.status, 0, r.stderr);
      const want = createHash('sha256').update(famfsOk(host, ['cat', '-d', dev2, 'd/f'], { binary: true }).raw).digest('hex');
      assert.deepEqual(JSON.parse(r.stdout), { metadataOnly: true, rel: 'd/f', names: ['f'], sha: want, viewsCode: 'EACCES' });
    } finally {
      umount(host, mp2);
    }
  });

  test('follow() through the mount sees what the master adds', async () => {
    const f = Famfs.openPath(mp, { via: 'mount' });
    assert.equal(f.device.metadataOnly, true);
    const stop = new AbortController();
    const events: LogEvent[] = [];
    const done = (async () => {
      for await (const ev of f.follow({ intervalMs: 20, signal: stop.signal })) {
        events.push(ev);
        if (events.length === 2) break;
      }
    })();
    famfsOk(host, ['mkdir', path.join(mp, 'later')]);
    famfsOk(host, ['creat', '-s', '4096', path.join(mp, 'later/x')]);
    const timer = setTimeout(() => stop.abort(), 20_000);
    await done;
    clearTimeout(timer);
    f.close();
    assert.deepEqual(events.map((e) => (e.type === 'created' ? `${e.kind} ${e.path}` : e.type)), ['dir later', 'file later/x']);
  });

  test('status: devices and use, log, pending nodes, requests per opcode, pid, uptime, version; bad input is one line', () => {
    fs.readdirSync(path.join(mp, 'd'));
    const [s] = JSON.parse(famfsOk(host, ['status', '--json', path.join(mp, 'd')]).stdout) as {
      device: string; pid: number; version: string; uptimeS: number; dataPath: string; pendingNodes: number;
      devices: { index: number; path: string; capacity: number; used: number }[]; log: { used: number; capacity: number };
      requests: { name: string; count: number; avgUs: number; maxUs: number }[];
    }[];
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    assert.equal(s!.device, dev);
    assert.equal(s!.version, pkg.version);
    assert.ok(s!.pid > 0 && s!.pid !== process.pid);
    assert.ok(s!.uptimeS > 0);
    assert.equal(s!.pendingNodes, 0);
    const used = famfsOk(host, ['fsck', '-d', dev, '--json']).stdout;
    assert.deepEqual(s!.devices.map((d) => [d.index, d.path, d.capacity]), [[0, dev, 4 * GiB]]);
    assert.equal(s!.devices[0]!.used, (JSON.parse(used) as { capacity: { allocatedBytes: number } }).capacity.allocatedBytes);
    assert.ok(s!.log.capacity > 1000 && s!.log.used >= 3);
    const byName = new Map(s!.requests.map((q) => [q.name, q]));
    for (const op of ['INIT', 'LOOKUP', 'READDIRPLUS', 'GETXATTR']) assert.ok((byName.get(op)?.count ?? 0) > 0, `${op} counted: ${JSON.stringify(s!.requests)}`);
    for (const q of s!.requests) assert.ok(q.maxUs >= q.avgUs && q.avgUs > 0, JSON.stringify(q));
    const textOut = famfsOk(host, ['status', mp]).stdout;
    assert.match(textOut, new RegExp(`^${mp}: ${dev}$`, 'm'));
    assert.match(textOut, /log: \d+ of \d+ entries used/);
    assert.match(textOut, /^ {4}LOOKUP +\d+ +[\d.]+ +[\d.]+$/m);
    const r = spawnSync(process.execPath, [FAMFS_BIN, 'status', '/'], { env: host.env, encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'famfs status: /: not inside a mounted famfs\n');
  });

  test('status answers even when a daemon does not: a stopped daemon is reported stopped (from its mount record, not asked), the others normally', async () => {
    const dev2 = sparseFile('nonroot-stop', 4 * GiB);
    famfsOk(host, ['mkfs', dev2]);
    const mp2 = mount(host, dev2, 'nonroot-stop');
    const dev3 = sparseFile('nonroot-after', 4 * GiB);
    famfsOk(host, ['mkfs', dev3]);
    const mp3 = mount(host, dev3, 'nonroot-after'); // listed after the stopped one
    const [s2] = JSON.parse(famfsOk(host, ['status', '--json', mp2]).stdout) as { pid: number }[];
    process.kill(s2!.pid, 'SIGSTOP');
    try {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, [FAMFS_BIN, 'status', '--json'], { env: { ...host.env, FAMFS_STATUS_TIMEOUT_MS: '1500' }, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(Date.now() - t0 < 30_000, 'status returned');
      const rows = JSON.parse(r.stdout) as { mountpoint: string; role: string }[];
      assert.equal(rows.find((x) => x.mountpoint === mp2)?.role, 'stopped');
      assert.equal(rows.find((x) => x.mountpoint === mp)?.role, 'master');
      assert.equal(rows.find((x) => x.mountpoint === mp3)?.role, 'master', 'the mounts after the stuck one are still asked');
    } finally {
      process.kill(s2!.pid, 'SIGCONT');
    }
    umount(host, mp2);
    umount(host, mp3);
  });
});
