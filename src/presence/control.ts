/**
 * State the daemon's threads share about this host's presence (a SharedArrayBuffer read and
 * written with Atomics): the last successful beat, this incarnation's token and slot, the
 * stale flag (any thread may set it; only the main thread clears it, after a rejoin and a
 * replay from scratch) and the incarnation counter workers compare against their own.
 */
import { PRESENCE_SLOTS } from '../format/constants.js';
import { monoMs } from './lease.js';
import type { Liveness } from './liveness.js';

const LAST_BEAT = 0, TOKEN = 1, SLOT = 2, STALE = 3, EPOCH = 4, LEASE = 5, NEXT_REGISTER = 6, JOINING = 7, FIELDS = 8;
/** After the fields: one Int32 per presence slot, how the main thread last judged it. */
const LIVENESS: Liveness[] = ['absent', 'live', 'gone'];

export class PresenceControl {
  private readonly a: BigInt64Array;
  private readonly seen: Int32Array;

  constructor(readonly sab: SharedArrayBuffer = new SharedArrayBuffer(FIELDS * 8 + PRESENCE_SLOTS * 4)) {
    this.a = new BigInt64Array(sab, 0, FIELDS);
    this.seen = new Int32Array(sab, FIELDS * 8, PRESENCE_SLOTS);
  }

  /** Main thread: how it judges slot i (from watching heartbeats on its own clock). */
  setLiveness(i: number, l: Liveness): void { Atomics.store(this.seen, i, LIVENESS.indexOf(l)); }
  liveness(i: number): Liveness { return LIVENESS[Atomics.load(this.seen, i)] ?? 'absent'; }

  get leaseMs(): number { return Number(Atomics.load(this.a, LEASE)); }
  set leaseMs(v: number) { Atomics.store(this.a, LEASE, BigInt(v)); }
  get slot(): number { return Number(Atomics.load(this.a, SLOT)); }
  get token(): bigint { return BigInt.asUintN(64, Atomics.load(this.a, TOKEN)); }
  get epoch(): number { return Number(Atomics.load(this.a, EPOCH)); }
  get lastBeat(): number { return Number(Atomics.load(this.a, LAST_BEAT)); }
  get stale(): boolean { return Atomics.load(this.a, STALE) !== 0n; }
  /**
   * Kernel mode joins only after mounting (its presence area is reached through the mount's
   * `.meta/.superblock`): until then metadata is served, but no logged file is opened.
   */
  get joining(): boolean { return Atomics.load(this.a, JOINING) !== 0n; }
  set joining(v: boolean) { Atomics.store(this.a, JOINING, v ? 1n : 0n); }

  /** A new incarnation holds the slot: beats start from now. */
  setIncarnation(slot: number, token: bigint): void {
    Atomics.store(this.a, SLOT, BigInt(slot));
    Atomics.store(this.a, TOKEN, BigInt.asIntN(64, token));
    Atomics.store(this.a, LAST_BEAT, BigInt(monoMs()));
  }

  /** A daemon thread takes its write-intent register (0, 1, …). */
  takeRegister(): number { return Number(Atomics.add(this.a, NEXT_REGISTER, 1n)); }

  beat(at: number): void { Atomics.store(this.a, LAST_BEAT, BigInt(at)); }

  /** Returns true for the thread that set it first. */
  markStale(): boolean { return Atomics.compareExchange(this.a, STALE, 0n, 1n) === 0n; }

  /** After a rejoin and a replay from scratch: serve again, old handles refused. */
  serveAgain(): void {
    Atomics.add(this.a, EPOCH, 1n);
    Atomics.store(this.a, LAST_BEAT, BigInt(monoMs()));
    Atomics.store(this.a, STALE, 0n);
    Atomics.store(this.a, JOINING, 0n);
  }

  /**
   * May this host serve file data now? No when stale, or when its own last beat is older than
   * half a lease (it was paused, or cut off): then it marks itself stale.
   */
  fresh(now = monoMs()): boolean {
    if (this.stale) return false;
    if (now - this.lastBeat > this.leaseMs / 2) {
      this.markStale();
      return false;
    }
    return true;
  }
}
