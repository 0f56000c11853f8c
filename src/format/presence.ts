/**
 * The presence area (issue 14, feature `presence`): one PRESENCE_SLOT_SIZE slot per mounted
 * host in the superblock region's unused second half. Pure codec, no I/O.
 *
 * No atomics across hosts are assumed: every field has exactly one writer. The owner's main
 * thread writes the "record" fields under a seqlock (SEQ odd while it writes; readers copy the
 * slot and retry when SEQ was odd or moved). The heartbeat is written by the owner's beat
 * thread and each write-intent register by its own daemon thread: single aligned u32 stores
 * outside the seqlock. A reclaimer (`famfs hosts --evict`) may set STATE to LEFT on a slot it
 * has watched go silent for a whole lease; the owner, if it ever runs again, sees that at its
 * next beat and rejoins.
 */
import { PRESENCE_SLOT_SIZE, PRESENCE_SLOTS } from './constants.js';
import { decodeUtf8, readCString } from './bytes.js';
import { isUuid, uuidFromBytes, uuidToBytes } from './uuid.js';

/** "PRES" as a little-endian u32, then a layout version. */
export const PRESENCE_MAGIC = 0x5345_5250;
export const PRESENCE_LAYOUT = 1;

export const SlotState = { FREE: 0, LIVE: 1, LEFT: 2 } as const;
export type SlotStateName = 'free' | 'live' | 'left';
export const SlotFlag = {
  /** The host serves data through a famfs kernel: its mappings cannot be revoked. */
  KERNEL: 1,
  /** The held list overflowed: everything deleted at or after overflowFloor is held too. */
  OVERFLOW: 2,
} as const;
export const SlotRole = { NONE: 0, MASTER: 1, CLIENT: 2 } as const;

/** Field offsets inside a slot (little-endian). */
export const P = {
  MAGIC: 0,
  LAYOUT: 4,
  SEQ: 8,
  STATE: 12,
  TOKEN: 16,
  FLAGS: 24,
  ROLE: 28,
  /** u32, bumped by the owner's beat thread (outside the seqlock). */
  HEARTBEAT: 32,
  /** Every log entry below this index is applied and its holds published. */
  REPLAYED: 36,
  PID: 40,
  OVERFLOW_FLOOR: 44,
  SYSTEM_UUID: 48,
  LABEL: 64,
  HELD_COUNT: 96,
  INTENT_COUNT: 100,
  /** Write-intent registers: u32 fileId + 1 (0 = none); each written by one daemon thread. */
  INTENTS: 128,
  HELD: 256,
} as const;

export const LABEL_LEN = 32;
export const MAX_INTENTS = (P.HELD - P.INTENTS) / 4;
export const MAX_HELD = (PRESENCE_SLOT_SIZE - P.HELD) / 4;

export interface PresenceRecord {
  state: SlotStateName;
  /** Random per incarnation (decimal string of a u64); '0' when the slot was never used. */
  token: bigint;
  kernelMode: boolean;
  role: 'master' | 'client' | 'none';
  replayed: number;
  pid: number;
  systemUuid: string;
  label: string;
  /** Deleted files this host still holds (fileId = creation slot). */
  held: number[];
  /** Defined when the held list overflowed: every file deleted at or after this slot is held. */
  overflowFloor?: number;
}

export interface PresenceSlot extends PresenceRecord {
  index: number;
  heartbeat: number;
  /** fileIds the host's threads are copying into right now. */
  intents: number[];
}

const STATE_NAMES: SlotStateName[] = ['free', 'live', 'left'];
const ROLE_NAMES: PresenceRecord['role'][] = ['none', 'master', 'client'];

/** Byte offset of slot `i` inside the presence area. */
export function slotOffset(i: number): number {
  if (!Number.isInteger(i) || i < 0 || i >= PRESENCE_SLOTS) throw new RangeError(`no presence slot ${i} (0..${PRESENCE_SLOTS - 1})`);
  return i * PRESENCE_SLOT_SIZE;
}

/**
 * Write the seqlock-protected record into `slot` (a PRESENCE_SLOT_SIZE view). The caller
 * brackets it with beginUpdate/endUpdate. Held lists longer than MAX_HELD keep the first
 * MAX_HELD - 1 ids and set the overflow floor to the smallest delete index among the rest,
 * which the caller passes as `overflowFloor` (only it knows delete indexes).
 */
export function writeRecord(slot: Buffer, r: PresenceRecord): void {
  if (r.held.length > MAX_HELD) throw new RangeError(`held list of ${r.held.length} ids (at most ${MAX_HELD}; use the overflow floor)`);
  slot.writeUInt32LE(PRESENCE_MAGIC, P.MAGIC);
  slot.writeUInt32LE(PRESENCE_LAYOUT, P.LAYOUT);
  slot.writeUInt32LE(STATE_NAMES.indexOf(r.state), P.STATE);
  slot.writeBigUInt64LE(r.token, P.TOKEN);
  slot.writeUInt32LE((r.kernelMode ? SlotFlag.KERNEL : 0) | (r.overflowFloor !== undefined ? SlotFlag.OVERFLOW : 0), P.FLAGS);
  slot.writeUInt32LE(ROLE_NAMES.indexOf(r.role), P.ROLE);
  slot.writeUInt32LE(r.replayed, P.REPLAYED);
  slot.writeUInt32LE(r.pid, P.PID);
  slot.writeUInt32LE(r.overflowFloor ?? 0, P.OVERFLOW_FLOOR);
  slot.fill(0, P.SYSTEM_UUID, P.SYSTEM_UUID + 16);
  if (isUuid(r.systemUuid)) uuidToBytes(r.systemUuid).copy(slot, P.SYSTEM_UUID);
  slot.fill(0, P.LABEL, P.LABEL + LABEL_LEN);
  slot.write(truncateUtf8(r.label, LABEL_LEN - 1), P.LABEL, 'utf8');
  writeHeld(slot, r.held);
}

