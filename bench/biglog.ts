/**
 * Big logs (issue 15, metadata rows):
 * (a) 1,000,000 entries (a 1 GiB log, 544 MiB of it used; FAMFS_BENCH_BIGLOG_ENTRIES to change):
 *     one whole process that opens the file system and replays every entry, against one that
 *     only reads the same log with pread and checks every slot's CRC (the floor of any replay);
 *     and that process's resident memory per entry, against the 544 log bytes each entry takes.
 * (b) 100,000 entries mounted as a client (FAMFS_BENCH_MOUNT_ENTRIES): `famfs mount` until it
 *     answers, against `bindfs` of the same tree on tmpfs; then `ls -lR` of the whole tree on each.
 * The logs are written straight from the codec (bench/logfill.ts): 1,000 entries per directory.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeFilledLog } from './logfill.js';
import { asMaster, sparse, time } from './common.js';
import { BINDFS_HINT, daemonPid, hasBindfs, Mounts, processCpu } from './fusekit.js';
import type { BenchContext, BenchRow } from './types.js';

const BIG = Number(process.env.FAMFS_BENCH_BIGLOG_ENTRIES ?? 1_000_000);
const MOUNTED = Number(process.env.FAMFS_BENCH_MOUNT_ENTRIES ?? 100_000);
const RUNS = 3;

interface ChildResult {
  replayMs: number;
  cpuMs?: number;
  files?: number;
  dirs?: number;
  problems?: number;
  rss?: number;
  rssAnon?: number;
  heapUsed?: number;
  bad?: number;
}

function child(ctx: BenchContext, args: string[]): { wall: number; r: ChildResult } {
  let out = '';
  const wall = time(() => {
    const p = spawnSync(process.execPath, [path.join(ctx.repo, 'dist/bench/replay-child.js'), ...args], { env: ctx.env, encoding: 'utf8', maxBuffer: 1 << 20 });
    if (p.status !== 0) throw new Error(`replay-child ${args.join(' ')}: exit ${p.status}: ${p.stderr}`);
    out = p.stdout;
  });
  return { wall, r: JSON.parse(out) as ChildResult };
}

function med(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const M = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;

async function bigReplay(ctx: BenchContext): Promise<BenchRow[]> {
  const dev = sparse(ctx, 'biglog.img', 0);
  const t = time(() => asMaster(ctx, () => makeFilledLog(dev, BIG)));
  ctx.log(`${BIG.toLocaleString('en-US')} entries written in ${t.toFixed(1)} s`);
  const walls: number[] = [], refs: number[] = [], cpus: number[] = [], rss: number[] = [], anon: number[] = [], heap: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const ref = child(ctx, [dev, '--crc-only']);
    if (ref.r.bad) throw new Error(`${ref.r.bad} bad CRCs`);
    refs.push(ref.wall);
    const { wall, r } = child(ctx, [dev]);
    if (r.problems || (r.files ?? 0) + (r.dirs ?? 0) !== BIG) throw new Error(`replayed ${r.files} files + ${r.dirs} dirs, ${r.problems} problems`);
    walls.push(wall);
    cpus.push(r.cpuMs!);
    rss.push(r.rss!);
    anon.push(r.rssAnon!);
    heap.push(r.heapUsed!);
  }
  fs.rmSync(dev, { force: true });
  const n = BIG.toLocaleString('en-US');
  return [
    {
      name: `replay ${n} entries, whole process (Famfs.open)`, value: med(walls), unit: 's',
      ref: 'a process reading the same log with pread and checking every CRC', refValue: med(refs),
      note: `goal ≤ 5 s (issue 15); median of ${RUNS}; CPU of the replaying process ${(med(cpus) / 1000).toFixed(2)} s (user + sys)`,
    },
    {
      name: `resident memory after replaying ${n} entries`, value: med(rss) / BIG, unit: 'B/entry',
      ref: 'the log bytes each entry takes', refValue: 544,
      note: `goal ≤ 300 B/entry (issue 15); VmRSS ${M(med(rss))}, of it anonymous ${M(med(anon))}, V8 heap used ${M(med(heap))}`,
    },
  ];
}

/** The same tree as makeFilledLog's, as real files (1 byte each) under `root`. */
function hostTree(root: string, entries: number): void {
  fs.mkdirSync(root);
  const one = Buffer.from('x');
  for (let d = 0, n = 0; n < entries; d++) {
    const dir = path.join(root, `dir-${d}`);
    fs.mkdirSync(dir);
    n++;
    for (let i = 0; i < 999 && n < entries; i++, n++) fs.writeFileSync(path.join(dir, `file-${i}`), one);
  }
}

