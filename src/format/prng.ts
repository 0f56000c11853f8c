/**
 * Upstream famfs's test-data stream (testlib/random_buffer.c), so `creat -r -S`
 * and `verify -S` interoperate with the C tools: xoroshiro128+ seeded by two
 * SplitMix64 steps from a 32-bit seed; each 64-bit output contributes its low
 * 32 bits, little-endian; a tail shorter than 4 bytes takes the low bytes of
 * one more output. 64-bit state is kept as 32-bit halves to stay off BigInt
 * in the per-word loop.
 */
const M64 = (1n << 64n) - 1n;

function splitmix(seed: bigint): [bigint, bigint] {
  let z = (seed + 0x9e3779b97f4a7c15n) & M64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return [z ^ (z >> 31n), (seed + 0x9e3779b97f4a7c15n) & M64];
}

export class RandomStream {
  private s0h: number; private s0l: number; private s1h: number; private s1l: number;

  /** `seed` is truncated to 32 bits as upstream's unsigned int; 0 is refused (upstream treats it as "no seed"). */
  constructor(seed: number) {
    const s = BigInt(seed >>> 0);
    if (s === 0n) throw new RangeError('seed must be a non-zero 32-bit number');
    const [a, next] = splitmix(s);
    const [b] = splitmix(next);
    this.s0h = Number(a >> 32n) >>> 0; this.s0l = Number(a & 0xffffffffn) >>> 0;
    this.s1h = Number(b >> 32n) >>> 0; this.s1l = Number(b & 0xffffffffn) >>> 0;
  }

  /** Next output, low 32 bits. */
  next32(): number {
    const s0h = this.s0h, s0l = this.s0l;
    const result = (s0l + this.s1l) >>> 0;
    const s1h = this.s1h ^ s0h, s1l = this.s1l ^ s0l;
    // s0 = rotl(s0, 55) ^ s1 ^ (s1 << 14)
    this.s0h = (((s0l << 23) | (s0h >>> 9)) ^ s1h ^ ((s1h << 14) | (s1l >>> 18))) >>> 0;
    this.s0l = (((s0h << 23) | (s0l >>> 9)) ^ s1l ^ (s1l << 14)) >>> 0;
    // s1 = rotl(s1, 36)
    this.s1h = ((s1l << 4) | (s1h >>> 28)) >>> 0;
    this.s1l = ((s1h << 4) | (s1l >>> 28)) >>> 0;
    return result;
  }

  /**
   * Fill `buf` with the next bytes of the stream. Every call but the last of a
   * stream must have a length that is a multiple of 4.
   */
  fill(buf: Uint8Array): void {
    const words = buf.length >>> 2;
    if ((buf.byteOffset & 3) === 0) {
      const w = new Uint32Array(buf.buffer, buf.byteOffset, words);
      for (let i = 0; i < words; i++) w[i] = this.next32();
    } else {
      const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
      for (let i = 0; i < words; i++) dv.setUint32(i * 4, this.next32(), true);
    }
    const tail = buf.length & 3;
    if (tail) {
      const last = this.next32();
      for (let i = 0; i < tail; i++) buf[words * 4 + i] = (last >>> (8 * i)) & 0xff;
    }
  }

  /** Index of the first byte of `buf` that differs from the stream, or -1. Advances like fill(). */
  compare(buf: Uint8Array, scratch: Buffer = Buffer.allocUnsafe(Math.min(buf.length, 1 << 20))): number {
    for (let off = 0; off < buf.length; off += scratch.length) {
      const n = Math.min(scratch.length, buf.length - off);
      const want = scratch.subarray(0, n);
      this.fill(want);
      const got = Buffer.from(buf.buffer, buf.byteOffset + off, n);
      if (!got.equals(want)) {
        for (let i = 0; i < n; i++) if (got[i] !== want[i]) return off + i;
      }
    }
    return -1;
  }
}
