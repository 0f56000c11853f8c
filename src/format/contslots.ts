/** CONT slots of an extension record: the strings after its head, one sealed 544-byte slot per part. */
import { CONT_PAYLOAD, ExtEntryType, LOG_ENTRY_CRC_OFFSET, LOG_ENTRY_SIZE } from './constants.js';
import { crc32 } from './crc32.js';
import { writeU64 } from './bytes.js';

/** The `ncont` CONT slots carrying `strings`, for a record whose head is slot `seqnum`. */
export function encodeContSlots(strings: Buffer, seqnum: number, ncont: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < ncont; i++) {
    const c = Buffer.alloc(LOG_ENTRY_SIZE);
    writeU64(c, 0, seqnum + 1 + i);
    c.writeUInt32LE(ExtEntryType.CONT, 8);
    c.writeUInt32LE(i + 1, 12);
    strings.copy(c, 16, i * CONT_PAYLOAD, Math.min(strings.length, (i + 1) * CONT_PAYLOAD));
    writeU64(c, LOG_ENTRY_CRC_OFFSET, crc32(c, 0, LOG_ENTRY_CRC_OFFSET));
    out.push(c);
  }
  return out;
}
