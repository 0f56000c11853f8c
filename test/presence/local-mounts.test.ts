/**
 * Several daemons of one device on one machine (a master and a client mount, as `npm run bench
 * reclaim` makes): `famfs umount` waits only for the daemon of the mount it unmounts, and the CLI
 * never blocks on a SIGSTOPped daemon (it works on the device and says so in one line).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { FAMFS_BIN, REPO, type Host } from '../core/helpers.js';
import { famfsMountInfoAt, mountDaemon } from '../../src/api/mountrecord.js';
import { HAVE_FUSE, isMounted, mount, NO_FUSE_REASON, twoHosts, umount } from '../fs/mounted.js';
import { presenceArea, presenceDevice } from './fixtures.js';

/** The CLI as `host`, killed (SIGKILL: a FUSE wait ignores SIGTERM) if it takes longer than `ms`. */
function cli(host: Host, args: string[], ms = 60_000): { status: number | null; stderr: string; stdout: string; ms: number; killed: boolean } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [FAMFS_BIN, ...args], { env: host.env, cwd: REPO, timeout: ms, killSignal: 'SIGKILL' });
  return { status: r.status, stderr: r.stderr.toString(), stdout: r.stdout.toString(), ms: Date.now() - t0, killed: r.signal === 'SIGKILL' };
}

function daemonOf(mp: string): number {
  const m = famfsMountInfoAt(mp);
  const d = m && mountDaemon(m);
  assert.ok(d, `${mp}: its daemon wrote no record`);
  return d.record.pid;
}

/** Live presence slots of pid. */
function liveSlotsOf(dev: string, pid: number): number[] {
  const area = presenceArea(dev);
  try {
    return area.readAll().flatMap((s) => (s && s.state === 'live' && s.pid === pid ? [s.index] : []));
  } finally {
    area.device.close();
  }
}

describe('a master and a client mount of one device on one machine', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  const h = twoHosts('lm');
  let dev: string, mpM: string, mpC: string, pidM: number, pidC: number;
  const stopped = new Set<number>();

  before(() => {
    dev = presenceDevice(h.master, 'lm', 3000);
    mpM = mount(h.master, dev, 'lm-m');
    mpC = mount(h.client, dev, 'lm-c');
    pidM = daemonOf(mpM);
    pidC = daemonOf(mpC);
  });
  after(() => {
    for (const p of stopped) process.kill(p, 'SIGCONT');
  });

  test('each mount records its own daemon', () => {
    assert.notEqual(pidM, pidC);
    assert.equal(liveSlotsOf(dev, pidM).length, 1);
    assert.equal(liveSlotsOf(dev, pidC).length, 1);
  });

  test('with its daemon stopped, verbs on the mount finish (on the device, one line) and leave it working after SIGCONT', { timeout: 300_000 }, () => {
    fs.writeFileSync(path.join(h.master.dir, 'src.txt'), 'payload\n');
    process.kill(pidM, 'SIGSTOP');
    stopped.add(pidM);
    try {
      const verbs: string[][] = [
        ['creat', '-s', '4096', path.join(mpM, 'made')],
        ['cp', path.join(h.master.dir, 'src.txt'), path.join(mpM, 'copied')],
        ['ls', mpM],
        ['mkdir', path.join(mpM, 'dir')],
        ['rm', path.join(mpM, 'made')],
        ['logplay', mpM],
        ['hosts', mpM],
      ];
      for (const args of verbs) {
        const r = cli(h.master, args);
        assert.ok(!r.killed, `famfs ${args.join(' ')} blocked on the stopped daemon (killed after ${r.ms} ms)`);
        assert.equal(r.status, 0, `famfs ${args.join(' ')}: ${r.stderr}`);
        const lines = r.stderr.split('\n').filter((l) => l.includes(`${mpM}: its daemon (pid ${pidM}) is stopped`));
        assert.equal(lines.length, 1, `famfs ${args.join(' ')}: one line about the stopped mount; stderr: ${r.stderr}`);
      }
      const st = cli(h.master, ['status', '--json']);
      assert.ok(!st.killed && st.status === 0, st.stderr);
      const row = (JSON.parse(st.stdout) as { mountpoint: string; role: string; pid: number }[]).find((x) => x.mountpoint === mpM);
      assert.deepEqual([row?.role, row?.pid], ['stopped', pidM]);
      assert.ok(st.ms < 8000, `status asked the stopped daemon (${st.ms} ms)`);
    } finally {
      process.kill(pidM, 'SIGCONT');
      stopped.delete(pidM);
    }
    // The mount caught up with what was done on the device while it was stopped.
    const seen = cli(h.master, ['ls', mpM]);
    assert.equal(seen.status, 0, seen.stderr);
    assert.doesNotMatch(seen.stderr, /is stopped/);
    // Stopped past half its lease (3 s here), the daemon finds its own lease expired when it runs
    // again: it answers ESTALE until it has rejoined and replayed from scratch (issue 14), then serves.
    const until = Date.now() + 20_000;
    for (;;) {
      try {
        assert.equal(fs.readFileSync(path.join(mpM, 'copied'), 'utf8'), 'payload\n');
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).errno !== -116 || Date.now() > until) throw e;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      }
    }
  });

  test('umount of the client returns promptly and leaves the master serving; umount of the master waits for its daemon', { timeout: 120_000 }, () => {
    // As the bench does: the master's host unmounts the client's mount.
    const r = cli(h.master, ['umount', mpC]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.ok(r.ms < 8000, `umount of the client took ${r.ms} ms`);
    assert.ok(!isMounted(mpC));
    assert.deepEqual(liveSlotsOf(dev, pidC), [], 'the client daemon left its slot before umount returned');
    assert.equal(liveSlotsOf(dev, pidM).length, 1, 'the master keeps its slot');
    assert.equal(fs.readFileSync(path.join(mpM, 'copied'), 'utf8'), 'payload\n', 'the master still serves');
    fs.rmdirSync(mpC);

    const m = cli(h.client, ['umount', mpM]);
    assert.equal(m.status, 0, m.stderr);
    assert.deepEqual(liveSlotsOf(dev, pidM), [], 'umount of the master returned only once its daemon left its slot');
    assert.ok(!isMounted(mpM));
    fs.rmdirSync(mpM);
  });

  test('umount of a mount whose daemon is stopped names it, and only it', { timeout: 120_000 }, () => {
    const a = mount(h.master, dev, 'lm-a');
    const b = mount(h.client, dev, 'lm-b');
    const pa = daemonOf(a);
    const pb = daemonOf(b);
    process.kill(pb, 'SIGSTOP');
    stopped.add(pb);
    try {
      const r = cli(h.master, ['umount', a]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(liveSlotsOf(dev, pa), []);
      const s = cli(h.master, ['umount', b], 60_000);
      assert.ok(!s.killed);
      assert.notEqual(s.status, 0, 'a stopped daemon cannot leave its slot');
      assert.match(s.stderr, new RegExp(`its daemon \\(pid ${pb}\\) still holds presence slot \\d+ after \\d+ ms \\(stopped \\(SIGSTOP\\)\\)`));
    } finally {
      process.kill(pb, 'SIGCONT');
      stopped.delete(pb);
    }
    umount(h.master, a);
    umount(h.master, b);
  });
});
