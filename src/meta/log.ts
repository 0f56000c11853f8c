/**
 * The metadata log in shared memory: reading committed entries, and appending
 * as the master. Commit order: the entry (with its CRC) is written and flushed
 * before next_seqnum and then next_index advance; readers trust only slots
 * below next_index, and re-check each one's seqnum and CRC anyway.
 */
import { entryOffset, LOG_ENTRY_SIZE, LOG_HEADER_SIZE, LOG_OFFSET, logSlots } from '../format/constants.js';
import { checkLogHeader, decodeLogHeader, NEXT_INDEX_OFFSET, NEXT_SEQNUM_OFFSET, type LogHeader, type LogHeaderCheck } from '../format/logheader.js';
import { contSlots, encodeRecord, entryCrcOk, entrySeqnum, type NewLogEntry } from '../format/logentry.js';
import type { Device } from '../device/device.js';

/** Most records appendMany commits together (famfs cp commits new files this many at a time). */
export const MAX_GROUP = 16;

/** Records a writer committed: each one's first slot, and the next_index after all of them. */
export interface Committed {
  starts: number[];
  end: number;
}

export class LogFullError extends Error {
  readonly code = 'ENOSPC';
}

export class LogView {
  private readonly header: Buffer;
  /** 32-bit views of the mutable counters, for single-instruction (untorn) loads and stores. */
  private readonly counters: Int32Array;

  constructor(readonly device: Device, readonly logLen: number) {
    this.header = device.view(LOG_OFFSET, LOG_HEADER_SIZE);
    this.counters = new Int32Array(this.header.buffer, this.header.byteOffset + NEXT_SEQNUM_OFFSET, 4);
  }

  /** Drop our cached copy of the header, so the next loads see what the master last wrote back. */
  private freshHeader(): void {
    this.device.invalidate(LOG_OFFSET, LOG_HEADER_SIZE); // fcc-site: log-header-invalidate
  }

  check(): LogHeaderCheck {
    this.freshHeader();
    return checkLogHeader(this.header, this.logLen);
  }

  readHeader(): LogHeader {
    this.freshHeader();
    return decodeLogHeader(this.header);
  }

  /** next_index as committed by the master (the only field a follower polls). */
  nextIndex(): number {
    this.freshHeader();
    const hi = Atomics.load(this.counters, 3);
    const lo = Atomics.load(this.counters, 2) >>> 0;
    return hi === 0 ? lo : Number.MAX_SAFE_INTEGER;
  }

  nextSeqnum(): number {
    this.freshHeader();
    const hi = Atomics.load(this.counters, 1);
    const lo = Atomics.load(this.counters, 0) >>> 0;
    return hi === 0 ? lo : Number.MAX_SAFE_INTEGER;
  }

  /** The raw bytes of slot `index` (a view into shared memory; a copy if it straddles two mapping windows). */
  slot(index: number): Buffer {
    const pieces = this.device.slices(entryOffset(index), LOG_ENTRY_SIZE);
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
  }

  /**
   * next_seqnum = next_index, or ahead by exactly the records a killed writer wrote at
   * next_index (one commit: a group of up to MAX_GROUP, or a commitAll as large as the log's
   * free space), each with a good CRC and its own index as seqnum.
   */
  private leftByKilledWriter(nextIndex: number, nextSeqnum: number): boolean {
    const d = nextSeqnum - nextIndex;
    if (d === 0 || d === 1) return true;
    const end = nextIndex + d;
    if (d < 0 || end > logSlots(this.logLen)) return false;
    let at = nextIndex;
    while (at < end) {
      const head = this.slot(at);
      if (!entryCrcOk(head) || entrySeqnum(head) !== at) return false;
      at += contSlots(head) + 1;
    }
    return at === end;
  }

  /** Before replay reads slots [from, to) for the first time: drop any stale cached copy of them. */
  invalidateSlots(from: number, to: number): void {
    if (to > from) this.device.invalidate(entryOffset(from), (to - from) * LOG_ENTRY_SIZE); // fcc-site: replay-new-slots-invalidate
  }

  /**
   * A private copy of slot `index`. When `ok` rejects it (bad CRC or seqnum), the
   * slot is invalidated and read once more before the caller counts it bad, as
   * upstream does: our cached copy may predate the master's write-back.
   */
  readSlot(index: number, ok: (copy: Buffer) => boolean): Buffer {
    const copy = Buffer.from(this.slot(index));
    if (ok(copy)) return copy;
    this.device.invalidate(entryOffset(index), LOG_ENTRY_SIZE); // fcc-site: bad-slot-retry-invalidate
    return Buffer.from(this.slot(index));
  }

