/**
 * Names of the master's new nodes, counted by hash in shared memory, so that a worker can
 * answer a LOOKUP of a name no new node has (the `cp -r` case: every create is preceded by
 * one) without a call to the main thread. The main thread counts a node in from its create
 * until it leaves the table (logged — after the log append — or dropped), under its name;
 * a rename moves the count. A bucket at zero proves that no new node has the name; a
 * non-zero one (the name, or another with the same hash) sends the lookup to the main thread
 * as before. The counts live at the end of the new-file slots' buffer (newslots.ts), with a
 * word the workers bump for every request about new nodes they serve without a call.
 */

/** Buckets (a power of two): 64 Ki × 4 bytes, then one word counting requests served without a call. */
export const NAME_BUCKETS = 1 << 16;
const ACTIVITY = NAME_BUCKETS;
export const NAME_BYTES = (NAME_BUCKETS + 1) * 4;

/** FNV-1a over the name's UTF-16 code units (the same on every thread; no Buffer). */
function bucket(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & (NAME_BUCKETS - 1);
}

export class NewNameCounts {
  private readonly counts: Int32Array;

  /** `shared`: the new-file slots' buffer; the counts are its last NAME_BYTES. */
  constructor(shared: SharedArrayBuffer) {
    this.counts = new Int32Array(shared, shared.byteLength - NAME_BYTES, NAME_BUCKETS + 1);
  }

  /** Workers: false proves no new node has this name now. */
  mayExist(name: string): boolean {
    return Atomics.load(this.counts, bucket(name)) !== 0;
  }

  /**
   * Workers: a request about new nodes was served without a call (a lookup, a GETATTR, a
   * write). The main thread's idle window (master.ts) must count it as activity.
   */
  served(): void {
    Atomics.add(this.counts, ACTIVITY, 1);
  }

  /** Main thread: changes whenever a worker served something without a call. */
  get activity(): number {
    return Atomics.load(this.counts, ACTIVITY);
  }

  /**
   * Workers: claim a name no new node has (its bucket 0 → 1) for a create in the worker
   * (newpool.ts); false if the bucket is in use. Let go with remove() (the main thread, once the
   * node is in its table; or the worker, if it gave the create up).
   */
  claim(name: string): boolean {
    return Atomics.compareExchange(this.counts, bucket(name), 0, 1) === 0;
  }

  /** Main thread: a new node took this name. */
  add(name: string): void {
    Atomics.add(this.counts, bucket(name), 1);
  }

  /** A new node gave this name up (renamed, logged, dropped), or a claim is let go. */
  remove(name: string): void {
    Atomics.sub(this.counts, bucket(name), 1);
  }
}
