/** struct famfs_log_entry (544 bytes); pure codec for FILE, MKDIR, ADD_DAXDEV and the rest. */
import {
  CONT_PAYLOAD, EntryType, ExtEntryType, ExtentType, LOG_ENTRY_CRC_OFFSET, LOG_ENTRY_SIZE, MAX_PATHLEN, MAX_RELPATH_BYTES,
  MAX_SIMPLE_EXTENTS, MAX_STRIPS,
} from './constants.js';
import { crc32 } from './crc32.js';
import { decodeUtf8, readCString, readU64, writeU64 } from './bytes.js';
import { uuidFromBytes, uuidToBytes } from './uuid.js';
import type { Extent, FileMap } from './types.js';
import { encodeContSlots } from './contslots.js';
import { decodeRemoval, encodeRemoval, isRemovalType, RemovalDecodeError, removalSlots, type RemovalEntry, type RemoveEntry, type RenameEntry } from './removal.js';

export type { RemoveEntry, RenameEntry, RemovalEntry, RemovedKind } from './removal.js';

export interface FileEntry {
  type: 'file';
  seqnum: number;
  size: number;
  flags: number;
  uid: number;
  gid: number;
  mode: number;
  path: string;
  map: FileMap;
}

export interface MkdirEntry {
  type: 'mkdir';
  seqnum: number;
  uid: number;
  gid: number;
  mode: number;
  path: string;
}

export interface AddDaxdevEntry {
  type: 'add_daxdev';
  seqnum: number;
  size: number;
  uuid: string;
  index: number;
}

/** A symbolic link (extension, docs/format.md): the target is kept exactly as given. */
export interface SymlinkEntry {
  type: 'symlink';
  seqnum: number;
  uid: number;
  gid: number;
  path: string;
  target: string;
}

/** DELETE and INVALID are recognised but carry nothing we act on; unknown types land here too. */
export interface OtherEntry {
  type: 'delete' | 'invalid' | 'unknown';
  seqnum: number;
  rawType: number;
}

export type LogEntry = FileEntry | MkdirEntry | AddDaxdevEntry | SymlinkEntry | RemovalEntry | OtherEntry;
export type NewLogEntry =
  | Omit<FileEntry, 'seqnum'>
  | Omit<MkdirEntry, 'seqnum'>
  | Omit<AddDaxdevEntry, 'seqnum'>
  | Omit<SymlinkEntry, 'seqnum'>
  | Omit<RemoveEntry, 'seqnum'>
  | Omit<RenameEntry, 'seqnum'>;

/** The entry's bytes cannot be turned into a typed entry (the reason says why). */
export class EntryDecodeError extends Error {}

const FILE_SIZE = 16, FILE_FLAGS = 24, FILE_UID = 28, FILE_GID = 32, FILE_MODE = 36, FILE_PATH = 40;
const FMAP_TYPE = 120, FMAP_COUNT = 128, FMAP_EXTENTS = 136;
const IE_NSTRIPS = 136, IE_CHUNK = 144, IE_STRIPS = 152;
const MKDIR_UID = 16, MKDIR_GID = 20, MKDIR_MODE = 24, MKDIR_PATH = 28;
const EXT_NCONT = 12, EXT_FILE_PATHLEN = 40, EXT_DIR_PATHLEN = 28, SYMLINK_TARGETLEN = 32;
const DAXDEV_SIZE = 16, DAXDEV_UUID = 24, DAXDEV_INDEX = 40;
const EXTENT_SIZE = 24;

export function entryCrc(buf: Buffer): number {
  return crc32(buf, 0, LOG_ENTRY_CRC_OFFSET);
}

/** True when the stored CRC matches the first 536 bytes. */
export function entryCrcOk(buf: Buffer): boolean {
  return buf.readUInt32LE(LOG_ENTRY_CRC_OFFSET + 4) === 0 && buf.readUInt32LE(LOG_ENTRY_CRC_OFFSET) === entryCrc(buf);
}

/** The seqnum field, without decoding the rest (for the cheap "is this slot committed?" check). */
export function entrySeqnum(buf: Buffer): number {
  return readU64(buf, 0);
}

function readPath(buf: Buffer, off: number): string {
  const bytes = readCString(buf, off, MAX_PATHLEN);
  if (bytes.length > MAX_RELPATH_BYTES) throw new EntryDecodeError('relpath is not NUL-terminated within 80 bytes');
  const s = decodeUtf8(bytes);
  if (s === undefined) throw new EntryDecodeError('relpath is not valid UTF-8');
  return s;
}

