/**
 * The sizes of the master's new files in shared memory, so that a worker can
 * write into a new file without asking the main thread every time (issue 15).
 *
 * The main thread owns each slot: it hands one to a new file at create, keeps
 * in it the file's size and its *limit* — bytes [size, limit) are allocated and
 * already zeroed — and marks it dead before the file is logged or dropped. A
 * worker writing [off, end) with end ≤ limit needs no call: it raises the size
 * to cover `end` by compare-and-swap, then copies its bytes. Publishing the
 * size before the bytes is safe because the bytes it exposes are zero (never a
 * dropped file's), and a commit keeps every byte below the size it read when it
 * marked the slot dead. Anything else (past the limit, a dead or reused slot, a
 * size change by the main thread in between) goes to the main thread as before.
 *
 * A file's slot follows from its id (any thread can find it: the write may reach
 * another worker than the create); a file whose slot is taken has none. Per slot,
 * eight 64-bit words: state = generation << 48 | size (an odd generation: no
 * fast writes), limit, node id, a "cannot be committed" flag, and the first
 * extent (device index, offset, length), which is all of a small file's map.
 * Each change of the main thread to the size bumps the generation, so a worker's
 * swap based on what it read before fails and it reads again.
 */
import type { Extent } from '../format/types.js';
import { NAME_BYTES } from './newnames.js';
import { NewFilePool, POOL_BYTES } from './newpool.js';

const WORDS = 8;
const STATE = 0;
const LIMIT = 1;
const ID = 2;
const FAILED = 3;
const DEV = 4;
const OFF = 5;
const LEN = 6;
/** A new directory's path length in bytes (workers check a child's path against the limit). */
const PATH_BYTES = 7;
/** LEN of a directory's slot: not an extent length (those are multiples of 4 KiB). */
const DIR_MARK = 1n;
const SIZE_BITS = 48n;
const SIZE_MASK = (1n << SIZE_BITS) - 1n;
/** Slots in the table; more new files than this at once are served through calls, as before. */
export const NEW_FILE_SLOTS = 8192;

/** The slots, then the pool of ready new files (newpool.ts), then the new nodes' name counts (newnames.ts). */
export function createNewFileSlots(slots = NEW_FILE_SLOTS): SharedArrayBuffer {
  return new SharedArrayBuffer(slots * WORDS * 8 + POOL_BYTES + NAME_BYTES);
}

/** The pool of ready new files in a new-file slots' buffer. */
export function newFilePool(shared: SharedArrayBuffer): NewFilePool {
  return new NewFilePool(shared, shared.byteLength - NAME_BYTES - POOL_BYTES);
}

const gen = (w: bigint): bigint => w >> SIZE_BITS;
const size = (w: bigint): number => Number(w & SIZE_MASK);
const word = (g: bigint, s: number): bigint => ((g & 0xffffn) << SIZE_BITS) | BigInt(s);

/** The workers' side: the fast write and the close-time check. */
export class NewFileSlotsView {
  protected readonly w: BigUint64Array;

  constructor(shared: SharedArrayBuffer) {
    this.w = new BigUint64Array(shared, 0, ((shared.byteLength - NAME_BYTES - POOL_BYTES) / 8) | 0);
  }

  get count(): number {
    return this.w.length / WORDS;
  }

  /** The slot of new-node id `id` (if it has one: the main thread took it for this id). */
  slotOf(id: number): number {
    return id % this.count;
  }

  /** The file's first extent, if `slot` belongs to live file `id` (checked after reading it). */
  firstExtent(slot: number, id: number): Extent | undefined {
    const at = slot * WORDS;
    const s = Atomics.load(this.w, at + STATE);
    if ((gen(s) & 1n) !== 0n || Number(Atomics.load(this.w, at + ID)) !== id) return undefined;
    const e = { devindex: Number(Atomics.load(this.w, at + DEV)), offset: Number(Atomics.load(this.w, at + OFF)), length: Number(Atomics.load(this.w, at + LEN)) };
    // Same generation: no retire (nor reuse) came in between, so these words were this file's.
    return gen(Atomics.load(this.w, at + STATE)) === gen(s) && e.length > 0 && BigInt(e.length) !== DIR_MARK ? e : undefined;
  }

