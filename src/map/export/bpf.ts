/**
 * BPF prototype export (Gregory Price's `fuse_dax_fmap_ops`, reference fuse-kernel.md §4,
 * `dax_fmap_wire.h`): the opaque GET_FMAP blob a BPF `dax_fmap_parse()` program reads.
 * The blob carries no type field: the ops chosen by name at INIT ("dax_simple" or
 * "dax_interleave") decide how it is read, so the decoder takes the layout.
 *
 *   dax_simple:     hdr {file_size u64 @0, n_extents u32 @8, rsvd u32 @12} (16)
 *                   + n × {dev_index u32 @0, rsvd u32 @4, offset u64 @8, len u64 @16} (24)
 *   dax_interleave: hdr {file_size u64 @0, n_iexts u32 @8, rsvd u32 @12} (16)
 *                   + per iext {chunk_size u64 @0, nstrips u32 @8, rsvd u32 @12, nbytes u64 @16} (24)
 *                     + nstrips × strip (24, same layout as the simple extent)
 *
 * The same bytes are what a daemon would store as the value of a pinned BPF hash map
 * entry (key = nodeid) in the map-push variant.
 */
import { readU64, writeU64 } from '../../format/bytes.js';
import type { Extent, FileMap } from '../../format/types.js';
import { MapDecodeError } from './famfs.js';

export const BPF_HDR_SIZE = 16;
export const BPF_EXT_SIZE = 24;
export const BPF_IEXT_SIZE = 24;
/** Per-inode meta buffer cap of the prototype (`FUSE_DAX_FMAP_META_MAX`). */
export const BPF_META_MAX = 64 * 1024;

export type BpfLayout = 'dax_simple' | 'dax_interleave';

export function bpfLayoutOf(map: FileMap): BpfLayout {
  return map.kind === 'simple' ? 'dax_simple' : 'dax_interleave';
}

function writeExt(buf: Buffer, off: number, e: Extent): void {
  if (!Number.isInteger(e.devindex) || e.devindex < 0 || e.devindex > 0xffff_ffff) throw new RangeError(`devindex ${e.devindex} does not fit a u32`);
  buf.writeUInt32LE(e.devindex, off);
  writeU64(buf, off + 8, e.offset);
  writeU64(buf, off + 16, e.length);
}

/** The blob for `map`; its layout is `bpfLayoutOf(map)`. An interleave is one iext with nbytes = fileSize. */
export function encodeBpfBlob(map: FileMap, fileSize: number): Buffer {
  const list = map.kind === 'simple' ? map.extents : map.strips;
  const extra = map.kind === 'simple' ? 0 : BPF_IEXT_SIZE;
  const buf = Buffer.alloc(BPF_HDR_SIZE + extra + list.length * BPF_EXT_SIZE);
  writeU64(buf, 0, fileSize);
  let off = BPF_HDR_SIZE;
  if (map.kind === 'simple') {
    buf.writeUInt32LE(map.extents.length, 8);
  } else {
    buf.writeUInt32LE(1, 8);
    writeU64(buf, off, map.chunkSize);
    buf.writeUInt32LE(map.strips.length, off + 8);
    writeU64(buf, off + 16, fileSize);
    off += BPF_IEXT_SIZE;
  }
  for (const e of list) {
    writeExt(buf, off, e);
    off += BPF_EXT_SIZE;
  }
  return buf;
}

export interface DecodedBpfBlob {
  fileSize: number;
  map: FileMap;
  nbytes?: number;
}

export function decodeBpfBlob(buf: Buffer, layout: BpfLayout): DecodedBpfBlob {
  if (buf.length < BPF_HDR_SIZE) throw new MapDecodeError(`blob of ${buf.length} bytes is shorter than its header`);
  const fileSize = readU64(buf, 0);
  const n = buf.readUInt32LE(8);
  let off = BPF_HDR_SIZE;
  const ext = (): Extent => {
    if (off + BPF_EXT_SIZE > buf.length) throw new MapDecodeError(`blob truncated at byte ${off}`);
    const e = { devindex: buf.readUInt32LE(off), offset: readU64(buf, off + 8), length: readU64(buf, off + 16) };
    off += BPF_EXT_SIZE;
    return e;
  };
  let result: DecodedBpfBlob;
  if (layout === 'dax_simple') {
    const extents: Extent[] = [];
    for (let i = 0; i < n; i++) extents.push(ext());
    result = { fileSize, map: { kind: 'simple', extents } };
  } else {
    if (n !== 1) throw new MapDecodeError(`${n} interleaved extents; the neutral map holds exactly one`);
    if (off + BPF_IEXT_SIZE > buf.length) throw new MapDecodeError(`blob truncated at byte ${off}`);
    const chunkSize = readU64(buf, off);
    const nstrips = buf.readUInt32LE(off + 8);
    const nbytes = readU64(buf, off + 16);
    off += BPF_IEXT_SIZE;
    const strips: Extent[] = [];
    for (let i = 0; i < nstrips; i++) strips.push(ext());
    result = { fileSize, nbytes, map: { kind: 'interleave', chunkSize, strips } };
  }
  if (off !== buf.length) throw new MapDecodeError(`${buf.length - off} trailing bytes after the blob`);
  return result;
}
