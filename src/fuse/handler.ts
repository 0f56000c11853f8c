/**
 * The interface a file system implements, modelled on libfuse's low-level API:
 * one optional method per opcode; a missing method is answered with ENOSYS.
 *
 * Methods are SYNCHRONOUS. To fail, either `throw new FuseError(errno)` or
 * `return new FuseError(errno)` (cheaper on hot paths like negative lookups).
 * Any thrown error with a Node/libc errno `code` ("ENOENT", …) is replied with
 * that errno; any other exception is logged and replied with EIO.
 *
 * Buffers passed in (WRITE data, SETXATTR values) are views of the session's
 * read buffer: copy what you keep, they are overwritten by the next request.
 * Buffers returned from read() are written to the kernel with one writev and
 * may be views of anything (e.g. an mmap) – they are not copied in JS. An FdReply
 * (file pieces) is spliced from the files into /dev/fuse (splice.ts).
 */
import { constants as osConstants } from 'node:os';
import { Errno } from './protocol.js';
import type { FdReply } from './splice.js';
import type { ReadArgs, ReleaseArgs, SetattrArgs, WriteArgs } from './decode.js';
import type {
  AttrReply,
  CreateReply,
  DirEntry,
  DirEntryPlus,
  EntryReply,
  FileLock,
  FuseConnection,
  KernelInit,
  OpenReply,
  StatfsReply,
} from './types.js';

/** An errno reply. `errno` is positive (e.g. Errno.ENOENT). */
export class FuseError extends Error {
  readonly errno: number;

  constructor(errno: number, message?: string) {
    // An answer (ENOENT, ENODATA, …), not a bug: no stack trace. Capturing one cost more than
    // the rest of a GETXATTR request (docs/performance.md, "ls -lR").
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message ?? `FUSE error ${errnoName(errno)}`);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.errno = errno;
    this.name = 'FuseError';
  }
}

const ERRNO_BY_NUMBER: Record<number, string> = Object.fromEntries(
  Object.entries(osConstants.errno).map(([k, v]) => [v, k]),
);

export function errnoName(errno: number): string {
  return ERRNO_BY_NUMBER[errno] ?? `E${errno}`;
}

/**
 * The errno an exception maps to, or null if it is not an errno-carrying error
 * (then the session logs it and replies EIO).
 */
export function errnoOf(e: unknown): number | null {
  if (e instanceof FuseError) return e.errno;
  if (e && typeof e === 'object') {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      const n = (osConstants.errno as Record<string, number>)[code];
      if (typeof n === 'number') return n;
    }
  }
  return null;
}

/** Per-request context (from fuse_in_header). */
export interface Request {
  readonly unique: bigint;
  readonly opcode: number;
  readonly nodeid: number;
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
}

/** A handler method's result: the reply value, or a FuseError to answer with its errno. */
export type Result<T> = T | FuseError;

/** What the handler wants from INIT. Every field is optional. */
export interface InitWishes {
  /** Max WRITE payload; default and upper bound: the session's maxWrite (1 MiB). */
  maxWrite?: number;
  /** Default: what the kernel offers. Capped at the kernel's value. */
  maxReadahead?: number;
  /** Max pages per request (needs MAX_PAGES); default maxWrite / 4096. */
  maxPages?: number;
  /** Kernel defaults when 0/absent. */
  maxBackground?: number;
  congestionThreshold?: number;
  /** Timestamp granularity in ns; default 1. */
  timeGran?: number;
  /** Passthrough stack depth (with PASSTHROUGH). */
  maxStackDepth?: number;
  /**
   * Exact set of INIT flags wanted (InitFlag.* OR-ed). Default: defaultWantedFlags(handler).
   * The reply carries wanted ∩ offered (INIT_EXT is added automatically when needed).
   */
  wantFlags?: bigint;
  /** Added to / removed from the (default or given) wanted set. */
  addFlags?: bigint;
  removeFlags?: bigint;
  /** Default validity (seconds) of entries / attributes in replies that don't say. Default 1. */
  entryTimeout?: number;
  attrTimeout?: number;
}

export interface FuseHandler {
  /**
   * INIT negotiation wishes, from what the kernel offers. Must be deterministic:
   * in a multi-worker server every worker's handler is asked (the worker that
   * gets INIT at INIT time, the others lazily before their first request).
   */
  initWishes?(kernel: KernelInit): InitWishes;
  /** Called once per handler instance after INIT, before any other method. */
  init?(conn: FuseConnection): void;
  /** DESTROY (only sent for fuseblk/virtiofs); also called when the session ends. */
  destroy?(): void;

