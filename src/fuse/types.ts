/**
 * Plain value types shared by the codec, the handler interface and the session.
 *
 * Number policy: nodeids, file handles, offsets and sizes are JS numbers. They are
 * u64 on the wire, but the kernel only echoes back nodeids/fhs this server chose,
 * and file offsets/sizes stay far below 2^53, so numbers are exact in practice
 * (the decoder combines hi*2^32+lo; values above 2^53 would lose low bits).
 * Opaque 64-bit values the kernel invents (`unique`, `lock_owner`) and the
 * 64-bit INIT flag set are bigint.
 *
 * Names (file names, xattr names, symlink targets) are UTF-8 strings; a name that
 * is not valid UTF-8 is decoded with U+FFFD replacements (lossy).
 */

/** File attributes (struct fuse_attr). Only `ino` and `mode` are required. */
export interface FuseAttr {
  ino: number;
  /** S_IF* type bits | permission bits. */
  mode: number;
  size?: number;
  /** 512-byte blocks; default ceil(size / 512). */
  blocks?: number;
  /** Timestamps in milliseconds since the epoch, like fs.Stats.*Ms (float; ~0.25 µs resolution today). */
  atimeMs?: number;
  mtimeMs?: number;
  ctimeMs?: number;
  /** Default 1. */
  nlink?: number;
  uid?: number;
  gid?: number;
  rdev?: number;
  /** Preferred I/O size reported by stat(2); 0 lets the kernel choose. Default 0. */
  blksize?: number;
  /** FUSE_ATTR_* bits. */
  flags?: number;
}

/** Reply to LOOKUP, MKDIR, MKNOD, SYMLINK, LINK (struct fuse_entry_out). */
export interface EntryReply {
  /** 0 = negative entry (cached "does not exist" for entryTimeout seconds). */
  nodeid: number;
  generation?: number;
  attr: FuseAttr;
  /** Seconds (fractions allowed). Default: the handler's InitWishes.entryTimeout, else 1. */
  entryTimeout?: number;
  /** Seconds. Default: the handler's InitWishes.attrTimeout, else 1. */
  attrTimeout?: number;
}

/** Reply to GETATTR / SETATTR (struct fuse_attr_out). */
export interface AttrReply {
  attr: FuseAttr;
  /** Seconds. Default: InitWishes.attrTimeout, else 1. */
  attrTimeout?: number;
}

/** Reply to OPEN / OPENDIR (struct fuse_open_out). */
export interface OpenReply {
  fh?: number;
  /** FOPEN_* bits. */
  openFlags?: number;
  /** Passthrough backing id (with FOPEN_PASSTHROUGH). */
  backingId?: number;
}

/** Reply to CREATE: entry + open. */
export interface CreateReply extends EntryReply {
  fh?: number;
  openFlags?: number;
  backingId?: number;
}

/** Reply to STATFS (struct fuse_kstatfs). */
export interface StatfsReply {
  blocks?: number;
  bfree?: number;
  bavail?: number;
  files?: number;
  ffree?: number;
  /** Default 4096. */
  bsize?: number;
  /** Default 255. */
  namelen?: number;
  /** Default = bsize. */
  frsize?: number;
}

/** One directory entry for READDIR. */
export interface DirEntry {
  name: string;
  ino: number;
  /** DT_* type; if absent it is derived from `mode` (mode >> 12), else 0 (DT_UNKNOWN). */
  type?: number;
  mode?: number;
  /**
   * Cookie of the NEXT entry (what the kernel passes as offset to continue after this one).
   * Default when a handler returns an array: requestOffset + index + 1.
   */
  off?: number;
}

/** One directory entry for READDIRPLUS: name + cookie + full entry. */
export interface DirEntryPlus {
  name: string;
  off?: number;
  entry: EntryReply;
}

/** struct fuse_file_lock */
export interface FileLock {
  start: number;
  /** Inclusive end; OFFSET_MAX (2^63-1) is decoded as Infinity. */
  end: number;
  /** F_RDLCK / F_WRLCK / F_UNLCK */
  type: number;
  pid: number;
}

/** Negotiated connection parameters after INIT. */
export interface FuseConnection {
  /** Agreed protocol: major is always 7, minor = min(kernel, ours). */
  major: number;
  minor: number;
  kernelMajor: number;
  kernelMinor: number;
  /** What the kernel offered (u64 numbering; flags2 folded in). */
  kernelFlags: bigint;
  /** What we replied (the effective set): wanted ∩ offered. */
  flags: bigint;
  maxWrite: number;
  maxReadahead: number;
  maxPages: number;
  maxBackground: number;
  congestionThreshold: number;
  timeGran: number;
}

/** What the kernel sent in INIT (decoded fuse_init_in). */
export interface KernelInit {
  major: number;
  minor: number;
  maxReadahead: number;
  /** flags | flags2 << 32 (flags2 only when INIT_EXT is offered). */
  flags: bigint;
}
