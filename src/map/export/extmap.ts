/**
 * Generic extent-map export: the FUSE_NOTIFY_MAP (notify code 11) payload of
 * Miklos Szeredi's WIP extmap backing (reference fuse-kernel.md §3.3, protocol 7.47):
 *
 *   fuse_notify_map_out (32): backing_id u64 @0 (the file's extmap id), num_extents u32 @8,
 *     flags u32 @12, reserved u64[2] @16
 *   fuse_extent (48): offset u64 @0 (in file), length u64 @8, backing_id u64 @16 (device),
 *     addr u64 @24 (in device), reserved u64[2] @32
 *
 * Flags: FUSE_MAP_BACKING_CREATE 1<<0, FUSE_MAP_CYCLIC 1<<1. With CYCLIC all n extents
 * have the same length L and offset i·L, and file offset o maps to cycle k = o / (n·L),
 * extent i = (o mod n·L) / L, addr = ext[i].addr + k·L + o mod L — a famfs interleave
 * with chunk L, one extent per strip (each extent names its own device backing).
 *
 * Interleave → one CYCLIC list when every strip holds all of its chunks that the file
 * touches (a cyclic list repeats forever, so a short strip would expose bytes past its
 * end); otherwise, or with `cyclic: false`, the interleave is unrolled into plain extents
 * (the rows of `mapTable`, merged where contiguous) covering [0, roundup(fileSize, chunk)),
 * or [0, roundup(fileSize, 4 KiB)) if a strip lacks the whole last chunk.
 * Simple maps → one plain extent per map extent, at cumulative file offsets.
 */
import type { FileMap } from '../../format/types.js';
import { mapTable, type MapRow } from './table.js';
import { MapDecodeError } from './famfs.js';

export const FUSE_NOTIFY_MAP = 11;
export const NOTIFY_MAP_HEADER_SIZE = 32;
export const FUSE_EXTENT_SIZE = 48;
export const FUSE_MAP_BACKING_CREATE = 1 << 0;
export const FUSE_MAP_CYCLIC = 1 << 1;
/** Kernel cap on extents per notification (payload ≤ 32 + 1638·48 bytes). */
export const FUSE_MAX_EXTENTS = 1638;
export const EXTMAP_PAGE = 4096;

export interface NotifyMapOptions {
  /** The device backing id registered for a devindex (BACKING_OPEN with IS_DEV). */
  backingIdOf: (devindex: number) => bigint | number;
  /** Header flags besides CYCLIC (which the encoder sets itself); default BACKING_CREATE. */
  flags?: number;
  /** The extmap backing id in the header (default 0). */
  mapId?: bigint | number;
  /** Allow a CYCLIC list for interleaves (default true; false for kernels that reject CYCLIC). */
  cyclic?: boolean;
}

export interface NotifyExtent {
  fileOffset: number;
  length: number;
  backingId: bigint;
  addr: number;
}

export interface DecodedNotifyMap {
  mapId: bigint;
  flags: number;
  extents: NotifyExtent[];
}

const U64_MAX = (1n << 64n) - 1n;

function u64Big(v: bigint | number, what: string): bigint {
  const b = typeof v === 'bigint' ? v : Number.isSafeInteger(v) ? BigInt(v) : -1n;
  if (b < 0n || b > U64_MAX) throw new RangeError(`${what} ${v} is not a u64`);
  return b;
}

