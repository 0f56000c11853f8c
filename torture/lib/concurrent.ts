/**
 * Property 2 — concurrent writers on one host: W processes × N creates at once
 * (files and directories, each process in its own top directory) must give
 * exactly W×N entries, dense seqnums, fsck clean and no shared space.
 */
import fs from 'node:fs';
import path from 'node:path';
import { mkfs } from '../../src/api/mkfs.js';
import { asHost, GiB, inspect, overlappingFiles, parseAcks, rawLogCheck, shmDevice, spawnWorker, waitChild, type Host } from './common.js';
import { Famfs } from '../../src/api/famfs.js';

export interface ConcurrentResult {
  tried: number;
  failed: number;
  lost: number;
  entries: number;
  ms: number;
  errors: string[];
}

export async function concurrentWriters(opts: { master: Host; workers: number; ops: number; seed: number; dir: string; batchMax?: number }): Promise<ConcurrentResult> {
  // Worst case every op is an 8 MiB file (4 units): size the sparse device to fit.
  const device = shmDevice('conc', Math.max(4 * GiB, opts.workers * opts.ops * 8 * 1024 * 1024 + GiB));
  asHost(opts.master, () => mkfs(device, { force: true }));
  const t0 = performance.now();
  const errors: string[] = [];
  const acks = Array.from({ length: opts.workers }, (_, k) => path.join(opts.dir, `conc-${process.pid}-${k}`));
  try {
    const exits = await Promise.all(
      acks.map((ackFile, k) =>
        waitChild(spawnWorker({ device, prefix: `w${k}`, topDir: true, ops: opts.ops, ackFile, seed: opts.seed * 100 + k, dirFraction: 0.2, fillFraction: 0.1, maxFill: 64 * 1024, batch: 1 + (k % (opts.batchMax ?? 4)) }, opts.master)),
      ),
    );
    const ms = performance.now() - t0;
    exits.forEach((e, k) => {
      if (e.code !== 0) errors.push(`worker ${k} exited ${e.code ?? e.signal}: ${e.stderr.trim().split('\n')[0]}`);
    });
    const expected = opts.workers * opts.ops;
    const raw = rawLogCheck(device);
    if (raw.nextIndex !== expected || raw.nextSeqnum !== expected) errors.push(`log has ${raw.nextIndex} entries (next_seqnum ${raw.nextSeqnum}), expected ${expected}`);
    if (raw.badSeq) errors.push(`${raw.badSeq} slots with a seqnum ≠ index`);
    const { report, paths } = inspect(device, opts.master);
    if (!report.clean) errors.push(`fsck not clean: ${report.badEntries} bad, ${report.rejectedEntries} refused, ${report.collisions} collisions`);
    let lost = 0;
    for (const a of acks) {
      const list = parseAcks(a);
      if (list.length !== opts.ops) errors.push(`${a}: ${list.length} acks`);
      for (const x of list) if (!paths.has(x.path)) lost++;
    }
    if (paths.size !== expected) errors.push(`${paths.size} names in the tree, expected ${expected}`);
    const f = asHost(opts.master, () => Famfs.open(device));
    try {
      const o = overlappingFiles(f);
      if (o) errors.push(`${o} file pairs share space`);
    } finally {
      f.close();
    }
    if (lost) errors.push(`${lost} acknowledged creates missing`);
    return { tried: expected, failed: errors.length ? 1 : 0, lost, entries: raw.nextIndex, ms, errors };
  } finally {
    for (const a of acks) fs.rmSync(a, { force: true });
    fs.rmSync(device, { force: true });
  }
}
