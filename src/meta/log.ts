/**
 * The metadata log in shared memory: reading committed entries, and appending
 * as the master. Commit order: the entry (with its CRC) is written and flushed
 * before next_seqnum and then next_index advance; readers trust only slots
 * below next_index, and re-check each one's seqnum and CRC anyway.
 */
import { entryOffset, LOG_ENTRY_SIZE, LOG_HEADER_SIZE, LOG_OFFSET } from '../format/constants.js';
import { checkLogHeader, decodeLogHeader, NEXT_INDEX_OFFSET, NEXT_SEQNUM_OFFSET, type LogHeader, type LogHeaderCheck } from '../format/logheader.js';
import { encodeLogEntry, type NewLogEntry } from '../format/logentry.js';
import type { Device } from '../device/device.js';

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

  check(): LogHeaderCheck {
    return checkLogHeader(this.header, this.logLen);
  }

  readHeader(): LogHeader {
    return decodeLogHeader(this.header);
  }

  /** next_index as committed by the master (the only field a follower polls). */
  nextIndex(): number {
    const hi = Atomics.load(this.counters, 3);
    const lo = Atomics.load(this.counters, 2) >>> 0;
    return hi === 0 ? lo : Number.MAX_SAFE_INTEGER;
  }

  nextSeqnum(): number {
    const hi = Atomics.load(this.counters, 1);
    const lo = Atomics.load(this.counters, 0) >>> 0;
    return hi === 0 ? lo : Number.MAX_SAFE_INTEGER;
  }

  /** The raw bytes of slot `index` (a view into shared memory). */
  slot(index: number): Buffer {
    return this.device.view(entryOffset(index), LOG_ENTRY_SIZE);
  }

  /**
   * A private copy of slots [first, first+count): one copy for a batch of
   * slots, so that checks and decode see stable bytes without one small
   * allocation per slot.
   */
  copySlots(first: number, count: number): Buffer {
    const out = Buffer.allocUnsafe(count * LOG_ENTRY_SIZE);
    let at = 0;
    for (const part of this.device.slices(entryOffset(first), count * LOG_ENTRY_SIZE)) at += part.copy(out, at);
    return out;
  }

  /**
   * Append one entry. The caller holds the writer lock and is the master.
   * Returns the slot index used.
   */
  append(entry: NewLogEntry): number {
    const h = this.readHeader();
    if (h.nextIndex > h.lastIndex) throw new LogFullError(`log full: all ${h.lastIndex + 1} entries are used`);
    // next_seqnum one ahead of next_index is what a writer killed between the two counter
    // stores below leaves: its entry was never committed, so this append simply reuses the slot.
    if (h.nextSeqnum !== h.nextIndex && h.nextSeqnum !== h.nextIndex + 1) throw new Error(`log header is inconsistent (next_seqnum ${h.nextSeqnum} ≠ next_index ${h.nextIndex}); run famfs fsck`);
    const bytes = encodeLogEntry(entry, h.nextIndex);
    const index = h.nextIndex;
    const off = entryOffset(index);
    bytes.copy(this.device.view(off, LOG_ENTRY_SIZE));
    this.device.flush(off, LOG_ENTRY_SIZE);
    // Atomics.store is a sequentially consistent store: the entry bytes above are visible first.
    Atomics.store(this.counters, 0, index + 1);
    Atomics.store(this.counters, 2, index + 1);
    this.device.flush(LOG_OFFSET, LOG_HEADER_SIZE);
    return index;
  }
}
