/** Contiguous and interleaved allocation over an AllocBitmap (reference §2). */
import { crypto } from '../sys/builtin.js';
import { MAX_NBUCKETS, MAX_STRIPS } from '../format/constants.js';
import type { Extent, FileMap } from '../format/types.js';
import { AllocBitmap } from './bitmap.js';

export class AllocError extends Error {
  constructor(message: string, readonly code: 'ENOSPC' | 'EINVAL') {
    super(message);
  }
}

export interface InterleaveParams {
  nstrips: number;
  nbuckets: number;
  chunkSize: number;
}

/** Files of this size or more keep upstream's 2 MiB alignment on a small-units file system. */
export const LARGE_UNIT = 0x200000;

/** Smallest bucket upstream allows (famfs_validate_interleave_param). */
export const MIN_BUCKET_SIZE = 1024 ** 3;

/** Throws AllocError(EINVAL) with the reason when parameters can't be used on this device. */
export function validateInterleave(p: InterleaveParams, deviceSize: number, allocUnit: number): void {
  const bad = (why: string): never => {
    throw new AllocError(`invalid interleave parameters: ${why}`, 'EINVAL');
  };
  if (!Number.isInteger(p.nstrips) || p.nstrips < 1 || p.nstrips > MAX_STRIPS) bad(`nstrips must be 1..${MAX_STRIPS}`);
  if (!Number.isInteger(p.nbuckets) || p.nbuckets < 1 || p.nbuckets > MAX_NBUCKETS) bad(`nbuckets must be 1..${MAX_NBUCKETS}`);
  if (p.nstrips > p.nbuckets) bad('nstrips must not exceed nbuckets');
  const c = p.chunkSize;
  if (!Number.isSafeInteger(c) || c < allocUnit || !isPow2(c)) bad(`chunk size must be a power of two and at least ${allocUnit}`);
  if (c % allocUnit !== 0) bad(`chunk size must be a multiple of ${allocUnit}`);
  if (deviceSize / p.nbuckets < MIN_BUCKET_SIZE) bad(`buckets would be smaller than 1 GiB (device ${deviceSize} / ${p.nbuckets})`);
}

function isPow2(n: number): boolean {
  return n > 0 && Number.isInteger(Math.log2(n)) && 2 ** Math.log2(n) === n;
}

/**
 * An allocation session: first-fit from a cursor that persists across files
 * (so a multi-file copy lands in ascending order), and interleave by random
 * bucket order. Every successful allocation can be rolled back exactly.
 */
export class Allocator {
  private cursorUnit = 0;
  private largeCursor = 0;

  /** `devindex`: the device this bitmap covers (its pieces carry that index). */
  constructor(readonly bitmap: AllocBitmap, readonly devindex = 0) {}

  /**
   * One extent. With an allocation unit below 2 MiB (small-units), a file of 2 MiB or
   * more still gets a 2 MiB-aligned extent of whole 2 MiB units (PMD-sized faults), and
   * smaller files pack from their own cursor so they do not break up aligned space.
   */
  contiguous(size: number): FileMap {
    const au = this.bitmap.allocUnit;
    const large = au < LARGE_UNIT && size >= LARGE_UNIT;
    const step = large ? LARGE_UNIT : au;
    const n = Math.max(1, Math.ceil(size / step)) * (step / au);
    const align = step / au;
    const cursor = large ? this.largeCursor : this.cursorUnit;
    let u = this.bitmap.findAndMark(n, cursor, undefined, align);
    if (u < 0 && cursor > 0) u = this.bitmap.findAndMark(n, 0, undefined, align);
    if (u < 0) throw new AllocError(`out of space: no ${n * au} contiguous free bytes (free ${this.bitmap.freeBytes})`, 'ENOSPC');
    if (large) this.largeCursor = u + n;
    else this.cursorUnit = u + n;
    return { kind: 'simple', extents: [{ devindex: this.devindex, offset: u * au, length: n * au }] };
  }

  interleaved(size: number, p: InterleaveParams): FileMap {
    const bm = this.bitmap;
    const au = bm.allocUnit;
    validateInterleave(p, bm.deviceSize, au);
    if (size < p.chunkSize) return this.contiguous(size);
    const allocUnits = Math.ceil(size / au);
    const chunkUnits = p.chunkSize / au;
    const bucketUnits = Math.floor(Math.floor(bm.deviceSize / au) / p.nbuckets);
    const nstripes = Math.ceil(allocUnits / (p.nstrips * chunkUnits));
    const stripUnits = nstripes * chunkUnits;
    if (stripUnits > bucketUnits) throw new AllocError(`file too large for interleave: a strip (${stripUnits * au} bytes) exceeds a bucket`, 'ENOSPC');
    const order = Array.from({ length: p.nbuckets }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = crypto().randomInt(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const strips: Extent[] = [];
    for (const b of order) {
      if (strips.length === p.nstrips) break;
      const u = bm.findAndMark(stripUnits, b * bucketUnits, (b + 1) * bucketUnits);
      if (u >= 0) strips.push({ devindex: this.devindex, offset: u * au, length: stripUnits * au });
    }
    if (strips.length < p.nstrips) {
      for (const s of strips) bm.free(s.offset, s.length);
      throw new AllocError(`out of space: found ${strips.length} of ${p.nstrips} strips of ${stripUnits * au} bytes`, 'ENOSPC');
    }
    return { kind: 'interleave', chunkSize: p.chunkSize, strips };
  }

  /** Give back exactly what an allocation took. */
  rollback(map: FileMap): void {
    this.bitmap.freeMap(map, this.devindex);
  }
}

/**
 * Multi-device interleave: one strip per device (strip d on device d, as upstream's
 * roadmap plans), each strip first-fit in that device's bitmap. All strips have the
 * same length, a whole number of chunks. On failure nothing stays marked.
 */
export function allocateAcrossDevices(bitmaps: readonly AllocBitmap[], size: number, chunkSize: number): FileMap {
  const n = bitmaps.length;
  if (n < 1 || n > MAX_STRIPS) throw new AllocError(`interleave across ${n} devices: must be 1..${MAX_STRIPS}`, 'EINVAL');
  const au = bitmaps[0]!.allocUnit;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < au || !isPow2(chunkSize) || chunkSize % au) throw new AllocError(`invalid chunk size ${chunkSize}`, 'EINVAL');
  const nstripes = Math.max(1, Math.ceil(Math.max(size, 1) / (n * chunkSize)));
  const stripLen = nstripes * chunkSize;
  const strips: Extent[] = [];
  for (const [d, bm] of bitmaps.entries()) {
    const u = bm.findAndMark(stripLen / au);
    if (u < 0) {
      for (const s of strips) bitmaps[s.devindex]!.free(s.offset, s.length);
      throw new AllocError(`out of space: device ${d} has no ${stripLen} contiguous free bytes`, 'ENOSPC');
    }
    strips.push({ devindex: d, offset: u * au, length: stripLen });
  }
  return { kind: 'interleave', chunkSize, strips };
}
