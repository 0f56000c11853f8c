/** Allocator: properties over random sequences of allocations and rollbacks, and parameter validation. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AllocBitmap, extentsOf } from '../../src/alloc/bitmap.js';
import { AllocError, Allocator, validateInterleave, type InterleaveParams } from '../../src/alloc/allocator.js';
import type { FileMap } from '../../src/format/types.js';
import { GiB, MiB } from './helpers.js';

const AU = 2 * MiB;
const DATA_START = 10 * MiB; // 2 MiB superblock + 8 MiB log

type Op =
  | { kind: 'contig'; size: number }
  | { kind: 'inter'; size: number; p: InterleaveParams }
  | { kind: 'rollback'; pick: number };

/** The bitmap that the live allocations + reserved area should produce. */
function model(deviceSize: number, live: FileMap[]): Uint8Array {
  const m = new Uint8Array(Math.floor(deviceSize / AU));
  m.fill(1, 0, DATA_START / AU);
  for (const map of live) for (const e of extentsOf(map)) m.fill(1, e.offset / AU, (e.offset + e.length) / AU);
  return m;
}

function checkMap(map: FileMap, size: number, deviceSize: number, p?: InterleaveParams): void {
  const pieces = extentsOf(map);
  assert.ok(pieces.length >= 1);
  let cap = 0;
  for (const e of pieces) {
    assert.equal(e.devindex, 0);
    assert.equal(e.offset % AU, 0, 'offset aligned');
    assert.equal(e.length % AU, 0, 'length aligned');
    assert.ok(e.length > 0);
    assert.ok(e.offset >= DATA_START, `extent at ${e.offset} overlaps the superblock/log`);
    assert.ok(e.offset + e.length <= deviceSize, 'extent past the device end');
    cap += e.length;
  }
  assert.ok(cap >= size, 'map holds the file');
  if (map.kind === 'simple') {
    assert.equal(map.extents.length, 1);
    assert.equal(map.extents[0]!.length, Math.max(1, Math.ceil(size / AU)) * AU);
  } else {
    assert.ok(p);
    assert.equal(map.strips.length, p.nstrips);
    assert.equal(map.chunkSize, p.chunkSize);
    const len = map.strips[0]!.length;
    for (const s of map.strips) {
      assert.equal(s.length, len, 'strips have equal length');
      assert.equal(s.length % p.chunkSize, 0);
    }
    // every strip inside one bucket
    const bucket = Math.floor(Math.floor(deviceSize / AU) / p.nbuckets) * AU;
    const buckets = map.strips.map((s) => Math.floor(s.offset / bucket));
    for (const [i, s] of map.strips.entries()) assert.ok(s.offset + s.length <= (buckets[i]! + 1) * bucket, 'strip crosses a bucket boundary');
    assert.equal(new Set(buckets).size, buckets.length, 'one strip per bucket');
  }
}

function noOverlap(live: FileMap[]): void {
  const all = live.flatMap(extentsOf).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.offset + all[i - 1]!.length <= all[i]!.offset, 'live allocations overlap');
}

const paramsArb = (deviceSize: number): fc.Arbitrary<InterleaveParams> =>
  fc.integer({ min: 1, max: Math.min(64, Math.floor(deviceSize / GiB)) }).chain((nbuckets) =>
    fc.record({
      nbuckets: fc.constant(nbuckets),
      nstrips: fc.integer({ min: 1, max: Math.min(16, nbuckets) }),
      chunkSize: fc.integer({ min: 0, max: 4 }).map((k) => AU << k),
    }),
  );

const sizeArb = fc.oneof(
  fc.integer({ min: 0, max: 64 * MiB }),
  fc.integer({ min: 1, max: 40 }).map((n) => n * AU),
  fc.integer({ min: 1, max: 3 * GiB }),
);

const opArb = (deviceSize: number): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('contig' as const), size: sizeArb }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('inter' as const), size: sizeArb, p: paramsArb(deviceSize) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('rollback' as const), pick: fc.nat() }) },
  );

// Device sizes: whole GiB, and odd sizes that end in a partial allocation unit.
const deviceArb = fc.oneof(
  fc.integer({ min: 1, max: 16 }).map((g) => g * GiB),
  fc.integer({ min: 1, max: 16 }).chain((g) => fc.integer({ min: 1, max: AU - 1 }).map((x) => g * GiB + 37 * AU + x)),
);

