/**
 * Bytes that name their file (issue 14 torture): every 512-byte sector of generation `gen`
 * of logical file `key` starts with a 20-byte stamp {magic, key, gen, sector, size} and is
 * filled with a byte derived from (key, gen). A reader that opened (key, gen) knows every
 * byte it may see, so one Buffer.equals decides a read; on a mismatch the sector's stamp
 * says whose bytes came instead (another file, another generation, zeros, torn).
 */
export const SECTOR = 512;
const MAGIC = 0x54525446; // "FTRT"

export interface Ident {
  key: number;
  gen: number;
  size: number;
}

function fillByte(key: number, gen: number): number {
  return ((key * 31 + gen * 7) & 0xff) | 1;
}

/** The bytes of [offset, offset+length) of (key, gen) of a file of `size` bytes. */
export function content(id: Ident, offset: number, length: number): Buffer {
  const first = Math.floor(offset / SECTOR);
  const last = Math.ceil((offset + length) / SECTOR);
  const b = Buffer.alloc((last - first) * SECTOR, fillByte(id.key, id.gen));
  for (let s = first; s < last; s++) {
    const o = (s - first) * SECTOR;
    b.writeUInt32LE(MAGIC, o);
    b.writeUInt32LE(id.key, o + 4);
    b.writeUInt32LE(id.gen, o + 8);
    b.writeUInt32LE(s, o + 12);
    b.writeUInt32LE(id.size, o + 16);
  }
  const skip = offset - first * SECTOR;
  return b.subarray(skip, skip + length);
}

/** The identity sector 0 claims (undefined: not a stamp at all — zeros, torn, foreign). */
export function identOf(sector0: Buffer): Ident | undefined {
  if (sector0.length < 20 || sector0.readUInt32LE(0) !== MAGIC || sector0.readUInt32LE(12) !== 0) return undefined;
  return { key: sector0.readUInt32LE(4), gen: sector0.readUInt32LE(8), size: sector0.readUInt32LE(16) };
}

/**
 * Compare `got` (read at `offset`) with what (key, gen) holds there. undefined when equal;
 * else one line: where it first differs and whose stamp that sector carries.
 */
export function mismatch(id: Ident, offset: number, got: Buffer): string | undefined {
  const want = content(id, offset, got.length);
  if (got.equals(want)) return undefined;
  let i = 0;
  while (i < got.length && got[i] === want[i]) i++;
  const at = offset + i;
  // The stamp of the sector that differs, or of the next one when that stamp lies before the read.
  let s = Math.floor(at / SECTOR);
  if (s * SECTOR < offset) s++;
  const sOff = s * SECTOR - offset;
  let whose = 'unreadable stamp';
  if (sOff >= 0 && sOff + 20 <= got.length) {
    const h = got.subarray(sOff, sOff + 20);
    whose = h.readUInt32LE(0) === MAGIC
      ? `stamp key ${h.readUInt32LE(4)} gen ${h.readUInt32LE(8)} sector ${h.readUInt32LE(12)} size ${h.readUInt32LE(16)}`
      : h.every((x) => x === 0) ? 'zeros' : `no stamp (${h.subarray(0, 8).toString('hex')})`;
  }
  return `expected key ${id.key} gen ${id.gen} size ${id.size}; byte ${at} differs (got ${got[i]}, want ${want[i]}), sector ${s}: ${whose}`;
}
