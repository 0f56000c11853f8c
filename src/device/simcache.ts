/**
 * A simulated non-coherent host cache, for tests: with FAMFS_SIM_NONCOHERENT
 * set, every open Device sees the shared file through its own write-back cache
 * of 64-byte lines, as a host on CXL memory without coherence would.
 *
 *  - A line is filled from shared memory the first time a view covers it; loads
 *    then see the cached copy until the line is invalidated or evicted.
 *  - Stores stay in the cache until written back (Device.flush), invalidated
 *    (write back if dirty, then drop) or evicted at a random time; closing the
 *    device (or the process dying) loses them, the latest write-back hardware allows.
 *  - Code keeps Buffer views into the cache, so a dropped line is refilled at
 *    once (a prefetch right after the invalidate, which the ISA permits).
 *  - Dirty = differs from the copy taken at fill time; a write-back writes the
 *    whole line, as hardware does.
 *
 * One cache per simulated host (FAMFS_SYSTEM_UUID_FILE) and device file in a
 * process: it outlives Device.close, as a CPU cache outlives a file descriptor.
 * Each process and worker thread is a host of its own here, stricter than
 * hardware, where they would share the cache. FAMFS_SIM_NONCOHERENT=SEED[,P]:
 * SEED seeds eviction, P is the chance (default 0.05) that a device call evicts a few lines.
 */
import fs from 'node:fs';
import { MAP_SHARED, mmap, PROT_READ, PROT_WRITE, viewOf } from '../sys/libc.js';

export const LINE = 64;
const PROT_RW = 3;
const MAP_PRIVATE_ANON = 0x22;

export interface SimOptions {
  seed: number;
  evictChance: number;
}

/** The simulation settings from FAMFS_SIM_NONCOHERENT, or undefined when it is unset. */
export function simOptionsFromEnv(env = process.env): SimOptions | undefined {
  const v = env.FAMFS_SIM_NONCOHERENT;
  if (!v) return undefined;
  const [s, p] = v.split(',');
  const seed = Number(s);
  const evictChance = p === undefined ? 0.05 : Number(p);
  if (!Number.isInteger(seed) || !(evictChance >= 0 && evictChance <= 1)) throw new Error(`FAMFS_SIM_NONCOHERENT=${v}: expected SEED[,CHANCE] (an integer, and 0..1)`);
  return { seed, evictChance };
}

interface CacheWindow {
  backing: Buffer;
  cache: Buffer;
  snap: Buffer;
  valid: Uint8Array;
}

const caches = new Map<string, SimulatedCache>();

/** This process's cache of `path` for the current simulated host (made on first use). */
export function simulatedCache(path: string, size: number, windowSize: number, opts: SimOptions): SimulatedCache {
  const st = fs.statSync(path);
  const key = `${st.dev}:${st.ino}:${size}:${process.env.FAMFS_SYSTEM_UUID_FILE ?? ''}`;
  let c = caches.get(key);
  if (!c) caches.set(key, (c = new SimulatedCache(opts, path, size, windowSize)));
  return c;
}

export class SimulatedCache {
  private readonly windows = new Map<number, CacheWindow>();
  /** Recently used ranges: where random evictions strike. */
  private readonly recent: [number, number, number][] = [];
  private rng: number;
  /** Lines written back by eviction (tests look at it). */
  evicted = 0;

  private fd = -1;
  private writable = true;

  /** Shared memory itself is this cache's own MAP_SHARED mapping of the device file, kept for the process's life. */
  constructor(private readonly opts: SimOptions, private readonly path: string, private readonly size: number, private readonly windowSize: number) {
    this.rng = (opts.seed ^ (process.pid * 0x9e3779b1)) >>> 0;
  }

  private backingWindow(i: number): Buffer {
    if (this.fd < 0) {
      try {
        this.fd = fs.openSync(this.path, 'r+');
      } catch {
        this.fd = fs.openSync(this.path, 'r');
        this.writable = false;
      }
    }
    const start = i * this.windowSize;
    const len = Math.min(this.windowSize, this.size - start);
    return viewOf(mmap(len, this.writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, this.fd, start), len);
  }

