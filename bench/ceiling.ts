/**
 * Row 9's ceiling on our FUSE layer: `cp -r` of 2,000 × 4 KiB (the create module's tree)
 * into a "null master" (nullmaster.ts: the same requests answered with no work, served
 * by src/fuse's FuseServer in this process) against the same copy into bindfs over
 * tmpfs (a C libfuse daemon), `famfs cp -r -d DEV` (row 9's reference) and cp -r to
 * tmpfs. Rounds alternate (null, bindfs, famfs cp, tmpfs, …); each row gives the best
 * of each and, in its note, the median of the per-round ratios. A second copy into the
 * same null master shows what a fresh daemon's first requests cost.
 *
 * What the null master reaches is the best any daemon on this transport can do for
 * row 9. FAMFS_CEILING_WORKERS=N sets its worker threads (default 2, as famfs on 2 CPUs).
 *
 * Only this module: `node dist/bench/run.js ceiling`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { mkfs } from '../src/api/mkfs.js';
import { FuseServer } from '../src/fuse/server.js';
import { asMaster, GiB, sparse } from './common.js';
import { BINDFS_HINT, hasBindfs, Mounts, processCpu, SMALL_FILE_BYTES, SMALL_FILES, smallTree, timed } from './fusekit.js';
import { nullMasterData } from './nullmaster.js';
import type { BenchContext, BenchRow } from './types.js';

const ROUNDS = Math.max(1, Number(process.env.FAMFS_BENCH_RUNS) || 4);
const SMALL = SMALL_FILES;
const SMALL_SIZE = SMALL_FILE_BYTES;

type Who = 'null' | 'nullAgain' | 'bindfs' | 'cli' | 'tmpfs';

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const workers = Math.max(1, Number(process.env.FAMFS_CEILING_WORKERS) || 2);
  const bind = hasBindfs();
  if (!bind) ctx.log(BINDFS_HINT);
  const mounts = new Mounts(ctx);
  const famfsBin = path.join(ctx.repo, 'bin/famfs.js');
  const tree = path.join(ctx.shmDir, 'small');
  smallTree(tree);
  const nullMp = mounts.dir('nullmaster');
  const bindMp = mounts.dir('ceiling-bindfs');
  const bindSrc = path.join(ctx.shmDir, 'bindsrc');
  const times: Record<Who, number[]> = { null: [], nullAgain: [], bindfs: [], cli: [], tmpfs: [] };
  let nullCpu = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // --- the null master, a fresh mount per round
      const server = new FuseServer({
        mountpoint: nullMp,
        handlerModule: new URL('./nullmaster.js', import.meta.url),
        handlerData: nullMasterData(),
        workers,
        subtype: 'nullmaster',
        mountOptions: { allowOther: true, defaultPermissions: true },
      });
      await server.start();
      try {
        const cpu0 = processCpu(process.pid);
        times.null.push(timed('cp', ['-r', tree, `${nullMp}/small`]));
        nullCpu += processCpu(process.pid) - cpu0;
        const made = fs.statSync(`${nullMp}/small/f${SMALL - 1}`);
        if (made.size !== SMALL_SIZE) throw new Error(`null master: f${SMALL - 1} has ${made.size} bytes, expected ${SMALL_SIZE}`);
        // A second copy into the same mount: workers and kernel past their first requests.
        times.nullAgain.push(timed('cp', ['-r', tree, `${nullMp}/again`]));
      } finally {
        await server.unmount({ lazy: true });
      }
      // --- bindfs over an empty tmpfs directory
      if (bind) {
        fs.mkdirSync(bindSrc);
        mounts.bindfs(bindSrc, bindMp);
        times.bindfs.push(timed('cp', ['-r', tree, `${bindMp}/small`]));
        mounts.unmount(bindMp);
        fs.rmSync(bindSrc, { recursive: true });
      }
      // --- famfs cp -r onto a fresh device (row 9's reference)
      const dev = sparse(ctx, 'ceiling.img', 16 * GiB);
      asMaster(ctx, () => mkfs(dev));
      times.cli.push(timed(process.execPath, [famfsBin, 'cp', '-r', '-d', dev, tree, 'small'], ctx.env));
      fs.rmSync(dev);
      // --- cp -r to tmpfs
      const dest = path.join(ctx.shmDir, 'small.copy');
      times.tmpfs.push(timed('cp', ['-r', tree, dest]));
      fs.rmSync(dest, { recursive: true });
    }
  } finally {
    mounts.unmountAll();
  }
  const best = (w: Who): number => Math.min(...times[w]);
  const fps = (s: number): number => SMALL / s;
  const medianRatio = (a: Who, b: Who): string => {
    const r = times[a].map((t, i) => times[b][i]! / t).sort((x, y) => x - y);
    return r.length ? `${r[Math.floor(r.length / 2)]!.toFixed(2)}×` : '-';
  };
  const n = `${SMALL.toLocaleString('en-US')} small files`;
  const common = `${ROUNDS} alternating rounds, best of each; files of ${SMALL_SIZE} bytes`;
  const rows: BenchRow[] = [];
  const nullName = `cp -r of ${n} into a null master (our FUSE layer, ${workers} worker${workers > 1 ? 's' : ''}, no work)`;
  rows.push({ name: nullName, value: fps(best('null')), unit: 'files/s', ref: 'famfs cp -r -d DEV (CLI)', refValue: fps(best('cli')),
    note: `${common}; median per-round ratio ${medianRatio('null', 'cli')}; the ceiling of row 9 on this transport (goal 0.6×); null master CPU ${(nullCpu / ROUNDS).toFixed(2)} s per first copy (this process: its workers and V8's threads)` });
  if (bind) {
    rows.push({ name: nullName, value: fps(best('null')), unit: 'files/s', ref: 'bindfs over tmpfs', refValue: fps(best('bindfs')), note: `median per-round ratio ${medianRatio('null', 'bindfs')}` });
    rows.push({ name: `cp -r of ${n} into bindfs over tmpfs`, value: fps(best('bindfs')), unit: 'files/s', ref: 'famfs cp -r -d DEV (CLI)', refValue: fps(best('cli')), note: `median per-round ratio ${medianRatio('bindfs', 'cli')}` });
  }
  rows.push({ name: `${nullName}, 2nd copy into the same mount`, value: fps(best('nullAgain')), unit: 'files/s', ref: 'famfs cp -r -d DEV (CLI)', refValue: fps(best('cli')),
    note: `median per-round ratio ${medianRatio('nullAgain', 'cli')}; row 9 times a fresh mount's first copy, as the row above` });
  rows.push({ name: nullName, value: fps(best('null')), unit: 'files/s', ref: 'cp -r to tmpfs', refValue: fps(best('tmpfs')), note: `median per-round ratio ${medianRatio('null', 'tmpfs')}` });
  ctx.log(`times (ms): ${(Object.keys(times) as Who[]).map((w) => `${w} ${times[w].map((t) => Math.round(t * 1000)).join('/')}`).join('; ')}`);
  return rows;
}