describe('allocator properties', () => {
  it('random allocations and rollbacks: no overlap, inside the data area, aligned; rollback and ENOSPC restore the bitmap exactly', () => {
    fc.assert(
      fc.property(deviceArb.chain((d) => fc.tuple(fc.constant(d), fc.array(opArb(d), { minLength: 5, maxLength: 80, size: 'max' }))), ([deviceSize, ops]) => {
        const bm = new AllocBitmap(deviceSize, AU, DATA_START);
        const alloc = new Allocator(bm);
        const live: FileMap[] = [];
        assert.equal(bm.units.length, Math.floor(deviceSize / AU), 'the bitmap never covers a partial unit past the end');
        for (const op of ops) {
          const before = Uint8Array.from(bm.units);
          const usedBefore = bm.usedBytes;
          if (op.kind === 'rollback') {
            if (!live.length) continue;
            const [map] = live.splice(op.pick % live.length, 1);
            alloc.rollback(map!);
          } else {
            let map: FileMap;
            try {
              map = op.kind === 'contig' ? alloc.contiguous(op.size) : alloc.interleaved(op.size, op.p);
            } catch (e) {
              assert.ok(e instanceof AllocError, `unexpected ${(e as Error).message}`);
              assert.equal(e.code, 'ENOSPC', e.message);
              assert.deepEqual(bm.units, before, 'a failed allocation changed the bitmap');
              assert.equal(bm.usedBytes, usedBefore);
              continue;
            }
            const interleaved = op.kind === 'inter' && op.size >= op.p.chunkSize;
            checkMap(map, op.size, deviceSize, interleaved ? op.p : undefined);
            // exactly the map's units went from free to used
            for (const e of extentsOf(map)) for (let u = e.offset / AU; u < (e.offset + e.length) / AU; u++) assert.equal(before[u], 0, 'allocated a used unit');
            // a rollback right away gives back exactly what was taken
            if (live.length % 3 === 1) {
              alloc.rollback(map);
              assert.deepEqual(bm.units, before);
              assert.equal(bm.usedBytes, usedBefore);
              map = op.kind === 'contig' ? alloc.contiguous(op.size) : alloc.interleaved(op.size, op.p);
              checkMap(map, op.size, deviceSize, interleaved ? op.p : undefined);
            }
            live.push(map);
          }
          noOverlap(live);
          assert.deepEqual(bm.units, model(deviceSize, live), 'bitmap ≠ reserved ∪ live allocations');
          assert.equal(bm.usedBytes, bm.units.reduce((a, b) => a + b, 0) * AU);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('fills the device with contiguous files and then reports ENOSPC without changing the bitmap', () => {
    const deviceSize = 1 * GiB;
    const bm = new AllocBitmap(deviceSize, AU, DATA_START);
    const alloc = new Allocator(bm);
    let n = 0;
    for (;;) {
      try {
        alloc.contiguous(1 * MiB);
        n++;
      } catch (e) {
        assert.ok(e instanceof AllocError && e.code === 'ENOSPC');
        break;
      }
    }
    assert.equal(n, 512 - 5); // as upstream's unit test: 507 one-MiB files on 1 GiB
    assert.equal(bm.freeBytes, 0);
    const snap = Uint8Array.from(bm.units);
    assert.throws(() => alloc.contiguous(1), (e: unknown) => e instanceof AllocError && e.code === 'ENOSPC');
    assert.deepEqual(bm.units, snap);
  });

  it('the cursor wraps: space freed before the cursor is found again', () => {
    const bm = new AllocBitmap(1 * GiB, AU, DATA_START);
    const alloc = new Allocator(bm);
    const first = alloc.contiguous(AU);
    while (bm.freeBytes > 0) alloc.contiguous(AU);
    alloc.rollback(first);
    const again = alloc.contiguous(AU);
    assert.deepEqual(again, first);
  });

  it('interleave: a partial strip set is rolled back exactly (only some buckets have room)', () => {
    const deviceSize = 8 * GiB;
    const bm = new AllocBitmap(deviceSize, AU, DATA_START);
    const alloc = new Allocator(bm);
    // fill buckets 0..5 completely: only 2 of 8 buckets keep free space
    const bucketUnits = Math.floor(deviceSize / AU / 8);
    bm.mark(0, 6 * bucketUnits * AU);
    const snap = Uint8Array.from(bm.units);
    for (let i = 0; i < 20; i++) {
      assert.throws(() => alloc.interleaved(64 * MiB, { nstrips: 3, nbuckets: 8, chunkSize: AU }), (e: unknown) => e instanceof AllocError && e.code === 'ENOSPC');
      assert.deepEqual(bm.units, snap);
    }
    const ok = alloc.interleaved(64 * MiB, { nstrips: 2, nbuckets: 8, chunkSize: AU });
    assert.equal(ok.kind, 'interleave');
  });

  it('interleave below one chunk falls back to one contiguous extent', () => {
    const alloc = new Allocator(new AllocBitmap(4 * GiB, AU, DATA_START));
    const m = alloc.interleaved(3 * MiB, { nstrips: 2, nbuckets: 4, chunkSize: 4 * MiB });
    assert.equal(m.kind, 'simple');
  });

  it('interleave: strips of nstripes × chunk, total ≥ size', () => {
    const alloc = new Allocator(new AllocBitmap(8 * GiB, AU, DATA_START));
    const m = alloc.interleaved(100 * MiB, { nstrips: 3, nbuckets: 8, chunkSize: 4 * MiB });
    assert.equal(m.kind, 'interleave');
    if (m.kind !== 'interleave') return;
    // 100 MiB = 50 au; stripe = 3 × 2 au = 6 au → 9 stripes → strip = 18 au = 36 MiB
    assert.deepEqual(m.strips.map((s) => s.length), [36 * MiB, 36 * MiB, 36 * MiB]);
  });
});

describe('interleave parameter validation', () => {
  const dev = 8 * GiB;
  const good: InterleaveParams = { nstrips: 2, nbuckets: 4, chunkSize: 2 * MiB };
  const bad = (p: Partial<InterleaveParams>, re: RegExp, deviceSize = dev): void => {
    assert.throws(() => validateInterleave({ ...good, ...p }, deviceSize, AU), (e: unknown) => e instanceof AllocError && e.code === 'EINVAL' && re.test(e.message));
    // the allocator refuses them too, before touching the bitmap
    const bm = new AllocBitmap(deviceSize, AU, DATA_START);
    const snap = Uint8Array.from(bm.units);
    assert.throws(() => new Allocator(bm).interleaved(64 * MiB, { ...good, ...p }), AllocError);
    assert.deepEqual(bm.units, snap);
  };
  it('accepts good parameters', () => {
    validateInterleave(good, dev, AU);
    validateInterleave({ nstrips: 16, nbuckets: 16, chunkSize: 1 << 30 }, 16 * GiB, AU);
    validateInterleave({ nstrips: 1, nbuckets: 64, chunkSize: 2 * MiB }, 64 * GiB, AU);
  });
  it('nstrips 0 and 17', () => {
    bad({ nstrips: 0 }, /nstrips/);
    bad({ nstrips: 17, nbuckets: 32 }, /nstrips/, 32 * GiB);
    bad({ nstrips: 1.5 }, /nstrips/);
  });
  it('nbuckets 0 and 65', () => {
    bad({ nbuckets: 0 }, /nbuckets/);
    bad({ nbuckets: 65 }, /nbuckets/, 128 * GiB);
  });
  it('nstrips > nbuckets', () => {
    bad({ nstrips: 5, nbuckets: 4 }, /exceed/);
  });
  it('chunk size not a power of two, or not a multiple of 2 MiB', () => {
    bad({ chunkSize: 6 * MiB }, /power of two/);
    bad({ chunkSize: 1 * MiB }, /chunk size/);
    bad({ chunkSize: 4096 }, /chunk size/);
    bad({ chunkSize: 0 }, /chunk size/);
    bad({ chunkSize: 2 * MiB + 1 }, /chunk size/);
  });
  it('buckets smaller than 1 GiB', () => {
    bad({ nbuckets: 9, nstrips: 2 }, /1 GiB/);
    bad({}, /1 GiB/, 4 * GiB - AU);
  });
});