function readExtent(buf: Buffer, off: number): Extent {
  return { devindex: readU64(buf, off), offset: readU64(buf, off + 8), length: readU64(buf, off + 16) };
}

function readFileMap(buf: Buffer): FileMap {
  const extType = buf.readUInt32LE(FMAP_TYPE);
  const count = buf.readUInt32LE(FMAP_COUNT);
  if (extType === ExtentType.SIMPLE) {
    if (count > MAX_SIMPLE_EXTENTS) throw new EntryDecodeError(`nextents ${count} > ${MAX_SIMPLE_EXTENTS}`);
    // Sized up front: a pushed-to empty array reserves 17 slots, and replay keeps one per file.
    const extents: Extent[] = count === 1 ? [readExtent(buf, FMAP_EXTENTS)] : new Array<Extent>(count);
    for (let i = count === 1 ? 1 : 0; i < count; i++) extents[i] = readExtent(buf, FMAP_EXTENTS + i * EXTENT_SIZE);
    return { kind: 'simple', extents };
  }
  if (extType === ExtentType.INTERLEAVE) {
    if (count !== 1) throw new EntryDecodeError(`interleaved extent count ${count} (must be 1)`);
    const nstrips = readU64(buf, IE_NSTRIPS);
    if (nstrips > MAX_STRIPS) throw new EntryDecodeError(`nstrips ${nstrips} > ${MAX_STRIPS}`);
    const strips = new Array<Extent>(nstrips);
    for (let i = 0; i < nstrips; i++) strips[i] = readExtent(buf, IE_STRIPS + i * EXTENT_SIZE);
    return { kind: 'interleave', chunkSize: readU64(buf, IE_CHUNK), strips };
  }
  throw new EntryDecodeError(`unknown extent type ${extType}`);
}

function fileEntry(buf: Buffer, seqnum: number, path: string): FileEntry {
  return {
    type: 'file', seqnum,
    size: readU64(buf, FILE_SIZE),
    flags: buf.readUInt32LE(FILE_FLAGS),
    uid: buf.readUInt32LE(FILE_UID),
    gid: buf.readUInt32LE(FILE_GID),
    mode: buf.readUInt32LE(FILE_MODE),
    path,
    map: readFileMap(buf),
  };
}

function mkdirEntry(buf: Buffer, seqnum: number, path: string): MkdirEntry {
  return { type: 'mkdir', seqnum, uid: buf.readUInt32LE(MKDIR_UID), gid: buf.readUInt32LE(MKDIR_GID), mode: buf.readUInt32LE(MKDIR_MODE), path };
}

/** CONT slots that follow an extension head (0 for every upstream type). */
export function contSlots(head: Buffer): number {
  const t = head.readUInt32LE(8);
  return t === ExtEntryType.FILE || t === ExtEntryType.MKDIR || t === ExtEntryType.SYMLINK || isRemovalType(t) ? head.readUInt32LE(EXT_NCONT) : 0;
}

function extString(strings: Buffer | undefined, start: number, len: number, what: string): string {
  if (!strings || start + len > strings.length) throw new EntryDecodeError(`${what} runs past the record`);
  const bytes = strings.subarray(start, start + len);
  if (bytes.includes(0)) throw new EntryDecodeError(`${what} contains a NUL byte`);
  const s = decodeUtf8(bytes);
  if (s === undefined) throw new EntryDecodeError(`${what} is not valid UTF-8`);
  return s;
}

/** The string bytes carried by CONT slots, in order (the caller checked each slot's seqnum and CRC). */
export function joinContSlots(slots: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const [i, s] of slots.entries()) {
    if (s.readUInt32LE(8) !== ExtEntryType.CONT) throw new EntryDecodeError(`record slot ${i + 1} is not a continuation`);
    if (s.readUInt32LE(12) !== i + 1) throw new EntryDecodeError(`continuation slot numbered ${s.readUInt32LE(12)}, expected ${i + 1}`);
    parts.push(s.subarray(16, 16 + CONT_PAYLOAD));
  }
  return Buffer.concat(parts);
}

/**
 * Decode one 544-byte entry. Checks only what is needed to build a typed value
 * (CRC, seqnum and path rules are the replayer's business); throws
 * EntryDecodeError or a RangeError from the field readers otherwise.
 * An extension head needs `strings`: its CONT slots' bytes (joinContSlots).
 */
