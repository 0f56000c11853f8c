/**
 * FUSE transport: the same famfs device mounted twice (two simulated client
 * hosts), one daemon on /dev/fuse and one on FUSE-over-io_uring, measured in
 * alternating pairs (dev, uring, uring, dev, …) so that load from the other
 * users of the machine hits both alike. Each row gives the best figure of each
 * transport and, in its note, the median of the per-pair ratios (the figure to
 * trust on a shared machine).
 *
 * famfs opens files with FOPEN_DIRECT_IO and this machine has no famfs kernel
 * (data path: daemon), so every pread below is one READ request to the daemon.
 *
 *  1. 20,000 random 4 KiB preads of a 1 GiB file (one process)
 *  2. stat of 10,000 files cold (drop_caches before every run)
 *  3. sequential read of the 1 GiB file in 128 KiB and in 1 MiB preads
 *  4. CPU seconds per GiB read (this reader + the daemon, user + system),
 *     during the 1 MiB sequential reads
 *  5. the FUSE layer alone (nullfs.ts, in-process servers): 4 KiB random
 *     reads and 1 MiB sequential reads with CPU per GiB, to separate the
 *     transport's cost from famfs's own per-request work
 *
 * Needs root and /sys/module/fuse/parameters/enable_uring; the parameter is
 * turned on only while an io_uring daemon is being mounted, then restored.
 * Only this module: `node dist/bench/run.js uring`.
 */
