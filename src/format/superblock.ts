/** struct famfs_superblock (200 bytes at device offset 0); pure codec. */
import { ALLOC_UNIT, CURRENT_VERSION, DEVNAME_LEN, OMF_MAJOR, OMF_MINOR, READABLE_VERSIONS, SUPER_MAGIC, VALID_ALLOC_UNITS } from './constants.js';
import { crc32 } from './crc32.js';
import { readCString, readU64, writeU64 } from './bytes.js';
import { uuidFromBytes, uuidToBytes } from './uuid.js';
import { EXT_VERSION } from './features.js';

export const SUPERBLOCK_STRUCT_SIZE = 200;
/** The CRC covers bytes [0, 96): magic … system uuid. */
export const SUPERBLOCK_CRC_END = 96;

export interface Superblock {
  magic: number;
  version: number;
  logOffset: number;
  logLen: number;
  allocUnit: number;
  omfMajor: number;
  omfMinor: number;
  uuid: string;
  devUuid: string;
  systemUuid: string;
  crc: number;
  flags: number;
  /** Primary device: size used by the allocator, and the path given to mkfs (per host, informative). */
  daxdev: { size: number; uuid: string; name: string };
}

export type SuperblockFields = Omit<Superblock, 'magic' | 'version' | 'omfMajor' | 'omfMinor' | 'crc'> &
  Partial<Pick<Superblock, 'version' | 'omfMajor' | 'omfMinor'>>;

export function decodeSuperblock(buf: Buffer): Superblock {
  if (buf.length < SUPERBLOCK_STRUCT_SIZE) throw new RangeError('superblock buffer too short');
  return {
    magic: readU64(buf, 0),
    version: readU64(buf, 8),
    logOffset: readU64(buf, 16),
    logLen: readU64(buf, 24),
    allocUnit: readU64(buf, 32),
    omfMajor: buf.readUInt32LE(40),
    omfMinor: buf.readUInt32LE(44),
    uuid: uuidFromBytes(buf.subarray(48, 64)),
    devUuid: uuidFromBytes(buf.subarray(64, 80)),
    systemUuid: uuidFromBytes(buf.subarray(80, 96)),
    crc: readU64(buf, 96),
    flags: buf.readUInt32LE(104),
    daxdev: {
      size: readU64(buf, 112),
      uuid: uuidFromBytes(buf.subarray(120, 136)),
      name: readCString(buf, 136, DEVNAME_LEN).toString('latin1'),
    },
  };
}

/** Encode a superblock into a zero-filled 200-byte buffer with its CRC computed. */
export function encodeSuperblock(f: SuperblockFields): Buffer {
  const buf = Buffer.alloc(SUPERBLOCK_STRUCT_SIZE);
  writeU64(buf, 0, SUPER_MAGIC);
  writeU64(buf, 8, f.version ?? CURRENT_VERSION);
  writeU64(buf, 16, f.logOffset);
  writeU64(buf, 24, f.logLen);
  writeU64(buf, 32, f.allocUnit);
  buf.writeUInt32LE(f.omfMajor ?? OMF_MAJOR, 40);
  buf.writeUInt32LE(f.omfMinor ?? OMF_MINOR, 44);
  uuidToBytes(f.uuid).copy(buf, 48);
  uuidToBytes(f.devUuid).copy(buf, 64);
  uuidToBytes(f.systemUuid).copy(buf, 80);
  writeU64(buf, 96, superblockCrc(buf));
  buf.writeUInt32LE(f.flags, 104);
  writeU64(buf, 112, f.daxdev.size);
  uuidToBytes(f.daxdev.uuid).copy(buf, 120);
  Buffer.from(f.daxdev.name, 'latin1').subarray(0, DEVNAME_LEN).copy(buf, 136);
  return buf;
}

export function superblockCrc(buf: Buffer): number {
  return crc32(buf, 0, SUPERBLOCK_CRC_END);
}

export type SuperblockCheck = 'ok' | 'bad-magic' | 'bad-version' | 'bad-crc' | 'bad-alloc-unit';

/** An extended file system (docs/format.md) may use any power-of-two unit from 4 KiB to 2 MiB. */
export function extAllocUnitOk(au: number): boolean {
  return au >= 4096 && au <= ALLOC_UNIT && (au & (au - 1)) === 0;
}

/**
 * Upstream famfs_check_super, in its order; we accept versions 47 and 48, and
 * EXT_VERSION (whose feature block the caller checks: features.ts).
 */
export function checkSuperblock(buf: Buffer): SuperblockCheck {
  if (buf.readUInt32LE(0) !== SUPER_MAGIC || buf.readUInt32LE(4) !== 0) return 'bad-magic';
  const version = buf.readUInt32LE(8);
  if (buf.readUInt32LE(12) !== 0 || (!READABLE_VERSIONS.includes(version) && version !== EXT_VERSION)) return 'bad-version';
  if (buf.readUInt32LE(100) !== 0 || buf.readUInt32LE(96) !== superblockCrc(buf)) return 'bad-crc';
  const au = buf.readUInt32LE(32);
  if (buf.readUInt32LE(36) !== 0 || !(version === EXT_VERSION ? extAllocUnitOk(au) : VALID_ALLOC_UNITS.includes(au))) return 'bad-alloc-unit';
  return 'ok';
}

export function describeSuperblockCheck(c: SuperblockCheck): string {
  switch (c) {
    case 'ok': return 'valid superblock';
    case 'bad-magic': return 'no famfs superblock (bad magic)';
    case 'bad-version': return 'famfs superblock of an unsupported version';
    case 'bad-crc': return 'famfs superblock with a bad CRC';
    case 'bad-alloc-unit': return 'famfs superblock with an invalid allocation unit';
  }
}
