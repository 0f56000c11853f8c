/** On-media codecs: CRC vectors of the reference §1.4, field offsets, round trips, decode errors, PRNG. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32 } from '../../src/format/crc32.js';
import {
  checkSuperblock, decodeSuperblock, encodeSuperblock, superblockCrc, SUPERBLOCK_STRUCT_SIZE, type SuperblockFields,
} from '../../src/format/superblock.js';
import { checkLogHeader, decodeLogHeader, encodeLogHeader } from '../../src/format/logheader.js';
import {
  decodeLogEntry, encodeLogEntry, entryCrc, entryCrcOk, EntryDecodeError, type NewLogEntry,
} from '../../src/format/logentry.js';
import { RandomStream } from '../../src/format/prng.js';
import { entryOffset, LOG_ENTRY_SIZE, logSlots, SUPER_MAGIC } from '../../src/format/constants.js';
import { FieldRangeError, readU64, writeU64 } from '../../src/format/bytes.js';
import { crc32Ref } from './helpers.js';

const hexBytes = (from: number): string => {
  const h = Buffer.from(Array.from({ length: 16 }, (_, i) => from + i)).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

const u64 = (b: Buffer, off: number): bigint => b.readBigUInt64LE(off);
const u32 = (b: Buffer, off: number): number => b.readUInt32LE(off);

function vectorSb(version?: number): SuperblockFields {
  return {
    version,
    logOffset: 0x200000, logLen: 0x800000, allocUnit: 0x200000,
    uuid: hexBytes(0x00), devUuid: hexBytes(0x10), systemUuid: hexBytes(0x20),
    flags: 0,
    daxdev: { size: 4 * 1024 ** 3, uuid: hexBytes(0x30), name: '/dev/dax0.0' },
  };
}

const fileEntry = (over: Partial<Extract<NewLogEntry, { type: 'file' }>> = {}): NewLogEntry => ({
  type: 'file', size: 4096, flags: 2, uid: 0, gid: 0, mode: 0o644, path: 'test1',
  map: { kind: 'simple', extents: [{ devindex: 0, offset: 0xa00000, length: 0x200000 }] },
  ...over,
});

describe('CRC-32', () => {
  it('matches the standard check value and an independent bitwise implementation', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(Buffer.alloc(0)), 0);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (a) => crc32(a) === crc32Ref(a)), { numRuns: 200 });
  });
  it('matches on any sub-range (the 8-byte steps and the byte tail at every alignment)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 600 }), fc.nat(), fc.nat(), (a, x, y) => {
      const s = x % a.length, e = s + (y % (a.length - s + 1));
      return crc32(a, s, e) === crc32Ref(a, s, e);
    }), { numRuns: 300 });
  });
});

describe('CRC vectors (reference §1.4) through our encoders', () => {
  it('superblock v48 → 0x5eff8a3a, v47 → 0x8d6eac68', () => {
    const sb48 = encodeSuperblock(vectorSb());
    assert.equal(u64(sb48, 96), 0x5eff8a3an);
    assert.equal(superblockCrc(sb48), 0x5eff8a3a);
    assert.equal(crc32Ref(sb48, 0, 96), 0x5eff8a3a);
    const sb47 = encodeSuperblock(vectorSb(47));
    assert.equal(u64(sb47, 96), 0x8d6eac68n);
    assert.equal(checkSuperblock(sb48), 'ok');
    assert.equal(checkSuperblock(sb47), 'ok');
  });

  it('log header of an 8 MiB log → 0xa5875078', () => {
    const h = encodeLogHeader(0x800000);
    assert.equal(u64(h, 16), 15419n);
    assert.equal(u64(h, 24), 0xa5875078n);
    assert.equal(crc32Ref(h, 0, 24), 0xa5875078);
  });

  it('FILE entry seq 0 → 0x8ff88080', () => {
    const e = encodeLogEntry(fileEntry(), 0);
    assert.equal(e.length, 544);
    assert.equal(u64(e, 536), 0x8ff88080n);
    assert.equal(crc32Ref(e, 0, 536), 0x8ff88080);
  });

  it('MKDIR entry seq 1 → 0x0de2b7e1', () => {
    const e = encodeLogEntry({ type: 'mkdir', uid: 0, gid: 0, mode: 0o755, path: 'dir1' }, 1);
    assert.equal(u64(e, 536), 0x0de2b7e1n);
    assert.equal(crc32Ref(e, 0, 536), 0x0de2b7e1);
  });
});

describe('superblock layout', () => {
  it('puts every field at its C offset', () => {
    const f = vectorSb();
    f.flags = 0x01020304;
    f.daxdev = { size: 0x1_2345_6789_a000, uuid: hexBytes(0x40), name: '/dev/dax1.2' };
    const b = encodeSuperblock(f);
    assert.equal(b.length, SUPERBLOCK_STRUCT_SIZE);
    assert.equal(u64(b, 0), BigInt(SUPER_MAGIC));
    assert.equal(u64(b, 8), 48n);
    assert.equal(u64(b, 16), 0x200000n);
    assert.equal(u64(b, 24), 0x800000n);
    assert.equal(u64(b, 32), 0x200000n);
    assert.equal(u32(b, 40), 2);
    assert.equal(u32(b, 44), 2);
    assert.equal(b.subarray(48, 64).toString('hex'), '000102030405060708090a0b0c0d0e0f');
    assert.equal(b.subarray(64, 80).toString('hex'), '101112131415161718191a1b1c1d1e1f');
    assert.equal(b.subarray(80, 96).toString('hex'), '202122232425262728292a2b2c2d2e2f');
    assert.equal(u64(b, 96), BigInt(crc32Ref(b, 0, 96)));
    assert.equal(u32(b, 104), 0x01020304);
    assert.equal(u32(b, 108), 0);
    assert.equal(u64(b, 112), 0x1_2345_6789_a000n);
    assert.equal(b.subarray(120, 136).toString('hex'), '404142434445464748494a4b4c4d4e4f');
    assert.equal(b.subarray(136, 147).toString('latin1'), '/dev/dax1.2');
    assert.ok(b.subarray(147, 200).every((x) => x === 0));
  });

  it('round-trips', () => {
    const f = vectorSb();
    const d = decodeSuperblock(encodeSuperblock(f));
    assert.deepEqual(
      { ...d, crc: 0 },
      { magic: SUPER_MAGIC, version: 48, omfMajor: 2, omfMinor: 2, crc: 0, logOffset: f.logOffset, logLen: f.logLen, allocUnit: f.allocUnit,
        uuid: f.uuid, devUuid: f.devUuid, systemUuid: f.systemUuid, flags: 0, daxdev: f.daxdev },
    );
  });

  it('a 64-byte device name has no NUL and still decodes to 64 bytes', () => {
    const f = vectorSb();
    f.daxdev.name = 'x'.repeat(70);
    const b = encodeSuperblock(f);
    assert.equal(decodeSuperblock(b).daxdev.name, 'x'.repeat(64));
  });

  it('check follows upstream order: magic, version, CRC, alloc unit; flags/daxdev are not covered', () => {
    const good = encodeSuperblock(vectorSb());
    const bad = (mut: (b: Buffer) => void): string => {
      const b = Buffer.from(good);
      mut(b);
      return checkSuperblock(b);
    };
    assert.equal(bad((b) => b.writeUInt32LE(0, 0)), 'bad-magic');
    assert.equal(bad((b) => b.writeUInt32LE(1, 4)), 'bad-magic');
    assert.equal(bad((b) => b.writeUInt32LE(46, 8)), 'bad-version');
    assert.equal(bad((b) => (b[50] ^= 1)), 'bad-crc');
    assert.equal(bad((b) => (b[100] = 1)), 'bad-crc');
    assert.equal(bad((b) => b.writeUInt32LE(7, 104)), 'ok');
    assert.equal(bad((b) => (b[150] = 0x41)), 'ok');
    // alloc unit 4096 is valid; 8192 is not (CRC fixed up so only the unit is wrong)
    const withAu = (au: number): string => {
      const b = encodeSuperblock({ ...vectorSb(), allocUnit: au });
      return checkSuperblock(b);
    };
    assert.equal(withAu(4096), 'ok');
    assert.equal(withAu(8192), 'bad-alloc-unit');
  });
});

describe('log header layout', () => {
  it('puts every field at its C offset and round-trips', () => {
    const b = encodeLogHeader(0x1000000, 7, 7);
    assert.equal(b.length, 48);
    assert.equal(u64(b, 0), 0xbadcafef00dn);
    assert.equal(u64(b, 8), 0x1000000n);
    assert.equal(u64(b, 16), 30839n);
    assert.equal(u64(b, 24), BigInt(crc32Ref(b, 0, 24)));
    assert.equal(u64(b, 32), 7n);
    assert.equal(u64(b, 40), 7n);
    assert.deepEqual(decodeLogHeader(b), { magic: 0xbadcafef00d, logLen: 0x1000000, lastIndex: 30839, crc: crc32Ref(b, 0, 24), nextSeqnum: 7, nextIndex: 7 });
    assert.equal(logSlots(0x800000), 15420);
    assert.equal(logSlots(0x10000000), 493447);
  });

  it('check: magic, CRC (static fields only), length, index', () => {
    const ok = encodeLogHeader(0x800000, 3, 3);
    assert.equal(checkLogHeader(ok, 0x800000), 'ok');
    const m = (f: (b: Buffer) => void, len = 0x800000): string => {
      const b = Buffer.from(ok);
      f(b);
      return checkLogHeader(b, len);
    };
    assert.equal(m((b) => (b[0] ^= 1)), 'bad-magic');
    assert.equal(m((b) => (b[7] = 1)), 'bad-magic');
    assert.equal(m((b) => (b[17] ^= 1)), 'bad-crc');
    assert.equal(m((b) => (b[24] ^= 1)), 'bad-crc');
    assert.equal(m(() => {}, 0x1000000), 'bad-length');
    assert.equal(m((b) => b.writeUInt32LE(15421, 40)), 'bad-index');
    assert.equal(m((b) => b.writeUInt32LE(15420, 40)), 'ok'); // exactly full
    assert.equal(m((b) => b.writeUInt32LE(1, 44)), 'bad-index'); // next_index ≥ 2^32
    assert.equal(m((b) => b.writeUInt32LE(99, 32)), 'ok'); // next_seqnum is not covered
  });
});

describe('log entry layout', () => {
  it('FILE simple: every field at its C offset, zero padding', () => {
    const e = encodeLogEntry(fileEntry({
      size: 0x1_0000_0001, flags: 1, uid: 1001, gid: 1002, mode: 0o4755, path: 'a/b/c',
      map: { kind: 'simple', extents: [
        { devindex: 0, offset: 0xa00000, length: 0x200000 },
        { devindex: 0, offset: 0x1_0000_0000, length: 0x400000 },
      ] },
    }), 0x1_0000_0002);
    assert.equal(u64(e, 0), 0x1_0000_0002n);
    assert.equal(u32(e, 8), 0);
    assert.equal(u32(e, 12), 0);
    assert.equal(u64(e, 16), 0x1_0000_0001n);
    assert.equal(u32(e, 24), 1);
    assert.equal(u32(e, 28), 1001);
    assert.equal(u32(e, 32), 1002);
    assert.equal(u32(e, 36), 0o4755);
    assert.equal(e.subarray(40, 45).toString(), 'a/b/c');
    assert.ok(e.subarray(45, 120).every((x) => x === 0));
    assert.equal(u32(e, 120), 0);
    assert.equal(u32(e, 124), 0);
    assert.equal(u32(e, 128), 2);
    assert.equal(u32(e, 132), 0);
    assert.equal(u64(e, 136), 0n);
    assert.equal(u64(e, 144), 0xa00000n);
    assert.equal(u64(e, 152), 0x200000n);
    assert.equal(u64(e, 160), 0n);
    assert.equal(u64(e, 168), 0x1_0000_0000n);
    assert.equal(u64(e, 176), 0x400000n);
    assert.ok(e.subarray(184, 536).every((x) => x === 0));
    assert.equal(u64(e, 536), BigInt(crc32Ref(e, 0, 536)));
  });

  it('FILE interleave: ext type, niext alias, nstrips, chunk, strips', () => {
    const strips = Array.from({ length: 16 }, (_, i) => ({ devindex: 0, offset: (i + 5) * 0x40000000, length: 0x800000 }));
    const e = encodeLogEntry(fileEntry({ size: 100 << 20, map: { kind: 'interleave', chunkSize: 0x400000, strips } }), 5);
    assert.equal(u32(e, 120), 1);
    assert.equal(u32(e, 128), 1);
    assert.equal(u64(e, 136), 16n);
    assert.equal(u64(e, 144), 0x400000n);
    for (let i = 0; i < 16; i++) {
      assert.equal(u64(e, 152 + 24 * i), 0n);
      assert.equal(u64(e, 160 + 24 * i), BigInt(strips[i]!.offset));
      assert.equal(u64(e, 168 + 24 * i), 0x800000n);
    }
    assert.equal(152 + 24 * 16, 536);
    assert.deepEqual(decodeLogEntry(e), { type: 'file', seqnum: 5, size: 100 << 20, flags: 2, uid: 0, gid: 0, mode: 0o644, path: 'test1', map: { kind: 'interleave', chunkSize: 0x400000, strips } });
  });

  it('MKDIR: uid, gid, mode, path; the rest is zero', () => {
    const e = encodeLogEntry({ type: 'mkdir', uid: 7, gid: 8, mode: 0o700, path: 'dir/sub' }, 9);
    assert.equal(u64(e, 0), 9n);
    assert.equal(u32(e, 8), 1);
    assert.equal(u32(e, 16), 7);
    assert.equal(u32(e, 20), 8);
    assert.equal(u32(e, 24), 0o700);
    assert.equal(e.subarray(28, 35).toString(), 'dir/sub');
    assert.ok(e.subarray(35, 536).every((x) => x === 0));
  });

  it('ADD_DAXDEV: size @16, uuid @24, index @40', () => {
    const uuid = hexBytes(0x50);
    const e = encodeLogEntry({ type: 'add_daxdev', size: 0x2_0000_0000, uuid, index: 1 }, 3);
    assert.equal(u32(e, 8), 3);
    assert.equal(u64(e, 16), 0x2_0000_0000n);
    assert.equal(e.subarray(24, 40).toString('hex'), '505152535455565758595a5b5c5d5e5f');
    assert.equal(u32(e, 40), 1);
    assert.ok(e.subarray(44, 536).every((x) => x === 0));
    assert.deepEqual(decodeLogEntry(e), { type: 'add_daxdev', seqnum: 3, size: 0x2_0000_0000, uuid, index: 1 });
  });

  it('entry i lives at 0x200000 + 48 + 544·i', () => {
    assert.equal(entryOffset(0), 0x200030);
    assert.equal(entryOffset(15419), 0x200000 + 48 + 544 * 15419);
    assert.ok(entryOffset(15419) + LOG_ENTRY_SIZE <= 0x200000 + 0x800000);
  });

  it('DELETE, INVALID and unknown types decode without payload', () => {
    for (const [t, name] of [[2, 'delete'], [4, 'invalid'], [77, 'unknown']] as const) {
      const e = Buffer.alloc(544);
      e.writeUInt32LE(t, 8);
      assert.deepEqual(decodeLogEntry(e), { type: name, seqnum: 0, rawType: t });
    }
  });
});

describe('log entry round trips (property)', () => {
  const pathArb = fc.stringMatching(/^[a-zA-Z0-9_.é-]{1,20}(\/[a-zA-Z0-9_ü-]{1,20}){0,2}$/).filter((s) => Buffer.byteLength(s) <= 79);
  const au = 0x200000;
  const extArb = fc.record({ devindex: fc.constant(0), offset: fc.integer({ min: 5, max: 1 << 20 }).map((u) => u * au), length: fc.integer({ min: 1, max: 1024 }).map((u) => u * au) });
  const mapArb = fc.oneof(
    fc.record({ kind: fc.constant('simple' as const), extents: fc.array(extArb, { minLength: 0, maxLength: 16 }) }),
    fc.record({ kind: fc.constant('interleave' as const), chunkSize: fc.integer({ min: 0, max: 8 }).map((k) => au << k), strips: fc.array(extArb, { minLength: 0, maxLength: 16 }) }),
  );
  const entryArb: fc.Arbitrary<NewLogEntry> = fc.oneof(
    fc.record({ type: fc.constant('file' as const), size: fc.maxSafeNat(), flags: fc.nat({ max: 0xffffffff }), uid: fc.nat({ max: 0xffffffff }), gid: fc.nat({ max: 0xffffffff }), mode: fc.nat({ max: 0o7777 }), path: pathArb, map: mapArb }),
    fc.record({ type: fc.constant('mkdir' as const), uid: fc.nat({ max: 0xffffffff }), gid: fc.nat({ max: 0xffffffff }), mode: fc.nat({ max: 0o7777 }), path: pathArb }),
    fc.record({ type: fc.constant('add_daxdev' as const), size: fc.maxSafeNat(), uuid: fc.uuid(), index: fc.nat({ max: 0xffffffff }) }),
  );
  it('decode(encode(e, s)) == {...e, seqnum: s} and the CRC checks', () => {
    fc.assert(fc.property(entryArb, fc.maxSafeNat(), (e, s) => {
      const b = encodeLogEntry(e, s);
      assert.ok(entryCrcOk(b));
      assert.equal(entryCrc(b), crc32Ref(b, 0, 536));
      assert.deepEqual(decodeLogEntry(b), JSON.parse(JSON.stringify({ ...e, seqnum: s }))); // plain objects (fast-check records are null-prototype)
    }), { numRuns: 300 });
  });
});

describe('log entry decode errors', () => {
  const withCrc = (b: Buffer): Buffer => {
    b.writeBigUInt64LE(BigInt(crc32Ref(b, 0, 536)), 536);
    return b;
  };
  const decodeErr = (b: Buffer, re: RegExp): void => {
    assert.throws(() => decodeLogEntry(withCrc(b)), (e: unknown) => e instanceof EntryDecodeError && re.test((e as Error).message));
  };

  it('nextents 17', () => {
    const b = encodeLogEntry(fileEntry(), 0);
    b.writeUInt32LE(17, 128);
    decodeErr(b, /nextents 17/);
  });
  it('nstrips 17', () => {
    const b = encodeLogEntry(fileEntry({ map: { kind: 'interleave', chunkSize: 0x200000, strips: [{ devindex: 0, offset: 0xa00000, length: 0x200000 }] } }), 0);
    b.writeUInt32LE(17, 136);
    decodeErr(b, /nstrips 17/);
  });
  it('interleave with niext ≠ 1', () => {
    const b = encodeLogEntry(fileEntry({ map: { kind: 'interleave', chunkSize: 0x200000, strips: [{ devindex: 0, offset: 0xa00000, length: 0x200000 }] } }), 0);
    b.writeUInt32LE(2, 128);
    decodeErr(b, /interleaved extent count 2/);
  });
  it('non-UTF-8 path (FILE and MKDIR)', () => {
    const f = encodeLogEntry(fileEntry({ path: 'abc' }), 0);
    f[41] = 0xff;
    decodeErr(f, /UTF-8/);
    const d = encodeLogEntry({ type: 'mkdir', uid: 0, gid: 0, mode: 0o755, path: 'abc' }, 0);
    Buffer.from([0xc3, 0x28]).copy(d, 28);
    decodeErr(d, /UTF-8/);
  });
  it('80-byte path without NUL', () => {
    const b = encodeLogEntry(fileEntry({ path: 'p'.repeat(79) }), 0);
    assert.equal(decodeLogEntry(b).type, 'file'); // 79 bytes is fine
    b[40 + 79] = 0x70;
    decodeErr(b, /not NUL-terminated/);
    const d = encodeLogEntry({ type: 'mkdir', uid: 0, gid: 0, mode: 0o755, path: 'd'.repeat(79) }, 0);
    d[28 + 79] = 0x64;
    decodeErr(d, /not NUL-terminated/);
  });
  it('unknown extent type', () => {
    const b = encodeLogEntry(fileEntry(), 0);
    b.writeUInt32LE(2, 120);
    decodeErr(b, /unknown extent type 2/);
  });
  it('u64 fields past 2^53 are range errors, never silently rounded', () => {
    const b = encodeLogEntry(fileEntry(), 0);
    b.writeUInt32LE(0x00200000, 20); // size high word → 2^53
    assert.throws(() => decodeLogEntry(withCrc(b)), FieldRangeError);
    assert.throws(() => writeU64(Buffer.alloc(8), 0, 2 ** 53), FieldRangeError);
    assert.throws(() => writeU64(Buffer.alloc(8), 0, -1), FieldRangeError);
    const x = Buffer.alloc(8);
    writeU64(x, 0, Number.MAX_SAFE_INTEGER);
    assert.equal(readU64(x, 0), Number.MAX_SAFE_INTEGER);
  });
  it('too-short buffer', () => {
    assert.throws(() => decodeLogEntry(Buffer.alloc(543)), EntryDecodeError);
  });
  it('the encoder refuses what it cannot write faithfully', () => {
    assert.throws(() => encodeLogEntry(fileEntry({ path: 'p'.repeat(80) }), 0), RangeError);
    assert.throws(() => encodeLogEntry(fileEntry({ path: 'é'.repeat(40) }), 0), RangeError); // 80 bytes
    assert.doesNotThrow(() => encodeLogEntry(fileEntry({ path: 'é'.repeat(39) + 'a' }), 0)); // 79 bytes
    assert.throws(() => encodeLogEntry(fileEntry({ path: 'a\0b' }), 0), RangeError);
    const ext = { devindex: 0, offset: 0xa00000, length: 0x200000 };
    assert.throws(() => encodeLogEntry(fileEntry({ map: { kind: 'simple', extents: Array(17).fill(ext) } }), 0), RangeError);
    assert.throws(() => encodeLogEntry(fileEntry({ map: { kind: 'interleave', chunkSize: 0x200000, strips: Array(17).fill(ext) } }), 0), RangeError);
  });
});

describe('PRNG (upstream testlib random_buffer)', () => {
  const words = (seed: number, n: number): number[] => {
    const b = Buffer.alloc(4 * n);
    new RandomStream(seed).fill(b);
    return Array.from({ length: n }, (_, i) => b.readUInt32LE(4 * i));
  };
  it('matches upstream C output for seeds 1, 42, 0xdeadbeef', () => {
    assert.deepEqual(words(1, 6), [0xee914928, 0x34fbb666, 0x18ca873a, 0x781744de, 0xa166a8e8, 0xc953f428]);
    assert.deepEqual(words(42, 6), [0xe2525f98, 0x3d0cfb7a, 0x2b828cf8, 0xe5492240, 0xc41c78d5, 0xd5aae1cc]);
    assert.deepEqual(words(0xdeadbeef, 6), [0xaa6af4bd, 0xdeeffa2e, 0x35611eea, 0x1a417722, 0x6dc1636b, 0xc3000dea]);
  });
  it('next32 is the same stream', () => {
    const rs = new RandomStream(1);
    assert.deepEqual([rs.next32(), rs.next32()], [0xee914928, 0x34fbb666]);
  });
  it('tail bytes take the low bytes of one more output', () => {
    for (const tail of [1, 2, 3]) {
      const b = Buffer.alloc(8 + tail);
      new RandomStream(42).fill(b);
      const w = words(42, 3);
      assert.equal(b.readUInt32LE(0), w[0]);
      assert.equal(b.readUInt32LE(4), w[1]);
      for (let i = 0; i < tail; i++) assert.equal(b[8 + i], (w[2]! >>> (8 * i)) & 0xff);
    }
  });
  it('seed 0 is refused; seeds are 32-bit', () => {
    assert.throws(() => new RandomStream(0), RangeError);
    assert.deepEqual(words(2 ** 32 + 1, 2), words(1, 2));
  });
  it('filling in chunks (multiples of 4, any alignment) equals filling at once', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 0xffffffff }),
      fc.array(fc.integer({ min: 0, max: 300 }).map((n) => n * 4), { maxLength: 8 }),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 3 }),
      (seed, chunks, tail, misalign) => {
        const total = chunks.reduce((a, b) => a + b, 0) + tail;
        const once = Buffer.alloc(total);
        new RandomStream(seed).fill(once);
        const backing = Buffer.alloc(total + misalign);
        const pieces = backing.subarray(misalign);
        const rs = new RandomStream(seed);
        let off = 0;
        for (const c of chunks) {
          rs.fill(pieces.subarray(off, off + c));
          off += c;
        }
        rs.fill(pieces.subarray(off));
        assert.ok(pieces.equals(once));
        // compare() walks the same stream and finds the first difference
        assert.equal(new RandomStream(seed).compare(once), -1);
        if (total > 0) {
          const at = total - 1;
          once[at] ^= 0x80;
          assert.equal(new RandomStream(seed).compare(once, Buffer.alloc(64)), at);
        }
      },
    ), { numRuns: 200 });
  });
});
