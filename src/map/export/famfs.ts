/**
 * famfs V10 kernel export: the GET_FMAP reply (opcode 54) and the GET_DAXDEV
 * reply (opcode 55). Pure byte layouts, little-endian (reference fuse-kernel.md §1.3):
 *
 *   fuse_famfs_fmap_header (32): file_type u8 @0, rsvd u8 @1, fmap_version u16 @2 (=1),
 *     ext_type u32 @4 (0 simple, 1 interleave), nextents u32 @8, rsvd u32 @12,
 *     file_size u64 @16, rsvd u64 @24
 *   fuse_famfs_simple_ext (24, also used for strips): devindex u32 @0, rsvd u32 @4,
 *     offset u64 @8, len u64 @16
 *   fuse_famfs_iext (24): nstrips u32 @0, chunk_size u32 @4, nbytes u64 @8, rsvd u64 @16,
 *     followed by nstrips strips
 *   fuse_daxdev_out (280): index u16 @0, rsvd u16 @2, rsvd u32 @4, rsvd u64 @8,
 *     rsvd u64 @16, name char[256] @24 (NUL-terminated)
 *
 * The encoders only refuse what the layout cannot hold (chunk ≥ 2^32, devindex ≥ 2^32,
 * u64 > 2^53); what a kernel would refuse is reported by `fmapKernelProblem`.
 */
import { readU64, writeU64 } from '../../format/bytes.js';
import type { Extent, FileMap } from '../../format/types.js';
import { resolveRange } from '../resolve.js';

export const FMAP_HEADER_SIZE = 32;
export const FMAP_EXT_SIZE = 24;
export const FMAP_IEXT_SIZE = 24;
export const FMAP_VERSION = 1;
/** Minimum valid fmap: header + one simple extent (`fmap_msg_min_size()`). */
export const FMAP_MIN_SIZE = FMAP_HEADER_SIZE + FMAP_EXT_SIZE;
/** The kernel's reply buffer for GET_FMAP is one page (`FMAP_BUFSIZE = PAGE_SIZE`). */
export const FMAP_REPLY_MAX = 4096;
export const FUSE_FAMFS_MAX_EXTENTS = 32;
export const FUSE_FAMFS_MAX_STRIPS = 32;
/** Per-connection daxdev table slots in the V10 kernel; GET_DAXDEV for index ≥ 24 is EINVAL. */
export const FAMFS_MAX_DAXDEVS = 24;
/** Offsets and lengths must be PMD (2 MiB) aligned (verified: unaligned → open fails EINVAL). */
export const FMAP_ALIGN = 0x200000;
export const DAXDEV_REPLY_SIZE = 280;
export const DAXDEV_NAME_OFFSET = 24;
export const DAXDEV_NAME_MAX = 256;

export const FamfsFileType = { REG: 0, SUPERBLOCK: 1, LOG: 2 } as const;
export type FamfsFileType = (typeof FamfsFileType)[keyof typeof FamfsFileType];
export const FamfsExtType = { SIMPLE: 0, INTERLEAVE: 1 } as const;

const U32_MAX = 0xffff_ffff;

export class MapDecodeError extends Error {}

/** Byte size of the GET_FMAP reply for `map`. */
export function fmapReplySize(map: FileMap): number {
  return map.kind === 'simple'
    ? FMAP_HEADER_SIZE + map.extents.length * FMAP_EXT_SIZE
    : FMAP_HEADER_SIZE + FMAP_IEXT_SIZE + map.strips.length * FMAP_EXT_SIZE;
}

function u32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) throw new RangeError(`${what} ${value} does not fit a u32`);
  return value;
}

function writeExt(buf: Buffer, off: number, e: Extent): void {
  buf.writeUInt32LE(u32(e.devindex, 'devindex'), off);
  writeU64(buf, off + 8, e.offset);
  writeU64(buf, off + 16, e.length);
}

function readExt(buf: Buffer, off: number): Extent {
  return { devindex: buf.readUInt32LE(off), offset: readU64(buf, off + 8), length: readU64(buf, off + 16) };
}

/**
 * The GET_FMAP reply payload (without the 16-byte fuse_out_header). A simple map
 * becomes nextents simple extents; an interleave becomes one interleaved extent
 * (nextents = 1) with ie_nbytes = fileSize, followed by its strips.
 */
