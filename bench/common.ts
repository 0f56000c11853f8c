/** Small helpers shared by bench modules: timing, the famfs CLI as a process, sparse devices. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { BenchContext } from './types.js';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** Seconds taken by `fn` (high resolution). */
export function time(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/** Median of `n` timings of `fn`, after one warm-up run unless `warm` is false. */
export function median(n: number, fn: () => void, warm = true): number {
  if (warm) fn();
  const t = Array.from({ length: n }, () => time(fn)).sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)]!;
}

/** Run a command; throw with its stderr when it fails. */
export function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): void {
  const r = spawnSync(cmd, args, { env: env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 * MiB });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} → exit ${r.status}: ${r.stderr.toString().trim()}`);
}

/** Run `node bin/famfs.js ...args` as this run's master. */
export function famfs(ctx: BenchContext, args: string[]): void {
  run(process.execPath, [path.join(ctx.repo, 'bin/famfs.js'), ...args], ctx.env);
}

/** A sparse file of `size` bytes in the module's tmpfs scratch dir. */
export function sparse(ctx: BenchContext, name: string, size: number): string {
  const p = path.join(ctx.shmDir, name);
  fs.writeFileSync(p, '');
  fs.truncateSync(p, size);
  return p;
}

/** Run `fn` with FAMFS_SYSTEM_UUID_FILE of this run (the library reads it on every open). */
export function asMaster<T>(ctx: BenchContext, fn: () => T): T {
  const old = process.env.FAMFS_SYSTEM_UUID_FILE;
  process.env.FAMFS_SYSTEM_UUID_FILE = ctx.env.FAMFS_SYSTEM_UUID_FILE;
  try {
    return fn();
  } finally {
    if (old === undefined) delete process.env.FAMFS_SYSTEM_UUID_FILE;
    else process.env.FAMFS_SYSTEM_UUID_FILE = old;
  }
}
