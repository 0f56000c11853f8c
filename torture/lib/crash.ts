/**
 * Property 1 — crash during append. A writer process is SIGKILLed (at a random
 * time, or at an exact point of the commit protocol) while it creates
 * directories and files; after each kill the log must replay with no problem,
 * every acknowledged create must be there, every filled file must hold its
 * data, and the next writer must carry on without any repair.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Famfs } from '../../src/api/famfs.js';
import { verify } from '../../src/api/data.js';
import { mkfs } from '../../src/api/mkfs.js';
import { asHost, CRASH_POINTS, GiB, inspect, parseAcks, prng, progress, rawLogCheck, shmDevice, spawnWorker, waitChild, whenReady, type CrashPoint, type Host } from './common.js';
import { coherenceFromEnv } from '../../src/device/device.js';

export interface CrashResult {
  tried: number;
  failed: number;
  /** Acknowledged creates missing after a crash. */
  lost: number;
  /** Kills that left next_seqnum one ahead of next_index (the window between the two counter stores). */
  tornCounters: number;
  entries: number;
  errors: string[];
}

/** Check the device after a kill; returns problems found (empty = fine) and how many acked creates are missing. */
export function checkAfterCrash(device: string, master: Host, ackFile: string, verifyFrom = 0): { errors: string[]; lost: number; acks: number } {
  const errors: string[] = [];
  const { report, paths } = inspect(device, master);
  if (!report.clean) errors.push(`fsck not clean: ${report.badEntries} bad, ${report.rejectedEntries} refused, ${report.collisions} collisions; ${JSON.stringify(report.problems.slice(0, 3))}`);
  const raw = rawLogCheck(device);
  if (raw.badSeq) errors.push(`${raw.badSeq} committed slots with a wrong seqnum`);
  if (raw.nextSeqnum !== raw.nextIndex && raw.nextSeqnum !== raw.nextIndex + 1) errors.push(`counters ${raw.nextSeqnum}/${raw.nextIndex}`);
  let lost = 0;
  for (const a of parseAcks(ackFile)) {
    const n = paths.get(a.path);
    if (!n) {
      lost++;
      errors.push(`acknowledged ${a.op} ${a.path} is missing`);
    } else if ((a.op === 'mkdir') !== (n.kind === 'dir') || (n.kind === 'file' && n.size !== a.size)) {
      errors.push(`${a.path}: wrong kind or size after crash`);
    }
  }
  // Filled files must hold their whole data: it goes in before the entry. Files checked
  // after an earlier kill are never written again, so only the newer acks are verified.
  const acks = parseAcks(ackFile);
  const seeds = new Map(acks.slice(verifyFrom).filter((a) => a.op === 'fill').map((a) => [a.path, a.seed]));
  const f = asHost(master, () => Famfs.open(device));
  try {
    for (const [p, seed] of seeds) {
      const n = f.tree.lookup(p);
      if (n?.kind !== 'file') continue;
      const bad = verify(f, n, seed);
      if (bad >= 0) errors.push(`${p}: data differs at byte ${bad}`);
    }
  } finally {
    f.close();
  }
  return { errors, lost, acks: acks.length };
}

function isTorn(device: string): boolean {
  const r = rawLogCheck(device);
  return r.nextSeqnum === r.nextIndex + 1;
}

/** Random-time kills: `cycles` writers, each killed 0..maxDelayMs after it opened the device. */
/**
 * `minEntries`: keep killing (up to 4× `cycles`) until the log holds more than
 * this many entries — on a loaded machine a writer killed within `maxDelayMs` of
 * start may not have logged anything yet, and a run that wrote nothing proves nothing.
 */
