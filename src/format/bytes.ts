/** Little-endian field helpers shared by the codecs. u64 values are JS numbers. */

/** Thrown when a u64 field does not fit a JS number exactly (> 2^53); such input is invalid for us. */
export class FieldRangeError extends RangeError {}

export function readU64(buf: Buffer, off: number): number {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readUInt32LE(off + 4);
  if (hi > 0x1fffff) throw new FieldRangeError(`u64 at ${off} exceeds 2^53`);
  return hi * 0x1_0000_0000 + lo;
}

export function writeU64(buf: Buffer, off: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new FieldRangeError(`bad u64 value ${value}`);
  buf.writeUInt32LE(value % 0x1_0000_0000, off);
  buf.writeUInt32LE(Math.floor(value / 0x1_0000_0000), off + 4);
}

/** A NUL-padded fixed-size string field: the bytes before the first NUL (or the whole field). */
export function readCString(buf: Buffer, off: number, len: number): Buffer {
  const field = buf.subarray(off, off + len);
  const nul = field.indexOf(0);
  return nul < 0 ? field : field.subarray(0, nul);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8 decode; undefined if the bytes are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}