function u64Num(v: number, what: string): bigint {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${what} ${v} is not a u64 below 2^53`);
  return BigInt(v);
}

/** Whether a CYCLIC list expresses this interleave for a file of fileSize bytes without over-exposing strips. */
export function cyclicFits(map: FileMap, fileSize: number): boolean {
  if (map.kind !== 'interleave') return false;
  const { chunkSize: L, strips } = map;
  const n = strips.length;
  if (n < 1 || !(L > 0)) return false;
  const chunks = Math.ceil(fileSize / L);
  for (let i = 0; i < n; i++) {
    const used = i < chunks ? Math.floor((chunks - 1 - i) / n) + 1 : 0; // chunks of strip i the file touches
    if (used * L > strips[i]!.length) return false;
  }
  return true;
}

/** The extents (and whether they are cyclic) that `encodeNotifyMap` would send. */
export function notifyExtents(map: FileMap, fileSize: number, opts: NotifyMapOptions): { cyclic: boolean; extents: NotifyExtent[] } {
  const id = (d: number): bigint => u64Big(opts.backingIdOf(d), `backing id of device ${d}`);
  if (map.kind === 'simple') {
    let fileOffset = 0;
    const extents = map.extents.map((e) => {
      const x = { fileOffset, length: e.length, backingId: id(e.devindex), addr: e.offset };
      fileOffset += e.length;
      return x;
    });
    return { cyclic: false, extents };
  }
  if (opts.cyclic !== false && cyclicFits(map, fileSize)) {
    const L = map.chunkSize;
    return {
      cyclic: true,
      extents: map.strips.map((s, i) => ({ fileOffset: i * L, length: L, backingId: id(s.devindex), addr: s.offset })),
    };
  }
  // Whole chunks if the strips hold them; else page-rounded; else exactly the file (a short strip).
  const up = (x: number, a: number): number => Math.ceil(x / a) * a;
  let rows: MapRow[] = [];
  for (const end of [up(fileSize, map.chunkSize), up(fileSize, EXTMAP_PAGE), fileSize]) {
    rows = mapTable(map, fileSize, end);
    if (rows.reduce((a, r) => a + r.length, 0) === end) break;
  }
  return {
    cyclic: false,
    extents: rows.map((r) => ({ fileOffset: r.fileOffset, length: r.length, backingId: id(r.devindex), addr: r.offset })),
  };
}

/** The FUSE_NOTIFY_MAP payload (after the 16-byte fuse_out_header with unique 0, error = 11). */
export function encodeNotifyMap(map: FileMap, fileSize: number, opts: NotifyMapOptions): Buffer {
  const { cyclic, extents } = notifyExtents(map, fileSize, opts);
  const flags = ((opts.flags ?? FUSE_MAP_BACKING_CREATE) & ~FUSE_MAP_CYCLIC) | (cyclic ? FUSE_MAP_CYCLIC : 0);
  const buf = Buffer.alloc(NOTIFY_MAP_HEADER_SIZE + extents.length * FUSE_EXTENT_SIZE);
  buf.writeBigUInt64LE(u64Big(opts.mapId ?? 0n, 'map id'), 0);
  buf.writeUInt32LE(extents.length, 8);
  buf.writeUInt32LE(flags >>> 0, 12);
  extents.forEach((x, i) => {
    const o = NOTIFY_MAP_HEADER_SIZE + i * FUSE_EXTENT_SIZE;
    buf.writeBigUInt64LE(u64Num(x.fileOffset, 'file offset'), o);
    buf.writeBigUInt64LE(u64Num(x.length, 'length'), o + 8);
    buf.writeBigUInt64LE(x.backingId, o + 16);
    buf.writeBigUInt64LE(u64Num(x.addr, 'device address'), o + 24);
  });
  return buf;
}

function num(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MapDecodeError(`${what} ${v} exceeds 2^53`);
  return Number(v);
}

export function decodeNotifyMap(buf: Buffer): DecodedNotifyMap {
  if (buf.length < NOTIFY_MAP_HEADER_SIZE) throw new MapDecodeError(`notify map of ${buf.length} bytes is shorter than its header`);
  const n = buf.readUInt32LE(8);
  if (buf.length !== NOTIFY_MAP_HEADER_SIZE + n * FUSE_EXTENT_SIZE) {
    throw new MapDecodeError(`notify map of ${buf.length} bytes does not hold exactly ${n} extents`);
  }
  const extents: NotifyExtent[] = [];
  for (let i = 0; i < n; i++) {
    const o = NOTIFY_MAP_HEADER_SIZE + i * FUSE_EXTENT_SIZE;
    extents.push({
      fileOffset: num(buf.readBigUInt64LE(o), 'offset'),
      length: num(buf.readBigUInt64LE(o + 8), 'length'),
      backingId: buf.readBigUInt64LE(o + 16),
      addr: num(buf.readBigUInt64LE(o + 24), 'addr'),
    });
  }
  return { mapId: buf.readBigUInt64LE(0), flags: buf.readUInt32LE(12), extents };
}

/**
 * Why the extmap kernel code (`fs/fuse/ext_map.c` as read) would refuse this decoded
 * payload, or undefined: ≤ 1638 extents, page-aligned offsets/lengths/addrs, non-zero
 * lengths, ascending non-overlapping file ranges, and for CYCLIC equal lengths at i·L.
 */
export function notifyMapProblem(d: DecodedNotifyMap): string | undefined {
  const xs = d.extents;
  if (xs.length < 1) return 'no extents';
  if (xs.length > FUSE_MAX_EXTENTS) return `${xs.length} extents exceed FUSE_MAX_EXTENTS ${FUSE_MAX_EXTENTS}`;
  const cyclic = (d.flags & FUSE_MAP_CYCLIC) !== 0;
  let prevEnd = 0;
  for (const [i, x] of xs.entries()) {
    if (x.length <= 0) return `extent ${i}: zero length`;
    for (const [k, v] of [['offset', x.fileOffset], ['length', x.length], ['addr', x.addr]] as const) {
      if (v % EXTMAP_PAGE !== 0) return `extent ${i}: ${k} ${v} is not page aligned`;
    }
    if (x.fileOffset < prevEnd) return `extent ${i}: file offset ${x.fileOffset} overlaps the previous extent`;
    prevEnd = x.fileOffset + x.length;
    if (cyclic) {
      const L = xs[0]!.length;
      if (x.length !== L) return `CYCLIC extent ${i}: length ${x.length} ≠ ${L}`;
      if (x.fileOffset !== i * L) return `CYCLIC extent ${i}: offset ${x.fileOffset} ≠ ${i}·${L}`;
    }
  }
  return undefined;
}
