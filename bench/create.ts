/**
 * Creating files through a master mount ("cp into the mount"): coreutils cp
 * of one 1 GiB file, and cp -r of 2,000 files of 4 KiB, into the mount —
 * next to `famfs cp` of the same source (CLI, straight to the device) and to
 * cp onto tmpfs. Each run uses a fresh sparse device (famfs has no delete, and
 * a written GiB is a GiB of memory), removed right after.
 *
 * The mount figure is the cp process's time: files are logged after their
 * last close plus the idle window (--commit-delay, default 300 ms), which is
 * not in it. Goal: cp into the mount ≥ 0.8× famfs cp.
 *
 * Only this module: `node dist/bench/run.js create`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { mkfs } from '../src/api/mkfs.js';
import { asMaster, GiB, sparse } from './common.js';
import { bestOf, Mounts, randomFile, SMALL_FILE_BYTES, SMALL_FILES, smallTree, timed } from './fusekit.js';
import type { BenchContext, BenchRow } from './types.js';

const RUNS = 2;
const SMALL = SMALL_FILES;
const SMALL_SIZE = SMALL_FILE_BYTES;

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const mounts = new Mounts(ctx);
  const famfsBin = path.join(ctx.repo, 'bin/famfs.js');
  const freshDev = (size: number): string => {
    const dev = sparse(ctx, 'create.img', size);
    asMaster(ctx, () => mkfs(dev));
    return dev;
  };
  const mp = mounts.dir('create');
  try {
    // --- one 1 GiB file
    const big = path.join(ctx.shmDir, 'big.src');
    randomFile(big, GiB);
    const refDest = path.join(ctx.shmDir, 'big.copy');
    let checked = false;
    const t = bestOf(RUNS, {
      mount: {
        before: () => mounts.famfs(freshDev(8 * GiB), mp),
        run: () => {
          const s = timed('cp', [big, `${mp}/big`]);
          if (!checked && fs.statSync(`${mp}/big`).size !== GiB) throw new Error('cp into the mount: wrong size');
          checked = true;
          mounts.unmount(mp);
          fs.rmSync(path.join(ctx.shmDir, 'create.img'));
          return s;
        },
      },
      cli: {
        before: () => freshDev(8 * GiB),
        run: () => {
          const s = timed(process.execPath, [famfsBin, 'cp', '-d', path.join(ctx.shmDir, 'create.img'), big, 'big'], ctx.env);
          fs.rmSync(path.join(ctx.shmDir, 'create.img'));
          return s;
        },
      },
      tmpfs: {
        run: () => {
          const s = timed('cp', [big, refDest]);
          fs.rmSync(refDest);
          return s;
        },
      },
    });
    fs.rmSync(big);
    const mbs = (s: number): number => GiB / s / 1e9;
    const note1 = `best of ${RUNS} (alternating), whole cp process; a fresh device per run (first touch of its pages, as tmpfs's); goal ≥ 0.8× famfs cp`;
    rows.push({ name: 'cp of a 1 GiB file into the master mount', value: mbs(t.mount), unit: 'GB/s', ref: 'famfs cp -d DEV (CLI)', refValue: mbs(t.cli), note: note1, goal: { op: '>=', ratio: 0.8 } });
    rows.push({ name: 'cp of a 1 GiB file into the master mount', value: mbs(t.mount), unit: 'GB/s', ref: 'cp to tmpfs', refValue: mbs(t.tmpfs) });

    // --- 2,000 small files
    const tree = path.join(ctx.shmDir, 'small');
    smallTree(tree);
    const treeDest = path.join(ctx.shmDir, 'small.copy');
    let count = -1;
    // 2,000 files × at least one 2 MiB unit each: a sparse 16 GiB device.
    const s = bestOf(RUNS, {
      mount: {
        before: () => mounts.famfs(freshDev(16 * GiB), mp),
        run: () => {
          const s = timed('cp', ['-r', tree, `${mp}/small`]);
          if (count < 0) count = fs.readdirSync(`${mp}/small`).length;
          mounts.unmount(mp);
          fs.rmSync(path.join(ctx.shmDir, 'create.img'));
          return s;
        },
      },
      cli: {
        before: () => freshDev(16 * GiB),
        run: () => {
          const s = timed(process.execPath, [famfsBin, 'cp', '-r', '-d', path.join(ctx.shmDir, 'create.img'), tree, 'small'], ctx.env);
          fs.rmSync(path.join(ctx.shmDir, 'create.img'));
          return s;
        },
      },
      tmpfs: {
        run: () => {
          const s = timed('cp', ['-r', tree, treeDest]);
          fs.rmSync(treeDest, { recursive: true });
          return s;
        },
      },
    });
    if (count !== SMALL) throw new Error(`cp -r into the mount: ${count} files, expected ${SMALL}`);
    const fps = (x: number): number => SMALL / x;
    const note2 = `best of ${RUNS} (alternating), whole process (famfs cp includes node start-up); files of ${SMALL_SIZE} bytes, fresh device per run`;
    rows.push({ name: `cp -r of ${SMALL.toLocaleString('en-US')} small files into the master mount`, value: fps(s.mount), unit: 'files/s', ref: 'famfs cp -r -d DEV (CLI)', refValue: fps(s.cli), note: note2, goal: { op: '>=', ratio: 0.6 } });
    rows.push({ name: `cp -r of ${SMALL.toLocaleString('en-US')} small files into the master mount`, value: fps(s.mount), unit: 'files/s', ref: 'cp -r to tmpfs', refValue: fps(s.tmpfs) });
  } finally {
    mounts.unmountAll();
  }
  return rows;
}
