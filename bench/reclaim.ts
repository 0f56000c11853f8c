/**
 * (issue 14) Deleting files and getting their space back, on a master mount with a client
 * mount (another host) of the same device:
 *   - unlink through the master's mount, files/s; ref: unlink of as many files on tmpfs;
 *   - creat into reclaimed space (one library writer session, every file on a unit a deleted
 *     file had); ref: the same session into never-used space (how the files were made);
 *   - the delay from a client's last close of a deleted file to its space showing free on
 *     the master (statfs); ref: the same delay for a deleted file no other host held.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Famfs } from '../src/api/famfs.js';
import { mkfs } from '../src/api/mkfs.js';
import { getxattr } from '../src/sys/libc.js';
import { asMaster, famfs, GiB, MiB, run as exec, sparse, time } from './common.js';
import type { BenchContext, BenchRow } from './types.js';

const N = 1000;
const SIZE = 2 * MiB;

function freeBytes(mp: string): number {
  const s = fs.statfsSync(mp);
  return s.bfree * s.bsize;
}

/** Poll until cond() holds (every 2 ms); seconds taken, or throws after limitS. */
async function until(cond: () => boolean, limitS: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (;;) {
    if (cond()) return Number(process.hrtime.bigint() - t0) / 1e9;
    if (Number(process.hrtime.bigint() - t0) / 1e9 > limitS) throw new Error(`not within ${limitS} s`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const dev = sparse(ctx, 'reclaim.img', 4 * GiB);
  asMaster(ctx, () => mkfs(dev, { features: ['delete'] }));
  const writeSession = (prefix: string): { s: number; offsets: Set<number> } => asMaster(ctx, () => {
    const f = Famfs.open(dev, { writable: true });
    try {
      const offsets = new Set<number>();
      const s = time(() => f.writer((w) => {
        for (let i = 0; i < N; i++) {
          const n = w.creat(`${prefix}${i}`, SIZE);
          if (n.map.kind === 'simple') for (const e of n.map.extents) offsets.add(e.offset);
        }
      }));
      return { s, offsets };
    } finally {
      f.close();
    }
  });
  const fresh = writeSession('old');

  const clientUuid = path.join(ctx.shmDir, 'client_uuid');
  fs.writeFileSync(clientUuid, `${randomUUID()}\0`, { mode: 0o444 });
  const mp = fs.mkdtempSync(path.join(ctx.shmDir, 'm-'));
  const cmp = fs.mkdtempSync(path.join(ctx.shmDir, 'c-'));
  famfs(ctx, ['mount', '--log', `${mp}.log`, dev, mp]);
  exec(process.execPath, [path.join(ctx.repo, 'bin/famfs.js'), 'mount', '--log', `${cmp}.log`, dev, cmp], { ...ctx.env, FAMFS_SYSTEM_UUID_FILE: clientUuid });
  try {
    ctx.log(`master daemon ${getxattr(mp, 'user.famfs.pid')}, client daemon ${getxattr(cmp, 'user.famfs.pid')}`);
    const unlink = time(() => {
      for (let i = 0; i < N; i++) fs.unlinkSync(path.join(mp, `old${i}`));
    });
    const tdir = path.join(ctx.shmDir, 'tmpfs-files');
    fs.mkdirSync(tdir);
    for (let i = 0; i < N; i++) fs.writeFileSync(path.join(tdir, `f${i}`), '');
    const unlinkRef = time(() => {
      for (let i = 0; i < N; i++) fs.unlinkSync(path.join(tdir, `f${i}`));
    });
    // The client saw the deletes (it replays them) before the space may come back.
    await until(() => !fs.existsSync(path.join(cmp, `old${N - 1}`)), 30);
    const again = writeSession('new');
    const reused = [...again.offsets].filter((o) => fresh.offsets.has(o)).length;

    const { delay, refDelay } = await releaseDelay(ctx, clientUuid);
    return [
      { name: `unlink through the master's mount (${N} files of ${SIZE / MiB} MiB, a client mounted)`, value: N / unlink, unit: 'files/s', ref: 'unlink of as many empty files on tmpfs', refValue: N / unlinkRef },
      { name: `creat into reclaimed space (library, one session, ${N} files)`, value: N / again.s, unit: 'files/s', ref: 'the same session into never-used space', refValue: N / fresh.s,
        note: `${reused} of ${N} new files start where a deleted file started` },
      { name: 'client\'s last close of a deleted file → its space free on the master (statfs)', value: delay, unit: 's', ref: 'delete of a file no other host holds → free', refValue: refDelay,
        note: 'no statfs answer in the 500 ms after the delete showed the held file free; statfs answers are cached up to 100 ms per daemon thread' },
    ];
  } finally {
    unmountBoth(ctx, cmp, mp);
  }
}

/** Unmount the client then the master; both are tried, and the first failure is thrown after. */
function unmountBoth(ctx: BenchContext, client: string, master: string): void {
  let first: unknown;
  for (const mp of [client, master]) {
    try {
      famfs(ctx, ['umount', mp]);
    } catch (e) {
      first ??= e;
    }
  }
  if (first) throw first;
}

/**
 * On a device of its own (no other deleted files whose release could blur the figure): a file a
 * client holds open is deleted on the master; then the client closes it.
 */
async function releaseDelay(ctx: BenchContext, clientUuid: string): Promise<{ delay: number; refDelay: number }> {
  const dev = sparse(ctx, 'release.img', 4 * GiB);
  asMaster(ctx, () => mkfs(dev, { features: ['delete'] }));
  const mp = fs.mkdtempSync(path.join(ctx.shmDir, 'rm-'));
  const cmp = fs.mkdtempSync(path.join(ctx.shmDir, 'rc-'));
  famfs(ctx, ['mount', '--log', `${mp}.log`, dev, mp]);
  exec(process.execPath, [path.join(ctx.repo, 'bin/famfs.js'), 'mount', '--log', `${cmp}.log`, dev, cmp], { ...ctx.env, FAMFS_SYSTEM_UUID_FILE: clientUuid });
  try {
    // Release delay: a file the client holds open, deleted on the master; then the client closes it.
    // Free space is compared with absolute figures: each daemon thread answers statfs from its own
    // replay, so two answers in a row may briefly differ.
    const empty = freeBytes(mp);
    const held = path.join(mp, 'held'), free = path.join(mp, 'free');
    for (const p of [held, free]) {
      const wfd = fs.openSync(p, 'wx');
      fs.writeSync(wfd, Buffer.alloc(64 * MiB, 1));
      fs.fsyncSync(wfd); // logged now, not within the commit window
      fs.closeSync(wfd);
    }
    await until(() => fs.existsSync(path.join(cmp, 'held')), 30);
    const fd = fs.openSync(path.join(cmp, 'held'), 'r');
    fs.unlinkSync(free);
    const refDelay = await until(() => freeBytes(mp) === empty - 64 * MiB, 60);
    fs.unlinkSync(held);
    // Held: no answer may show its space free while the client has it open.
    let most = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 500) {
      most = Math.max(most, freeBytes(mp));
      await new Promise((r) => setTimeout(r, 5));
    }
    fs.closeSync(fd);
    if (most > empty - 64 * MiB) throw new Error(`the space of a deleted file showed free on the master while a client still held it open (free ${most}, at most ${empty - 64 * MiB} expected)`);
    const delay = await until(() => freeBytes(mp) === empty, 60);
    return { delay, refDelay };
  } finally {
    unmountBoth(ctx, cmp, mp);
  }
}
