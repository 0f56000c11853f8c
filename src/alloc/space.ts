/**
 * The space of every device of a file system, and where new files go (docs/mapping.md,
 * "Placement"). One bitmap per device (device 0 after the superblock and log, devices 1..
 * after their header); every allocation path — creat, cp, -N/-B, -D and files made through
 * the master's mount — asks here, so all devices are used.
 *
 * Placements:
 *   fill   (default) device 0 first, then 1, 2, …: a device is used once the ones before
 *          it have no room; a file that fits on no single device is split into extents on
 *          several (at most 16, as any simple map).
 *   spread each new file (or a growing file's next extent) on the device with the most
 *          free space, so devices fill evenly.
 *   stripe files of at least one chunk per device are interleaved with one strip per
 *          device (as `creat -D`); smaller files, and growing files made through a mount
 *          whose final size is unknown, are placed as `spread`.
 */
import { MAX_SIMPLE_EXTENTS } from '../format/constants.js';
import type { Extent, FileMap } from '../format/types.js';
import { AllocError, Allocator, allocateAcrossDevices, type InterleaveParams } from './allocator.js';
import type { AllocBitmap } from './bitmap.js';

export const PLACEMENTS = ['fill', 'spread', 'stripe'] as const;
export type Placement = (typeof PLACEMENTS)[number];
export const DEFAULT_PLACEMENT: Placement = 'fill';
/** Chunk size of `stripe` placement (and of `creat -D` by default). */
export const STRIPE_CHUNK = 2 * 1024 * 1024;

export function isPlacement(s: string): s is Placement {
  return (PLACEMENTS as readonly string[]).includes(s);
}

export interface DeviceUse {
  index: number;
  capacity: number;
  used: number;
  free: number;
}

export interface PlaceOptions {
  interleave?: InterleaveParams;
  /** One strip per device with this chunk size (`creat -D`). */
  acrossDevices?: { chunkSize: number };
}

export class DeviceSpace {
  private readonly allocators: Allocator[];

  /**
   * `bitmaps[d]` covers device d. `usable[d] === false` keeps new pieces off device d
   * (a device this host cannot reach: its space still counts).
   */
  constructor(readonly bitmaps: readonly AllocBitmap[], readonly placement: Placement = DEFAULT_PLACEMENT, private readonly usable: readonly boolean[] = []) {
    this.allocators = bitmaps.map((b, d) => new Allocator(b, d));
  }

  /** The allocation unit (the same on every device: the superblock's). */
  get allocUnit(): number {
    return this.bitmaps[0]!.allocUnit;
  }

  get ndevices(): number {
    return this.bitmaps.length;
  }

  get capacity(): number {
    return this.bitmaps.reduce((n, b) => n + b.capacity, 0);
  }

  get usedBytes(): number {
    return this.bitmaps.reduce((n, b) => n + b.usedBytes, 0);
  }

  get freeBytes(): number {
    return this.capacity - this.usedBytes;
  }

  perDevice(): DeviceUse[] {
    return this.bitmaps.map((b, index) => ({ index, capacity: b.capacity, used: b.usedBytes, free: b.freeBytes }));
  }

  /** Devices in the order new pieces try them. */
  order(): number[] {
    const ds = this.bitmaps.map((_, d) => d).filter((d) => this.usable[d] !== false);
    if (this.placement === 'fill') return ds;
    return ds.sort((a, b) => this.bitmaps[b]!.freeBytes - this.bitmaps[a]!.freeBytes || a - b);
  }

  /** Allocate a new file of `size` bytes (≥ one unit) by the placement, or as `opts` ask. */
  place(size: number, opts: PlaceOptions = {}): FileMap {
    const n = Math.max(size, 1);
    if (opts.acrossDevices && this.ndevices > 1) return this.across(n, opts.acrossDevices.chunkSize);
    if (opts.interleave) return this.interleaved(n, opts.interleave);
    if (this.placement === 'stripe' && this.ndevices > 1 && this.order().length === this.ndevices && n >= this.ndevices * STRIPE_CHUNK) {
      try {
        return this.across(n, STRIPE_CHUNK);
      } catch (e) {
        if (!(e instanceof AllocError) || e.code !== 'ENOSPC') throw e;
      }
    }
    return this.contiguous(n);
  }

