/**
 * CLI start-up: `famfs --version` and `famfs ls` of a small file system,
 * each against a bare `node -e 0` run right before it (interleaved runs;
 * medians, so that load on a shared machine hits both sides alike). Wall
 * time, and CPU time (user + sys of the whole process, which load disturbs
 * far less). Goal (issue 15): ≤ 1.5× `node -e 0`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { mkfs } from '../src/api/mkfs.js';
import { Famfs } from '../src/api/famfs.js';
import { asMaster, GiB, run as exec, sparse, time } from './common.js';
import type { BenchContext, BenchRow } from './types.js';

const PAIRS = 9;

/**
 * Every timed process loads this first (`node -r`): at exit it appends its own CPU time
 * (getrusage of the process, so node's bootstrap included) to FAMFS_BENCH_CPU_FILE.
 */
const CPU_HOOK = `process.on('exit', () => { const u = process.cpuUsage(); require('node:fs').appendFileSync(process.env.FAMFS_BENCH_CPU_FILE, (u.user + u.system) / 1e6 + '\\n'); });\n`;

function med(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const dev = sparse(ctx, 'startup.img', 4 * GiB);
  asMaster(ctx, () => {
    mkfs(dev);
    const f = Famfs.open(dev, { writable: true });
    try {
      f.writer((w) => {
        w.mkdir('d');
        for (let i = 0; i < 10; i++) w.creat(`d/f${i}`, 4096);
      });
    } finally {
      f.close();
    }
  });
  const hook = path.join(ctx.shmDir, 'cpu-hook.cjs');
  fs.writeFileSync(hook, CPU_HOOK);
  const cpuFile = path.join(ctx.shmDir, 'cpu.txt');
  const env = { ...ctx.env, FAMFS_BENCH_CPU_FILE: cpuFile };
  const bin = path.join(ctx.repo, 'bin/famfs.js');
  /** [wall s, CPU s] of one `node -r hook ...args`. */
  const timed = (args: string[]): [number, number] => {
    fs.writeFileSync(cpuFile, '');
    const wall = time(() => exec(process.execPath, ['-r', hook, ...args], env));
    return [wall, Number(fs.readFileSync(cpuFile, 'utf8').trim())];
  };
  const runs: Record<'node' | 'ver' | 'ls', [number, number][]> = { node: [], ver: [], ls: [] };
  timed([bin, 'ls', '-d', dev]); // warm the file cache once
  for (let i = 0; i < PAIRS; i++) {
    runs.node.push(timed(['-e', '0']));
    runs.ver.push(timed([bin, '--version']));
    runs.ls.push(timed([bin, 'ls', '-R', '-d', dev]));
  }
  const wall = (k: keyof typeof runs): number => med(runs[k].map((r) => r[0]));
  const cpu = (k: keyof typeof runs): number => med(runs[k].map((r) => r[1]));
  const note = `median of ${PAIRS} interleaved runs`;
  const goal = { op: '<=' as const, ratio: 1.5 };
  return [
    { name: 'famfs --version, wall', value: wall('ver'), unit: 's', ref: 'node -e 0', refValue: wall('node'), note, goal },
    { name: 'famfs --version, CPU (user + sys)', value: cpu('ver'), unit: 's', ref: 'node -e 0', refValue: cpu('node'), note, goal },
    { name: 'famfs ls -R of 11 entries, wall', value: wall('ls'), unit: 's', ref: 'node -e 0', refValue: wall('node'), note, goal },
    { name: 'famfs ls -R of 11 entries, CPU (user + sys)', value: cpu('ls'), unit: 's', ref: 'node -e 0', refValue: cpu('node'), note, goal },
  ];
}
