/**
 * One rule for "which famfs mount answers at this path" (famfsMountInfoAt, used by mount,
 * umount, status and the library): the path resolved through symlinks without touching the
 * mount, and the newest of mounts stacked on one path. `famfs mount` refuses a non-empty mount
 * point (a famfs root shows .meta), so the mount on top is a bind of a second famfs mount.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { famfsOk, famfs, GiB, makeHost, removeAllShm, removeHost, REPO, sparseFile } from '../core/helpers.js';
import { famfsMountInfoAt, mountDaemon } from '../../src/api/mountrecord.js';
import { HAVE_FUSE, isMounted, NO_FUSE_REASON } from './mounted.js';
import { MNT_DETACH, umount2 } from '../../src/sys/libc.js';

/** famfsMountInfoAt(p) in a child killed after 10 s: the lookup must never wait for a daemon. */
function lookupInChild(p: string): { source?: string; ms: number; killed: boolean } {
  const t0 = Date.now();
  const js = `import('${path.join(REPO, 'dist/src/api/mountrecord.js')}').then((m) => process.stdout.write(JSON.stringify(m.famfsMountInfoAt(process.argv[1]) ?? {})))`;
  const r = spawnSync(process.execPath, ['-e', js, p], { timeout: 10_000, killSignal: 'SIGKILL' });
  const out = r.stdout.toString();
  return { source: out ? (JSON.parse(out) as { source?: string }).source : undefined, ms: Date.now() - t0, killed: r.signal === 'SIGKILL' };
}

describe('the famfs mount at a path', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  const host = makeHost('mlook');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'c-review-mlook-'));
  const mp = path.join(tmp, 'real', 'mnt');
  const mp2 = path.join(tmp, 'upper');
  const link = path.join(tmp, 'link'); // -> real/mnt
  const dirLink = path.join(tmp, 'dirlink'); // -> real
  let lower: string, upper: string;
  const stopped = new Set<number>();

  before(() => {
    fs.mkdirSync(mp, { recursive: true });
    fs.mkdirSync(mp2);
    fs.symlinkSync(mp, link);
    fs.symlinkSync(path.dirname(mp), dirLink);
    lower = sparseFile('mlook-lower', 4 * GiB);
    upper = sparseFile('mlook-upper', 4 * GiB);
    famfsOk(host, ['mkfs', lower]);
    famfsOk(host, ['mkfs', upper]);
    famfsOk(host, ['mount', lower, mp]);
    famfsOk(host, ['mount', upper, mp2]);
    const r = spawnSync('mount', ['--bind', mp2, mp]); // stacked on the first
    assert.equal(r.status, 0, `mount --bind: ${r.stderr.toString()}`);
  });
  after(() => {
    for (const p of stopped) process.kill(p, 'SIGCONT');
    if (isMounted(mp) && famfsMountInfoAt(mp)?.source === upper) umount2(mp, MNT_DETACH);
    for (const p of [mp, mp2]) if (isMounted(p)) famfs(host, ['umount', p]);
    fs.rmSync(tmp, { recursive: true, force: true });
    removeAllShm();
    removeHost(host);
  });

  test('two stacked mounts: the newest answers, by its path, through a symlink to it, and through a symlinked parent', () => {
    assert.equal(fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === mp).length, 2, 'both mounts are stacked on one path');
    for (const p of [mp, `${mp}/`, link, path.join(dirLink, 'mnt'), path.join(tmp, 'real', '.', 'mnt')]) {
      const m = famfsMountInfoAt(p);
      assert.equal(m?.source, upper, `${p}: the mount on top (${upper}), not ${m?.source}`);
      assert.equal(m?.mountpoint, mp);
    }
  });

  test('with the top daemon stopped, the lookup through the symlink still answers at once (the mount is not touched)', () => {
    const d = mountDaemon(famfsMountInfoAt(mp)!);
    assert.ok(d, 'the top mount recorded its daemon');
    process.kill(d.record.pid, 'SIGSTOP');
    stopped.add(d.record.pid);
    try {
      const r = lookupInChild(link);
      assert.ok(!r.killed, `the lookup blocked on the stopped daemon (${r.ms} ms)`);
      assert.equal(r.source, upper);
    } finally {
      process.kill(d.record.pid, 'SIGCONT');
      stopped.delete(d.record.pid);
    }
  });

  test('with the top mount gone, the one below answers; famfs umount through the symlink finds it', () => {
    umount2(mp, 0);
    assert.equal(famfsMountInfoAt(link)?.source, lower, 'the lower mount answers now');
    const r = famfs(host, ['umount', link]);
    assert.equal(r.status, 0, `famfs umount ${link}: ${r.stderr}`);
    assert.equal(famfsMountInfoAt(link), undefined);
    assert.ok(!isMounted(mp));
  });
});