  /** True while `slot` belongs to live new file `id`. */
  live(slot: number, id: number): boolean {
    const s = Atomics.load(this.w, slot * WORDS + STATE);
    return (gen(s) & 1n) === 0n && Number(Atomics.load(this.w, slot * WORDS + ID)) === id;
  }

  /**
   * Make the file's size cover a write ending at `end` if that needs no allocation and no zeroing: returns
   * the size then (≥ end), or undefined when the main thread must be asked. The caller then
   * copies its bytes (they land below a published size: a commit keeps them).
   */
  reserve(slot: number, id: number, end: number): number | undefined {
    const at = slot * WORDS;
    for (;;) {
      const s = Atomics.load(this.w, at + STATE);
      if ((gen(s) & 1n) !== 0n || Number(Atomics.load(this.w, at + ID)) !== id) return undefined;
      const cur = size(s);
      if (end <= cur) return cur;
      // [cur, limit) is zero: a write there (even one leaving a hole) exposes only zeros.
      if (end > Number(Atomics.load(this.w, at + LIMIT))) return undefined;
      if (Atomics.compareExchange(this.w, at + STATE, s, word(gen(s), end)) === s) return end;
    }
  }

  /** The file's current size, or undefined if the slot no longer belongs to it. */
  size(slot: number, id: number): number | undefined {
    const s = Atomics.load(this.w, slot * WORDS + STATE);
    if ((gen(s) & 1n) !== 0n || Number(Atomics.load(this.w, slot * WORDS + ID)) !== id) return undefined;
    return size(s);
  }

  /**
   * A new directory's mode, uid and gid (kept in its slot's LIMIT, DEV and OFF words; see
   * NewFileSlots.takeDir), if `slot` belongs to unlogged directory `id`: a GETATTR needs no call.
   */
  dirAttr(slot: number, id: number): { mode: number; uid: number; gid: number } | undefined {
    const at = slot * WORDS;
    const s = Atomics.load(this.w, at + STATE);
    if ((gen(s) & 1n) !== 0n || Number(Atomics.load(this.w, at + ID)) !== id || Atomics.load(this.w, at + LEN) !== DIR_MARK) return undefined;
    const a = { mode: Number(Atomics.load(this.w, at + LIMIT)), uid: Number(Atomics.load(this.w, at + DEV)), gid: Number(Atomics.load(this.w, at + OFF)) };
    // Same generation: no change (setDirAttr) nor retire came in between.
    return Atomics.load(this.w, at + STATE) === s ? a : undefined;
  }

  /**
   * The path length in bytes of unlogged new directory `id` (0: the root's children), while its
   * slot is live; else undefined (logged, dropped, or no slot): a worker's create checks a
   * child's path with it (newpool.ts).
   */
  dirPathBytes(slot: number, id: number): number | undefined {
    const at = slot * WORDS;
    const s = Atomics.load(this.w, at + STATE);
    if ((gen(s) & 1n) !== 0n || Number(Atomics.load(this.w, at + ID)) !== id || Atomics.load(this.w, at + LEN) !== DIR_MARK) return undefined;
    const n = Number(Atomics.load(this.w, at + PATH_BYTES));
    return gen(Atomics.load(this.w, at + STATE)) === gen(s) ? n : undefined;
  }

  /** True if the main thread says the file can no longer be committed (close must report it). */
  failed(slot: number): boolean {
    return Atomics.load(this.w, slot * WORDS + FAILED) !== 0n;
  }
}

/** The main thread's side: hand slots out, change sizes and limits, take slots back. */
export class NewFileSlots extends NewFileSlotsView {
  constructor(shared: SharedArrayBuffer) {
    super(shared);
    for (let i = 0; i < this.count; i++) Atomics.store(this.w, i * WORDS + STATE, word(1n, 0)); // odd: nobody's
  }

  /** The slot of new file `id` (size 0, limit `limit`), or -1 when an older new file has it. */
  take(id: number, limit: number, first: Extent): number {
    return this.claim(id, (slot, at) => {
      this.setFirstExtent(slot, first);
      Atomics.store(this.w, at + LIMIT, BigInt(limit));
    });
  }

  /**
   * The slot of new directory `id`, or -1. Its words hold the directory's attributes, and
   * LEN a mark no extent has (firstExtent finds no room: nothing is written through it).
   */
  takeDir(id: number, mode: number, uid: number, gid: number, pathBytes = 0): number {
    return this.claim(id, (_slot, at) => {
      Atomics.store(this.w, at + LEN, DIR_MARK);
      Atomics.store(this.w, at + PATH_BYTES, BigInt(pathBytes));
      this.dirWords(at, mode, uid, gid);
    });
  }

