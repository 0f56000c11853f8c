/**
 * The daemon's open-count table, shared by every worker thread (SharedArrayBuffer + Atomics),
 * indexed by fileId (the log slot that created the file). Open increments the count, then
 * reads the file's `removed` mark; the main thread sets `removed`, then reads the counts
 * (Dekker, sequentially consistent Atomics): either the opener sees the mark and backs out,
 * or the publisher sees the count and holds the file. No open slips past a publish.
 */
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

  /** A handle on file `id` is opening: false (and nothing counted) if the file was removed. */
  open(id: number): boolean {
    if (!this.ok(id)) return true;
    Atomics.add(this.counts, id, 1);
    if (Atomics.load(this.removed, id) === 0) return true;
    Atomics.sub(this.counts, id, 1);
    return false;
  }

  /** A counted handle is released (RELEASE: in kernel mode, after the last close and munmap). */
  close(id: number): void {
    if (this.ok(id) && Atomics.sub(this.counts, id, 1) <= 0) Atomics.store(this.counts, id, 0);
  }

  /** Main thread: the file was deleted by a replayed entry. */
  markRemoved(id: number): void {
    if (this.ok(id)) Atomics.store(this.removed, id, 1);
  }

  isRemoved(id: number): boolean {
    return this.ok(id) && Atomics.load(this.removed, id) !== 0;
  }

  count(id: number): number {
    return this.ok(id) ? Atomics.load(this.counts, id) : 0;
  }

}