export function decodeLogEntry(buf: Buffer, strings?: Buffer): LogEntry {
  if (buf.length < LOG_ENTRY_SIZE) throw new EntryDecodeError('entry buffer too short');
  const seqnum = readU64(buf, 0);
  const rawType = buf.readUInt32LE(8);
  switch (rawType) {
    case EntryType.FILE:
      return fileEntry(buf, seqnum, readPath(buf, FILE_PATH));
    case EntryType.MKDIR:
      return mkdirEntry(buf, seqnum, readPath(buf, MKDIR_PATH));
    case ExtEntryType.FILE:
      return fileEntry(buf, seqnum, extString(strings, 0, buf.readUInt32LE(EXT_FILE_PATHLEN), 'path'));
    case ExtEntryType.MKDIR:
      return mkdirEntry(buf, seqnum, extString(strings, 0, buf.readUInt32LE(EXT_DIR_PATHLEN), 'path'));
    case ExtEntryType.SYMLINK: {
      const plen = buf.readUInt32LE(EXT_DIR_PATHLEN);
      return {
        type: 'symlink', seqnum, uid: buf.readUInt32LE(MKDIR_UID), gid: buf.readUInt32LE(MKDIR_GID),
        path: extString(strings, 0, plen, 'path'), target: extString(strings, plen, buf.readUInt32LE(SYMLINK_TARGETLEN), 'symlink target'),
      };
    }
    case ExtEntryType.CONT:
      throw new EntryDecodeError('continuation slot without its head');
    case ExtEntryType.DELETE:
    case ExtEntryType.RENAME:
      try {
        return decodeRemoval(buf, strings);
      } catch (e) {
        throw e instanceof RemovalDecodeError ? new EntryDecodeError(e.message) : e;
      }
    case EntryType.ADD_DAXDEV:
      return {
        type: 'add_daxdev', seqnum,
        size: readU64(buf, DAXDEV_SIZE),
        uuid: uuidFromBytes(buf.subarray(DAXDEV_UUID, DAXDEV_UUID + 16)),
        index: buf.readUInt32LE(DAXDEV_INDEX),
      };
    case EntryType.DELETE:
      return { type: 'delete', seqnum, rawType };
    case EntryType.INVALID:
      return { type: 'invalid', seqnum, rawType };
    default:
      return { type: 'unknown', seqnum, rawType };
  }
}

function writePath(buf: Buffer, off: number, path: string): void {
  const bytes = Buffer.from(path, 'utf8');
  if (bytes.length > MAX_RELPATH_BYTES) throw new RangeError(`path is ${bytes.length} bytes; famfs allows ${MAX_RELPATH_BYTES}`);
  if (bytes.includes(0)) throw new RangeError('path contains a NUL byte');
  bytes.copy(buf, off);
}

function writeExtent(buf: Buffer, off: number, e: Extent): void {
  writeU64(buf, off, e.devindex);
  writeU64(buf, off + 8, e.offset);
  writeU64(buf, off + 16, e.length);
}

/** True when an entry needs the extension record form (a path upstream's 80-byte field cannot hold, or a symlink). */
export function needsExtRecord(entry: NewLogEntry): boolean {
  if (entry.type === 'symlink' || entry.type === 'remove' || entry.type === 'rename') return true;
  return (entry.type === 'file' || entry.type === 'mkdir') && Buffer.byteLength(entry.path, 'utf8') > MAX_RELPATH_BYTES;
}

/** How many log slots any new entry's record takes. */
export function entrySlots(entry: NewLogEntry): number {
  if (entry.type === 'remove' || entry.type === 'rename') return removalSlots(entry);
  if (entry.type === 'symlink') return recordSlots(entry.path, entry.target);
  if (entry.type === 'file' || entry.type === 'mkdir') return recordSlots(entry.path);
  return 1;
}

/** How many log slots the record of a file/dir at `path` (or a symlink to `target`) takes. */
export function recordSlots(path: string, target?: string): number {
  const plen = Buffer.byteLength(path, 'utf8');
  if (target === undefined && plen <= MAX_RELPATH_BYTES) return 1;
  return 1 + Math.ceil((plen + (target === undefined ? 0 : Buffer.byteLength(target, 'utf8'))) / CONT_PAYLOAD);
}

/**
 * Encode an entry as the slots of one record, seqnums `seqnum`, `seqnum + 1`, …:
 * one upstream slot, or an extension head and its CONT slots (path, then target).
 */