  /** One extent on the first device (in placement order) with room; else extents on several. */
  contiguous(size: number): FileMap {
    for (const d of this.order()) {
      try {
        return this.allocators[d]!.contiguous(size);
      } catch (e) {
        if (!(e instanceof AllocError) || e.code !== 'ENOSPC') throw e;
      }
    }
    return { kind: 'simple', extents: this.split(size) };
  }

  /** -N/-B interleave inside one device: the first device (in placement order) where it fits. */
  interleaved(size: number, p: InterleaveParams): FileMap {
    let last: unknown;
    for (const d of this.order()) {
      try {
        return this.allocators[d]!.interleaved(size, p);
      } catch (e) {
        if (!(e instanceof AllocError)) throw e;
        last = e;
      }
    }
    throw last ?? new AllocError('out of space: no device', 'ENOSPC');
  }

  across(size: number, chunkSize: number): FileMap {
    return allocateAcrossDevices(this.bitmaps, size, chunkSize);
  }

  /** Free runs taken in device order, largest first, until `size` is covered (≤ 16 extents). */
  private split(size: number): Extent[] {
    const au = this.bitmaps[0]!.allocUnit;
    let need = Math.ceil(size / au);
    const runs: { d: number; u: number; n: number }[] = [];
    for (const d of this.order()) for (const [u, n] of this.bitmaps[d]!.freeRuns()) runs.push({ d, u, n });
    const rank = new Map(this.order().map((d, i) => [d, i]));
    runs.sort((a, b) => rank.get(a.d)! - rank.get(b.d)! || b.n - a.n);
    const out: Extent[] = [];
    for (const r of runs) {
      if (need === 0 || out.length === MAX_SIMPLE_EXTENTS) break;
      const take = Math.min(need, r.n);
      this.bitmaps[r.d]!.mark(r.u * au, take * au);
      out.push({ devindex: r.d, offset: r.u * au, length: take * au });
      need -= take;
    }
    if (need > 0) {
      for (const e of out) this.free(e);
      throw new AllocError(`out of space: no room for ${Math.ceil(size / au) * au} bytes on ${this.ndevices > 1 ? `${this.ndevices} devices` : 'the device'} (free ${this.freeBytes}${out.length === MAX_SIMPLE_EXTENTS ? `, in more than ${MAX_SIMPLE_EXTENTS} pieces` : ''})`, 'ENOSPC');
    }
    // Ascending within a device, as a first-fit allocation would lay them out.
    return out.sort((a, b) => (rank.get(a.devindex)! - rank.get(b.devindex)!) || a.offset - b.offset);
  }

  /** Grow extent `e` in place by `length` bytes when they are free; true if it did. */
  growInPlace(e: Extent, length: number): boolean {
    const bm = this.bitmaps[e.devindex];
    if (!bm || e.offset + e.length + length > bm.capacity || !bm.isFree(e.offset + e.length, length)) return false;
    bm.mark(e.offset + e.length, length);
    e.length += length;
    return true;
  }

  /**
   * A new extent of exactly `length` contiguous bytes on the device the placement picks, or
   * undefined. `align` (bytes, a multiple of the unit): where it may start (small-units: 2 MiB).
   */
  take(length: number, align = this.allocUnit): Extent | undefined {
    for (const d of this.order()) {
      const bm = this.bitmaps[d]!;
      const u = bm.findAndMark(length / bm.allocUnit, 0, undefined, Math.max(1, align / bm.allocUnit));
      if (u >= 0) return { devindex: d, offset: u * bm.allocUnit, length };
    }
    return undefined;
  }

  free(e: Extent): void {
    this.bitmaps[e.devindex]?.free(e.offset, e.length);
  }

  freeMap(map: FileMap): void {
    for (const e of map.kind === 'simple' ? map.extents : map.strips) this.free(e);
  }

  /** An independent copy, to try a whole plan of allocations first. */
  clone(): DeviceSpace {
    return new DeviceSpace(this.bitmaps.map((b) => b.clone()), this.placement, this.usable);
  }
}
