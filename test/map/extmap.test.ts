/** Generic extent-map export (FUSE_NOTIFY_MAP): golden bytes, CYCLIC vs unrolled, decoding, kernel rules. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FileMap } from '../../src/format/types.js';
import {
  cyclicFits, decodeNotifyMap, encodeNotifyMap, FUSE_EXTENT_SIZE, FUSE_MAP_BACKING_CREATE, FUSE_MAP_CYCLIC,
  NOTIFY_MAP_HEADER_SIZE, notifyMapProblem, type NotifyMapOptions,
} from '../../src/map/export/extmap.js';
import { MapDecodeError } from '../../src/map/export/famfs.js';
import { AU, h64, hex, twoStrips, zeros } from './helpers.js';

const opts: NotifyMapOptions = { backingIdOf: (d) => 100n + BigInt(d), mapId: 7 };

describe('FUSE_NOTIFY_MAP: golden bytes', () => {
  it('interleave → one CYCLIC list, one extent per strip at i·chunk (hand-written)', () => {
    const want = hex(
      '0700000000000000', '02000000', '03000000', zeros(16),
      '0000000000000000', '0000200000000000', '6400000000000000', '0000004000000000', zeros(16),
      '0000200000000000', '0000200000000000', '6500000000000000', '0000000001000000', zeros(16),
    );
    const got = encodeNotifyMap(twoStrips, 0x300001, opts);
    assert.deepEqual(got, want);
    assert.equal(got.length, 32 + 2 * 48);
    assert.equal(notifyMapProblem(decodeNotifyMap(got)), undefined);
  });

  it('interleave with cyclic: false → unrolled whole chunks, flags without CYCLIC (hand-written)', () => {
    const want = hex(
      '0700000000000000', '02000000', '01000000', zeros(16),
      '0000000000000000', '0000200000000000', '6400000000000000', '0000004000000000', zeros(16),
      '0000200000000000', '0000200000000000', '6500000000000000', '0000000001000000', zeros(16),
    );
    assert.deepEqual(encodeNotifyMap(twoStrips, 0x300001, { ...opts, cyclic: false }), want);
  });

  it('simple map → plain extents at cumulative file offsets, all of them (hand-written)', () => {
    const map: FileMap = {
      kind: 'simple',
      extents: [
        { devindex: 2, offset: 0xa00000, length: 0x400000 },
        { devindex: 0, offset: 0x200000, length: 0x200000 },
      ],
    };
    const want = hex(
      h64(0), '02000000', '00000000', zeros(16),
      h64(0), h64(0x400000), h64(3), h64(0xa00000), zeros(16),
      h64(0x400000), h64(0x200000), h64(1), h64(0x200000), zeros(16),
    );
    assert.deepEqual(encodeNotifyMap(map, 0x400001, { backingIdOf: (d) => d + 1, flags: 0 }), want);
  });
});

describe('FUSE_NOTIFY_MAP: layout', () => {
  it('sizes 32 / 48 and field offsets', () => {
    assert.equal(NOTIFY_MAP_HEADER_SIZE, 32);
    assert.equal(FUSE_EXTENT_SIZE, 48);
    assert.equal(FUSE_MAP_BACKING_CREATE, 1);
    assert.equal(FUSE_MAP_CYCLIC, 2);
    const map: FileMap = { kind: 'simple', extents: [{ devindex: 5, offset: 0x0011_2233_4400_0000, length: 0x6600_0000 }] };
    const b = encodeNotifyMap(map, 1, { backingIdOf: () => 0xfedc_ba98_7654_3210n, mapId: 0x0102_0304_0506_0708n, flags: 0x10 });
    assert.equal(b.readBigUInt64LE(0), 0x0102_0304_0506_0708n, 'backing_id (map) @0');
    assert.equal(b.readUInt32LE(8), 1, 'num_extents @8');
    assert.equal(b.readUInt32LE(12), 0x10, 'flags @12 (caller flags kept, no CYCLIC for simple)');
    assert.equal(b.readBigUInt64LE(16) | b.readBigUInt64LE(24), 0n, 'reserved @16');
    assert.equal(b.readBigUInt64LE(32), 0n, 'offset @0');
    assert.equal(b.readBigUInt64LE(40), 0x6600_0000n, 'length @8');
    assert.equal(b.readBigUInt64LE(48), 0xfedc_ba98_7654_3210n, 'backing_id @16');
    assert.equal(b.readBigUInt64LE(56), 0x0011_2233_4400_0000n, 'addr @24');
    assert.equal(b.readBigUInt64LE(64) | b.readBigUInt64LE(72), 0n, 'reserved @32');
    assert.equal(b.length, 80);
  });

  it('the encoder owns the CYCLIC bit', () => {
    const simple: FileMap = { kind: 'simple', extents: [{ devindex: 0, offset: 0, length: AU }] };
    assert.equal(encodeNotifyMap(simple, AU, { ...opts, flags: FUSE_MAP_CYCLIC | 1 }).readUInt32LE(12), 1);
    assert.equal(encodeNotifyMap(twoStrips, AU, { ...opts, flags: 0 }).readUInt32LE(12), FUSE_MAP_CYCLIC);
  });

  it('refuses backing ids that are not u64', () => {
    assert.throws(() => encodeNotifyMap(twoStrips, AU, { backingIdOf: () => -1 }), RangeError);
    assert.throws(() => encodeNotifyMap(twoStrips, AU, { backingIdOf: () => 1n << 64n }), RangeError);
  });
});

describe('CYCLIC or unrolled', () => {
  const unequal = (len0: number, len1: number): FileMap => ({
    kind: 'interleave',
    chunkSize: AU,
    strips: [
      { devindex: 0, offset: 0x4000_0000, length: len0 },
      { devindex: 0, offset: 0x8000_0000, length: len1 },
    ],
  });

  it('unequal strips stay CYCLIC while each holds every chunk the file touches', () => {
    assert.equal(cyclicFits(unequal(2 * AU, AU), 3 * AU), true); // strip 0: chunks 0, 2; strip 1: chunk 1
    assert.equal(cyclicFits(unequal(2 * AU, AU), 3 * AU + 1), false); // chunk 3 on strip 1 is missing
    assert.equal(decodeNotifyMap(encodeNotifyMap(unequal(2 * AU, AU), 3 * AU, opts)).flags & FUSE_MAP_CYCLIC, FUSE_MAP_CYCLIC);
  });

  it('a strip too short for a whole touched chunk → unrolled, never past the strip', () => {
    // chunk 4 MiB, strip 1 holds 6 MiB: the file's chunk 3 (strip 1, stripe 1) has only 2 MiB
    const map: FileMap = {
      kind: 'interleave',
      chunkSize: 2 * AU,
      strips: [
        { devindex: 0, offset: 0x4000_0000, length: 4 * AU },
        { devindex: 1, offset: 0x8000_0000, length: 3 * AU },
      ],
    };
    const size = 7 * AU - 5;
    assert.equal(cyclicFits(map, size), false);
    const d = decodeNotifyMap(encodeNotifyMap(map, size, opts));
    assert.equal(d.flags, FUSE_MAP_BACKING_CREATE);
    assert.deepEqual(
      d.extents.map((x) => [x.fileOffset / AU, x.length / AU, Number(x.backingId), (x.addr - (x.backingId === 100n ? 0x4000_0000 : 0x8000_0000)) / AU]),
      [[0, 2, 100, 0], [2, 2, 101, 0], [4, 2, 100, 2], [6, 1, 101, 2]],
    );
    assert.equal(d.extents.at(-1)!.length, AU, 'last piece page-rounded, still inside the strip');
    assert.equal(notifyMapProblem(d), undefined);
  });

  it('a single strip unrolls into one merged extent', () => {
    const one: FileMap = { kind: 'interleave', chunkSize: AU, strips: [{ devindex: 0, offset: 10 * AU, length: 4 * AU }] };
    const d = decodeNotifyMap(encodeNotifyMap(one, 3 * AU + 1, { ...opts, cyclic: false }));
    assert.deepEqual(d.extents, [{ fileOffset: 0, length: 4 * AU, backingId: 100n, addr: 10 * AU }]);
  });
});

describe('decodeNotifyMap / notifyMapProblem', () => {
  it('size must match num_extents', () => {
    const b = encodeNotifyMap(twoStrips, AU, opts);
    assert.throws(() => decodeNotifyMap(b.subarray(0, b.length - 1)), MapDecodeError);
    assert.throws(() => decodeNotifyMap(b.subarray(0, 31)), MapDecodeError);
  });
  it('round trip of the header fields', () => {
    const d = decodeNotifyMap(encodeNotifyMap(twoStrips, AU, opts));
    assert.equal(d.mapId, 7n);
    assert.equal(d.flags, 3);
    assert.equal(d.extents.length, 2);
  });
  it('flags alignment, overlap, CYCLIC shape and the 1638 cap', () => {
    const x = (fileOffset: number, length = AU, addr = 0) => ({ fileOffset, length, backingId: 1n, addr });
    assert.match(notifyMapProblem({ mapId: 0n, flags: 0, extents: [x(0, 4097)] }) ?? '', /length 4097 is not page aligned/);
    assert.match(notifyMapProblem({ mapId: 0n, flags: 0, extents: [x(0), x(AU - 4096)] }) ?? '', /overlaps/);
    assert.match(notifyMapProblem({ mapId: 0n, flags: 2, extents: [x(0), x(AU, 2 * AU)] }) ?? '', /length .* ≠/);
    assert.match(notifyMapProblem({ mapId: 0n, flags: 2, extents: [x(0), x(2 * AU)] }) ?? '', /offset .* ≠ 1·/);
    const many = Array.from({ length: 1639 }, (_, i) => x(i * AU));
    assert.match(notifyMapProblem({ mapId: 0n, flags: 0, extents: many }) ?? '', /1639 extents/);
    assert.equal(notifyMapProblem({ mapId: 0n, flags: 0, extents: many.slice(1) }), undefined);
    assert.match(notifyMapProblem({ mapId: 0n, flags: 0, extents: [] }) ?? '', /no extents/);
  });
});
