/**
 * One statfs figure for all the daemon's threads. Each FUSE worker replays the log and asks
 * the release oracle on its own, so a figure kept per thread let `df` go up and back down
 * (a thread that computed before a deleted file was released answering after one that
 * computed after). Workers now share the newest figure: a thread answers from it while it is
 * recent and not older than its own view of the log, else computes and publishes its own,
 * unless a newer one landed meanwhile. A seqlock over Atomics (a writer that finds another
 * writing just skips publishing), so no thread ever waits for another.
 */

const LOCK = 0, VERSION = 1;
const ENTRIES = 0, AT = 1, CAPACITY = 2, FREE = 3, FIELDS = 4;

export interface SpaceFigure {
  /** Log entries replayed by the thread that computed it. */
  entries: number;
  /** When the computation started (ms, Date.now()). */
  at: number;
  capacity: number;
  free: number;
}

export function createSharedStatfs(): SharedArrayBuffer {
  return new SharedArrayBuffer(8 + FIELDS * 8);
}

export class SharedStatfs {
  private readonly ctl: Int32Array;
  private readonly f: BigInt64Array;

  constructor(sab: SharedArrayBuffer) {
    this.ctl = new Int32Array(sab, 0, 2);
    this.f = new BigInt64Array(sab, 8, FIELDS);
  }

  /** The shared figure, if one is consistent (not torn by a writer) and was ever published. */
  private load(): SpaceFigure | undefined {
    const v1 = Atomics.load(this.ctl, VERSION);
    if (v1 === 0 || v1 % 2 === 1) return undefined;
    const fig = {
      entries: Number(Atomics.load(this.f, ENTRIES)), at: Number(Atomics.load(this.f, AT)),
      capacity: Number(Atomics.load(this.f, CAPACITY)), free: Number(Atomics.load(this.f, FREE)),
    };
    return Atomics.load(this.ctl, VERSION) === v1 ? fig : undefined;
  }

  /** A figure at most `maxAgeMs` old that saw at least `entries` log entries. */
  recent(entries: number, now: number, maxAgeMs: number): SpaceFigure | undefined {
    const fig = this.load();
    return fig && fig.entries >= entries && now - fig.at < maxAgeMs ? fig : undefined;
  }

  /** Publish `fig` unless a newer one (more entries, or as many and started later) is there. */
  publish(fig: SpaceFigure): void {
    if (Atomics.compareExchange(this.ctl, LOCK, 0, 1) !== 0) return;
    try {
      const cur = this.load();
      if (cur && (cur.entries > fig.entries || (cur.entries === fig.entries && cur.at > fig.at))) return;
      Atomics.add(this.ctl, VERSION, 1);
      Atomics.store(this.f, ENTRIES, BigInt(fig.entries));
      Atomics.store(this.f, AT, BigInt(Math.floor(fig.at)));
      Atomics.store(this.f, CAPACITY, BigInt(fig.capacity));
      Atomics.store(this.f, FREE, BigInt(fig.free));
      Atomics.add(this.ctl, VERSION, 1);
    } finally {
      Atomics.store(this.ctl, LOCK, 0);
    }
  }
}
