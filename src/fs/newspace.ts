/**
 * Space of the master's new files (not yet logged): taken in 2 MiB units from
 * every device's free space (DeviceSpace: the device the placement picks), growing geometrically (the last extent in place when the
 * next units are free), at most 16 extents. Bytes a new file's creator did
 * not write must read as zero to everyone, but the units may hold a dropped
 * file's bytes: so every range that becomes part of the file (a write past
 * EOF, a hole, a truncate that grows) is zeroed before the size that exposes
 * it is published, and the tail of the last page is zeroed at commit (a
 * famfs kernel maps whole pages).
 */
import { ALLOC_UNIT, MAX_SIMPLE_EXTENTS } from '../format/constants.js';
import type { Extent, SimpleMap } from '../format/types.js';
import type { Famfs } from '../api/famfs.js';
import { FamfsError } from '../api/errors.js';
import type { DeviceSpace } from '../alloc/space.js';

export const PAGE = 4096;

/** The part of a new file this module looks after. */
export interface NewSpace {
  path: string;
  size: number;
  map: SimpleMap;
  /** Bytes allocated (sum of the extents). */
  allocated: number;
}

/** Make room for `end` bytes: grow in place, else add an extent at least as large as the file has (≤ 1 GiB at a time). */
export function ensureCapacity(bm: DeviceSpace, f: NewSpace, end: number): void {
  if (end <= f.allocated) return;
  // small-units: a file growing to 2 MiB or more takes further space in aligned 2 MiB units.
  const unit = bm.allocUnit;
  const au = end >= ALLOC_UNIT ? ALLOC_UNIT : unit;
  const need = Math.ceil((end - f.allocated) / au) * au;
  const want = Math.ceil(Math.max(need, Math.min(f.allocated, 1024 ** 3), au) / au) * au;
  const sizes = want === need ? [need] : [want, need];
  const last = f.map.extents[f.map.extents.length - 1];
  for (const size of sizes) {
    if (last && bm.growInPlace(last, size)) {
      f.allocated += size;
      return;
    }
  }
  if (f.map.extents.length >= MAX_SIMPLE_EXTENTS) throw new FamfsError(`${f.path}: out of space (a file may have at most ${MAX_SIMPLE_EXTENTS} extents)`, 'ENOSPC');
  for (const size of sizes) {
    const e = bm.take(size, au);
    if (e) {
      f.map.extents.push(e);
      f.allocated += size;
      return;
    }
  }
  throw new FamfsError(`${f.path}: out of space`, 'ENOSPC');
}

/** Zero bytes [from, to) of a new file (clamped to its allocation). */
export function zeroRange(famfs: Famfs, f: NewSpace, from: number, to: number): void {
  to = Math.min(to, f.allocated);
  if (to <= from) return;
  const file = { map: f.map, size: to };
  if (famfs.rangeThroughFd(file, from, to - from)) {
    // A device file in this kernel's page cache: punch holes (Device.zero). No page is touched,
    // and space never written (most of a fresh device) is a hole already.
    famfs.pieces(file, from, to - from, (dev, off, len) => dev.zero(off, len));
    return;
  }
  for (const s of famfs.slices(file, from, to - from)) s.fill(0);
  // Written back at once, before a worker writes into the range and long before the commit:
  // other hosts must see the zeros, and a later write-back must not carry them over newer bytes.
  famfs.flushFile(file, from, to - from); // fcc-site: new-space-zero-flush
}

/** Give all of a file's space back. */
export function freeAll(bm: DeviceSpace, f: NewSpace): void {
  for (const e of f.map.extents) bm.free(e);
  f.map.extents = [];
  f.allocated = 0;
}

/** The extents to log: whole units up to the size (at least one, as creat does); the tail is freed. */
export function trim(bm: DeviceSpace, f: NewSpace): Extent[] {
  if (f.allocated === 0) ensureCapacity(bm, f, 1);
  // Whole units of the bitmap (4 KiB with small-units); a file moved to an aligned extent keeps whole 2 MiB units.
  const aligned = f.size >= ALLOC_UNIT && f.map.extents.every((e) => e.offset % ALLOC_UNIT === 0 && e.length % ALLOC_UNIT === 0);
  const unit = aligned ? ALLOC_UNIT : bm.allocUnit;
  const keep = Math.max(1, Math.ceil(f.size / unit)) * unit;
  const out: Extent[] = [];
  let base = 0;
  for (const e of f.map.extents) {
    const len = Math.min(e.length, Math.max(0, keep - base));
    if (len > 0) out.push({ ...e, length: len });
    if (len < e.length) bm.free({ devindex: e.devindex, offset: e.offset + len, length: e.length - len });
    base += e.length;
  }
  f.allocated = keep;
  return out;
}
