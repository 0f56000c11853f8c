/** struct famfs_log header (48 bytes at the start of the log); pure codec. */
import { LOG_HEADER_SIZE, LOG_MAGIC, logSlots } from './constants.js';
import { crc32 } from './crc32.js';
import { readU64, writeU64 } from './bytes.js';

export interface LogHeader {
  magic: number;
  logLen: number;
  lastIndex: number;
  crc: number;
  nextSeqnum: number;
  nextIndex: number;
}

export const NEXT_SEQNUM_OFFSET = 32;
export const NEXT_INDEX_OFFSET = 40;

export function decodeLogHeader(buf: Buffer): LogHeader {
  if (buf.length < LOG_HEADER_SIZE) throw new RangeError('log header buffer too short');
  return {
    magic: readU64(buf, 0),
    logLen: readU64(buf, 8),
    lastIndex: readU64(buf, 16),
    crc: readU64(buf, 24),
    nextSeqnum: readU64(buf, 32),
    nextIndex: readU64(buf, 40),
  };
}

/** A fresh header for an empty log of `logLen` bytes, as mkfs writes it. */
export function encodeLogHeader(logLen: number, nextSeqnum = 0, nextIndex = 0): Buffer {
  const buf = Buffer.alloc(LOG_HEADER_SIZE);
  writeU64(buf, 0, Number(LOG_MAGIC));
  writeU64(buf, 8, logLen);
  writeU64(buf, 16, logSlots(logLen) - 1);
  writeU64(buf, 24, logHeaderCrc(buf));
  writeU64(buf, 32, nextSeqnum);
  writeU64(buf, 40, nextIndex);
  return buf;
}

/** The header CRC covers magic, len and last_index only (bytes 0..23). */
export function logHeaderCrc(buf: Buffer): number {
  return crc32(buf, 0, 24);
}

export type LogHeaderCheck = 'ok' | 'bad-magic' | 'bad-crc' | 'bad-length' | 'bad-index';

/** Validate a header against the superblock's log length. */
export function checkLogHeader(buf: Buffer, expectedLogLen: number): LogHeaderCheck {
  if (buf.readUInt32LE(0) !== Number(LOG_MAGIC & 0xffffffffn) || buf.readUInt32LE(4) !== Number(LOG_MAGIC >> 32n)) return 'bad-magic';
  if (buf.readUInt32LE(28) !== 0 || buf.readUInt32LE(24) !== logHeaderCrc(buf)) return 'bad-crc';
  let h: LogHeader;
  try {
    h = decodeLogHeader(buf);
  } catch {
    return 'bad-index';
  }
  if (h.logLen !== expectedLogLen || h.lastIndex !== logSlots(h.logLen) - 1) return 'bad-length';
  if (h.nextIndex > h.lastIndex + 1) return 'bad-index';
  return 'ok';
}