  private random(): number {
    this.rng = (this.rng + 0x6d2b79f5) >>> 0;
    let t = this.rng;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  private window(i: number): CacheWindow {
    let w = this.windows.get(i);
    if (!w) {
      const backing = this.backingWindow(i);
      const len = backing.length;
      const p1 = mmap(len, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
      const p2 = mmap(len, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
      w = { backing, cache: viewOf(p1, len), snap: viewOf(p2, len), valid: new Uint8Array(Math.ceil(len / LINE)) };
      this.windows.set(i, w);
    }
    return w;
  }

  /** The cached view of [start, start+len) of window i, filling lines not yet cached. */
  view(i: number, start: number, len: number): Buffer {
    const w = this.window(i);
    this.forRuns(w, start, len, (a, b, valid) => { if (!valid) this.fill(w, a, b); });
    this.remember(i, start, len);
    this.maybeEvict();
    return w.cache.subarray(start, start + len);
  }

  /** Write back the dirty lines of the range (CLWB: they stay cached). */
  writeBack(i: number, start: number, len: number): void {
    const w = this.window(i);
    this.forRuns(w, start, len, (a, b, valid) => { if (valid) this.writeDirty(w, a, b); });
    this.maybeEvict();
  }

  /** Write back dirty lines, drop the range and refill it from shared memory. */
  invalidate(i: number, start: number, len: number): void {
    const w = this.window(i);
    this.forRuns(w, start, len, (a, b, valid) => {
      if (valid) this.writeDirty(w, a, b);
      this.fill(w, a, b);
    });
    this.maybeEvict();
  }

  // ---- lines ----

  /** Call fn over maximal runs of lines [a, b) (byte offsets, line-aligned, clamped) with one valid state. */
  private forRuns(w: CacheWindow, start: number, len: number, fn: (a: number, b: number, valid: boolean) => void): void {
    if (len <= 0) return;
    let line = Math.floor(start / LINE);
    const end = Math.ceil((start + len) / LINE);
    while (line < end) {
      const v = w.valid[line]!;
      let next = line + 1;
      while (next < end && w.valid[next] === v) next++;
      fn(line * LINE, Math.min(next * LINE, w.cache.length), v === 1);
      line = next;
    }
  }

  private fill(w: CacheWindow, a: number, b: number): void {
    // One read of shared memory: another process may be storing to it meanwhile.
    w.backing.copy(w.cache, a, a, b);
    w.cache.copy(w.snap, a, a, b);
    w.valid.fill(1, a / LINE, Math.ceil(b / LINE));
  }

  /** Copy each line of [a, b) that differs from its fill-time copy back to shared memory. */
  private writeDirty(w: CacheWindow, a: number, b: number): void {
    if (w.cache.compare(w.snap, a, b, a, b) === 0) return;
    for (let x = a; x < b; x += LINE) {
      const y = Math.min(x + LINE, b);
      if (w.cache.compare(w.snap, x, y, x, y) === 0) continue;
      w.cache.copy(w.backing, x, x, y);
      w.cache.copy(w.snap, x, x, y);
    }
  }

  private remember(i: number, start: number, len: number): void {
    if (this.recent.length >= 64) this.recent.splice(Math.floor(this.random() * 64), 1);
    this.recent.push([i, start, len]);
  }

  /** Sometimes evict 1–8 lines of a recently used range: written back if dirty, then refilled. */
  private maybeEvict(): void {
    if (this.opts.evictChance === 0 || this.recent.length === 0 || this.random() >= this.opts.evictChance) return;
    const [i, start, len] = this.recent[Math.floor(this.random() * this.recent.length)]!;
    const w = this.window(i);
    const first = Math.floor(start / LINE) + Math.floor((this.random() * len) / LINE);
    const n = 1 + Math.floor(this.random() * 8);
    const a = first * LINE;
    const b = Math.min((first + n) * LINE, start + len + LINE - 1, w.cache.length);
    if (b <= a) return;
    this.forRuns(w, a, b - a, (x, y, valid) => {
      if (!valid) return;
      this.writeDirty(w, x, y);
      this.fill(w, x, y);
      this.evicted += (y - x) / LINE;
    });
  }
}