export async function randomKills(opts: { master: Host; cycles: number; seed: number; maxDelayMs: number; dir: string; minEntries?: number; onCycle?: (i: number, r: CrashResult) => void }): Promise<CrashResult> {
  // Sparse: only filled bytes use memory, and plain creates (up to 8 MiB each) don't run it out of space.
  const device = shmDevice('crash', 64 * GiB);
  asHost(opts.master, () => mkfs(device, { force: true }));
  const ackFile = path.join(opts.dir, `acks-${process.pid}-${Date.now()}`);
  const rnd = prng(opts.seed);
  const res: CrashResult = { tried: 0, failed: 0, lost: 0, tornCounters: 0, entries: 0, errors: [] };
  let verified = 0;
  try {
    const enough = (c: number): boolean => c >= opts.cycles && (c >= 4 * opts.cycles || rawLogCheck(device).nextIndex > (opts.minEntries ?? 0));
    for (let c = 0; !enough(c); c++) {
      res.tried++;
      progress();
      const child = spawnWorker({ device, prefix: `c${c}`, ops: 1e9, ackFile, seed: Math.floor(rnd() * 2 ** 31), dirFraction: 0.25, fillFraction: 0.5, maxFill: 192 * 1024, batch: 1 + Math.floor(rnd() * 3) }, opts.master);
      const done = waitChild(child);
      await whenReady(child);
      await new Promise((r) => setTimeout(r, rnd() * opts.maxDelayMs));
      child.kill('SIGKILL');
      const exit = await done;
      const errors: string[] = [];
      if (exit.signal !== 'SIGKILL') errors.push(`writer exited by itself (code ${exit.code}): ${exit.stderr.trim().split('\n')[0]}`);
      if (isTorn(device)) res.tornCounters++;
      const chk = checkAfterCrash(device, opts.master, ackFile, verified);
      verified = chk.acks;
      errors.push(...chk.errors);
      res.lost += chk.lost;
      if (errors.length) {
        res.failed++;
        res.errors.push(`cycle ${c}: ${errors.join('; ')}`);
      }
      opts.onCycle?.(c, res);
      if (rawLogCheck(device).nextIndex > 14_000 || inspect(device, opts.master).report.capacity.freeSpace < 4 * GiB) {
        // log or space nearly used up: start over on a fresh file system
        asHost(opts.master, () => mkfs(device, { force: true }));
        fs.rmSync(ackFile, { force: true });
        verified = 0;
      }
    }
    res.entries = rawLogCheck(device).nextIndex;
  } finally {
    fs.rmSync(ackFile, { force: true });
    fs.rmSync(device, { force: true });
  }
  return res;
}

/**
 * Exact crash points: for each point, a writer does a few creates and dies at
 * that point of its last one; then a fresh writer must succeed. Before the
 * commit (next_index store) the last file must be absent, after it present.
 */
export async function pointKills(opts: { master: Host; rounds: number; seed: number; dir: string; points?: CrashPoint[] }): Promise<CrashResult> {
  const device = shmDevice('points');
  asHost(opts.master, () => mkfs(device, { force: true }));
  const ackFile = path.join(opts.dir, `acks-pt-${process.pid}-${Date.now()}`);
  const rnd = prng(opts.seed);
  const res: CrashResult = { tried: 0, failed: 0, lost: 0, tornCounters: 0, entries: 0, errors: [] };
  let k = 0;
  try {
    for (let r = 0; r < opts.rounds; r++) {
      for (const point of opts.points ?? CRASH_POINTS) {
        res.tried++;
        progress();
        k++;
        const ops = 1 + Math.floor(rnd() * 4);
        const errors: string[] = [];
        const before = rawLogCheck(device).nextIndex;
        const exit = await waitChild(spawnWorker({ device, prefix: `p${k}`, ops, ackFile, seed: Math.floor(rnd() * 2 ** 31), crashAt: point, dirFraction: 0.3, maxFill: 300 * 1024 }, opts.master));
        if (exit.signal !== 'SIGKILL') errors.push(`writer did not die at ${point} (code ${exit.code}): ${exit.stderr.trim().split('\n')[0]}`);
        if (isTorn(device)) res.tornCounters++;
        const after = rawLogCheck(device).nextIndex;
        // On non-coherent memory the counter stores die with the writer's cache until the header is written back.
        const committed = point === 'after-header-flush' || (point === 'after-counters' && coherenceFromEnv() !== 'simulated');
        if (after - before !== (committed ? ops : ops - 1)) errors.push(`${point}: ${after - before} entries for ${ops} ops (last ${committed ? 'committed' : 'not committed'})`);
        const chk = checkAfterCrash(device, opts.master, ackFile);
        errors.push(...chk.errors);
        res.lost += chk.lost;
        // the next writer continues without repair
        const next = await waitChild(spawnWorker({ device, prefix: `n${k}`, ops: 2, ackFile, seed: k, fillFraction: 1 }, opts.master));
        if (next.code !== 0) errors.push(`next writer after ${point} failed: ${next.stderr.trim().split('\n').slice(0, 2).join(' ')}`);
        else {
          const again = checkAfterCrash(device, opts.master, ackFile);
          errors.push(...again.errors.map((e) => `after next writer: ${e}`));
          res.lost += again.lost;
        }
        if (errors.length) {
          res.failed++;
          res.errors.push(`round ${r} ${point}: ${errors.join('; ')}`);
        }
      }
    }
    res.entries = rawLogCheck(device).nextIndex;
  } finally {
    fs.rmSync(ackFile, { force: true });
    fs.rmSync(device, { force: true });
  }
  return res;
}