async function bigMount(ctx: BenchContext): Promise<BenchRow[]> {
  if (!hasBindfs()) {
    ctx.log(BINDFS_HINT);
    return [];
  }
  const dev = sparse(ctx, 'mounted.img', 0);
  asMaster(ctx, () => makeFilledLog(dev, MOUNTED));
  const tree = path.join(ctx.shmDir, 'tree');
  hostTree(tree, MOUNTED);
  // A client: another system UUID than the run's master.
  const uuidFile = path.join(ctx.shmDir, 'client_uuid');
  fs.writeFileSync(uuidFile, `${randomUUID()}\0`);
  const cctx: BenchContext = { ...ctx, env: { ...ctx.env, FAMFS_SYSTEM_UUID_FILE: uuidFile } };
  const mounts = new Mounts(cctx);
  const n = MOUNTED.toLocaleString('en-US');
  try {
    const mpF = mounts.dir('biglog-famfs');
    const mpB = mounts.dir('biglog-bindfs');
    const mountF: number[] = [], mountB: number[] = [], lsF: number[] = [], lsB: number[] = [], readyCpu: number[] = [];
    let lsCpuF = 0, lsCpuB = 0;
    const ls = (mp: string): number => time(() => {
      const r = spawnSync('ls', ['-lR', mp], { stdio: ['ignore', 'ignore', 'pipe'] });
      if (r.status !== 0) throw new Error(`ls -lR ${mp}: ${r.stderr}`);
    });
    for (let i = 0; i < RUNS; i++) {
      mountF.push(time(() => mounts.famfs(dev, mpF)));
      const pidF = daemonPid(mpF);
      readyCpu.push(processCpu(pidF)); // what the daemon spent until the mount answered
      mountB.push(time(() => mounts.bindfs(tree, mpB)));
      // One listing each (a famfs one takes minutes on a loaded machine), on the last fresh mounts.
      if (i === RUNS - 1) {
        // Let the famfs watcher's replay (after ready) finish before the listing is timed.
        spawnSync('sleep', ['2']);
        const pidB = daemonPid(mpB, tree);
        const [f0, b0] = [processCpu(pidF), processCpu(pidB)];
        lsF.push(ls(mpF));
        const f1 = processCpu(pidF);
        lsB.push(ls(mpB));
        lsCpuF = f1 - f0;
        lsCpuB = processCpu(pidB) - b0;
      }
      mounts.unmount(mpF);
      mounts.unmount(mpB);
    }
    return [
      {
        name: `famfs mount of a ${n}-entry file system (client) until it answers`, value: med(mountF), unit: 's',
        ref: 'bindfs mount of the same tree on tmpfs', refValue: med(mountB),
        note: `goal ≤ 2 s (issue 15); median of ${RUNS}, fresh daemon each time; daemon CPU until it answered ${med(readyCpu).toFixed(2)} s (user + sys)`,
      },
      {
        name: `ls -lR of that ${n}-entry tree right after mount (client)`, value: med(lsF), unit: 's',
        ref: 'ls -lR of the same tree through bindfs', refValue: med(lsB),
        note: `goal ≤ 2× (issue 15); one run each; daemon CPU during the listing: famfs ${lsCpuF.toFixed(2)} s, bindfs ${lsCpuB.toFixed(2)} s (ls -l asks two xattrs of every file on both: two GETXATTR round trips each)`,
      },
    ];
  } finally {
    mounts.unmountAll();
    fs.rmSync(dev, { force: true });
  }
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  return [...(await bigReplay(ctx)), ...(await bigMount(ctx))];
}
