/** On-media constants of upstream famfs (src/famfs_meta.h at upstream HEAD). */

export const SUPER_MAGIC = 0x87b282ff;
/** Version we write: upstream HEAD (ADD_DAXDEV era). */
export const CURRENT_VERSION = 48;
/** Versions we read: 47 (releases until 2026-06) and 48 share the layout. */
export const READABLE_VERSIONS: readonly number[] = [47, 48];
export const OMF_MAJOR = 2;
export const OMF_MINOR = 2;

export const SUPERBLOCK_SIZE = 0x200000;
export const LOG_OFFSET = 0x200000;
export const DEFAULT_LOG_LEN = 0x800000;
export const MIN_LOG_LEN = 0x800000;
export const ALLOC_UNIT = 0x200000;
export const VALID_ALLOC_UNITS: readonly number[] = [4096, 0x200000];
export const MIN_DEVICE_SIZE = 4 * 1024 ** 3;

export const LOG_MAGIC = 0xbadcafef00dn;
export const LOG_HEADER_SIZE = 48;
export const LOG_ENTRY_SIZE = 544;
/** The entry CRC covers everything before the trailing 8-byte CRC field. */
export const LOG_ENTRY_CRC_OFFSET = 536;

export const MAX_PATHLEN = 80;
/** relpaths are strncpy'd with n = 79 into a zeroed 80-byte field. */
export const MAX_RELPATH_BYTES = MAX_PATHLEN - 1;
export const MAX_SIMPLE_EXTENTS = 16;
export const MAX_STRIPS = 16;
export const MAX_NBUCKETS = 64;
export const DEVNAME_LEN = 64;

export const FM_ALL_HOSTS_RO = 1;
export const FM_ALL_HOSTS_RW = 2;

export const EntryType = {
  FILE: 0,
  MKDIR: 1,
  DELETE: 2,
  ADD_DAXDEV: 3,
  INVALID: 4,
} as const;

/**
 * Entry types of the format extensions (docs/format.md), far above upstream's small,
 * shifting numbers. An extended record is a head slot followed by CONT slots carrying
 * its strings (path, then symlink target), committed together.
 */
export const ExtEntryType = {
  FILE: 0x7473_0001,
  MKDIR: 0x7473_0002,
  SYMLINK: 0x7473_0003,
  CONT: 0x7473_0004,
  /** Removes a file, symlink or empty directory (issue 14, feature `delete`). */
  DELETE: 0x7473_0005,
  /** Moves a node to a new path, replacing a file there (issue 14, feature `rename`). */
  RENAME: 0x7473_0006,
} as const;

/** Linux limits the extended entries honour: NAME_MAX and PATH_MAX - 1. */
export const EXT_NAME_MAX = 255;
export const EXT_PATH_MAX = 4095;
/** String bytes one CONT slot carries (entry bytes 16..535). */
export const CONT_PAYLOAD = 520;
/** Longest record: a head and the CONT slots of a 4,095-byte path and a 4,095-byte target. */
export const MAX_RECORD_SLOTS = 1 + Math.ceil((2 * EXT_PATH_MAX) / CONT_PAYLOAD);

export const ExtentType = {
  SIMPLE: 0,
  INTERLEAVE: 1,
} as const;

/** Slots in a log of `logLen` bytes. */
export function logSlots(logLen: number): number {
  return Math.floor((logLen - LOG_HEADER_SIZE) / LOG_ENTRY_SIZE);
}

/** Device offset of log entry `index`. */
export function entryOffset(index: number): number {
  return LOG_OFFSET + LOG_HEADER_SIZE + index * LOG_ENTRY_SIZE;
}

/**
 * The presence area (feature `presence`, issue 14): one slot per mounted host in the
 * superblock region's unused second half, which upstream never reads. Zeroed by mkfs.
 */
export const PRESENCE_OFFSET = 0x100000;
export const PRESENCE_SIZE = 0x100000;
export const PRESENCE_SLOT_SIZE = 0x4000;
export const PRESENCE_SLOTS = PRESENCE_SIZE / PRESENCE_SLOT_SIZE;
/** A host whose heartbeat has not moved for this long counts as gone (mkfs --lease overrides; kept in the feature block). */
export const DEFAULT_LEASE_MS = 10_000;