export function encodeRecord(entry: NewLogEntry, seqnum: number): Buffer[] {
  if (entry.type === 'remove' || entry.type === 'rename') return encodeRemoval(entry, seqnum);
  if (!needsExtRecord(entry)) return [encodeLogEntry(entry, seqnum)];
  const path = Buffer.from(entry.type === 'file' || entry.type === 'mkdir' || entry.type === 'symlink' ? entry.path : '', 'utf8');
  const target = Buffer.from(entry.type === 'symlink' ? entry.target : '', 'utf8');
  if (path.includes(0) || target.includes(0)) throw new RangeError('path or target contains a NUL byte');
  const strings = Buffer.concat([path, target]);
  const ncont = Math.ceil(strings.length / CONT_PAYLOAD);
  let head: Buffer;
  if (entry.type === 'symlink') {
    head = Buffer.alloc(LOG_ENTRY_SIZE);
    writeU64(head, 0, seqnum);
    head.writeUInt32LE(ExtEntryType.SYMLINK, 8);
    head.writeUInt32LE(entry.uid, MKDIR_UID);
    head.writeUInt32LE(entry.gid, MKDIR_GID);
    head.writeUInt32LE(0o777, MKDIR_MODE);
    head.writeUInt32LE(path.length, EXT_DIR_PATHLEN);
    head.writeUInt32LE(target.length, SYMLINK_TARGETLEN);
  } else {
    // The upstream layout with an empty relpath field, then the type and path length patched in.
    head = encodeLogEntry({ ...entry, path: '' } as NewLogEntry, seqnum);
    head.writeUInt32LE(entry.type === 'file' ? ExtEntryType.FILE : ExtEntryType.MKDIR, 8);
    head.writeUInt32LE(path.length, entry.type === 'file' ? EXT_FILE_PATHLEN : EXT_DIR_PATHLEN);
  }
  head.writeUInt32LE(ncont, EXT_NCONT);
  writeU64(head, LOG_ENTRY_CRC_OFFSET, entryCrc(head));
  return [head, ...encodeContSlots(strings, seqnum, ncont)];
}

/** Encode an entry into a zero-filled 544-byte buffer, seqnum and CRC included. */
export function encodeLogEntry(entry: NewLogEntry, seqnum: number): Buffer {
  const buf = Buffer.alloc(LOG_ENTRY_SIZE);
  writeU64(buf, 0, seqnum);
  switch (entry.type) {
    case 'file': {
      buf.writeUInt32LE(EntryType.FILE, 8);
      writeU64(buf, FILE_SIZE, entry.size);
      buf.writeUInt32LE(entry.flags, FILE_FLAGS);
      buf.writeUInt32LE(entry.uid, FILE_UID);
      buf.writeUInt32LE(entry.gid, FILE_GID);
      buf.writeUInt32LE(entry.mode, FILE_MODE);
      writePath(buf, FILE_PATH, entry.path);
      const m = entry.map;
      if (m.kind === 'simple') {
        if (m.extents.length > MAX_SIMPLE_EXTENTS) throw new RangeError(`${m.extents.length} extents > ${MAX_SIMPLE_EXTENTS}`);
        buf.writeUInt32LE(ExtentType.SIMPLE, FMAP_TYPE);
        buf.writeUInt32LE(m.extents.length, FMAP_COUNT);
        m.extents.forEach((e, i) => writeExtent(buf, FMAP_EXTENTS + i * EXTENT_SIZE, e));
      } else {
        if (m.strips.length > MAX_STRIPS) throw new RangeError(`${m.strips.length} strips > ${MAX_STRIPS}`);
        buf.writeUInt32LE(ExtentType.INTERLEAVE, FMAP_TYPE);
        buf.writeUInt32LE(1, FMAP_COUNT);
        writeU64(buf, IE_NSTRIPS, m.strips.length);
        writeU64(buf, IE_CHUNK, m.chunkSize);
        m.strips.forEach((e, i) => writeExtent(buf, IE_STRIPS + i * EXTENT_SIZE, e));
      }
      break;
    }
    case 'mkdir':
      buf.writeUInt32LE(EntryType.MKDIR, 8);
      buf.writeUInt32LE(entry.uid, MKDIR_UID);
      buf.writeUInt32LE(entry.gid, MKDIR_GID);
      buf.writeUInt32LE(entry.mode, MKDIR_MODE);
      writePath(buf, MKDIR_PATH, entry.path);
      break;
    case 'add_daxdev':
      buf.writeUInt32LE(EntryType.ADD_DAXDEV, 8);
      writeU64(buf, DAXDEV_SIZE, entry.size);
      uuidToBytes(entry.uuid).copy(buf, DAXDEV_UUID);
      buf.writeUInt32LE(entry.index, DAXDEV_INDEX);
      break;
    case 'symlink':
    case 'remove':
    case 'rename':
      throw new RangeError(`a ${entry.type} is an extension record: use encodeRecord`);
  }
  writeU64(buf, LOG_ENTRY_CRC_OFFSET, entryCrc(buf));
  return buf;
}
