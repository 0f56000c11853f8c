/**
 * Shared helpers for the map-export tests: little-endian hex builders for hand-written
 * golden vectors, and independent resolvers that read each export's raw bytes the way
 * its kernel consumer would (no use of the decoders or of src/map/resolve.ts).
 * Not a test file itself.
 */
import fc from 'fast-check';
import type { Extent, FileMap } from '../../src/format/types.js';
import type { MapRow } from '../../src/map/export/table.js';

export const MiB = 1024 * 1024;
export const AU = 2 * MiB;

/** u32 as 8 little-endian hex digits. */
export const h32 = (n: number): string => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b.toString('hex');
};
/** u64 as 16 little-endian hex digits. */
export const h64 = (n: number | bigint): string => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b.toString('hex');
};
export const zeros = (bytes: number): string => '00'.repeat(bytes);
export const hex = (...parts: string[]): Buffer => Buffer.from(parts.join(''), 'hex');

/** The two-strip interleave (devices 0 and 1) used by several golden vectors. */
export const twoStrips: FileMap = {
  kind: 'interleave',
  chunkSize: 0x200000,
  strips: [
    { devindex: 0, offset: 0x4000_0000, length: 0x400000 },
    { devindex: 1, offset: 0x1_0000_0000, length: 0x400000 },
  ],
};

export interface Loc {
  devindex: number;
  offset: number;
}

const rd64 = (b: Buffer, o: number): number => Number(b.readBigUInt64LE(o));

/** Kernel-style lookup over one strip list (the stripe math of reference §1.3). */
function stripeLookup(chunk: number, strips: Extent[], o: number): Loc | undefined {
  const c = Math.floor(o / chunk);
  const s = strips[c % strips.length]!;
  const off = s.offset + Math.floor(c / strips.length) * chunk + (o % chunk);
  return off < s.offset + s.length ? { devindex: s.devindex, offset: off } : undefined;
}

function linearLookup(extents: Extent[], o: number): Loc | undefined {
  let base = 0;
  for (const e of extents) {
    if (o < base + e.length) return { devindex: e.devindex, offset: e.offset + (o - base) };
    base += e.length;
  }
  return undefined;
}

const readExts = (b: Buffer, at: number, n: number): Extent[] =>
  Array.from({ length: n }, (_, i) => ({
    devindex: b.readUInt32LE(at + 24 * i),
    offset: rd64(b, at + 24 * i + 8),
    length: rd64(b, at + 24 * i + 16),
  }));

/** Resolve through raw GET_FMAP reply bytes. */
export function resolveFamfsBytes(b: Buffer, o: number): Loc | undefined {
  if (o >= rd64(b, 16)) return undefined;
  const n = b.readUInt32LE(8);
  if (b.readUInt32LE(4) === 0) return linearLookup(readExts(b, 32, n), o);
  return stripeLookup(b.readUInt32LE(36), readExts(b, 56, b.readUInt32LE(32)), o);
}

/** Resolve through a raw BPF blob. */
export function resolveBpfBytes(b: Buffer, layout: 'dax_simple' | 'dax_interleave', o: number): Loc | undefined {
  if (o >= rd64(b, 0)) return undefined;
  if (layout === 'dax_simple') return linearLookup(readExts(b, 16, b.readUInt32LE(8)), o);
  return stripeLookup(rd64(b, 16), readExts(b, 40, b.readUInt32LE(24)), o);
}

/** Resolve through a raw FUSE_NOTIFY_MAP payload (CYCLIC rule of reference §3.3). */
export function resolveExtmapBytes(b: Buffer, o: number, devOfBacking: (id: bigint) => number): Loc | undefined {
  const n = b.readUInt32LE(8);
  const cyclic = (b.readUInt32LE(12) & 2) !== 0;
  const ext = (i: number) => ({
    off: rd64(b, 32 + 48 * i),
    len: rd64(b, 32 + 48 * i + 8),
    id: b.readBigUInt64LE(32 + 48 * i + 16),
    addr: rd64(b, 32 + 48 * i + 24),
  });
  if (cyclic) {
    const L = ext(0).len;
    const k = Math.floor(o / (n * L));
    const i = Math.floor((o % (n * L)) / L);
    const e = ext(i);
    return { devindex: devOfBacking(e.id), offset: e.addr + k * L + (o % L) };
  }
  for (let i = 0; i < n; i++) {
    const e = ext(i);
    if (o >= e.off && o < e.off + e.len) return { devindex: devOfBacking(e.id), offset: e.addr + (o - e.off) };
  }
  return undefined;
}

export function resolveRows(rows: MapRow[], o: number): Loc | undefined {
  const r = rows.find((x) => o >= x.fileOffset && o < x.fileOffset + x.length);
  return r && { devindex: r.devindex, offset: r.offset + (o - r.fileOffset) };
}

export interface MapCase {
  map: FileMap;
  fileSize: number;
}

const arbExtent = (maxUnits: number): fc.Arbitrary<Extent> =>
  fc.record({
    devindex: fc.integer({ min: 0, max: 2 }),
    offset: fc.integer({ min: 0, max: 1 << 20 }).map((k) => k * AU),
    length: fc.integer({ min: 1, max: maxUnits }).map((k) => k * AU),
  }).map((e) => ({ ...e })); // fc.record builds null-prototype objects; decoders build plain ones

/** Simple maps of 1..16 aligned extents on devices 0..2, file size anywhere in (0, capacity]. */
export const arbSimpleCase: fc.Arbitrary<MapCase> = fc
  .array(arbExtent(8), { minLength: 1, maxLength: 16 })
  .chain((extents) => {
    const cap = extents.reduce((a, e) => a + e.length, 0);
    return fc.integer({ min: 1, max: cap }).map((fileSize) => ({ map: { kind: 'simple', extents } as FileMap, fileSize }));
  });

/**
 * Interleaves of 1..16 strips, chunk 2 MiB·2^k (k ≤ 4); each strip holds 1..4 whole
 * chunks plus 0..(chunk/2 MiB − 1) extra 2 MiB units (so some strips end mid-chunk);
 * the file size is anywhere in (0, the prefix the strips can hold].
 */
export const arbInterleaveCase: fc.Arbitrary<MapCase> = fc
  .record({ k: fc.integer({ min: 0, max: 4 }), n: fc.integer({ min: 1, max: 16 }) })
  .chain(({ k, n }) => {
    const chunk = AU << k;
    const strip = fc.record({
      devindex: fc.integer({ min: 0, max: 2 }),
      offset: fc.integer({ min: 0, max: 1 << 20 }).map((u) => u * AU),
      stripes: fc.integer({ min: 1, max: 4 }),
      extra: fc.integer({ min: 0, max: (1 << k) - 1 }),
    });
    return fc.array(strip, { minLength: n, maxLength: n }).chain((ss) => {
      const strips = ss.map((s) => ({ devindex: s.devindex, offset: s.offset, length: s.stripes * chunk + s.extra * AU }));
      const map: FileMap = { kind: 'interleave', chunkSize: chunk, strips };
      return fc.integer({ min: 1, max: coveredPrefix(map) }).map((fileSize) => ({ map, fileSize }));
    });
  });

/** Bytes from file offset 0 that the interleave can hold before the first strip runs out. */
export function coveredPrefix(map: FileMap): number {
  if (map.kind === 'simple') return map.extents.reduce((a, e) => a + e.length, 0);
  const { chunkSize: L, strips } = map;
  for (let c = 0; ; c++) {
    const s = strips[c % strips.length]!;
    const start = Math.floor(c / strips.length) * L;
    if (start + L > s.length) return c * L + Math.max(0, s.length - start);
  }
}
