/**
 * The FUSE data path: what a program sees through a famfs mount, against the
 * same data through bindfs over a tmpfs directory (another FUSE daemon doing
 * the same job the classic way) and on tmpfs itself (the floor).
 *
 *  1. sequential read of 1 GiB, dd bs=1M and bs=128k, cold and warm
 *     (cold = fresh daemon/mount after drop_caches; the data itself stays in
 *     memory: the device and the tmpfs file are tmpfs pages either way)
 *  2. 4 KiB random preads (20,000 at aligned offsets, one process)
 *  3. 1 GiB sequential write into an existing file (dd conv=notrunc bs=1M)
 *  4. stat of 10,000 files: first after mount (fresh daemon + drop_caches),
 *     cold (drop_caches, daemons kept) and warm
 *  5. readdir of a 10,000-entry directory, cold (drop_caches) and warm
 *
 * Issue 15's goals print with their rows (ratio vs bindfs; 1 MiB warm also vs tmpfs).
 * Reads and random reads are measured on a second famfs mount with --cache too (the
 * same device as another host): page cache, FOPEN_KEEP_CACHE.
 *
 * Only this module: `node dist/bench/run.js fuse`.
 */
import { randomInt, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { mkfs } from '../src/api/mkfs.js';
import { asMaster, famfs, GiB, sparse } from './common.js';
import { bestOf, BINDFS_HINT, clock, dropCaches, hasBindfs, Mounts, pipeMaxAtLeast, randomFile, timed } from './fusekit.js';
import type { BenchContext, BenchRow } from './types.js';

/** Runs per figure (best kept); cheap figures get one more. FAMFS_BENCH_RUNS overrides. */
const RUNS = Math.max(1, Number(process.env.FAMFS_BENCH_RUNS) || 2);
const NFILES = 10_000;
const NRAND = 20_000;
const GB = 1e9;

/** famfs (the default: direct I/O), cache (famfs mount --cache, as a second host), and the references. */
type Who = 'famfs' | 'cache' | 'bindfs' | 'tmpfs';
type Goal = BenchRow['goal'];

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const bind = hasBindfs();
  if (!bind) ctx.log(BINDFS_HINT);
  const mounts = new Mounts(ctx);
  const pipeMax = pipeMaxAtLeast(2 << 20, ctx.log);
  try {
    // --- data: one random 1 GiB file on tmpfs (the tmpfs reference, and what bindfs serves),
    // copied into famfs; 10,000 empty files in one directory on both.
    const t0 = Date.now();
    const tdir = path.join(ctx.shmDir, 'tmpfs');
    fs.mkdirSync(path.join(tdir, 'files'), { recursive: true });
    randomFile(path.join(tdir, 'big'), GiB);
    for (let i = 0; i < NFILES; i++) fs.closeSync(fs.openSync(path.join(tdir, 'files', name(i)), 'w'));
    // Each famfs file takes at least one 2 MiB unit: a sparse 32 GiB device holds them all.
    const dev = sparse(ctx, 'fuse.img', 32 * GiB);
    asMaster(ctx, () => mkfs(dev));
    famfs(ctx, ['cp', '-d', dev, path.join(tdir, 'big'), 'big']);
    famfs(ctx, ['creat', '-d', dev, '-s', '1g', 'wr']);
    famfs(ctx, ['cp', '-r', '-d', dev, path.join(tdir, 'files'), 'files']);
    // The tmpfs write target: an existing 1 GiB file, as famfs's wr (not the read source).
    randomFile(path.join(tdir, 'wr'), GiB);
    const fmp = mounts.famfs(dev, mounts.dir('famfs'));
    // The --cache mount: the same device as a second host (one mount per device per host).
    const uuid2 = path.join(ctx.shmDir, 'system_uuid.cache');
    fs.writeFileSync(uuid2, `${randomUUID()}\0`, { mode: 0o444 });
    const cmp = mounts.famfs(dev, mounts.dir('cache'), ['--cache'], { ...ctx.env, FAMFS_SYSTEM_UUID_FILE: uuid2 });
    const bmp = bind ? mounts.bindfs(tdir, mounts.dir('bindfs')) : '';
    const root: Record<Who, string> = { famfs: fmp, cache: cmp, bindfs: bmp, tmpfs: tdir };
    const all: Who[] = bind ? ['famfs', 'cache', 'bindfs', 'tmpfs'] : ['famfs', 'cache', 'tmpfs'];
    /** Metadata and writes: --cache changes only how file data is read. */
    const plain = all.filter((w) => w !== 'cache');
    ctx.log(`setup ${((Date.now() - t0) / 1000).toFixed(1)} s (1 GiB random file, famfs cp, 10,000 files)`);

    /** Fresh daemons and empty caches before a cold run of `who`. */
    const cold = (who: Who): void => {
      if (who === 'famfs') mounts.remount(fmp, dev);
      if (who === 'cache') mounts.remount(cmp, dev);
      if (who === 'bindfs') mounts.remount(bmp, tdir);
      dropCaches(ctx.log);
    };
    /** Kernel caches dropped, daemons kept (their code and mappings warm). */
    const dropped = (): void => {
      dropCaches(ctx.log);
    };
    /** Each candidate for each system, in turn, best of `n`. */
    const each = (n: number, fn: (who: Who) => number, before?: (who: Who) => void, whos: Who[] = plain): Record<Who, number> =>
      bestOf(n, Object.fromEntries(whos.map((w) => [w, { run: () => fn(w), before: before && (() => before(w)) }])) as Record<Who, { run: () => number; before?: () => void }>);
    let tSec = Date.now();
    const lap = (what: string): void => {
      ctx.log(`${what}: ${((Date.now() - tSec) / 1000).toFixed(1)} s`);
      tSec = Date.now();
    };
    /** One row per famfs variant measured and per reference; `goals` by reference (issue 15). */
    const push = (name: string, v: Record<Who, number>, unit: string, conv: (s: number) => number, note: string, better?: 'lower' | 'higher', goals: Partial<Record<Who, Goal>> = {}): void => {
      const refs: [Who, string][] = [['bindfs', 'bindfs over tmpfs'], ['tmpfs', 'tmpfs']];
      for (const [f, label] of [['famfs', 'famfs'], ['cache', 'famfs --cache']] as const) {
        if (v[f] === undefined) continue;
        for (const [w, ref] of refs) {
          if (v[w] === undefined) continue;
          rows.push({ name: `${name}: ${label}`, value: conv(v[f]), unit, ref, refValue: conv(v[w]), note, better, goal: goals[w] });
        }
      }
    };
    const atLeast = (ratio: number): Goal => ({ op: '>=', ratio });

    // --- 1. sequential read, dd
    for (const bs of ['1M', '128k']) {
      for (const temp of ['cold', 'warm'] as const) {
        const n = temp === 'cold' ? RUNS : RUNS + 1;
        const v = each(n, (w) => timed('dd', [`if=${root[w]}/big`, 'of=/dev/null', `bs=${bs}`]), temp === 'cold' ? cold : undefined, all);
        // Issue 15's goals: 1 MiB warm ≥ 3× bindfs and ≥ 0.8× tmpfs, cold ≥ 2× bindfs; 128 KiB warm ≥ 1.5×, cold ≥ 1×.
        const goals = bs === '1M' ? (temp === 'warm' ? { bindfs: atLeast(3), tmpfs: atLeast(0.8) } : { bindfs: atLeast(2) }) : { bindfs: atLeast(temp === 'warm' ? 1.5 : 1) };
        push(`read 1 GiB dd bs=${bs} ${temp}`, v, 'GB/s', (s) => GiB / s / GB,
          `best of ${n}, dd as a child process; ${temp === 'cold' ? 'each run after a remount (fresh daemon, nothing mapped) and drop_caches' : 'repeated reads'}; ${pipeMax.note}`, undefined, goals);
      }
    }

    lap('sequential reads');

    // --- 2. 4 KiB random reads
    const offs = Array.from({ length: NRAND }, () => randomInt(GiB / 4096) * 4096);
    const buf = Buffer.alloc(4096);
    const rand = each(RUNS + 1, (w) => {
      const fd = fs.openSync(`${root[w]}/big`, 'r');
      try {
        return clock(() => {
          for (const o of offs) fs.readSync(fd, buf, 0, 4096, o);
        });
      } finally {
        fs.closeSync(fd);
      }
    }, undefined, all);
    push(`${NRAND.toLocaleString('en-US')} random 4 KiB preads of the 1 GiB file`, rand, 'reads/s', (s) => NRAND / s,
      `best of ${RUNS + 1}, in-process fs.readSync loop, same offsets for all; warm`, undefined, { bindfs: atLeast(1.5) });

    lap('random reads');

    // --- 3. sequential write into an existing 1 GiB file
    const wr = each(RUNS, (w) => timed('dd', ['if=/dev/zero', `of=${root[w]}/wr`, 'bs=1M', 'count=1024', 'conv=notrunc']));
    push('write 1 GiB dd bs=1M conv=notrunc into an existing file', wr, 'GB/s', (s) => GiB / s / GB,
      `best of ${RUNS} (famfs: a file made by famfs creat -s 1g; the first run also touches its pages); goal ≥ 3× bindfs`);

    lap('writes');

    // --- 4. stat of 10,000 files; 5. readdir of the 10,000-entry directory
    const statAll = (w: Who): number => {
      const d = `${root[w]}/files/`;
      return clock(() => {
        for (let i = 0; i < NFILES; i++) fs.statSync(d + name(i));
      });
    };
    const readdir = (w: Who): number => clock(() => {
      const n = fs.readdirSync(`${root[w]}/files`).length;
      if (n !== NFILES) throw new Error(`readdir of ${root[w]}/files: ${n} entries, expected ${NFILES}`);
    });
    const k = NFILES.toLocaleString('en-US');
    const statFresh = each(RUNS, statAll, cold);
    const statCold = each(RUNS + 1, statAll, dropped);
    const statWarm = each(RUNS + 1, statAll);
    lap('stat');
    push(`stat of ${k} files, first after mount`, statFresh, 'files/s', (s) => NFILES / s,
      `best of ${RUNS}, in-process fs.statSync by name, each run after a remount (famfs: a fresh node daemon) and drop_caches`, undefined, { bindfs: atLeast(1) });
    push(`stat of ${k} files cold`, statCold, 'files/s', (s) => NFILES / s,
      `best of ${RUNS + 1}, each run after drop_caches (daemons kept); goal: no slower than bindfs`);
    push(`stat of ${k} files warm`, statWarm, 'files/s', (s) => NFILES / s, `best of ${RUNS + 1}, right after the cold runs (dentries and attributes cached)`);
    // With --cache the kernel keeps listings (FOPEN_CACHE_DIR): measured too.
    const rdCold = each(RUNS + 1, readdir, dropped, all);
    const rdWarm = each(RUNS, (w) => Math.min(...Array.from({ length: 5 }, () => readdir(w))), undefined, all);
    lap('readdir');
    const noSlower: Goal = { op: '<=', ratio: 1 };
    push(`readdir of a ${k}-entry directory cold`, rdCold, 's', (s) => s, `best of ${RUNS + 1}, fs.readdirSync, each run after drop_caches (daemons kept)`, undefined, { bindfs: noSlower });
    push(`readdir of a ${k}-entry directory warm`, rdWarm, 's', (s) => s, `best of ${RUNS}×5 repetitions`, undefined, { bindfs: noSlower });
  } finally {
    mounts.unmountAll();
    pipeMax.restore();
  }
  return rows;
}

function name(i: number): string {
  return `f${String(i).padStart(5, '0')}`;
}
