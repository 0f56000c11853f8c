/** File-range → device-range resolution over the neutral map (the one place the stripe math lives). */
import type { Extent, FileMap } from '../format/types.js';

export type PieceSink = (devindex: number, offset: number, length: number) => void;

/**
 * Call `sink` for each device piece of file bytes [offset, offset+length), in
 * file order, clamped to `size`. Pieces never leave the map's extents.
 */
export function resolveRange(map: FileMap, size: number, offset: number, length: number, sink: PieceSink): number {
  const end = Math.min(size, offset + length);
  if (offset >= end) return 0;
  if (map.kind === 'simple') {
    let base = 0;
    for (const e of map.extents) {
      const eEnd = base + e.length;
      if (eEnd > offset && base < end) {
        const from = Math.max(offset, base);
        const to = Math.min(end, eEnd);
        sink(e.devindex, e.offset + (from - base), to - from);
      }
      base = eEnd;
      if (base >= end) break;
    }
  } else {
    const { chunkSize, strips } = map;
    const n = strips.length;
    let o = offset;
    while (o < end) {
      const chunk = Math.floor(o / chunkSize);
      const within = o - chunk * chunkSize;
      const strip = strips[chunk % n]!;
      const stripe = Math.floor(chunk / n);
      const len = Math.min(chunkSize - within, end - o);
      const devOff = strip.offset + stripe * chunkSize + within;
      if (devOff + len > strip.offset + strip.length) break; // beyond the strip: the map is too small
      sink(strip.devindex, devOff, len);
      o += len;
    }
  }
  return end - offset;
}

/** The pieces of [offset, offset+length) as a list (for exports and tests). */
export function resolvePieces(map: FileMap, size: number, offset: number, length: number): Extent[] {
  const out: Extent[] = [];
  resolveRange(map, size, offset, length, (devindex, off, len) => {
    const last = out[out.length - 1];
    if (last && last.devindex === devindex && last.offset + last.length === off) last.length += len;
    else out.push({ devindex, offset: off, length: len });
  });
  return out;
}