  lookup?(req: Request, parent: number, name: string): Result<EntryReply>;
  /** Drop `nlookup` references to nodeid (FORGET and each BATCH_FORGET item). No reply. */
  forget?(req: Request, nodeid: number, nlookup: number): void;
  getattr?(req: Request, nodeid: number, fh: number | undefined): Result<AttrReply>;
  setattr?(req: Request, nodeid: number, set: SetattrArgs): Result<AttrReply>;
  readlink?(req: Request, nodeid: number): Result<string>;
  mknod?(req: Request, parent: number, name: string, mode: number, rdev: number, umask: number): Result<EntryReply>;
  mkdir?(req: Request, parent: number, name: string, mode: number, umask: number): Result<EntryReply>;
  unlink?(req: Request, parent: number, name: string): Result<void>;
  rmdir?(req: Request, parent: number, name: string): Result<void>;
  symlink?(req: Request, parent: number, name: string, target: string): Result<EntryReply>;
  /** RENAME and RENAME2 (flags: RENAME_NOREPLACE 1, RENAME_EXCHANGE 2, RENAME_WHITEOUT 4). */
  rename?(req: Request, parent: number, name: string, newParent: number, newName: string, flags: number): Result<void>;
  link?(req: Request, nodeid: number, newParent: number, newName: string): Result<EntryReply>;
  /** flags: open(2) flags. */
  open?(req: Request, nodeid: number, flags: number, openFlags: number): Result<OpenReply>;
  /**
   * Return at most args.size bytes (more is trimmed). Without FOPEN_DIRECT_IO a
   * short reply means EOF to the kernel.
   */
  read?(req: Request, nodeid: number, args: ReadArgs): Result<Buffer | Buffer[] | FdReply>;
  /** Return the number of bytes written. `data` is a view of the read buffer. */
  write?(req: Request, nodeid: number, args: WriteArgs, data: Buffer): Result<number>;
  statfs?(req: Request, nodeid: number): Result<StatfsReply>;
  release?(req: Request, nodeid: number, args: ReleaseArgs): Result<void>;
  fsync?(req: Request, nodeid: number, fh: number, datasync: boolean): Result<void>;
  setxattr?(req: Request, nodeid: number, name: string, value: Buffer, flags: number): Result<void>;
  /** Return the value; the session answers size probes and ERANGE itself. ENODATA if absent. */
  getxattr?(req: Request, nodeid: number, name: string): Result<Buffer | string>;
  /** Return the attribute names. */
  listxattr?(req: Request, nodeid: number): Result<string[]>;
  removexattr?(req: Request, nodeid: number, name: string): Result<void>;
  flush?(req: Request, nodeid: number, fh: number, lockOwner: bigint): Result<void>;
  opendir?(req: Request, nodeid: number, flags: number, openFlags: number): Result<OpenReply>;
  /**
   * Entries after cookie args.offset. Return DirEntry[] (packed until args.size is
   * full; extra ones are dropped) or an already packed Buffer (see DirentPacker).
   */
  readdir?(req: Request, nodeid: number, args: ReadArgs): Result<DirEntry[] | Buffer>;
  /** As readdir, with entries; each packed entry with nodeid ≠ 0 (but not . / ..) counts as a lookup. */
  readdirplus?(req: Request, nodeid: number, args: ReadArgs): Result<DirEntryPlus[]>;
  releasedir?(req: Request, nodeid: number, args: ReleaseArgs): Result<void>;
  fsyncdir?(req: Request, nodeid: number, fh: number, datasync: boolean): Result<void>;
  /** Not sent with default_permissions; ENOSYS (no method) = allow everything from now on. */
  access?(req: Request, nodeid: number, mask: number): Result<void>;
  create?(req: Request, parent: number, name: string, mode: number, flags: number, umask: number): Result<CreateReply>;
  getlk?(req: Request, nodeid: number, fh: number, owner: bigint, lock: FileLock): Result<FileLock>;
  /** POSIX locks (SETLK / SETLKW = wait). */
  setlk?(req: Request, nodeid: number, fh: number, owner: bigint, lock: FileLock, wait: boolean): Result<void>;
  /** BSD flock(2) (SETLK/SETLKW with FUSE_LK_FLOCK); type F_RDLCK / F_WRLCK / F_UNLCK. */
  flock?(req: Request, nodeid: number, fh: number, owner: bigint, type: number, wait: boolean): Result<void>;
  /** The kernel wants request `target` interrupted. Handlers are synchronous, so this is advisory. */
  interrupt?(req: Request, target: bigint): void;
  lseek?(req: Request, nodeid: number, fh: number, offset: number, whence: number): Result<number>;
  /**
   * Any opcode this layer does not know (protocol extensions negotiated through INIT
   * flags the handler asked for with InitWishes.addFlags). `payload` is the raw argument
   * area after the 40-byte header (a view of the read buffer; empty for header-only
   * requests); `req.nodeid` is the header's nodeid. Return the reply payload bytes
   * exactly as they go after the 16-byte out header. Absent, or FuseError(ENOSYS) → ENOSYS.
   */
  extension?(req: Request, opcode: number, payload: Buffer): Result<Buffer | Buffer[]>;
}

/** What a handler module must export for the multi-threaded server. */
export interface FuseHandlerModule {
  createHandler(data: unknown): FuseHandler | Promise<FuseHandler>;
}

/** Convenience for handlers: a FuseError for the named errno. */
export function fuseError(name: keyof typeof Errno, message?: string): FuseError {
  return new FuseError(Errno[name], message);
}
