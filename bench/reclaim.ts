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
  famfs(ctx, ['mount', dev, mp]);
  exec(process.execPath, [path.join(ctx.repo, 'bin/famfs.js'), 'mount', dev, cmp], { ...ctx.env, FAMFS_SYSTEM_UUID_FILE: clientUuid });
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

    // Release delay: a file the client holds open, deleted on the master; then the client closes it.
    const held = path.join(mp, 'held'), free = path.join(mp, 'free');
    for (const p of [held, free]) {
      const wfd = fs.openSync(p, 'wx');
      fs.writeSync(wfd, Buffer.alloc(64 * MiB, 1));
      fs.fsyncSync(wfd); // logged now, not within the commit window
      fs.closeSync(wfd);
    }
    await until(() => fs.existsSync(path.join(cmp, 'held')), 30);
    const fd = fs.openSync(path.join(cmp, 'held'), 'r');
    let before = freeBytes(mp);
    fs.unlinkSync(free);
    const refDelay = await until(() => freeBytes(mp) >= before + 64 * MiB, 60);
    before = freeBytes(mp);
    fs.unlinkSync(held);
    await new Promise((r) => setTimeout(r, 500));
    const stillHeld = freeBytes(mp) < before + 64 * MiB;
    fs.closeSync(fd);
    if (!stillHeld) throw new Error('the space of a deleted file showed free on the master while a client still held it open');
    const delay = await until(() => freeBytes(mp) >= before + 64 * MiB, 60);
    return [
      { name: `unlink through the master's mount (${N} files of ${SIZE / MiB} MiB, a client mounted)`, value: N / unlink, unit: 'files/s', ref: 'unlink of as many empty files on tmpfs', refValue: N / unlinkRef },
      { name: `creat into reclaimed space (library, one session, ${N} files)`, value: N / again.s, unit: 'files/s', ref: 'the same session into never-used space', refValue: N / fresh.s,
        note: `${reused} of ${N} new files start where a deleted file started` },
      { name: 'client\'s last close of a deleted file → its space free on the master (statfs)', value: delay, unit: 's', ref: 'delete of a file no other host holds → free', refValue: refDelay,
        note: 'the space stayed in use while the client held the file (checked 500 ms after the delete); statfs answers are cached up to 100 ms' },
    ];
  } finally {
    exec(process.execPath, [path.join(ctx.repo, 'bin/famfs.js'), 'umount', cmp], ctx.env);
    famfs(ctx, ['umount', mp]);
  }
}
