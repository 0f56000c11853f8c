/** famfs V10 export: GET_FMAP / GET_DAXDEV golden bytes, field offsets, decoding, kernel limits. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FileMap } from '../../src/format/types.js';
import {
  DAXDEV_REPLY_SIZE, decodeDaxdevReply, decodeGetFmapReply, encodeDaxdevReply, encodeGetFmapReply, FamfsFileType,
  FMAP_EXT_SIZE, FMAP_HEADER_SIZE, FMAP_IEXT_SIZE, FMAP_MIN_SIZE, fmapKernelProblem, fmapReplySize, MapDecodeError,
} from '../../src/map/export/famfs.js';
import { exportMap } from '../../src/map/export/index.js';
import { AU, MiB, h32, h64, hex, twoStrips, zeros } from './helpers.js';

const GiB = 1024 * MiB;


describe('GET_FMAP reply: golden bytes', () => {
  it('matches the reply accepted by a real famfs V10 kernel (reference §7, 2 MiB file at offset 0)', () => {
    // Copied verbatim from fuse-kernel.md §7. The text calls it "64 bytes" but the hex is
    // 56 bytes: the 32-byte header + one 24-byte simple extent (= fmap_msg_min_size()).
    const verified = hex(
      '00000100', '00000000', '01000000', '00000000', '0000200000000000', '0000000000000000',
      '00000000', '00000000', '0000000000000000', '0000200000000000',
    );
    assert.equal(verified.length, 56);
    const map: FileMap = { kind: 'simple', extents: [{ devindex: 0, offset: 0, length: 2 * MiB }] };
    assert.deepEqual(encodeGetFmapReply(map, 2 * MiB), verified);
    assert.equal(verified.length, FMAP_MIN_SIZE);
    const d = decodeGetFmapReply(verified);
    assert.deepEqual(d, { fileType: 0, version: 1, fileSize: 2 * MiB, map });
    assert.equal(fmapKernelProblem(map, 2 * MiB, { devindexZeroOnly: true }), undefined);
  });

  it('simple map, two extents on two devices, hand-written', () => {
    const map: FileMap = {
      kind: 'simple',
      extents: [
        { devindex: 0, offset: 0xa00000, length: 0x400000 },
        { devindex: 2, offset: 0x2_0000_0000, length: 0x200000 },
      ],
    };
    const want = hex(
      '02', '00', '0100', '00000000', '02000000', '00000000', '0100500000000000', zeros(8),
      '00000000', '00000000', '0000a00000000000', '0000400000000000',
      '02000000', '00000000', '0000000002000000', '0000200000000000',
    );
    assert.deepEqual(encodeGetFmapReply(map, 0x500001, FamfsFileType.LOG), want);
    assert.deepEqual(decodeGetFmapReply(want).map, map);
  });

  it('interleave: one iext {nstrips, u32 chunk, nbytes = file size} then the strips, hand-written', () => {
    const want = hex(
      '00000100', '01000000', '01000000', '00000000', '0100300000000000', zeros(8),
      '02000000', '00002000', '0100300000000000', zeros(8),
      '00000000', '00000000', '0000004000000000', '0000400000000000',
      '01000000', '00000000', '0000000001000000', '0000400000000000',
    );
    const got = encodeGetFmapReply(twoStrips, 0x300001);
    assert.deepEqual(got, want);
    assert.equal(got.length, 32 + 24 + 2 * 24);
    assert.deepEqual(decodeGetFmapReply(got), { fileType: 0, version: 1, fileSize: 0x300001, map: twoStrips, nbytes: 0x300001 });
  });
});

describe('GET_FMAP reply: struct sizes and field offsets', () => {
  it('sizes: header 32, simple extent 24, iext 24; reply sizes', () => {
    assert.equal(FMAP_HEADER_SIZE, 32);
    assert.equal(FMAP_EXT_SIZE, 24);
    assert.equal(FMAP_IEXT_SIZE, 24);
    assert.equal(FMAP_MIN_SIZE, 56);
    const ext = { devindex: 0, offset: 0, length: AU };
    assert.equal(fmapReplySize({ kind: 'simple', extents: Array(32).fill(ext) }), 32 + 32 * 24);
    assert.equal(fmapReplySize({ kind: 'interleave', chunkSize: AU, strips: Array(32).fill(ext) }), 824);
  });

  it('every field at its offset, with distinct values', () => {
    const map: FileMap = {
      kind: 'interleave',
      chunkSize: 0xfe00_0000,
      strips: [{ devindex: 0x01020304, offset: 0x0011_2233_4455_6600, length: 0x0000_0a0b_0c0d_0e00 }],
    };
    const b = encodeGetFmapReply(map, 0x0001_0203_0405_0607, FamfsFileType.SUPERBLOCK);
    assert.equal(b.readUInt8(0), 1, 'file_type @0');
    assert.equal(b.readUInt8(1), 0, 'reserved @1');
    assert.equal(b.readUInt16LE(2), 1, 'fmap_version @2');
    assert.equal(b.readUInt32LE(4), 1, 'ext_type @4');
    assert.equal(b.readUInt32LE(8), 1, 'nextents @8');
    assert.equal(b.readUInt32LE(12), 0, 'reserved0 @12');
    assert.equal(b.readBigUInt64LE(16), 0x0001_0203_0405_0607n, 'file_size @16');
    assert.equal(b.readBigUInt64LE(24), 0n, 'reserved1 @24');
    assert.equal(b.readUInt32LE(32), 1, 'ie_nstrips @0');
    assert.equal(b.readUInt32LE(36), 0xfe00_0000, 'ie_chunk_size u32 @4');
    assert.equal(b.readBigUInt64LE(40), 0x0001_0203_0405_0607n, 'ie_nbytes @8');
    assert.equal(b.readBigUInt64LE(48), 0n, 'iext reserved @16');
    assert.equal(b.readUInt32LE(56), 0x01020304, 'se_devindex u32 @0');
    assert.equal(b.readUInt32LE(60), 0, 'se reserved @4');
    assert.equal(b.readBigUInt64LE(64), 0x0011_2233_4455_6600n, 'se_offset @8');
    assert.equal(b.readBigUInt64LE(72), 0x0000_0a0b_0c0d_0e00n, 'se_len @16');
    assert.equal(b.length, 80);
  });
});

describe('GET_FMAP reply: decode errors', () => {
  const good = encodeGetFmapReply(twoStrips, 0x300001);
  const bad = (b: Buffer, re: RegExp) => assert.throws(() => decodeGetFmapReply(b), (e: unknown) => e instanceof MapDecodeError && re.test(e.message));
  it('short header, truncation, trailing bytes', () => {
    bad(good.subarray(0, 31), /shorter than its header/);
    bad(good.subarray(0, good.length - 1), /truncated/);
    bad(Buffer.concat([good, Buffer.alloc(1)]), /trailing/);
  });
  it('bad version, unknown ext_type, several iexts', () => {
    const v = Buffer.from(good);
    v.writeUInt16LE(2, 2);
    bad(v, /version 2/);
    const t = Buffer.from(good);
    t.writeUInt32LE(7, 4);
    bad(t, /ext_type 7/);
    const n = Buffer.from(good);
    n.writeUInt32LE(2, 8);
    bad(n, /2 interleaved extents/);
  });
});

describe('GET_DAXDEV reply', () => {
  it('is exactly 280 bytes: u16 index, zeros, NUL-padded name @24 (hand-written)', () => {
    const b = encodeDaxdevReply(3, '/dev/dax1.0');
    assert.equal(b.length, DAXDEV_REPLY_SIZE);
    const name = Buffer.from('/dev/dax1.0').toString('hex');
    assert.equal(name, '2f6465762f646178312e30');
    assert.deepEqual(b, hex('0300', '0000', '00000000', zeros(8), zeros(8), name, zeros(256 - 11)));
    assert.deepEqual(decodeDaxdevReply(b), { index: 3, name: '/dev/dax1.0' });
  });
  it('index 0 with the verified layout; a 255-byte name fits, 256 does not', () => {
    assert.equal(encodeDaxdevReply(0, '/dev/dax0.0').readUInt16LE(0), 0);
    const long = '/'.repeat(255);
    const b = encodeDaxdevReply(23, long);
    assert.equal(b[24 + 254], 0x2f);
    assert.equal(b[24 + 255], 0, 'NUL terminator kept');
    assert.throws(() => encodeDaxdevReply(0, '/'.repeat(256)), RangeError);
    assert.throws(() => encodeDaxdevReply(0x10000, '/dev/dax0.0'), RangeError);
    assert.throws(() => encodeDaxdevReply(0, 'a\0b'), RangeError);
    assert.throws(() => decodeDaxdevReply(Buffer.alloc(279)), MapDecodeError);
  });
});

describe('fmapKernelProblem: kernel limits', () => {
  const ext = (i: number) => ({ devindex: 0, offset: (10 + i) * AU, length: AU });
  const simple = (n: number): FileMap => ({ kind: 'simple', extents: Array.from({ length: n }, (_, i) => ext(i)) });
  const inter = (n: number, chunkSize = AU): FileMap => ({ kind: 'interleave', chunkSize, strips: Array.from({ length: n }, (_, i) => ext(i)) });

  it('32 extents / strips pass, 33 fail', () => {
    assert.equal(fmapKernelProblem(simple(32), 32 * AU), undefined);
    assert.match(fmapKernelProblem(simple(33), 33 * AU) ?? '', /33 extents exceed the kernel limit of 32/);
    assert.equal(fmapKernelProblem(inter(32), 32 * AU), undefined);
    assert.match(fmapKernelProblem(inter(33), 33 * AU) ?? '', /33 strips exceed the kernel limit of 32/);
  });

  it('no extents / strips', () => {
    assert.match(fmapKernelProblem(simple(0), 0) ?? '', /no extents/);
    assert.match(fmapKernelProblem(inter(0), 0) ?? '', /no strips/);
  });

  it('chunk must fit u32: 2^32 fails (and cannot be encoded), 2^32 − 2 MiB passes', () => {
    const big: FileMap = { kind: 'interleave', chunkSize: 2 ** 32, strips: [{ devindex: 0, offset: 0, length: 2 ** 32 }] };
    assert.match(fmapKernelProblem(big, AU) ?? '', /does not fit the u32/);
    assert.throws(() => encodeGetFmapReply(big, AU), RangeError);
    const e = exportMap('famfs', big, AU);
    assert.equal(e.bytes, undefined);
    assert.match(e.problem ?? '', /u32/);
    const ok: FileMap = { kind: 'interleave', chunkSize: 2 ** 32 - AU, strips: [{ devindex: 0, offset: 0, length: 2 ** 32 - AU }] };
    assert.equal(fmapKernelProblem(ok, AU), undefined);
    assert.equal(encodeGetFmapReply(ok, AU).readUInt32LE(36), 0xffe0_0000);
  });

  it('2 MiB alignment of offsets, lengths and chunk', () => {
    const off: FileMap = { kind: 'simple', extents: [{ devindex: 0, offset: AU + 4096, length: AU }] };
    assert.match(fmapKernelProblem(off, AU) ?? '', /extent 0: offset 2101248 is not 2 MiB aligned/);
    const len: FileMap = { kind: 'simple', extents: [ext(0), { devindex: 0, offset: 0, length: AU + 4096 }] };
    assert.match(fmapKernelProblem(len, AU) ?? '', /extent 1: length .* not 2 MiB aligned/);
    assert.match(fmapKernelProblem(inter(2, 3 * MiB), AU) ?? '', /chunk size 3145728 is not a multiple of 2 MiB/);
    const zero: FileMap = { kind: 'simple', extents: [{ devindex: 0, offset: 0, length: 0 }] };
    assert.match(fmapKernelProblem(zero, 0) ?? '', /not positive/);
  });

  it('devindex: < 24 by default, 0 only when asked (the verified V10 kernel)', () => {
    const on = (devindex: number): FileMap => ({ kind: 'simple', extents: [{ devindex, offset: 0, length: AU }] });
    assert.equal(fmapKernelProblem(on(23), AU), undefined);
    assert.match(fmapKernelProblem(on(24), AU) ?? '', /devindex 24 ≥ 24/);
    assert.match(fmapKernelProblem(on(1), AU, { devindexZeroOnly: true }) ?? '', /devindex 1 ≠ 0/);
  });

  it('the map must cover the file', () => {
    assert.match(fmapKernelProblem(simple(2), 2 * AU + 1) ?? '', /covers 4194304 of 4194305 bytes/);
    // two strips of one chunk each hold 2 chunks
    assert.equal(fmapKernelProblem(inter(2), 2 * AU), undefined);
    assert.match(fmapKernelProblem(inter(2), 2 * AU + 1) ?? '', /covers/);
  });

  it('a big file on one 1 GiB-chunk interleave stays within the reply', () => {
    const m: FileMap = { kind: 'interleave', chunkSize: GiB, strips: Array.from({ length: 32 }, (_, i) => ({ devindex: i % 3, offset: i * 4 * GiB, length: 4 * GiB })) };
    assert.equal(fmapKernelProblem(m, 128 * GiB), undefined);
  });
});
