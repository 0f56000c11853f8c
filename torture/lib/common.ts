/**
 * Shared pieces of the reliability properties: devices in /dev/shm, simulated
 * hosts (one system-UUID file each), a seeded PRNG, the worker process
 * runner and the independent checks every property ends with. Used by both
 * test/reliability (short runs) and torture/run.ts (long runs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { entryOffset, LOG_ENTRY_SIZE, LOG_OFFSET } from '../../src/format/constants.js';
import { Famfs } from '../../src/api/famfs.js';
import { fsck, type FsckReport } from '../../src/api/fsck.js';
import type { Extent } from '../../src/format/types.js';
import type { TreeNode } from '../../src/meta/tree.js';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const AU = 2 * MiB;

/** dist/torture/lib → repository root. */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const WORKER = path.join(REPO, 'dist/torture/lib/worker.js');

const made = new Set<string>();
let seq = 0;

/** A sparse file in /dev/shm, removed by cleanup() or at exit. */
export function shmDevice(tag: string, size = 4 * GiB): string {
  const p = `/dev/shm/famfs-rel-${tag}-${process.pid}-${++seq}.img`;
  fs.writeFileSync(p, '');
  fs.truncateSync(p, size);
  made.add(p);
  return p;
}

export interface Host {
  name: string;
  dir: string;
  uuidFile: string;
  uuid: string;
  env: NodeJS.ProcessEnv;
}

export function makeHost(name: string): Host {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `famfs-rel-${name}-${process.pid}-`));
  const uuid = randomUUID();
  const uuidFile = path.join(dir, 'system_uuid');
  fs.writeFileSync(uuidFile, `${uuid}\0`, { mode: 0o444 });
  made.add(dir);
  return { name, dir, uuidFile, uuid, env: { ...process.env, FAMFS_SYSTEM_UUID_FILE: uuidFile } };
}

/** Run library code as a host: the same helper the tests use. */
import { asHost, prng } from '../../test/core/helpers.js';
export { asHost, prng };

export function cleanup(): void {
  for (const p of made) fs.rmSync(p, { recursive: true, force: true });
  made.clear();
}
process.on('exit', cleanup);


// ---- the worker process ----------------------------------------------------

/** What a worker does (passed as JSON in argv[2]); see worker.ts. */
export interface WorkerJob {
  device: string;
  /** Names start with this (unique per worker and per run). */
  prefix: string;
  /** Operations to do (Infinity = until killed). */
  ops: number;
  /** File where each successful operation is appended as one line, after it returned. */
  ackFile: string;
  seed: number;
  /** Fraction of ops that are mkdir; the rest create files. */
  dirFraction?: number;
  /** Fraction of file creates that copy data in (creat with fill); else plain creat. */
  fillFraction?: number;
  /** Max bytes of a filled file. */
  maxFill?: number;
  /** Entries per writer-lock session (1 = one lock per op, like the CLI). */
  batch?: number;
  /** Die (SIGKILL to itself) at this point of the last operation. */
  crashAt?: CrashPoint;
  /** Create `prefix` as a directory first (counts as an op). */
  topDir?: boolean;
}

export type CrashPoint = 'mid-fill' | 'after-fill' | 'after-entry-flush' | 'between-counters' | 'after-counters' | 'after-header-flush';
export const CRASH_POINTS: CrashPoint[] = ['mid-fill', 'after-fill', 'after-entry-flush', 'between-counters', 'after-counters', 'after-header-flush'];

export interface Ack {
  op: 'mkdir' | 'creat' | 'fill';
  path: string;
  size: number;
  seed: number;
}

export function parseAcks(file: string): Ack[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: Ack[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [op, p, size, seed] = line.split(' ');
    out.push({ op: op as Ack['op'], path: p!, size: Number(size), seed: Number(seed) });
  }
  return out;
}

let progressSink: () => void = () => undefined;

/** Where progress() goes: the torture runner's child process sends it to the runner (a hang is no progress). */
export function onProgress(sink: () => void): void {
  progressSink = sink;
}