export function encodeGetFmapReply(map: FileMap, fileSize: number, fileType: FamfsFileType = FamfsFileType.REG): Buffer {
  const buf = Buffer.alloc(fmapReplySize(map));
  buf.writeUInt8(fileType, 0);
  buf.writeUInt16LE(FMAP_VERSION, 2);
  writeU64(buf, 16, fileSize);
  let off = FMAP_HEADER_SIZE;
  if (map.kind === 'simple') {
    buf.writeUInt32LE(FamfsExtType.SIMPLE, 4);
    buf.writeUInt32LE(map.extents.length, 8);
    for (const e of map.extents) {
      writeExt(buf, off, e);
      off += FMAP_EXT_SIZE;
    }
  } else {
    buf.writeUInt32LE(FamfsExtType.INTERLEAVE, 4);
    buf.writeUInt32LE(1, 8);
    buf.writeUInt32LE(map.strips.length, off);
    buf.writeUInt32LE(u32(map.chunkSize, 'chunk size'), off + 4);
    writeU64(buf, off + 8, fileSize);
    off += FMAP_IEXT_SIZE;
    for (const s of map.strips) {
      writeExt(buf, off, s);
      off += FMAP_EXT_SIZE;
    }
  }
  return buf;
}

export interface DecodedFmap {
  fileType: number;
  version: number;
  fileSize: number;
  map: FileMap;
  /** ie_nbytes of the interleaved extent (interleave only). */
  nbytes?: number;
}

/**
 * Parse a GET_FMAP reply payload into the neutral map. Refuses what the neutral
 * model cannot hold (several interleaved extents) and malformed sizes; does not
 * apply kernel limits (see `fmapKernelProblem`).
 */
export function decodeGetFmapReply(buf: Buffer): DecodedFmap {
  if (buf.length < FMAP_HEADER_SIZE) throw new MapDecodeError(`fmap reply of ${buf.length} bytes is shorter than its header`);
  const fileType = buf.readUInt8(0);
  const version = buf.readUInt16LE(2);
  if (version !== FMAP_VERSION) throw new MapDecodeError(`fmap version ${version}, expected ${FMAP_VERSION}`);
  const extType = buf.readUInt32LE(4);
  const n = buf.readUInt32LE(8);
  const fileSize = readU64(buf, 16);
  let off = FMAP_HEADER_SIZE;
  const need = (bytes: number): void => {
    if (off + bytes > buf.length) throw new MapDecodeError(`fmap reply truncated at byte ${off} (needs ${bytes} more, has ${buf.length - off})`);
  };
  let map: FileMap;
  let nbytes: number | undefined;
  if (extType === FamfsExtType.SIMPLE) {
    const extents: Extent[] = [];
    for (let i = 0; i < n; i++, off += FMAP_EXT_SIZE) {
      need(FMAP_EXT_SIZE);
      extents.push(readExt(buf, off));
    }
    map = { kind: 'simple', extents };
  } else if (extType === FamfsExtType.INTERLEAVE) {
    if (n !== 1) throw new MapDecodeError(`${n} interleaved extents; the neutral map holds exactly one`);
    need(FMAP_IEXT_SIZE);
    const nstrips = buf.readUInt32LE(off);
    const chunkSize = buf.readUInt32LE(off + 4);
    nbytes = readU64(buf, off + 8);
    off += FMAP_IEXT_SIZE;
    const strips: Extent[] = [];
    for (let i = 0; i < nstrips; i++, off += FMAP_EXT_SIZE) {
      need(FMAP_EXT_SIZE);
      strips.push(readExt(buf, off));
    }
    map = { kind: 'interleave', chunkSize, strips };
  } else {
    throw new MapDecodeError(`unknown fmap ext_type ${extType}`);
  }
  if (off !== buf.length) throw new MapDecodeError(`${buf.length - off} trailing bytes after the fmap`);
  return nbytes === undefined ? { fileType, version, fileSize, map } : { fileType, version, fileSize, map, nbytes };
}

/** The 280-byte GET_DAXDEV reply: index and the NUL-terminated device path. */
export function encodeDaxdevReply(index: number, name: string): Buffer {
  if (!Number.isInteger(index) || index < 0 || index > 0xffff) throw new RangeError(`daxdev index ${index} does not fit a u16`);
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.includes(0)) throw new RangeError('daxdev name contains a NUL byte');
  if (bytes.length >= DAXDEV_NAME_MAX) throw new RangeError(`daxdev name of ${bytes.length} bytes exceeds ${DAXDEV_NAME_MAX - 1}`);
  const buf = Buffer.alloc(DAXDEV_REPLY_SIZE);
  buf.writeUInt16LE(index, 0);
  bytes.copy(buf, DAXDEV_NAME_OFFSET);
  return buf;
}

