/**
 * DELETE and RENAME records (features `delete`/`rename`, issue 14; docs/format.md).
 *
 * Head slot (544 bytes, CRC at 536 as every entry):
 *   0 seqnum u64 · 8 type u32 (0x74730005 DELETE, 0x74730006 RENAME) · 12 ncont u32
 *   16 fileId u64 (the log slot that created the node) · 24 kind u32 (0 file, 1 dir, 2 symlink)
 *   28 flags u32 (bit 0: replacedId is set) · 32 replacedId u64 (RENAME over a file: its creation slot)
 *   40 len1 u32 (DELETE: path; RENAME: from) · 44 len2 u32 (RENAME: to; DELETE: 0)
 *   48..535 the strings (path, or from then to) when they fit (ncont = 0); otherwise every
 *   string byte is in the ncont CONT slots that follow, as for the other extension records.
 * Naming the node by path AND creation slot lets replay check they agree.
 */
import { CONT_PAYLOAD, ExtEntryType, LOG_ENTRY_CRC_OFFSET, LOG_ENTRY_SIZE } from './constants.js';
import { crc32 } from './crc32.js';
import { encodeContSlots } from './contslots.js';
import { decodeUtf8, readU64, writeU64 } from './bytes.js';

export type RemovedKind = 'file' | 'dir' | 'symlink';
const KINDS: readonly RemovedKind[] = ['file', 'dir', 'symlink'];

/** Removes a file, symlink or empty directory. */
export interface RemoveEntry {
  type: 'remove';
  seqnum: number;
  path: string;
  fileId: number;
  kind: RemovedKind;
}

/** Moves a node (a directory with everything below it); `replacedId`: the file at `to` it replaces. */
export interface RenameEntry {
  type: 'rename';
  seqnum: number;
  from: string;
  to: string;
  fileId: number;
  kind: RemovedKind;
  replacedId?: number;
}

export type RemovalEntry = RemoveEntry | RenameEntry;
export type NewRemoval = Omit<RemoveEntry, 'seqnum'> | Omit<RenameEntry, 'seqnum'>;

const FILE_ID = 16, KIND = 24, FLAGS = 28, REPLACED = 32, LEN1 = 40, LEN2 = 44, INLINE = 48;
const F_REPLACES = 1;
/** String bytes a head slot carries itself. */
export const INLINE_STRINGS = LOG_ENTRY_CRC_OFFSET - INLINE;

export class RemovalDecodeError extends Error {}

export function isRemovalType(t: number): boolean {
  return t === ExtEntryType.DELETE || t === ExtEntryType.RENAME;
}

function stringsOf(e: NewRemoval): Buffer[] {
  return e.type === 'remove' ? [Buffer.from(e.path, 'utf8')] : [Buffer.from(e.from, 'utf8'), Buffer.from(e.to, 'utf8')];
}

/** Slots a DELETE/RENAME record takes (1 when its paths fit in the head). */
export function removalSlots(e: NewRemoval): number {
  const n = stringsOf(e).reduce((s, b) => s + b.length, 0);
  return n <= INLINE_STRINGS ? 1 : 1 + Math.ceil(n / CONT_PAYLOAD);
}

function seal(buf: Buffer): Buffer {
  writeU64(buf, LOG_ENTRY_CRC_OFFSET, crc32(buf, 0, LOG_ENTRY_CRC_OFFSET));
  return buf;
}

/** The slots of one DELETE/RENAME record with seqnums seqnum, seqnum + 1, … */
export function encodeRemoval(e: NewRemoval, seqnum: number): Buffer[] {
  const parts = stringsOf(e);
  for (const p of parts) if (p.includes(0)) throw new RangeError('path contains a NUL byte');
  if (!Number.isSafeInteger(e.fileId) || e.fileId < 0) throw new RangeError(`invalid fileId ${e.fileId}`);
  const strings = Buffer.concat(parts);
  const head = Buffer.alloc(LOG_ENTRY_SIZE);
  writeU64(head, 0, seqnum);
  head.writeUInt32LE(e.type === 'remove' ? ExtEntryType.DELETE : ExtEntryType.RENAME, 8);
  writeU64(head, FILE_ID, e.fileId);
  head.writeUInt32LE(KINDS.indexOf(e.kind), KIND);
  if (e.type === 'rename' && e.replacedId !== undefined) {
    head.writeUInt32LE(F_REPLACES, FLAGS);
    writeU64(head, REPLACED, e.replacedId);
  }
  head.writeUInt32LE(parts[0]!.length, LEN1);
  head.writeUInt32LE(parts[1]?.length ?? 0, LEN2);
  if (strings.length <= INLINE_STRINGS) {
    strings.copy(head, INLINE);
    return [seal(head)];
  }
  const ncont = Math.ceil(strings.length / CONT_PAYLOAD);
  head.writeUInt32LE(ncont, 12);
  return [seal(head), ...encodeContSlots(strings, seqnum, ncont)];
}

function str(strings: Buffer, start: number, len: number, what: string): string {
  if (start + len > strings.length) throw new RemovalDecodeError(`${what} runs past the record`);
  const bytes = strings.subarray(start, start + len);
  if (bytes.includes(0)) throw new RemovalDecodeError(`${what} contains a NUL byte`);
  const s = decodeUtf8(bytes);
  if (s === undefined) throw new RemovalDecodeError(`${what} is not valid UTF-8`);
  return s;
}

/** Decode a DELETE/RENAME head; `strings`: its CONT slots' bytes when ncont > 0. */
export function decodeRemoval(buf: Buffer, strings?: Buffer): RemovalEntry {
  const seqnum = readU64(buf, 0);
  const t = buf.readUInt32LE(8);
  const kind = KINDS[buf.readUInt32LE(KIND)];
  if (!kind) throw new RemovalDecodeError(`unknown node kind ${buf.readUInt32LE(KIND)}`);
  const fileId = readU64(buf, FILE_ID);
  const flags = buf.readUInt32LE(FLAGS);
  if (flags & ~F_REPLACES) throw new RemovalDecodeError(`unknown flags 0x${flags.toString(16)}`);
  const ncont = buf.readUInt32LE(12);
  const s = ncont === 0 ? buf.subarray(INLINE, LOG_ENTRY_CRC_OFFSET) : strings;
  if (!s) throw new RemovalDecodeError('record strings missing');
  const len1 = buf.readUInt32LE(LEN1), len2 = buf.readUInt32LE(LEN2);
  if (t === ExtEntryType.DELETE) {
    if (len2 !== 0 || flags) throw new RemovalDecodeError('DELETE with RENAME fields');
    return { type: 'remove', seqnum, path: str(s, 0, len1, 'path'), fileId, kind };
  }
  const e: RenameEntry = { type: 'rename', seqnum, from: str(s, 0, len1, 'from path'), to: str(s, len1, len2, 'to path'), fileId, kind };
  if (flags & F_REPLACES) e.replacedId = readU64(buf, REPLACED);
  return e;
}
