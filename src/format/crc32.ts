/**
 * CRC-32 as zlib's crc32() (IEEE 802.3, reflected polynomial 0xEDB88320),
 * seeded with 0 like upstream's crc32(0, NULL, 0). Node 20 has no zlib.crc32.
 * Slicing-by-8: eight bytes per step through eight 256-entry tables (replay
 * checks the CRC of every log slot, so this loop bounds replay time).
 */
const TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  // Table k: the CRC step of one byte followed by k zero bytes.
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const prev = t[(k - 1) * 256 + n]!;
      t[k * 256 + n] = (prev >>> 8) ^ t[prev & 0xff]!;
    }
  }
  return t;
})();

/** Little-endian hosts read the buffer 4 bytes at a time (the CRC's byte order): half the loads. */
const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * An Int32Array over the last buffer's whole ArrayBuffer: replay checks thousands of slots
 * in one batch buffer, so the view is made once per batch, not once per slot. It keeps that
 * one buffer alive until another is checked (a WeakRef would keep every batch of a replay
 * alive, since its targets live until the synchronous job ends).
 */
let lastWords: Int32Array | undefined;
function wordsOf(buf: Uint8Array): Int32Array {
  const ab = buf.buffer;
  let w = lastWords;
  if (w === undefined || w.buffer !== ab) lastWords = w = new Int32Array(ab, 0, ab.byteLength >>> 2);
  return w;
}

export function crc32(buf: Uint8Array, start = 0, end = buf.length, seed = 0): number {
  const t = TABLES;
  let c = ~seed;
  let i = start;
  const at = buf.byteOffset + start;
  if (LE && (at & 3) === 0 && end - start >= 64) {
    // Same step as below, on aligned 32-bit words.
    const w = wordsOf(buf);
    const n = (end - start) >>> 3;
    for (let k = at >>> 2, last = k + 2 * n; k < last; k += 2) {
      const lo = c ^ w[k]!;
      const hi = w[k + 1]!;
      c = t[1792 + (lo & 0xff)]! ^ t[1536 + ((lo >>> 8) & 0xff)]! ^ t[1280 + ((lo >>> 16) & 0xff)]! ^ t[1024 + (lo >>> 24)]!
        ^ t[768 + (hi & 0xff)]! ^ t[512 + ((hi >>> 8) & 0xff)]! ^ t[256 + ((hi >>> 16) & 0xff)]! ^ t[hi >>> 24]!;
    }
    i += n * 8;
  }
  for (; i + 8 <= end; i += 8) {
    const lo = c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    const hi = buf[i + 4]! | (buf[i + 5]! << 8) | (buf[i + 6]! << 16) | (buf[i + 7]! << 24);
    c = t[1792 + (lo & 0xff)]! ^ t[1536 + ((lo >>> 8) & 0xff)]! ^ t[1280 + ((lo >>> 16) & 0xff)]! ^ t[1024 + (lo >>> 24)]!
      ^ t[768 + (hi & 0xff)]! ^ t[512 + ((hi >>> 8) & 0xff)]! ^ t[256 + ((hi >>> 16) & 0xff)]! ^ t[hi >>> 24]!;
  }
  for (; i < end; i++) c = t[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