export function decodeDaxdevReply(buf: Buffer): { index: number; name: string } {
  if (buf.length !== DAXDEV_REPLY_SIZE) throw new MapDecodeError(`daxdev reply is ${buf.length} bytes, expected ${DAXDEV_REPLY_SIZE}`);
  const field = buf.subarray(DAXDEV_NAME_OFFSET);
  const nul = field.indexOf(0);
  if (nul < 0) throw new MapDecodeError('daxdev name is not NUL-terminated');
  return { index: buf.readUInt16LE(0), name: field.subarray(0, nul).toString('utf8') };
}

export interface FmapLimitOptions {
  /** Mirror the verified V10 kernel, which refuses every devindex ≠ 0 (default false: allow < 24). */
  devindexZeroOnly?: boolean;
}

/** Bytes of [0, fileSize) that the map resolves (less than fileSize if the map is too small). */
export function mappedBytes(map: FileMap, fileSize: number): number {
  let sum = 0;
  resolveRange(map, fileSize, 0, fileSize, (_d, _o, len) => {
    sum += len;
  });
  return sum;
}

/**
 * Why a famfs V10 kernel would refuse this fmap, or undefined if it fits its limits:
 * ≥ 1 extent (strip), ≤ 32 extents / strips, offsets, lengths and chunk 2 MiB aligned
 * and non-zero, chunk < 2^32, devindex < 24 (or 0 only), reply ≤ 4096 bytes, and the
 * map covering the whole file.
 */
export function fmapKernelProblem(map: FileMap, fileSize: number, opts: FmapLimitOptions = {}): string | undefined {
  if (!Number.isSafeInteger(fileSize) || fileSize < 0) return `file size ${fileSize} is not a valid u64`;
  const list = map.kind === 'simple' ? map.extents : map.strips;
  const what = map.kind === 'simple' ? 'extent' : 'strip';
  const max = map.kind === 'simple' ? FUSE_FAMFS_MAX_EXTENTS : FUSE_FAMFS_MAX_STRIPS;
  if (list.length < 1) return `no ${what}s: the kernel needs at least one`;
  if (list.length > max) return `${list.length} ${what}s exceed the kernel limit of ${max}`;
  if (map.kind === 'interleave') {
    const c = map.chunkSize;
    if (!Number.isInteger(c) || c <= 0) return `chunk size ${c} is not a positive integer`;
    if (c > U32_MAX) return `chunk size ${c} does not fit the u32 ie_chunk_size`;
    if (c % FMAP_ALIGN !== 0) return `chunk size ${c} is not a multiple of 2 MiB`;
  }
  for (const [i, e] of list.entries()) {
    if (!Number.isInteger(e.devindex) || e.devindex < 0) return `${what} ${i}: bad devindex ${e.devindex}`;
    if (opts.devindexZeroOnly && e.devindex !== 0) return `${what} ${i}: devindex ${e.devindex} ≠ 0 (this kernel knows one device)`;
    if (e.devindex >= FAMFS_MAX_DAXDEVS) return `${what} ${i}: devindex ${e.devindex} ≥ ${FAMFS_MAX_DAXDEVS} daxdev slots`;
    if (!Number.isSafeInteger(e.offset) || e.offset < 0) return `${what} ${i}: bad offset ${e.offset}`;
    if (!Number.isSafeInteger(e.length) || e.length <= 0) return `${what} ${i}: length ${e.length} is not positive`;
    if (e.offset % FMAP_ALIGN !== 0) return `${what} ${i}: offset ${e.offset} is not 2 MiB aligned`;
    if (e.length % FMAP_ALIGN !== 0) return `${what} ${i}: length ${e.length} is not 2 MiB aligned`;
  }
  const size = fmapReplySize(map);
  if (size > FMAP_REPLY_MAX) return `reply of ${size} bytes exceeds the ${FMAP_REPLY_MAX}-byte GET_FMAP buffer`;
  const mapped = mappedBytes(map, fileSize);
  if (mapped < fileSize) return `map covers ${mapped} of ${fileSize} bytes`;
  return undefined;
}