  /** A new directory's path changed (renamed while empty): readers see the generation move. */
  setDirPath(slot: number, pathBytes: number): void {
    const at = slot * WORDS;
    const s = Atomics.load(this.w, at + STATE);
    Atomics.store(this.w, at + STATE, word(gen(s) | 1n, 0));
    Atomics.store(this.w, at + PATH_BYTES, BigInt(pathBytes));
    Atomics.store(this.w, at + STATE, word(gen(s) + 2n, 0));
  }

  /**
   * Take `id`'s slot when nobody holds it (odd generation): set its id, clear FAILED, let `fill`
   * write the rest, then publish it with the next (even) generation. -1 when an older node has it.
   */
  private claim(id: number, fill: (slot: number, at: number) => void): number {
    const slot = this.slotOf(id);
    const at = slot * WORDS;
    const s = Atomics.load(this.w, at + STATE);
    if ((gen(s) & 1n) === 0n) return -1;
    Atomics.store(this.w, at + ID, BigInt(id));
    Atomics.store(this.w, at + FAILED, 0n);
    fill(slot, at);
    Atomics.store(this.w, at + STATE, word(gen(s) + 1n, 0));
    return slot;
  }

  /** chmod/chown of a new directory: readers that read the old words see the generation move. */
  setDirAttr(slot: number, mode: number, uid: number, gid: number): void {
    const at = slot * WORDS;
    const s = Atomics.load(this.w, at + STATE);
    Atomics.store(this.w, at + STATE, word(gen(s) | 1n, 0)); // odd: readers ask the main thread meanwhile
    this.dirWords(at, mode, uid, gid);
    Atomics.store(this.w, at + STATE, word(gen(s) + 2n, 0));
  }

  private dirWords(at: number, mode: number, uid: number, gid: number): void {
    Atomics.store(this.w, at + LIMIT, BigInt(mode));
    Atomics.store(this.w, at + DEV, BigInt(uid));
    Atomics.store(this.w, at + OFF, BigInt(gid));
  }

  /** The first extent grew in place (before the limit is raised over it). */
  setFirstExtent(slot: number, e: Extent): void {
    const at = slot * WORDS;
    Atomics.store(this.w, at + DEV, BigInt(e.devindex));
    Atomics.store(this.w, at + OFF, BigInt(e.offset));
    Atomics.store(this.w, at + LEN, BigInt(e.length));
  }

  /** The size now (workers may have raised it since the main thread last set it). */
  current(slot: number): number {
    return size(Atomics.load(this.w, slot * WORDS + STATE));
  }

  /** Bytes [current size, limit) were zeroed: workers may write up to `limit` unasked. */
  raiseLimit(slot: number, limit: number): void {
    const at = slot * WORDS + LIMIT;
    if (BigInt(limit) > Atomics.load(this.w, at)) Atomics.store(this.w, at, BigInt(limit));
  }

  limit(slot: number): number {
    return Number(Atomics.load(this.w, slot * WORDS + LIMIT));
  }

  /**
   * Set the size (a truncate, or a growth the main thread zeroed). A shrink lowers the limit
   * first: the bytes after the new size are no longer known to be zero.
   */
  setSize(slot: number, to: number, grow: boolean): number {
    const at = slot * WORDS;
    if (!grow) Atomics.store(this.w, at + LIMIT, BigInt(to));
    for (;;) {
      const s = Atomics.load(this.w, at + STATE);
      const next = grow ? Math.max(size(s), to) : to;
      if (Atomics.compareExchange(this.w, at + STATE, s, word(gen(s) + 2n, next)) === s) return next;
    }
  }

  markFailed(slot: number): void {
    Atomics.store(this.w, slot * WORDS + FAILED, 1n);
  }

  /** No more fast writes (before a commit or a drop): returns the final size. The slot is free again. */
  retire(slot: number): number {
    const at = slot * WORDS;
    for (;;) {
      const s = Atomics.load(this.w, at + STATE);
      if (Atomics.compareExchange(this.w, at + STATE, s, word(gen(s) | 1n, size(s))) === s) return size(s);
    }
  }
}
