/**
 * Helpers for the FUSE data-path benches (fuse.ts, create.ts): famfs and
 * bindfs mounts that are always taken down again (also on exit / Ctrl-C),
 * dropping caches, timing child processes, best-of-N with alternation.
 */
import { randomFillSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { getxattr } from '../src/sys/libc.js';
import { MiB } from './common.js';
import type { BenchContext } from './types.js';

export const BINDFS_HINT = 'bindfs is not installed (apt-get install -y bindfs): bindfs rows skipped';

/** Run a command, throw with its stderr on failure; returns the wall time in seconds (performance.now). */
export function timed(cmd: string, args: string[], env?: NodeJS.ProcessEnv): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { env: env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 * MiB });
  const s = (performance.now() - t) / 1000;
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} → exit ${r.status ?? r.signal}: ${r.stderr.toString().trim()}`);
  return s;
}

/** Seconds taken by fn (in-process loop). */
export function clock(fn: () => void): number {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
}

const PIPE_MAX = '/proc/sys/fs/pipe-max-size';

/**
 * The daemon splices a 1 MiB READ only through a pipe of 2 MiB (257 page slots with its header,
 * src/fuse/splice.ts). A root daemon with CAP_SYS_RESOURCE makes one whatever fs.pipe-max-size
 * says; a container's root without it (this machine) needs fs.pipe-max-size ≥ 2 MiB. Raised for
 * the run (FAMFS_BENCH_PIPE_MAX=0: left alone); the returned function restores it.
 */
export function pipeMaxAtLeast(bytes: number, log: (l: string) => void): { restore: () => void; note: string } {
  let old: string | undefined;
  try {
    old = fs.readFileSync(PIPE_MAX, 'utf8').trim();
    if (process.env.FAMFS_BENCH_PIPE_MAX === '0' || Number(old) >= bytes) return { restore: () => {}, note: `fs.pipe-max-size ${old}` };
    fs.writeFileSync(PIPE_MAX, String(bytes));
  } catch (e) {
    log(`cannot raise fs.pipe-max-size (${(e as Error).message}): 1 MiB READs stay on the daemon's mapping`);
    return { restore: () => {}, note: `fs.pipe-max-size ${old ?? '?'}` };
  }
  return {
    restore: () => fs.writeFileSync(PIPE_MAX, old!),
    note: `fs.pipe-max-size raised from ${old} to ${bytes} for the run (1 MiB READs spliced)`,
  };
}

let dropWarned = false;
/** sync + drop page cache, dentries and inodes (root only). Returns false (and says so once) if not possible. */
export function dropCaches(log?: (l: string) => void): boolean {
  try {
    spawnSync('sync');
    fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch (e) {
    if (!dropWarned) log?.(`cannot drop caches (${(e as Error).message}): "cold" figures are only cold for the daemons`);
    dropWarned = true;
    return false;
  }
}

/** user + system CPU seconds a process (all its threads) has used so far; 0 if unknown. */
export function processCpu(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ
  } catch {
    return 0;
  }
}

/** The pid of the daemon serving mount point `mp` (famfs: its user.famfs.pid; bindfs: by command line). */
export function daemonPid(mp: string, bindfsSrc?: string): number | undefined {
  if (bindfsSrc) return Number(spawnSync('pgrep', ['-n', '-f', `^bindfs ${bindfsSrc} ${mp}$`]).stdout?.toString().trim()) || undefined;
  try {
    return Number(getxattr(mp, 'user.famfs.pid')) || undefined;
  } catch {
    return undefined;
  }
}

