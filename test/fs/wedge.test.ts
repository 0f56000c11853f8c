/**
 * A daemon SIGKILLed while `cp -r` creates files in its master mount may stay in
 * the kernel (its notifier waits for the directory lock the cp's CREATE holds),
 * leaving a connection nobody answers. `famfs umount` and `famfs mount` must
 * clear such a mount (abort through fusectl, then detach) instead of hanging,
 * and nothing here may stat the mount from this process.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { FAMFS_BIN, famfsOk, formattedHost, type Host } from '../core/helpers.js';
import { daemonPid, describeTask, HAVE_FUSE, isMounted, mount, NO_FUSE_REASON, pidAlive, taskStates, tempMountpoint, umount, umountAll, waitFor, waitGone } from './mounted.js';

const CHILD = new URL('./wedge-child.js', import.meta.url).pathname;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** famfs in a child this process does not wait for synchronously; fails the test if it takes longer than ms. */
function famfsAsync(host: Host, args: string[], probeMs?: number, ms = 40_000): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = probeMs ? { ...host.env, FAMFS_PROBE_TIMEOUT_MS: String(probeMs) } : host.env;
    const child = spawn(process.execPath, [FAMFS_BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`famfs ${args.join(' ')} did not finish within ${ms} ms`));
    }, ms);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr });
    });
  });
}

/** Resolves when the child has printed `word` on a line of its own. */
function lineFrom(child: ChildProcess, word: string, ms = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`child did not say ${word} within ${ms} ms`)), ms);
    const on = (d: Buffer): void => {
      buf += d.toString();
      if (buf.split('\n').includes(word)) {
        clearTimeout(timer);
        child.stdout!.off('data', on);
        resolve();
      }
    };
    child.stdout!.on('data', on);
  });
}

describe('a mount whose daemon is gone or wedged', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  const { host, dev } = formattedHost('wedge', { cleanup: umountAll });
  let src: string;

  before(() => {
    // Many small files in few directories: a CREATE in flight in the directory the notifier invalidates.
    src = fs.mkdtempSync('/dev/shm/famfs-wedge-src-');
    for (let d = 0; d < 4; d++) {
      fs.mkdirSync(path.join(src, `d${d}`));
      for (let i = 0; i < 800; i++) fs.writeFileSync(path.join(src, `d${d}`, `f${i}`), 'x');
    }
  });

  after(() => {
    fs.rmSync(src, { recursive: true, force: true });
  });

  test('a daemon stuck in the kernel after SIGKILL (notice waiting on a lock a CREATE holds): famfs umount aborts it', { timeout: 60_000 }, async () => {
    const mp = tempMountpoint('wedge-k');
    const child = spawn(process.execPath, [CHILD, mp], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = child.pid!;
    try {
      await lineFrom(child, 'mounted');
      const creator = spawn('touch', [path.join(mp, 'x')], { stdio: 'ignore' });
      const creatorDone = new Promise<number | null>((r) => creator.on('close', (code) => r(code)));
      await lineFrom(child, 'ready');
      await waitFor(() => taskStates(pid).includes('D'), 10_000); // the notifier, on the root's lock
      child.kill('SIGKILL');
      assert.equal(await waitGone(pid, 2000), false, 'wedged: the killed process cannot finish exiting');
      const u = await famfsAsync(host, ['umount', mp], 3000);
      assert.equal(u.status, 0, u.stderr);
      assert.match(u.stderr, /^famfs: \S+: its daemon did not answer within \d+ ms; aborted FUSE connection \d+ and unmounted it\n$/);
      assert.ok(await waitGone(pid, 10_000), `the killed process finished exiting once its connection was aborted: ${describeTask(pid)}`);
      assert.notEqual(await creatorDone, 0, 'the blocked create failed (ENOTCONN)');
      assert.equal(isMounted(mp), false);
    } finally {
      if (pidAlive(pid)) child.kill('SIGKILL');
      if (isMounted(mp)) spawn('umount', ['-l', mp]);
    }
    fs.rmdirSync(mp);
  });

  test('kill -9 of the daemon during cp -r: famfs umount returns, the daemon and cp exit', { timeout: 180_000 }, async () => {
    const rounds = 3;
    let wedged = 0;
    for (let round = 0; round < rounds; round++) {
      const mp = mount(host, dev, `wedge${round}`, ['--commit-delay', '0']);
      const pid = daemonPid(host, mp);
      const cp = spawn('cp', ['-r', src, path.join(mp, `t${round}`)], { stdio: 'ignore' });
      const cpDone = new Promise((r) => cp.on('close', r));
      await sleep(300 + round * 200);
      process.kill(pid, 'SIGKILL');
      const exited = await waitGone(pid, 2000);
      if (!exited) wedged++;
      const u = await famfsAsync(host, ['umount', mp], 3000);
      assert.equal(u.status, 0, u.stderr);
      if (!exited) assert.match(u.stderr, /did not answer within \d+ ms; aborted FUSE connection \d+ and unmounted it/);
      assert.equal(isMounted(mp), false, 'unmounted');
      assert.ok(await waitGone(pid, 10_000), `daemon ${pid} finished exiting: ${describeTask(pid)}`);
      await Promise.race([cpDone, sleep(10_000).then(() => assert.fail('cp still blocked after the abort'))]);
      umount(host, mp); // bookkeeping: removes the mount point
    }
    console.error(`# daemon wedged after SIGKILL in ${wedged} of ${rounds} rounds (cleared by famfs umount)`);
  });

  test('famfs mount onto a mount point whose daemon is stopped or gone clears it first', { timeout: 60_000 }, async () => {
    const mp = mount(host, dev, 'wedge-re'); // after() unmounts it if an assertion fails
    const stopped = daemonPid(host, mp);
    process.kill(stopped, 'SIGSTOP'); // answers nothing, like a wedged daemon
    try {
      const r = await famfsAsync(host, ['mount', dev, mp], 3000);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /did not answer within \d+ ms; aborted FUSE connection \d+ and unmounted it/);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    } finally {
      process.kill(stopped, 'SIGKILL');
    }
    assert.ok(await waitGone(stopped, 10_000), describeTask(stopped));
    const fresh = daemonPid(host, mp);
    assert.notEqual(fresh, stopped);
    assert.ok(fs.readdirSync(mp).length > 0, 'the new mount serves the earlier rounds');
    // Now a daemon that is simply gone: its connection is already aborted (ENOTCONN).
    process.kill(fresh, 'SIGKILL');
    assert.ok(await waitGone(fresh, 10_000), describeTask(fresh));
    const r2 = await famfsAsync(host, ['mount', dev, mp], 3000);
    assert.equal(r2.status, 0, r2.stderr);
    assert.match(r2.stderr, /its daemon is gone; aborted FUSE connection \d+ and unmounted it/);
    assert.ok(pidAlive(daemonPid(host, mp)));
    // A daemon that answers is never aborted: busy stays an error.
    const fd = fs.openSync(mp, 'r');
    try {
      const busy = await famfsAsync(host, ['umount', mp]);
      assert.notEqual(busy.status, 0);
      assert.match(busy.stderr, /busy \(files are open\)/);
      assert.doesNotMatch(busy.stderr, /abort/);
      assert.ok(fs.readdirSync(mp).length > 0, 'still served');
    } finally {
      fs.closeSync(fd);
    }
    famfsOk(host, ['umount', mp]);
    assert.equal(isMounted(mp), false);
    umount(host, mp); // bookkeeping: removes the mount point
  });
});
