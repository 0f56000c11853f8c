/**
 * A famfs mount used by someone who cannot open the device: the read-only
 * verbs and the library go through the mount's files (.meta/.superblock,
 * .meta/.log, the files themselves) and the root's status xattr. Run as
 * uid/gid 65534 against a device readable by root only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Famfs, type LogEvent } from 'famfs';
import { famfsOk, FAMFS_BIN, GiB, makeHost, MiB, REPO, removeAllShm, removeHost, sparseFile, type Host } from '../core/helpers.js';
import { HAVE_FUSE, mount, NO_FUSE_REASON, umount, umountAll } from './mounted.js';

const NOBODY = 65534;

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

describe('non-root users of a mount', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  let host: Host;
  let dev: string;
  let mp: string;

  before(() => {
    host = makeHost('nonroot');
    dev = sparseFile('nonroot', 4 * GiB);
    famfsOk(host, ['mkfs', dev]);
    famfsOk(host, ['mkdir', '-d', dev, 'd']);
    famfsOk(host, ['creat', '-d', dev, '-s', String(5 * MiB + 3), '-r', '-S', '77', 'd/rand']);
    famfsOk(host, ['creat', '-d', dev, '-s', String(8 * MiB), '-r', '-S', '78', '-N', '2', '-B', '2', '-C', '2m', 'd/striped']);
    fs.chmodSync(dev, 0o600);
    // The meta files are root-only unless a group may read them (issue 11 item 9).
    mp = mount(host, dev, 'nonroot', ['-o', `meta_group=${NOBODY}`]);
    fs.chmodSync(mp, 0o755); // mkdtemp made it 0700; the mount's root is 0755 anyway
    assert.notEqual(famfsNobody(host, ['ls', '-d', dev]).status, 0, 'the device itself must be closed to uid 65534');
  });

  after(() => {
    umountAll(host);
    removeAllShm();
    removeHost(host);
  });

  test('ls, ls -l, cat, getmap, verify and status work as uid 65534 without opening the device', () => {
    assert.deepEqual(okNobody(host, ['ls', path.join(mp, 'd')]).stdout.split('\n').filter(Boolean), ['rand', 'striped']);
    assert.match(okNobody(host, ['ls', '-l', path.join(mp, 'd')]).stdout, /^-rw-r--r-- 1 root root 5242883 rand$/m);
    const viaRoot = famfsOk(host, ['cat', '-d', dev, 'd/striped'], { binary: true }).raw;
    const viaNobody = okNobody(host, ['cat', path.join(mp, 'd/striped')]).raw;
    assert.equal(viaNobody.length, 8 * MiB);
    assert.ok(viaNobody.equals(viaRoot), 'cat through the mount gives the same bytes');
    assert.deepEqual(JSON.parse(okNobody(host, ['getmap', '--json', path.join(mp, 'd/rand')]).stdout), JSON.parse(famfsOk(host, ['getmap', '-d', dev, '--json', 'd/rand']).stdout));
    assert.match(okNobody(host, ['verify', '-S', '77', path.join(mp, 'd/rand')]).stdout, /Success: verified 5242883 bytes/);
    assert.match(okNobody(host, ['verify', '-S', '78', path.join(mp, 'd/striped')]).stdout, /Success/);
    const bad = famfsNobody(host, ['verify', '-S', '79', path.join(mp, 'd/rand')]);
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /Verify fail: d\/rand at offset 0/);
    const st = JSON.parse(okNobody(host, ['status', '--json', mp]).stdout) as { mountpoint: string; role: string; log: { used: number } }[];
    assert.equal(st.length, 1);
    assert.equal(st[0]!.mountpoint, mp);
    assert.equal(st[0]!.role, 'master');
    assert.equal(st[0]!.log.used, 3);
  });

  test('the library as uid 65534: openPath falls back to the mount; views need the device, chunks and streams do not', () => {
    const script = `
      import { Famfs, isFamfsError } from 'famfs';
      import { createHash } from 'node:crypto';
      const f = Famfs.openPath(${JSON.stringify(path.join(mp, 'd'))});
      const rel = f.relative(${JSON.stringify(path.join(mp, 'd/striped'))});
      const h = createHash('sha256');
      for await (const c of f.createReadStream(rel)) h.update(c);
      let viewsCode = 'none';
      try { f.views(rel); } catch (e) { viewsCode = isFamfsError(e) ? e.code : 'other'; }
      console.log(JSON.stringify({ metadataOnly: f.device.metadataOnly, rel, names: f.readdir('d').map((s) => s.name), sha: h.digest('hex'), viewsCode }));
      f.close();`;
    const r = asNobody(host, ['--input-type=module', '-e', script.replaceAll("from 'famfs'", `from ${JSON.stringify(path.join(REPO, 'dist/src/api/index.js'))}`)]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    const want = createHash('sha256').update(famfsOk(host, ['cat', '-d', dev, 'd/striped'], { binary: true }).raw).digest('hex');
    assert.deepEqual(out, { metadataOnly: true, rel: 'd/striped', names: ['rand', 'striped'], sha: want, viewsCode: 'EACCES' });
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

  test('status answers even when a daemon does not: a stopped daemon is reported unresponsive, the others normally', async () => {
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
      assert.equal(rows.find((x) => x.mountpoint === mp2)?.role, 'unresponsive');
      assert.equal(rows.find((x) => x.mountpoint === mp)?.role, 'master');
      assert.equal(rows.find((x) => x.mountpoint === mp3)?.role, 'master', 'the mounts after the stuck one are still asked');
    } finally {
      process.kill(s2!.pid, 'SIGCONT');
    }
    umount(host, mp2);
    umount(host, mp3);
  });
});
