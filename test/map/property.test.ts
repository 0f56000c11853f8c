/**
 * Property: for random valid maps and random file offsets, resolving the offset through
 * each export (read back by an independent, kernel-style resolver over the raw bytes or
 * rows) gives the same (devindex, device offset) as resolveRange; the decoders round-trip;
 * valid maps raise no kernel problem.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Extent } from '../../src/format/types.js';
import { resolveRange } from '../../src/map/resolve.js';
import { decodeGetFmapReply, encodeGetFmapReply, fmapKernelProblem } from '../../src/map/export/famfs.js';
import { cyclicFits, decodeNotifyMap, encodeNotifyMap, FUSE_MAP_CYCLIC, notifyMapProblem } from '../../src/map/export/extmap.js';
import { bpfLayoutOf, decodeBpfBlob, encodeBpfBlob } from '../../src/map/export/bpf.js';
import { mapTable } from '../../src/map/export/table.js';
import {
  arbInterleaveCase, arbSimpleCase, resolveBpfBytes, resolveExtmapBytes, resolveFamfsBytes, resolveRows,
  type Loc, type MapCase,
} from './helpers.js';

const RUNS = 300;

function truth(c: MapCase, o: number): Loc | undefined {
  let loc: Loc | undefined;
  resolveRange(c.map, c.fileSize, o, 1, (devindex, offset) => (loc ??= { devindex, offset }));
  return loc;
}

const backingIdOf = (d: number): bigint => 1000n + BigInt(d) * 7n;
const devOfBacking = (id: bigint): number => Number((id - 1000n) / 7n);

/** Offsets to probe: random fractions of the file, plus both ends and chunk/extent edges. */
const arbProbe = (arbCase: fc.Arbitrary<MapCase>) =>
  fc.tuple(arbCase, fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 20 }), fc.boolean());

function check(c: MapCase, fracs: number[], cyclic: boolean): void {
  const famfs = encodeGetFmapReply(c.map, c.fileSize);
  const bpf = encodeBpfBlob(c.map, c.fileSize);
  const layout = bpfLayoutOf(c.map);
  const ext = encodeNotifyMap(c.map, c.fileSize, { backingIdOf, cyclic });
  const rows = mapTable(c.map, c.fileSize);

  const edges = [0, c.fileSize - 1];
  if (c.map.kind === 'interleave') {
    for (let k = 1; k * c.map.chunkSize < c.fileSize && k < 40; k++) edges.push(k * c.map.chunkSize - 1, k * c.map.chunkSize);
  }
  for (const o of [...edges, ...fracs.map((f) => Math.floor(f * c.fileSize))]) {
    const want = truth(c, o);
    assert.ok(want, `offset ${o} of ${c.fileSize} is mapped`);
    assert.deepEqual(resolveFamfsBytes(famfs, o), want, `famfs @${o}`);
    assert.deepEqual(resolveBpfBytes(bpf, layout, o), want, `bpf @${o}`);
    assert.deepEqual(resolveExtmapBytes(ext, o, devOfBacking), want, `extmap @${o}`);
    assert.deepEqual(resolveRows(rows, o), want, `table @${o}`);
  }
  // beyond the file: famfs/bpf carry the size and resolve nothing; the table ends there
  assert.equal(resolveFamfsBytes(famfs, c.fileSize), undefined);
  assert.equal(resolveBpfBytes(bpf, layout, c.fileSize), undefined);
  assert.equal(resolveRows(rows, c.fileSize), undefined);

  // rows tile [0, fileSize) in order
  let at = 0;
  for (const r of rows) {
    assert.equal(r.fileOffset, at);
    assert.ok(r.length > 0);
    at += r.length;
  }
  assert.equal(at, c.fileSize);

  // decoders round-trip; valid maps fit both kernels
  assert.deepEqual(decodeGetFmapReply(famfs).map, c.map);
  assert.deepEqual(decodeBpfBlob(bpf, layout).map, c.map);
  assert.equal(fmapKernelProblem(c.map, c.fileSize), undefined);
  const d = decodeNotifyMap(ext);
  assert.equal(notifyMapProblem(d), undefined);
  const isCyclic = (d.flags & FUSE_MAP_CYCLIC) !== 0;
  assert.equal(isCyclic, cyclic && cyclicFits(c.map, c.fileSize));
  if (isCyclic && c.map.kind === 'interleave') {
    // a cyclic list maps whole chunks: the last byte of every chunk the file touches must lie in its strip
    const { chunkSize: L, strips } = c.map;
    for (let k = 0; k * L < c.fileSize; k++) {
      const loc = resolveExtmapBytes(ext, k * L + L - 1, devOfBacking)!;
      const s: Extent = strips[k % strips.length]!;
      assert.equal(loc.devindex, s.devindex);
      assert.ok(loc.offset >= s.offset && loc.offset < s.offset + s.length, `chunk ${k} end inside its strip`);
    }
  }
  if (!isCyclic && c.map.kind === 'interleave') {
    // unrolled extents cover the file and never leave the strips (one extent may span
    // strips that happen to be adjacent on their device)
    const covered = d.extents.reduce((a, x) => a + x.length, 0);
    assert.ok(covered >= c.fileSize);
    const { strips } = c.map;
    for (const x of d.extents) {
      const dev = devOfBacking(x.backingId);
      for (let o = x.addr; o < x.addr + x.length; o += 4096) {
        assert.ok(strips.some((s) => s.devindex === dev && o >= s.offset && o + 4096 <= s.offset + s.length), `page at ${o} inside a strip`);
      }
    }
  }
}

describe('every export resolves like resolveRange', () => {
  it('simple maps (1..16 extents, devices 0..2)', () => {
    fc.assert(fc.property(arbProbe(arbSimpleCase), ([c, fracs, cyclic]) => check(c, fracs, cyclic)), { numRuns: RUNS });
  });

  it('interleaves (1..16 strips, chunk 2..32 MiB, strips possibly ending mid-chunk)', () => {
    fc.assert(fc.property(arbProbe(arbInterleaveCase), ([c, fracs, cyclic]) => check(c, fracs, cyclic)), { numRuns: RUNS });
  });

  it('the generator reaches both CYCLIC and unrolled interleaves', () => {
    let yes = 0;
    let no = 0;
    fc.assert(fc.property(arbInterleaveCase, (c) => void (cyclicFits(c.map, c.fileSize) ? yes++ : no++)), { numRuns: 300 });
    assert.ok(yes > 0 && no > 0, `cyclic ${yes}, unrolled ${no}`);
  });
});