  /**
   * A private copy of slots [first, first+count): one copy for a batch of
   * slots, so that checks and decode see stable bytes without one small
   * allocation per slot. `into`, when big enough, is reused (its old contents are gone).
   */
  copySlots(first: number, count: number, into?: Buffer): Buffer {
    const out = into && into.length >= count * LOG_ENTRY_SIZE ? into.subarray(0, count * LOG_ENTRY_SIZE) : Buffer.allocUnsafe(count * LOG_ENTRY_SIZE);
    let at = 0;
    for (const part of this.device.slices(entryOffset(first), count * LOG_ENTRY_SIZE)) at += part.copy(out, at);
    return out;
  }

  /** Replay has its copy of slots [first, first+count): their pages may leave our resident set. */
  releaseSlots(first: number, count: number): void {
    this.device.dropPages(entryOffset(first), count * LOG_ENTRY_SIZE);
  }

  /**
   * Append one entry (one record: an upstream slot, or an extension head and its
   * CONT slots). The caller holds the writer lock and is the master. Returns the
   * index of its first slot.
   */
  append(entry: NewLogEntry): number {
    return this.appendMany([entry])[0]!;
  }

  /**
   * Append several records committed together: every slot of every record is written and
   * flushed before next_seqnum, then next_index, move past all of them, so every reader sees
   * all of them or none (a DELETE and the FILE that takes the name; docs/format.md).
   * Returns each record's first slot.
   */
  appendMany(entries: readonly NewLogEntry[]): number[] {
    return this.commit(entries).starts;
  }

  /** appendMany, also telling where the committed records end (next_index after them). */
  commit(entries: readonly NewLogEntry[]): Committed {
    if (entries.length < 1 || entries.length > MAX_GROUP) throw new RangeError(`appendMany: 1 to ${MAX_GROUP} records, not ${entries.length}`);
    return this.publish(entries);
  }

  /**
   * Any number of records as one commit, as large as the log's free space (LogFullError, with
   * nothing written, when they do not fit): every reader and a crash see all of them or none.
   * For an operation that must not be seen half done (famfs rm -r of a tree).
   */
  commitAll(entries: readonly NewLogEntry[]): Committed {
    if (entries.length < 1) throw new RangeError('commitAll: no records');
    return this.publish(entries);
  }

  /** Write and flush the records' slots, then move next_seqnum and next_index past all of them. */
  private publish(entries: readonly NewLogEntry[]): Committed {
    this.device.checkLive(0, LOG_OFFSET + this.logLen); // a truncated device: EIO, not SIGBUS
    const h = this.readHeader();
    // next_seqnum ahead of next_index (by at most one record) is what a writer killed between
    // the two counter stores below leaves: its record was never committed, so this append reuses the slots.
    if (!this.leftByKilledWriter(h.nextIndex, h.nextSeqnum)) throw new Error(`log header is inconsistent (next_seqnum ${h.nextSeqnum} ≠ next_index ${h.nextIndex}); run famfs fsck`);
    const index = h.nextIndex;
    const slots: Buffer[] = [];
    const starts: number[] = [];
    for (const e of entries) {
      starts.push(index + slots.length);
      slots.push(...encodeRecord(e, index + slots.length));
    }
    if (index + slots.length - 1 > h.lastIndex) {
      throw new LogFullError(`log full: ${slots.length > 1 ? `${slots.length} slots do not fit; ` : ''}all ${h.lastIndex + 1} entries are used`);
    }
    const off = entryOffset(index);
    const len = slots.length * LOG_ENTRY_SIZE;
    const bytes = slots.length === 1 ? slots[0]! : Buffer.concat(slots);
    let done = 0;
    for (const piece of this.device.slices(off, len)) done += bytes.copy(piece, 0, done);
    this.device.flush(off, len); // fcc-site: log-entry-flush
    // Atomics.store is a sequentially consistent store: the entry bytes above are visible first.
    Atomics.store(this.counters, 0, index + slots.length);
    Atomics.store(this.counters, 2, index + slots.length);
    this.device.flush(LOG_OFFSET, LOG_HEADER_SIZE); // fcc-site: log-header-flush
    return { starts, end: index + slots.length };
  }

  /**
   * Empty the log (famfs compact, offline only): next_index, then next_seqnum, go to 0 first
   * (every reader then sees an empty log), then the used slots are zeroed.
   */
  reset(): void {
    const used = this.readHeader().nextIndex;
    Atomics.store(this.counters, 2, 0);
    Atomics.store(this.counters, 0, 0);
    this.device.flush(LOG_OFFSET, LOG_HEADER_SIZE);
    const len = used * LOG_ENTRY_SIZE;
    if (len) {
      for (const piece of this.device.slices(entryOffset(0), len)) piece.fill(0);
      this.device.flush(entryOffset(0), len);
    }
  }

  /** Slots still free in the log. */
  freeSlots(): number {
    const h = this.readHeader();
    return h.lastIndex + 1 - h.nextIndex;
  }
}