import { randomInt, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { mkfs } from '../src/api/mkfs.js';
import { ENABLE_URING_PARAM } from '../src/fuse/uring.js';
import { FuseServer } from '../src/fuse/server.js';
import { NULLFS_SIZE } from './nullfs.js';
import { getxattr } from '../src/sys/libc.js';
import { asMaster, famfs, GiB, MiB, sparse } from './common.js';
import { clock, dropCaches, Mounts, randomFile } from './fusekit.js';
import type { BenchContext, BenchRow } from './types.js';

const PAIRS = Math.max(1, Number(process.env.FAMFS_BENCH_PAIRS) || 5);
const NFILES = 10_000;
const NRAND = 20_000;
const GB = 1e9;
const CLK_TCK = 100;

type T = 'dev' | 'uring';
const BOTH: readonly T[] = ['dev', 'uring'];

interface Side {
  mp: string;
  /** Where the daemon logs (the module's scratch dir, removed by the runner). */
  logDir: string;
  dev: string;
  mounts: Mounts;
  pid: number;
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  if (!fs.existsSync(ENABLE_URING_PARAM)) throw new Error(`${ENABLE_URING_PARAM} is missing: this kernel has no FUSE over io_uring`);
  const rows: BenchRow[] = [];
  const t0 = Date.now();
  const src = path.join(ctx.shmDir, 'src');
  fs.mkdirSync(path.join(src, 'files'), { recursive: true });
  randomFile(path.join(src, 'big'), GiB);
  for (let i = 0; i < NFILES; i++) fs.closeSync(fs.openSync(path.join(src, 'files', name(i)), 'w'));
  const dev = sparse(ctx, 'uring.img', 32 * GiB);
  asMaster(ctx, () => mkfs(dev));
  famfs(ctx, ['cp', '-d', dev, path.join(src, 'big'), 'big']);
  famfs(ctx, ['cp', '-r', '-d', dev, path.join(src, 'files'), 'files']);
  fs.rmSync(src, { recursive: true, force: true });

  // Two client hosts, so the one device can be mounted twice on this machine.
  const hostEnv = (tag: string): NodeJS.ProcessEnv => {
    const f = path.join(ctx.shmDir, `uuid-${tag}`);
    fs.writeFileSync(f, `${randomUUID()}\0`, { mode: 0o444 });
    return { ...ctx.env, FAMFS_SYSTEM_UUID_FILE: f };
  };
  const side = {} as Record<T, Side>;
  try {
    for (const t of BOTH) {
      const mounts = new Mounts({ ...ctx, env: hostEnv(t) });
      const mp = mounts.dir(t);
      side[t] = { mp, logDir: ctx.shmDir, dev, mounts, pid: 0 };
      mountSide(side[t], t);
    }
    ctx.log(`setup ${((Date.now() - t0) / 1000).toFixed(1)} s (1 GiB file, 10,000 files, one device mounted over /dev/fuse and over io_uring)`);

    const push = (what: string, unit: string, r: Paired, note: string, better?: 'lower' | 'higher'): void => {
      rows.push({
        name: `${what}: io_uring`,
        value: r.best.uring,
        unit,
        ref: '/dev/fuse, same run',
        refValue: r.best.dev,
        better,
        note: `${note}; median of ${r.ratios.length} paired ratios (io_uring ÷ /dev/fuse, ${better === 'lower' ? 'lower' : 'higher'} is better): ${median(r.ratios).toFixed(2)}`,
      });
    };

    // --- 1. random 4 KiB reads
    const offs = Array.from({ length: NRAND }, () => randomInt(GiB / 4096) * 4096);
    const buf = Buffer.alloc(MiB);
    const randRead = (t: T): number => {
      const fd = fs.openSync(path.join(side[t].mp, 'big'), 'r');
      try {
        return NRAND / clock(() => {
          for (const o of offs) fs.readSync(fd, buf, 0, 4096, o);
        });
      } finally {
        fs.closeSync(fd);
      }
    };
    randRead('dev'); // warm both daemons' code paths
    randRead('uring');
    push(`${NRAND.toLocaleString('en-US')} random 4 KiB preads`, 'reads/s', paired(randRead, 'higher'), 'in-process fs.readSync loop, same offsets for both, one READ request each', 'higher');

    // --- 2. stat of 10,000 files, cold
    const statAll = (t: T): number => {
      const d = path.join(side[t].mp, 'files') + '/';
      return NFILES / clock(() => {
        for (let i = 0; i < NFILES; i++) fs.statSync(d + name(i));
      });
    };
    push(`stat of ${NFILES.toLocaleString('en-US')} files cold`, 'files/s', paired(statAll, 'higher', () => dropCaches(ctx.log)), 'fs.statSync by name, drop_caches before each run (daemons kept)', 'higher');

    // --- 3. sequential reads; 4. CPU per GiB (1 MiB reads)
    const cpu: Record<T, number[]> = { dev: [], uring: [] };
    for (const bs of [128 * 1024, MiB]) {
      const seq = (t: T): number => {
        const fd = fs.openSync(path.join(side[t].mp, 'big'), 'r');
        const c0 = process.cpuUsage();
        const d0 = daemonCpu(side[t].pid);
        try {
          const s = clock(() => {
            for (let off = 0; off < GiB; off += bs) fs.readSync(fd, buf, 0, bs, off);
          });
          if (bs === MiB) {
            const c = process.cpuUsage(c0);
            cpu[t].push((c.user + c.system) / 1e6 + (daemonCpu(side[t].pid) - d0));
          }
          return GiB / s / GB;
        } finally {
          fs.closeSync(fd);
        }
      };
      const kib = bs / 1024;
      push(`read 1 GiB sequentially in ${kib >= 1024 ? `${kib / 1024} MiB` : `${kib} KiB`} preads`, 'GB/s', paired(seq, 'higher'), 'in-process fs.readSync loop', 'higher');
    }
    const cpuRatios = cpu.dev.map((d, i) => cpu.uring[i]! / d);
    rows.push({
      name: 'CPU time per GiB read (1 MiB preads, reader + daemon): io_uring',
      value: Math.min(...cpu.uring),
      unit: 's',
      ref: '/dev/fuse, same run',
      refValue: Math.min(...cpu.dev),
      better: 'lower',
      note: `user + system seconds of this process and of the daemon (/proc/PID/stat, 10 ms ticks); median of ${cpuRatios.length} paired ratios (lower is better): ${median(cpuRatios).toFixed(2)}`,
    });
  } finally {
    for (const t of BOTH) side[t]?.mounts.unmountAll();
  }
  rows.push(...(await layerAlone(ctx)));
  return rows;
}

/** Rows 5: the same transports under a handler that does nothing (nullfs.ts). */
export async function layerAlone(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const mounts = new Mounts(ctx);
  const servers = {} as Record<T, FuseServer>;
  const mp = {} as Record<T, string>;
  try {
    for (const t of BOTH) {
      mp[t] = mounts.dir(`null-${t}`);
      servers[t] = new FuseServer({ mountpoint: mp[t], handlerModule: new URL('./nullfs.js', import.meta.url), workers: 2, transport: t, subtype: 'nullfs' });
      if (t === 'uring') await withParam(() => servers[t].start());
      else await servers[t].start();
      if (servers[t].transport !== t) throw new Error(`nullfs: asked for ${t}, got ${servers[t].transport}`);
    }
    const buf = Buffer.alloc(MiB);
    const offs = Array.from({ length: NRAND }, () => randomInt(NULLFS_SIZE / 4096) * 4096);
    const rand = (t: T): number => {
      const fd = fs.openSync(path.join(mp[t], 'data'), 'r');
      try {
        return NRAND / clock(() => {
          for (const o of offs) fs.readSync(fd, buf, 0, 4096, o);
        });
      } finally {
        fs.closeSync(fd);
      }
    };
    rand('dev');
    rand('uring');
    const r = paired(rand, 'higher');
    const cpu: Record<T, number[]> = { dev: [], uring: [] };
    const seq = (t: T): number => {
      const fd = fs.openSync(path.join(mp[t], 'data'), 'r');
      const c0 = process.cpuUsage(); // the servers' worker threads are in this process
      try {
        const s = clock(() => {
          for (let off = 0; off < NULLFS_SIZE; off += MiB) fs.readSync(fd, buf, 0, MiB, off);
        });
        const c = process.cpuUsage(c0);
        cpu[t].push((c.user + c.system) / 1e6);
        return GiB / s / GB;
      } finally {
        fs.closeSync(fd);
      }
    };
    const q = paired(seq, 'higher');
    const med = (p: Paired) => median(p.ratios).toFixed(2);
    rows.push({ name: `FUSE layer alone (nullfs), ${NRAND.toLocaleString('en-US')} random 4 KiB preads: io_uring`, value: r.best.uring, unit: 'reads/s', ref: '/dev/fuse, same run', refValue: r.best.dev, note: `a handler that returns a static buffer, 2 workers, in-process servers; median of ${r.ratios.length} paired ratios: ${med(r)}` });
    rows.push({ name: 'FUSE layer alone (nullfs), read 1 GiB in 1 MiB preads: io_uring', value: q.best.uring, unit: 'GB/s', ref: '/dev/fuse, same run', refValue: q.best.dev, note: `median of ${q.ratios.length} paired ratios: ${med(q)}` });
    const cr = cpu.dev.map((d, i) => cpu.uring[i]! / d);
    rows.push({ name: 'FUSE layer alone (nullfs), CPU time per GiB read (1 MiB preads, reader + server): io_uring', value: Math.min(...cpu.uring), unit: 's', ref: '/dev/fuse, same run', refValue: Math.min(...cpu.dev), better: 'lower', note: `process.cpuUsage of the one process holding reader and servers; median of ${cr.length} paired ratios (lower is better): ${median(cr).toFixed(2)}` });
  } finally {
    for (const t of BOTH) await servers[t]?.unmount({ lazy: true }).catch(() => undefined);
    mounts.unmountAll();
  }
  ctx.log('FUSE layer alone done');
  return rows;
}

/** fn with enable_uring = Y, restored afterwards. */
async function withParam<R>(fn: () => Promise<R>): Promise<R> {
  const before = fs.readFileSync(ENABLE_URING_PARAM, 'utf8').trim();
  fs.writeFileSync(ENABLE_URING_PARAM, 'Y');
  try {
    return await fn();
  } finally {
    fs.writeFileSync(ENABLE_URING_PARAM, before);
  }
}

interface Paired {
  best: Record<T, number>;
  ratios: number[];
}

/** PAIRS pairs of runs, the order swapped every pair; `before` runs untimed before each run. */
function paired(fn: (t: T) => number, better: 'lower' | 'higher', before?: () => void): Paired {
  const best: Record<T, number> = { dev: better === 'higher' ? 0 : Infinity, uring: better === 'higher' ? 0 : Infinity };
  const ratios: number[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const v = {} as Record<T, number>;
    for (const t of i % 2 ? (['uring', 'dev'] as const) : (['dev', 'uring'] as const)) {
      before?.();
      v[t] = fn(t);
      best[t] = better === 'higher' ? Math.max(best[t], v[t]) : Math.min(best[t], v[t]);
    }
    ratios.push(v.uring / v.dev);
  }
  return { best, ratios };
}

function mountSide(s: Side, t: T): void {
  const log = path.join(s.logDir, `daemon-${t}.log`);
  const args = ['--transport', t, '--data-path', 'daemon', '--log', log];
  if (t === 'uring') {
    const before = fs.readFileSync(ENABLE_URING_PARAM, 'utf8').trim();
    fs.writeFileSync(ENABLE_URING_PARAM, 'Y');
    try {
      s.mounts.famfs(s.dev, s.mp, args);
    } finally {
      fs.writeFileSync(ENABLE_URING_PARAM, before);
    }
  } else {
    s.mounts.famfs(s.dev, s.mp, args);
  }
  s.pid = Number(getxattr(s.mp, 'user.famfs.pid')) || 0;
  const want = t === 'uring' ? 'transport: io_uring' : 'transport: /dev/fuse';
  if (!fs.readFileSync(log, 'utf8').includes(want)) throw new Error(`the ${t} daemon does not report "${want}" in ${log}`);
}

/** user + system CPU seconds of a process (all its threads). */
function daemonCpu(pid: number): number {
  if (!pid) return 0;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function name(i: number): string {
  return `f${String(i).padStart(5, '0')}`;
}
