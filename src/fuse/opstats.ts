/**
 * Request counts and latencies per opcode, shared by a server's worker threads
 * through one SharedArrayBuffer. Each worker writes only its own rows, so no
 * atomics are needed; a reader sums the rows (a value caught mid-update is off
 * by one request, which is fine for statistics).
 */
import { opcodeName } from './protocol.js';

/** Opcodes 0..63 get a row each (the kernel's go to 55 today); larger ones share row 0. */
export const OPSTAT_SLOTS = 64;
const FIELDS = 3; // count, total ms, max ms

export function createOpStats(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(Math.max(1, workers) * OPSTAT_SLOTS * FIELDS * 8);
}

/** One worker's writer. */
export class OpStatsRecorder {
  private readonly rows: Float64Array;

  constructor(sab: SharedArrayBuffer, worker: number) {
    const per = OPSTAT_SLOTS * FIELDS;
    if ((worker + 1) * per * 8 > sab.byteLength) throw new RangeError(`opstats: no rows for worker ${worker}`);
    this.rows = new Float64Array(sab, worker * per * 8, per);
  }

  record(opcode: number, ms: number): void {
    const at = (opcode < OPSTAT_SLOTS ? opcode : 0) * FIELDS;
    this.rows[at]! += 1;
    this.rows[at + 1]! += ms;
    if (ms > this.rows[at + 2]!) this.rows[at + 2] = ms;
  }
}

export interface OpStat {
  opcode: number;
  name: string;
  count: number;
  /** Mean and worst time from request read to reply written (µs). */
  avgUs: number;
  maxUs: number;
}

/** Every opcode seen, summed over the workers, busiest first. */
export function summarizeOpStats(sab: SharedArrayBuffer, names: (op: number) => string = opcodeName): OpStat[] {
  const all = new Float64Array(sab);
  const out: OpStat[] = [];
  for (let op = 0; op < OPSTAT_SLOTS; op++) {
    let count = 0, total = 0, max = 0;
    for (let at = op * FIELDS; at < all.length; at += OPSTAT_SLOTS * FIELDS) {
      count += all[at]!;
      total += all[at + 1]!;
      max = Math.max(max, all[at + 2]!);
    }
    if (count > 0) out.push({ opcode: op, name: op === 0 ? 'OTHER' : names(op), count, avgUs: Math.round((total / count) * 1000 * 10) / 10, maxUs: Math.round(max * 1000 * 10) / 10 });
  }
  return out.sort((a, b) => b.count - a.count || a.opcode - b.opcode);
}