/** Only the held list and its count (the common update: a file was released or newly held). */
export function writeHeld(slot: Buffer, held: readonly number[]): void {
  if (held.length > MAX_HELD) throw new RangeError(`held list of ${held.length} ids (at most ${MAX_HELD})`);
  for (let i = 0; i < held.length; i++) slot.writeUInt32LE(held[i]!, P.HELD + 4 * i);
  slot.writeUInt32LE(held.length, P.HELD_COUNT);
}

/** Longest prefix of `s` whose UTF-8 form fits `max` bytes, never splitting a character. */
function truncateUtf8(s: string, max: number): string {
  let out = '';
  for (const ch of s) {
    if (Buffer.byteLength(out + ch) > max) break;
    out += ch;
  }
  return out;
}

export type SlotDecode = { ok: true; slot: PresenceSlot } | { ok: false; reason: string };

/** Decode a consistent copy of a slot (see readSlotConsistent). A zeroed slot decodes as free. */
export function decodeSlot(buf: Buffer, index: number): SlotDecode {
  if (buf.length < PRESENCE_SLOT_SIZE) return { ok: false, reason: 'short slot' };
  const magic = buf.readUInt32LE(P.MAGIC);
  if (magic === 0) return { ok: true, slot: emptySlot(index) };
  if (magic !== PRESENCE_MAGIC) return { ok: false, reason: `bad magic 0x${magic.toString(16)}` };
  const layout = buf.readUInt32LE(P.LAYOUT);
  if (layout !== PRESENCE_LAYOUT) return { ok: false, reason: `unknown layout ${layout}` };
  const state = STATE_NAMES[buf.readUInt32LE(P.STATE)];
  if (!state) return { ok: false, reason: `bad state ${buf.readUInt32LE(P.STATE)}` };
  const role = ROLE_NAMES[buf.readUInt32LE(P.ROLE)] ?? 'none';
  const flags = buf.readUInt32LE(P.FLAGS);
  const heldCount = buf.readUInt32LE(P.HELD_COUNT);
  if (heldCount > MAX_HELD) return { ok: false, reason: `held count ${heldCount} > ${MAX_HELD}` };
  const held = new Array<number>(heldCount);
  for (let i = 0; i < heldCount; i++) held[i] = buf.readUInt32LE(P.HELD + 4 * i);
  const uuidBytes = buf.subarray(P.SYSTEM_UUID, P.SYSTEM_UUID + 16);
  return {
    ok: true,
    slot: {
      index, state, role, held,
      token: buf.readBigUInt64LE(P.TOKEN),
      kernelMode: (flags & SlotFlag.KERNEL) !== 0,
      overflowFloor: flags & SlotFlag.OVERFLOW ? buf.readUInt32LE(P.OVERFLOW_FLOOR) : undefined,
      replayed: buf.readUInt32LE(P.REPLAYED),
      pid: buf.readUInt32LE(P.PID),
      systemUuid: uuidBytes.every((b) => b === 0) ? '' : uuidFromBytes(uuidBytes),
      label: decodeUtf8(readCString(buf, P.LABEL, LABEL_LEN)) ?? '?',
      heartbeat: buf.readUInt32LE(P.HEARTBEAT),
      intents: readIntents(buf),
    },
  };
}

function readIntents(buf: Buffer): number[] {
  const out: number[] = [];
  const n = Math.min(buf.readUInt32LE(P.INTENT_COUNT), MAX_INTENTS);
  for (let i = 0; i < n; i++) {
    const v = buf.readUInt32LE(P.INTENTS + 4 * i);
    if (v !== 0) out.push(v - 1);
  }
  return out;
}

export function emptySlot(index: number): PresenceSlot {
  return { index, state: 'free', token: 0n, kernelMode: false, role: 'none', replayed: 0, pid: 0, systemUuid: '', label: '', held: [], heartbeat: 0, intents: [] };
}

/** Whether a slot holds file `fileId` deleted at `deleteIndex` (list or overflow floor). */
export function slotHolds(s: PresenceRecord, fileId: number, deleteIndex: number): boolean {
  return s.held.includes(fileId) || (s.overflowFloor !== undefined && deleteIndex >= s.overflowFloor);
}

/**
 * Read a consistent copy of a live slot: SEQ even and unchanged around the copy. `reload`
 * refreshes `live` from memory (cache invalidation on non-coherent devices); undefined when
 * the owner kept it odd for all `tries` (the caller treats that slot as live and holding).
 */
export function readSlotConsistent(live: Buffer, reload: () => void = () => undefined, tries = 1000): Buffer | undefined {
  const copy = Buffer.allocUnsafe(PRESENCE_SLOT_SIZE);
  for (let t = 0; t < tries; t++) {
    reload();
    const s1 = live.readUInt32LE(P.SEQ);
    if (s1 & 1) continue;
    live.copy(copy, 0, 0, PRESENCE_SLOT_SIZE);
    reload();
    if (live.readUInt32LE(P.SEQ) === s1) return copy;
  }
  return undefined;
}
