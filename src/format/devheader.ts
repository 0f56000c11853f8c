/**
 * Header of a secondary famfs device (index ≥ 1), at byte 0 of that device. Not an
 * upstream structure (upstream's roadmap plans secondary superblocks, not yet defined);
 * deliberately NOT a famfs superblock, so upstream tools never take a secondary device
 * for a file system of its own. The first 2 MiB of a secondary device hold no data.
 *
 *   @0  magic     8 bytes "FAMFSDV1"
 *   @8  version   u32 = 1
 *   @12 index     u32 (the ADD_DAXDEV dd_index)
 *   @16 fs uuid   16 bytes (superblock uuid of device 0)
 *   @32 dev uuid  16 bytes (the ADD_DAXDEV dd_uuid)
 *   @48 size      u64 (the ADD_DAXDEV dd_size)
 *   @56 crc32     u32 over [0, 56)
 *   @60 zero      u32
 */
import { crc32 } from './crc32.js';
import { readU64, writeU64 } from './bytes.js';
import { uuidFromBytes, uuidToBytes } from './uuid.js';

export const DEVHEADER_MAGIC = Buffer.from('FAMFSDV1', 'latin1');
export const DEVHEADER_SIZE = 64;
export const DEVHEADER_VERSION = 1;
/** Data on a secondary device starts here (one 2 MiB allocation unit). */
export const SECONDARY_DATA_START = 0x200000;

export interface DevHeader {
  index: number;
  fsUuid: string;
  devUuid: string;
  size: number;
}

export function encodeDevHeader(h: DevHeader): Buffer {
  const b = Buffer.alloc(DEVHEADER_SIZE);
  DEVHEADER_MAGIC.copy(b, 0);
  b.writeUInt32LE(DEVHEADER_VERSION, 8);
  b.writeUInt32LE(h.index, 12);
  uuidToBytes(h.fsUuid).copy(b, 16);
  uuidToBytes(h.devUuid).copy(b, 32);
  writeU64(b, 48, h.size);
  b.writeUInt32LE(crc32(b, 0, 56), 56);
  return b;
}

/** The header, or why these bytes are not one. */
export function decodeDevHeader(b: Buffer): DevHeader | string {
  if (b.length < DEVHEADER_SIZE) return 'too short';
  if (!b.subarray(0, 8).equals(DEVHEADER_MAGIC)) return 'no famfs secondary device header';
  if (b.readUInt32LE(8) !== DEVHEADER_VERSION) return `header version ${b.readUInt32LE(8)}`;
  if (b.readUInt32LE(56) !== crc32(b, 0, 56)) return 'bad header CRC';
  return { index: b.readUInt32LE(12), fsUuid: uuidFromBytes(b.subarray(16, 32)), devUuid: uuidFromBytes(b.subarray(32, 48)), size: readU64(b, 48) };
}
