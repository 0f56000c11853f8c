/** Checks a FILE entry's map must pass before any host maps it: nothing outside the data area, nothing unaligned. */
import { MAX_SIMPLE_EXTENTS, MAX_STRIPS } from '../format/constants.js';
import type { Extent, FileMap } from '../format/types.js';
import { SECONDARY_DATA_START } from '../format/devheader.js';

export interface Geometry {
  /** Bytes of the device usable for data (the smaller of the superblock's and the real size). */
  deviceSize: number;
  allocUnit: number;
  /** First byte after the superblock and log. */
  dataStart: number;
  /** Number of devices in the table: 1 + the ADD_DAXDEV entries replayed so far. */
  ndevices: number;
  /** Sizes of devices 1.. (from ADD_DAXDEV), by index; device 0 uses deviceSize. */
  deviceSizes?: number[];
}


function isPow2(n: number): boolean {
  return n > 0 && Number.isSafeInteger(n) && 2 ** Math.round(Math.log2(n)) === n;
}

function extentProblem(e: Extent, g: Geometry, what: string): string | undefined {
  if (e.devindex >= g.ndevices) return `${what}: device index ${e.devindex} does not exist`;
  if (e.length <= 0) return `${what}: zero length`;
  if (e.offset % g.allocUnit || e.length % g.allocUnit) return `${what}: not aligned to ${g.allocUnit}`;
  if (e.devindex === 0) {
    if (e.offset < g.dataStart) return `${what}: overlaps the superblock or log`;
    if (e.offset + e.length > g.deviceSize) return `${what}: extends past the device end`;
  } else {
    const size = g.deviceSizes?.[e.devindex];
    if (size === undefined) return `${what}: device index ${e.devindex} does not exist`;
    if (e.offset < SECONDARY_DATA_START) return `${what}: overlaps the header of device ${e.devindex}`;
    if (e.offset + e.length > size) return `${what}: extends past the end of device ${e.devindex}`;
  }
  return undefined;
}

function overlapProblem(pieces: Extent[]): string | undefined {
  const sorted = [...pieces].sort((a, b) => a.devindex - b.devindex || a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!, b = sorted[i]!;
    if (a.devindex === b.devindex && a.offset + a.length > b.offset) return 'extents overlap each other';
  }
  return undefined;
}

/** Bytes a map can hold. */
export function mapCapacity(map: FileMap): number {
  if (map.kind === 'simple') return map.extents.reduce((s, e) => s + e.length, 0);
  return map.strips.reduce((s, e) => s + e.length, 0);
}

/** Why a file map is unacceptable for a file of `size` bytes, or undefined when it is fine. */
export function mapProblem(map: FileMap, size: number, g: Geometry): string | undefined {
  if (map.kind === 'simple') {
    if (map.extents.length > MAX_SIMPLE_EXTENTS) return `more than ${MAX_SIMPLE_EXTENTS} extents`;
    if (map.extents.length === 0 && size > 0) return 'no extents';
    for (const [i, e] of map.extents.entries()) {
      const p = extentProblem(e, g, `extent ${i}`);
      if (p) return p;
    }
    const o = overlapProblem(map.extents);
    if (o) return o;
  } else {
    const n = map.strips.length;
    if (n < 1 || n > MAX_STRIPS) return `nstrips ${n} is not in 1..${MAX_STRIPS}`;
    if (!isPow2(map.chunkSize) || map.chunkSize % g.allocUnit) return `chunk size ${map.chunkSize} is not a power-of-two multiple of ${g.allocUnit}`;
    const len = map.strips[0]!.length;
    for (const [i, e] of map.strips.entries()) {
      const p = extentProblem(e, g, `strip ${i}`);
      if (p) return p;
      if (e.length !== len) return 'strips differ in length';
      if (e.length % map.chunkSize) return `strip ${i} is not a whole number of chunks`;
    }
    const o = overlapProblem(map.strips);
    if (o) return o;
  }
  if (size > mapCapacity(map)) return `size ${size} exceeds the ${mapCapacity(map)} bytes mapped`;
  return undefined;
}
