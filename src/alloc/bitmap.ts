/**
 * Free-space bitmap, rebuilt from the log and never stored (as upstream).
 * One byte per allocation unit; bounded by the device end (upstream rounds the
 * unit count up and could hand out a partial unit past the end).
 */
import type { Extent, FileMap } from '../format/types.js';

export class AllocBitmap {
  readonly units: Uint8Array;
  readonly allocUnit: number;
  readonly deviceSize: number;
  private used = 0;

  /** `reserved` bytes at the start (superblock + log) are marked allocated. */
  constructor(deviceSize: number, allocUnit: number, reserved: number) {
    this.deviceSize = deviceSize;
    this.allocUnit = allocUnit;
    this.units = new Uint8Array(Math.floor(deviceSize / allocUnit));
    this.mark(0, Math.min(reserved, this.units.length * allocUnit));
  }

  get capacity(): number {
    return this.units.length * this.allocUnit;
  }

  get usedBytes(): number {
    return this.used * this.allocUnit;
  }

  get freeBytes(): number {
    return this.capacity - this.usedBytes;
  }

  /**
   * Mark [offset, offset+length) allocated. Returns how many units were already
   * allocated (collisions). The range must be unit-aligned and inside the bitmap.
   */
  mark(offset: number, length: number): number {
    const [first, n] = this.unitRange(offset, length);
    let collisions = 0;
    for (let u = first; u < first + n; u++) {
      if (this.units[u]) collisions++;
      else {
        this.units[u] = 1;
        this.used++;
      }
    }
    return collisions;
  }

  /** Free exactly [offset, offset+length). */
  free(offset: number, length: number): void {
    const [first, n] = this.unitRange(offset, length);
    for (let u = first; u < first + n; u++) {
      if (this.units[u]) {
        this.units[u] = 0;
        this.used--;
      }
    }
  }

  /** Mark the pieces of `map` that lie on device `devindex` (a bitmap covers one device). */
  markMap(map: FileMap, devindex = 0): number {
    const pieces = map.kind === 'simple' ? map.extents : map.strips;
    let c = 0;
    for (const e of pieces) if (e.devindex === devindex) c += this.mark(e.offset, e.length);
    return c;
  }

  freeMap(map: FileMap, devindex = 0): void {
    for (const e of map.kind === 'simple' ? map.extents : map.strips) if (e.devindex === devindex) this.free(e.offset, e.length);
  }

  /**
   * First fit of `nunits` clear units in [fromUnit, toUnit) starting on a multiple of
   * `alignUnits`; marks and returns the first unit, or -1. Skips runs with indexOf (native).
   */
  findAndMark(nunits: number, fromUnit = 0, toUnit = this.units.length, alignUnits = 1): number {
    const end = Math.min(toUnit, this.units.length);
    const up = (u: number): number => Math.ceil(u / alignUnits) * alignUnits;
    let start = up(Math.max(0, fromUnit));
    while (start + nunits <= end) {
      if (this.units[start]) {
        const free = this.units.indexOf(0, start);
        if (free < 0) return -1;
        start = up(free);
        continue;
      }
      // Look only inside the candidate run (an unbounded indexOf would scan to the device end).
      const hit = this.units.subarray(start, start + nunits).indexOf(1);
      const used = hit < 0 ? -1 : start + hit;
      if (used < 0) {
        this.units.fill(1, start, start + nunits);
        this.used += nunits;
        return start;
      }
      start = up(used + 1);
    }
    return -1;
  }

  /** An independent copy (for trying allocations without taking them). */
  clone(): AllocBitmap {
    const c = new AllocBitmap(this.deviceSize, this.allocUnit, 0);
    c.units.set(this.units);
    c.used = this.used;
    return c;
  }

  /** Runs of free units from `fromUnit` on, in order: [firstUnit, count][]. */
  freeRuns(fromUnit = 0): [number, number][] {
    const out: [number, number][] = [];
    let start = -1;
    for (let u = Math.max(0, fromUnit); u <= this.units.length; u++) {
      const free = u < this.units.length && !this.units[u];
      if (free && start < 0) start = u;
      else if (!free && start >= 0) {
        out.push([start, u - start]);
        start = -1;
      }
    }
    return out;
  }

  isFree(offset: number, length: number): boolean {
    const [first, n] = this.unitRange(offset, length);
    for (let u = first; u < first + n; u++) if (this.units[u]) return false;
    return true;
  }

  private unitRange(offset: number, length: number): [number, number] {
    const au = this.allocUnit;
    if (offset % au !== 0 || offset < 0) throw new RangeError(`offset ${offset} is not aligned to the allocation unit`);
    const first = offset / au;
    const n = Math.ceil(length / au);
    if (first + n > this.units.length) throw new RangeError(`range [${offset}, +${length}) is past the end of the device`);
    return [first, n];
  }
}

export function extentsOf(map: FileMap): Extent[] {
  return map.kind === 'simple' ? map.extents : map.strips;
}
