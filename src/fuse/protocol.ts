/**
 * FUSE kernel protocol constants (include/uapi/linux/fuse.h, protocol 7.45).
 * Pure data: no I/O. Flag sets that can exceed 32 bits (INIT flags) are bigint;
 * everything else is a plain number.
 */

export const FUSE_KERNEL_VERSION = 7;
/** The newest minor this implementation understands; negotiated down to the kernel's. */
export const FUSE_KERNEL_MINOR_VERSION = 45;
export const FUSE_ROOT_ID = 1;
/** Kernel refuses reads into buffers smaller than this. */
export const FUSE_MIN_READ_BUFFER = 8192;

/** _IOR(229, 0, uint32_t): attach a new /dev/fuse fd to an existing connection. */
export const FUSE_DEV_IOC_CLONE = 0x8004e500;

/** Bit 63 of fuse_in_header.unique: the request is a resend (7.40). */
export const FUSE_UNIQUE_RESEND = 1n << 63n;

export const Opcode = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48,
  REMOVEMAPPING: 49,
  SYNCFS: 50,
  TMPFILE: 51,
  STATX: 52,
  COPY_FILE_RANGE_64: 53,
} as const;
export type OpcodeName = keyof typeof Opcode;

const OPCODE_NAMES: Record<number, OpcodeName> = Object.fromEntries(
  Object.entries(Opcode).map(([k, v]) => [v, k as OpcodeName]),
);

/** "LOOKUP", ... or "OP_<n>" for numbers this module does not know. */
export function opcodeName(op: number): string {
  return OPCODE_NAMES[op] ?? `OP_${op}`;
}

/**
 * INIT capability bits in the kernel's u64 numbering: bit n < 32 lives in
 * fuse_init_{in,out}.flags, bit n >= 32 in .flags2 (bit n-32), and flags2 is
 * only read by the kernel when the reply sets INIT_EXT.
 */
export const InitFlag = {
  ASYNC_READ: 1n << 0n,
  POSIX_LOCKS: 1n << 1n,
  FILE_OPS: 1n << 2n,
  ATOMIC_O_TRUNC: 1n << 3n,
  EXPORT_SUPPORT: 1n << 4n,
  BIG_WRITES: 1n << 5n,
  DONT_MASK: 1n << 6n,
  SPLICE_WRITE: 1n << 7n,
  SPLICE_MOVE: 1n << 8n,
  SPLICE_READ: 1n << 9n,
  FLOCK_LOCKS: 1n << 10n,
  HAS_IOCTL_DIR: 1n << 11n,
  AUTO_INVAL_DATA: 1n << 12n,
  DO_READDIRPLUS: 1n << 13n,
  READDIRPLUS_AUTO: 1n << 14n,
  ASYNC_DIO: 1n << 15n,
  WRITEBACK_CACHE: 1n << 16n,
  NO_OPEN_SUPPORT: 1n << 17n,
  PARALLEL_DIROPS: 1n << 18n,
  HANDLE_KILLPRIV: 1n << 19n,
  POSIX_ACL: 1n << 20n,
  ABORT_ERROR: 1n << 21n,
  MAX_PAGES: 1n << 22n,
  CACHE_SYMLINKS: 1n << 23n,
  NO_OPENDIR_SUPPORT: 1n << 24n,
  EXPLICIT_INVAL_DATA: 1n << 25n,
  MAP_ALIGNMENT: 1n << 26n,
  SUBMOUNTS: 1n << 27n,
  HANDLE_KILLPRIV_V2: 1n << 28n,
  SETXATTR_EXT: 1n << 29n,
  INIT_EXT: 1n << 30n,
  INIT_RESERVED: 1n << 31n,
  SECURITY_CTX: 1n << 32n,
  HAS_INODE_DAX: 1n << 33n,
  CREATE_SUPP_GROUP: 1n << 34n,
  HAS_EXPIRE_ONLY: 1n << 35n,
  DIRECT_IO_ALLOW_MMAP: 1n << 36n,
  PASSTHROUGH: 1n << 37n,
  NO_EXPORT_SUPPORT: 1n << 38n,
  HAS_RESEND: 1n << 39n,
  ALLOW_IDMAP: 1n << 40n,
  OVER_IO_URING: 1n << 41n,
  REQUEST_TIMEOUT: 1n << 42n,
  /** Ambiguous: famfs V10 FUSE_DAX_FMAP vs. mainline 7.46 io_uring bufpool (see reference §1.1). */
  BIT_43: 1n << 43n,
} as const;
export type InitFlagName = keyof typeof InitFlag;

/** Names of the bits set in a u64 INIT flag set, for logs ("bit44" for unknown ones). */
export function initFlagNames(flags: bigint): string[] {
  const out: string[] = [];
  for (let i = 0n; i < 64n; i++) {
    const bit = 1n << i;
    if ((flags & bit) === 0n) continue;
    const name = (Object.keys(InitFlag) as InitFlagName[]).find((k) => InitFlag[k] === bit);
    out.push(name ?? `bit${i}`);
  }
  return out;
}