export function hasBindfs(): boolean {
  const r = spawnSync('bindfs', ['--version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

/** A file of `size` random bytes (written in 64 MiB chunks). */
/** Row 9's tree (and the ceiling module's, which must time the same copy): files × bytes of random data. */
export const SMALL_FILES = 2000;
export const SMALL_FILE_BYTES = 4096;

/** Write the small-file tree at `dir` (created here): f0 … f{SMALL_FILES-1}. */
export function smallTree(dir: string): void {
  fs.mkdirSync(dir);
  const buf = Buffer.alloc(SMALL_FILE_BYTES);
  for (let i = 0; i < SMALL_FILES; i++) {
    randomFillSync(buf);
    fs.writeFileSync(path.join(dir, `f${i}`), buf);
  }
}

export function randomFile(p: string, size: number): void {
  const fd = fs.openSync(p, 'w');
  const chunk = Buffer.allocUnsafe(Math.min(size, 64 * MiB));
  try {
    for (let off = 0; off < size; off += chunk.length) {
      randomFillSync(chunk);
      fs.writeSync(fd, chunk, 0, Math.min(chunk.length, size - off));
    }
  } finally {
    fs.closeSync(fd);
  }
}

function isMounted(mp: string): boolean {
  const text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  return text.split('\n').some((l) => l.split(' ')[4] === mp);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

interface Mount {
  mp: string;
  kind: 'famfs' | 'bindfs';
  /** famfs: mount options and environment, kept for remount. */
  extra?: string[];
  env?: NodeJS.ProcessEnv;
  /** The daemon's pid (famfs: from its user.famfs.pid xattr), to wait for its exit. */
  pid?: number;
}

/**
 * The mounts one bench module made. Every mount point is a fresh directory
 * under os.tmpdir() (never inside the module's /dev/shm scratch dir, which the
 * runner removes recursively). unmountAll() runs on process exit as well.
 */
export class Mounts {
  private readonly live = new Map<string, Mount>();
  private readonly dirs: string[] = [];
  private readonly onExit = (): void => this.unmountAll();

  constructor(private readonly ctx: BenchContext) {
    process.on('exit', this.onExit);
  }

  /** A fresh empty directory for a mount point. */
  dir(tag: string): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), `famfs-bench-${tag}-`));
    this.dirs.push(d);
    return d;
  }

  /**
   * `famfs mount DEV MP` (returns when the mount answers). `env` with another
   * FAMFS_SYSTEM_UUID_FILE mounts the same device again as another (client) host.
   */
  famfs(dev: string, mp: string, extra: string[] = [], env: NodeJS.ProcessEnv = this.ctx.env): string {
    timed(process.execPath, [path.join(this.ctx.repo, 'bin/famfs.js'), 'mount', ...extra, dev, mp], env);
    let pid: number | undefined;
    try {
      pid = Number(getxattr(mp, 'user.famfs.pid')) || undefined;
    } catch {
      /* pid only used to wait for the daemon's exit */
    }
    this.live.set(mp, { mp, kind: 'famfs', pid, extra, env });
    return mp;
  }

  /** `bindfs SRC MP`. */
  bindfs(src: string, mp: string): string {
    timed('bindfs', [src, mp]);
    const pid = Number(spawnSync('pgrep', ['-n', '-f', `^bindfs ${src} ${mp}$`]).stdout?.toString().trim()) || undefined;
    this.live.set(mp, { mp, kind: 'bindfs', pid });
    return mp;
  }

  /** Unmount and wait (up to 10 s) for the daemon to exit. */
  unmount(mp: string, lazy = false): void {
    const m = this.live.get(mp);
    if (!m) return;
    this.live.delete(mp);
    if (isMounted(mp)) {
      const r = m.kind === 'famfs'
        ? spawnSync(process.execPath, [path.join(this.ctx.repo, 'bin/famfs.js'), 'umount', ...(lazy ? ['--lazy'] : []), mp], { env: m.env ?? this.ctx.env, stdio: ['ignore', 'ignore', 'pipe'] })
        : spawnSync('fusermount', ['-u', ...(lazy ? ['-z'] : []), mp], { stdio: ['ignore', 'ignore', 'pipe'] });
      if (r.status !== 0 && isMounted(mp)) spawnSync('umount', ['-l', mp], { stdio: 'ignore' });
    }
    for (let i = 0; m.pid && alive(m.pid) && i < 200; i++) sleep(50);
  }

  /** Unmount and mount again (a fresh daemon: nothing mapped, nothing cached). */
  remount(mp: string, dev: string, extra?: string[]): void {
    const m = this.live.get(mp);
    this.unmount(mp);
    if (m?.kind === 'bindfs') this.bindfs(dev, mp);
    else this.famfs(dev, mp, extra ?? m?.extra, m?.env);
  }

  unmountAll(): void {
    for (const mp of [...this.live.keys()]) this.unmount(mp, true);
    for (const d of this.dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
    process.off('exit', this.onExit);
  }
}

/**
 * Best (minimum) of `n` timings of each candidate, running them in turn
 * (a, b, c, a, b, c, …) so that load from anything else hits all alike.
 * `before` runs untimed before each timing (e.g. drop caches, remount).
 */
export function bestOf<K extends string>(n: number, cands: Record<K, { run: () => number; before?: () => void } | undefined>): Record<K, number> {
  const best = {} as Record<K, number>;
  for (let i = 0; i < n; i++) {
    for (const k of Object.keys(cands) as K[]) {
      const c = cands[k];
      if (!c) continue;
      c.before?.();
      best[k] = Math.min(best[k] ?? Infinity, c.run());
    }
  }
  return best;
}
