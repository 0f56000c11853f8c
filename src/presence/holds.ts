/**
 * The daemon's open-count table, shared by every worker thread (SharedArrayBuffer + Atomics),
 * indexed by fileId (the log slot that created the file). Open increments the count, then
 * reads the file's `removed` mark; the main thread sets `removed`, then reads the counts
 * (Dekker, sequentially consistent Atomics): either the opener sees the mark and backs out,
 * or the publisher sees the count and holds the file. No open slips past a publish.
 */

/** A removed file's count once released for good: far below 0, so later opens stay below 0. */
const DEAD = -(2 ** 30);

export class OpenTable {
  private readonly counts: Int32Array;
  private readonly removed: Int32Array;
  readonly size: number;

  constructor(readonly sab: SharedArrayBuffer) {
    this.size = sab.byteLength / 8;
    this.counts = new Int32Array(sab, 0, this.size);
    this.removed = new Int32Array(sab, this.size * 4, this.size);
  }

  static create(slots: number): OpenTable {
    return new OpenTable(new SharedArrayBuffer(slots * 8));
  }

  private ok(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.size;
  }

  /**
   * A handle on file `id` is opening: false (and nothing counted) if the file was removed,
   * unless this host still holds it (another handle or mapping is counted, e.g. a reopen
   * through /proc/self/fd). The publisher releases a removed file only by turning its count
   * from 0 into DEAD (stillHeld), which cannot happen while a count is in, and a DEAD count
   * never comes back; an opener that sees 0 on a removed file backs out.
   */
  open(id: number): boolean {
    if (!this.ok(id)) return true;
    const before = Atomics.add(this.counts, id, 1);
    if (before >= 0 && (Atomics.load(this.removed, id) === 0 || before > 0)) return true;
    Atomics.sub(this.counts, id, 1);
    return false;
  }

  /** A counted handle is released (RELEASE: in kernel mode, after the last close and munmap). */
  close(id: number): void {
    if (this.ok(id) && Atomics.sub(this.counts, id, 1) <= 0) Atomics.add(this.counts, id, 1); // never below 0 (or DEAD)
  }

  /** Main thread: the file was deleted by a replayed entry. */
  markRemoved(id: number): void {
    if (this.ok(id)) Atomics.store(this.removed, id, 1);
  }

  isRemoved(id: number): boolean {
    return this.ok(id) && Atomics.load(this.removed, id) !== 0;
  }

  /**
   * Publisher (main thread), after markRemoved: does this host still hold removed file `id`?
   * A count of 0 becomes DEAD at once (released for good: no later open can count it).
   */
  stillHeld(id: number): boolean {
    if (!this.ok(id)) return false;
    const c = Atomics.load(this.counts, id);
    if (c !== 0) return c > 0;
    return Atomics.compareExchange(this.counts, id, 0, DEAD) !== 0;
  }

  /** Handles counted on all files (a scan: for rare checks such as unmount). */
  total(): number {
    let n = 0;
    for (let i = 0; i < this.size; i++) {
      const c = Atomics.load(this.counts, i);
      if (c > 0) n += c;
    }
    return n;
  }

  /** Open handles counted on file `id` (0 once released for good). */
  count(id: number): number {
    return this.ok(id) ? Math.max(0, Atomics.load(this.counts, id)) : 0;
  }
}