/** fuse_open_out.open_flags */
export const FOPEN_DIRECT_IO = 1 << 0;
export const FOPEN_KEEP_CACHE = 1 << 1;
export const FOPEN_NONSEEKABLE = 1 << 2;
export const FOPEN_CACHE_DIR = 1 << 3;
export const FOPEN_STREAM = 1 << 4;
export const FOPEN_NOFLUSH = 1 << 5;
export const FOPEN_PARALLEL_DIRECT_WRITES = 1 << 6;
export const FOPEN_PASSTHROUGH = 1 << 7;

/** fuse_setattr_in.valid */
export const FATTR_MODE = 1 << 0;
export const FATTR_UID = 1 << 1;
export const FATTR_GID = 1 << 2;
export const FATTR_SIZE = 1 << 3;
export const FATTR_ATIME = 1 << 4;
export const FATTR_MTIME = 1 << 5;
export const FATTR_FH = 1 << 6;
export const FATTR_ATIME_NOW = 1 << 7;
export const FATTR_MTIME_NOW = 1 << 8;
export const FATTR_LOCKOWNER = 1 << 9;
export const FATTR_CTIME = 1 << 10;
export const FATTR_KILL_SUIDGID = 1 << 11;

/** fuse_attr.flags */
export const FUSE_ATTR_SUBMOUNT = 1 << 0;
export const FUSE_ATTR_DAX = 1 << 1;

/** fuse_getattr_in.getattr_flags */
export const FUSE_GETATTR_FH = 1 << 0;
/** fuse_open_in.open_flags */
export const FUSE_OPEN_KILL_SUIDGID = 1 << 0;
/** fuse_release_in.release_flags */
export const FUSE_RELEASE_FLUSH = 1 << 0;
export const FUSE_RELEASE_FLOCK_UNLOCK = 1 << 1;
/** fuse_fsync_in.fsync_flags */
export const FUSE_FSYNC_FDATASYNC = 1 << 0;
/** fuse_read_in.read_flags */
export const FUSE_READ_LOCKOWNER = 1 << 1;
/** fuse_write_in.write_flags */
export const FUSE_WRITE_CACHE = 1 << 0;
export const FUSE_WRITE_LOCKOWNER = 1 << 1;
export const FUSE_WRITE_KILL_SUIDGID = 1 << 2;
/** fuse_lk_in.lk_flags: the lock is a BSD flock(), not a POSIX lock. */
export const FUSE_LK_FLOCK = 1 << 0;
/** fuse_setxattr_in.setxattr_flags (with SETXATTR_EXT) */
export const FUSE_SETXATTR_ACL_KILL_SGID = 1 << 0;
/** fuse_notify_inval_entry_out.flags */
export const FUSE_EXPIRE_ONLY = 1 << 0;

/** Notification codes (fuse_out_header.error of a unique=0 message). */
export const NotifyCode = {
  POLL: 1,
  INVAL_INODE: 2,
  INVAL_ENTRY: 3,
  STORE: 4,
  RETRIEVE: 5,
  DELETE: 6,
  RESEND: 7,
  INC_EPOCH: 8,
  PRUNE: 9,
} as const;

/** Linux errno numbers (positive) used by this layer and useful to handlers. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EMLINK: 31,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOLCK: 37,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  EPROTO: 71,
  EOVERFLOW: 75,
  EOPNOTSUPP: 95,
  ECONNABORTED: 103,
  ENOTCONN: 107,
  ESTALE: 116,
} as const;

/** S_IF* file type bits (in mode) and DT_* directory entry types (= mode >> 12). */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** lseek whence values the kernel forwards. */
export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

/** Lock types in fuse_file_lock.type (fcntl F_RDLCK/F_WRLCK/F_UNLCK). */
export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;

/** Struct sizes (bytes) from the 7.45 header. */
export const Size = {
  IN_HEADER: 40,
  OUT_HEADER: 16,
  ATTR: 88,
  ENTRY_OUT: 128,
  ATTR_OUT: 104,
  GETATTR_IN: 16,
  SETATTR_IN: 88,
  OPEN_IN: 8,
  OPEN_OUT: 16,
  CREATE_IN: 16,
  MKNOD_IN: 16,
  MKDIR_IN: 8,
  RENAME_IN: 8,
  RENAME2_IN: 16,
  LINK_IN: 8,
  READ_IN: 40,
  WRITE_IN: 40,
  WRITE_OUT: 8,
  RELEASE_IN: 24,
  FLUSH_IN: 24,
  FSYNC_IN: 16,
  FORGET_IN: 8,
  FORGET_ONE: 16,
  BATCH_FORGET_IN: 8,
  STATFS_OUT: 80,
  SETXATTR_IN: 16,
  COMPAT_SETXATTR_IN: 8,
  GETXATTR_IN: 8,
  GETXATTR_OUT: 8,
  ACCESS_IN: 8,
  INIT_IN: 64,
  INIT_OUT: 64,
  COMPAT_22_INIT_OUT: 24,
  INTERRUPT_IN: 8,
  LK_IN: 48,
  LK_OUT: 24,
  FILE_LOCK: 24,
  LSEEK_IN: 24,
  LSEEK_OUT: 8,
  DIRENT: 24,
  DIRENTPLUS: 152,
  NOTIFY_INVAL_INODE: 24,
  NOTIFY_INVAL_ENTRY: 16,
  NOTIFY_DELETE: 24,
  EXT_HEADER: 8,
} as const;