/** One more unit of work done (a worker started or ended, a case tried). */
export function progress(): void {
  progressSink();
}

export function spawnWorker(job: WorkerJob, host: Host): ChildProcess {
  progress();
  return spawn(process.execPath, [WORKER, JSON.stringify(job)], { env: host.env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Wait for a child to exit; resolves with its code/signal and collected output. */
export function waitChild(c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  c.stdout?.on('data', (d) => (stdout += d));
  c.stderr?.on('data', (d) => (stderr += d));
  return new Promise((resolve) =>
    c.on('close', (code, signal) => {
      progress();
      resolve({ code, signal, stdout, stderr });
    }),
  );
}

/** Resolves once the child printed "ready" (it has opened the device). */
export function whenReady(c: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const on = (d: Buffer): void => {
      buf += d.toString();
      if (buf.includes('ready')) {
        c.stdout?.off('data', on);
        resolve();
      }
    };
    c.stdout?.on('data', on);
    c.on('close', () => resolve());
    c.on('error', reject);
  });
}

// ---- independent checks -----------------------------------------------------

export interface LogCheck {
  nextIndex: number;
  nextSeqnum: number;
  /** Slots below next_index whose seqnum ≠ index (read straight from the device bytes). */
  badSeq: number;
}

/** Read the header counters and every committed slot's seqnum from the raw file, not through the library. */
export function rawLogCheck(device: string): LogCheck {
  const fd = fs.openSync(device, 'r');
  try {
    const h = Buffer.alloc(48);
    fs.readSync(fd, h, 0, 48, LOG_OFFSET);
    const nextSeqnum = Number(h.readBigUInt64LE(32));
    const nextIndex = Number(h.readBigUInt64LE(40));
    const n = Math.min(nextIndex, 15420);
    const all = Buffer.alloc(n * LOG_ENTRY_SIZE);
    fs.readSync(fd, all, 0, all.length, entryOffset(0));
    let badSeq = 0;
    for (let i = 0; i < n; i++) if (all.readBigUInt64LE(i * LOG_ENTRY_SIZE) !== BigInt(i)) badSeq++;
    return { nextIndex, nextSeqnum, badSeq };
  } finally {
    fs.closeSync(fd);
  }
}

export function pieces(n: TreeNode): Extent[] {
  if (n.kind !== 'file') return [];
  return n.map.kind === 'simple' ? n.map.extents : n.map.strips;
}

/** Pairs of tree files sharing device space (independent of the library's bitmap). */
export function overlappingFiles(fs: Famfs): number {
  const all: { off: number; end: number; id: number }[] = [];
  for (const n of fs.tree.walk()) for (const e of pieces(n)) all.push({ off: e.offset, end: e.offset + e.length, id: n.id });
  all.sort((a, b) => a.off - b.off);
  let bad = 0;
  let maxEnd = -1, maxId = -1;
  for (const p of all) {
    if (p.off < maxEnd && p.id !== maxId) bad++;
    if (p.end > maxEnd) {
      maxEnd = p.end;
      maxId = p.id;
    }
  }
  return bad;
}

/** Open as `h`, replay, fsck; close. */
export function inspect(device: string, h: Host): { report: FsckReport; paths: Map<string, TreeNode>; entries: number } {
  const f = asHost(h, () => Famfs.open(device));
  try {
    const report = fsck(f);
    const paths = new Map<string, TreeNode>();
    for (const n of f.tree.walk()) if (n !== f.tree.root) paths.set(n.path, n);
    return { report, paths, entries: f.stats.entries };
  } finally {
    f.close();
  }
}

/** One summary line, as torture prints them. */
export function summary(name: string, tried: number, failed: number, lost: number, extra = ''): string {
  return `${name.padEnd(28)} tried ${String(tried).padStart(8)}  failed ${failed}  lost ${lost}${extra ? `  (${extra})` : ''}`;
}
