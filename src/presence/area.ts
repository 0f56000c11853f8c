/**
 * The presence area of one device: consistent reads of every slot, and the owner's seqlock
 * writes to its own slot. Cache maintenance goes through the Device (non-coherent memory).
 */
import { PRESENCE_OFFSET, PRESENCE_SIZE, PRESENCE_SLOT_SIZE, PRESENCE_SLOTS } from '../format/constants.js';
import { decodeSlot, emptySlot, P, readSlotConsistent, SlotState, slotOffset, type PresenceSlot } from '../format/presence.js';
import type { Device } from '../device/device.js';

export class PresenceArea {
  readonly slots = PRESENCE_SLOTS;

  constructor(readonly device: Device) {
    device.view(PRESENCE_OFFSET, PRESENCE_SIZE); // throws now if the head mapping does not cover it
  }

  /** The live bytes of slot i (a view of shared memory). */
  live(i: number): Buffer {
    return this.device.view(PRESENCE_OFFSET + slotOffset(i), PRESENCE_SLOT_SIZE);
  }

  private invalidate(i: number): void {
    this.device.invalidate(PRESENCE_OFFSET + slotOffset(i), PRESENCE_SLOT_SIZE);
  }

  flush(i: number, from = 0, length = PRESENCE_SLOT_SIZE): void {
    this.device.flush(PRESENCE_OFFSET + slotOffset(i) + from, length);
  }

  /**
   * Slot i as its owner last published it. undefined: the slot is unreadable right now (an
   * update that never ends, or bytes this version cannot decode): callers treat it as a live
   * host that holds everything.
   */
  read(i: number): PresenceSlot | undefined {
    const copy = readSlotConsistent(this.live(i), () => this.invalidate(i));
    if (!copy) return undefined;
    const d = decodeSlot(copy, i);
    return d.ok ? d.slot : undefined;
  }

  /**
   * Every slot; `null` for an unreadable one. A slot that shows no owner (zero magic, state
   * free) is not copied: a host still joining there has replayed nothing and opened nothing.
   */
  readAll(): (PresenceSlot | null)[] {
    const out: (PresenceSlot | null)[] = [];
    for (let i = 0; i < PRESENCE_SLOTS; i++) {
      const live = this.live(i);
      this.device.invalidate(PRESENCE_OFFSET + slotOffset(i), 16);
      if (live.readUInt32LE(P.MAGIC) === 0 || (live.readUInt32LE(P.STATE) === SlotState.FREE && !(live.readUInt32LE(P.SEQ) & 1))) out.push(emptySlot(i));
      else out.push(this.read(i) ?? null);
    }
    return out;
  }

  /** Owner only: run `write` on the slot's live bytes inside the seqlock (SEQ odd meanwhile). */
  update(i: number, write: (slot: Buffer) => void): void {
    const live = this.live(i);
    const seq = live.readUInt32LE(P.SEQ);
    const odd = (seq | 1) >>> 0;
    live.writeUInt32LE(odd, P.SEQ);
    this.flush(i, P.SEQ, 4);
    write(live);
    this.flush(i);
    live.writeUInt32LE((odd + 1) >>> 0, P.SEQ);
    this.flush(i, P.SEQ, 4);
  }

  /**
   * Owner at a clean unmount, or an administrator evicting a gone host: the whole slot reads
   * as zeros again (what mkfs leaves; `famfs compact` takes only all-zero slots as free).
   * SEQ goes odd first so that a reader copying meanwhile retries.
   */
  clear(i: number): void {
    const live = this.live(i);
    live.writeUInt32LE((live.readUInt32LE(P.SEQ) | 1) >>> 0, P.SEQ);
    this.flush(i, P.SEQ, 4);
    live.fill(0, P.SEQ + 4);
    live.fill(0, 0, P.SEQ);
    this.flush(i);
    live.writeUInt32LE(0, P.SEQ);
    this.flush(i, P.SEQ, 4);
  }

  /** A single aligned u32 store outside the seqlock (heartbeat, write-intent registers). */
  storeWord(i: number, offset: number, value: number): void {
    const live = this.live(i);
    new Uint32Array(live.buffer, live.byteOffset + offset, 1)[0] = value >>> 0;
    this.flush(i, offset, 4);
  }

  loadWord(i: number, offset: number): number {
    this.device.invalidate(PRESENCE_OFFSET + slotOffset(i) + offset, 4);
    const live = this.live(i);
    return new Uint32Array(live.buffer, live.byteOffset + offset, 1)[0]!;
  }

  /** Zero slot i (mkfs does the whole area; `famfs hosts --evict` marks instead). */
  static empty(i: number): PresenceSlot {
    return emptySlot(i);
  }
}
