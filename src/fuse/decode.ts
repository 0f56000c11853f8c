/**
 * Request decoding: bytes read from /dev/fuse → typed request objects.
 * PURE: no I/O, never throws for malformed input; a bad message yields a
 * DecodeError (errno to reply with + a message for logs).
 *
 * Buffers handed out (WRITE data, SETXATTR values) are slices of the caller's
 * read buffer, not copies: they are valid only until the next read.
 */
import { FUSE_LK_FLOCK, FUSE_FSYNC_FDATASYNC, FUSE_GETATTR_FH, Errno, Opcode, Size, opcodeName } from './protocol.js';
import type { FileLock, KernelInit } from './types.js';

/** Decoded struct fuse_in_header. */
export interface InHeader {
  len: number;
  opcode: number;
  /** u64 request id (bit 63 = FUSE_UNIQUE_RESEND); 0 never appears in requests. */
  unique: bigint;
  nodeid: number;
  uid: number;
  gid: number;
  pid: number;
  /** Extension area length in 8-byte units (7.38+). */
  totalExtlen: number;
}

/** A malformed message; `errno` is what the request should be answered with. */
export class DecodeError {
  constructor(
    readonly errno: number,
    readonly message: string,
  ) {}
}

export interface SetattrArgs {
  /** FATTR_* bits saying which fields below are meaningful. */
  valid: number;
  fh: number;
  size: number;
  lockOwner: bigint;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  mode: number;
  uid: number;
  gid: number;
}

export interface ReadArgs {
  fh: number;
  offset: number;
  size: number;
  readFlags: number;
  lockOwner: bigint;
  /** open(2) flags of the file. */
  flags: number;
}

export interface WriteArgs {
  fh: number;
  offset: number;
  size: number;
  writeFlags: number;
  lockOwner: bigint;
  flags: number;
}

export interface ReleaseArgs {
  fh: number;
  flags: number;
  releaseFlags: number;
  lockOwner: bigint;
}

export interface ForgetOne {
  nodeid: number;
  nlookup: number;
}

/** Every request kind, discriminated by `op` (named like the handler method). */
export type FuseRequest =
  | { op: 'lookup'; name: string }
  | { op: 'forget'; nlookup: number }
  | { op: 'batchForget'; items: ForgetOne[] }
  | { op: 'getattr'; getattrFlags: number; fh: number | undefined }
  | { op: 'setattr'; args: SetattrArgs }
  | { op: 'readlink' }
  | { op: 'symlink'; name: string; target: string }
  | { op: 'mknod'; name: string; mode: number; rdev: number; umask: number }
  | { op: 'mkdir'; name: string; mode: number; umask: number }
  | { op: 'unlink'; name: string }
  | { op: 'rmdir'; name: string }
  | { op: 'rename'; name: string; newParent: number; newName: string; flags: number }
  | { op: 'link'; oldNodeid: number; newName: string }
  | { op: 'open'; flags: number; openFlags: number }
  | { op: 'read'; args: ReadArgs }
  | { op: 'write'; args: WriteArgs; data: Buffer }
  | { op: 'statfs' }
  | { op: 'release'; args: ReleaseArgs }
  | { op: 'fsync'; fh: number; datasync: boolean }
  | { op: 'setxattr'; name: string; value: Buffer; flags: number; setxattrFlags: number }
  | { op: 'getxattr'; name: string; size: number }
  | { op: 'listxattr'; size: number }
  | { op: 'removexattr'; name: string }
  | { op: 'flush'; fh: number; lockOwner: bigint }
  | { op: 'init'; init: KernelInit }
  | { op: 'opendir'; flags: number; openFlags: number }
  | { op: 'readdir'; args: ReadArgs }
  | { op: 'readdirplus'; args: ReadArgs }
  | { op: 'releasedir'; args: ReleaseArgs }
  | { op: 'fsyncdir'; fh: number; datasync: boolean }
  | { op: 'getlk'; fh: number; owner: bigint; lock: FileLock; lkFlags: number }
  | { op: 'setlk'; fh: number; owner: bigint; lock: FileLock; wait: boolean; lkFlags: number }
  | { op: 'flock'; fh: number; owner: bigint; type: number; wait: boolean }
  | { op: 'access'; mask: number }
  | { op: 'create'; name: string; flags: number; mode: number; umask: number; openFlags: number }
  | { op: 'interrupt'; target: bigint }
  | { op: 'destroy' }
  | { op: 'lseek'; fh: number; offset: number; whence: number }
  /** An opcode this layer does not decode; `payload` is its whole argument area (view of the read buffer). */
  | { op: 'unknown'; opcode: number; payload: Buffer };

export type FuseOp = FuseRequest['op'];

/** Layout choices that depend on what INIT negotiated. */
export interface DecodeContext {
  /** FUSE_SETXATTR_EXT negotiated: fuse_setxattr_in is 16 bytes instead of 8. */
  setxattrExt?: boolean;
}

export type Decoded =
  | { header: InHeader; request: FuseRequest; error?: undefined }
  /** header is null when not even a header could be decoded (nothing to reply to). */
  | { header: InHeader | null; request?: undefined; error: DecodeError };

const TWO32 = 0x1_0000_0000;

/** u64 little-endian → number (exact below 2^53). */
export function readU64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * TWO32;
}

/** u64 → number, with values ≥ 2^53 (e.g. OFFSET_MAX) mapped to Infinity. */
function readU64OrInf(buf: Buffer, off: number): number {
  const hi = buf.readUInt32LE(off + 4);
  if (hi >= 0x200000) return Infinity;
  return buf.readUInt32LE(off) + hi * TWO32;
}

/** s64 seconds + u32 nsec → milliseconds. */
function readTimeMs(buf: Buffer, secOff: number, nsecOff: number): number {
  const sec = Number(buf.readBigInt64LE(secOff));
  return sec * 1000 + buf.readUInt32LE(nsecOff) / 1e6;
}

/** Thrown inside this module only; decodeRequest converts it to a result. */
class Bad extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

/** Cursor over a request's argument bytes. */
class Args {
  pos = 0;
  constructor(
    readonly b: Buffer,
    readonly what: string,
  ) {}
  /** Require n more bytes for a fixed struct; returns its start offset. */
  struct(n: number, name: string): number {
    if (this.b.length - this.pos < n) {
      throw new Bad(Errno.EINVAL, `${this.what}: ${name} needs ${n} bytes, have ${this.b.length - this.pos}`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }
  /** A NUL-terminated name. */
  name(): string {
    const end = this.b.indexOf(0, this.pos);
    if (end < 0) throw new Bad(Errno.EINVAL, `${this.what}: name without NUL terminator`);
    const s = this.b.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return s;
  }
  bytes(n: number, name: string): Buffer {
    const at = this.struct(n, name);
    return this.b.subarray(at, at + n);
  }
}

/**
 * Decode fuse_in_header from the first `nread` bytes of `buf`, checking that the
 * header's len equals the bytes actually read and the extension area fits.
 */
export function decodeInHeader(buf: Buffer, nread: number): InHeader | DecodeError {
  if (nread < Size.IN_HEADER || buf.length < Size.IN_HEADER) {
    return new DecodeError(Errno.EIO, `short read: ${nread} bytes, header needs ${Size.IN_HEADER}`);
  }
  const h: InHeader = {
    len: buf.readUInt32LE(0),
    opcode: buf.readUInt32LE(4),
    unique: buf.readBigUInt64LE(8),
    nodeid: readU64(buf, 16),
    uid: buf.readUInt32LE(24),
    gid: buf.readUInt32LE(28),
    pid: buf.readUInt32LE(32),
    totalExtlen: buf.readUInt16LE(36),
  };
  return h;
}

function checkHeader(h: InHeader, nread: number): DecodeError | null {
  if (h.len !== nread) return new DecodeError(Errno.EIO, `header len ${h.len} != bytes read ${nread}`);
  if (h.totalExtlen * 8 > h.len - Size.IN_HEADER) {
    return new DecodeError(Errno.EIO, `extension length ${h.totalExtlen * 8} exceeds message body ${h.len - Size.IN_HEADER}`);
  }
  return null;
}

function decodeReadIn(b: Buffer, at: number): ReadArgs {
  return {
    fh: readU64(b, at),
    offset: readU64(b, at + 8),
    size: b.readUInt32LE(at + 16),
    readFlags: b.readUInt32LE(at + 20),
    lockOwner: b.readBigUInt64LE(at + 24),
    flags: b.readUInt32LE(at + 32),
  };
}

function decodeReleaseIn(b: Buffer, at: number): ReleaseArgs {
  return {
    fh: readU64(b, at),
    flags: b.readUInt32LE(at + 8),
    releaseFlags: b.readUInt32LE(at + 12),
    lockOwner: b.readBigUInt64LE(at + 16),
  };
}

function decodeLk(a: Args): { fh: number; owner: bigint; lock: FileLock; lkFlags: number } {
  const at = a.struct(Size.LK_IN, 'fuse_lk_in');
  const b = a.b;
  return {
    fh: readU64(b, at),
    owner: b.readBigUInt64LE(at + 8),
    lock: {
      start: readU64OrInf(b, at + 16),
      end: readU64OrInf(b, at + 24),
      type: b.readUInt32LE(at + 32),
      pid: b.readUInt32LE(at + 36),
    },
    lkFlags: b.readUInt32LE(at + 40),
  };
}

/** Decode fuse_init_in (accepts the pre-7.36 16-byte form; flags2 only with INIT_EXT). */
export function decodeInitIn(b: Buffer): KernelInit | DecodeError {
  if (b.length < 16) return new DecodeError(Errno.EINVAL, `INIT: fuse_init_in needs 16 bytes, have ${b.length}`);
  const flags = b.readUInt32LE(12);
  let all = BigInt(flags);
  if (flags & (1 << 30) && b.length >= 20) all |= BigInt(b.readUInt32LE(16)) << 32n;
  return { major: b.readUInt32LE(0), minor: b.readUInt32LE(4), maxReadahead: b.readUInt32LE(8), flags: all };
}

function decodeArgs(h: InHeader, a: Args, ctx: DecodeContext): FuseRequest {
  const b = a.b;
  switch (h.opcode) {
    case Opcode.LOOKUP:
      return { op: 'lookup', name: a.name() };
    case Opcode.FORGET: {
      const at = a.struct(Size.FORGET_IN, 'fuse_forget_in');
      return { op: 'forget', nlookup: readU64(b, at) };
    }
    case Opcode.BATCH_FORGET: {
      const at = a.struct(Size.BATCH_FORGET_IN, 'fuse_batch_forget_in');
      const count = b.readUInt32LE(at);
      if (count > (b.length - a.pos) / Size.FORGET_ONE) {
        throw new Bad(Errno.EINVAL, `BATCH_FORGET: count ${count} exceeds message`);
      }
      const items: ForgetOne[] = [];
      for (let i = 0; i < count; i++) {
        const o = a.struct(Size.FORGET_ONE, 'fuse_forget_one');
        items.push({ nodeid: readU64(b, o), nlookup: readU64(b, o + 8) });
      }
      return { op: 'batchForget', items };
    }
    case Opcode.GETATTR: {
      const at = a.struct(Size.GETATTR_IN, 'fuse_getattr_in');
      const getattrFlags = b.readUInt32LE(at);
      return { op: 'getattr', getattrFlags, fh: getattrFlags & FUSE_GETATTR_FH ? readU64(b, at + 8) : undefined };
    }
    case Opcode.SETATTR: {
      const at = a.struct(Size.SETATTR_IN, 'fuse_setattr_in');
      return {
        op: 'setattr',
        args: {
          valid: b.readUInt32LE(at),
          fh: readU64(b, at + 8),
          size: readU64(b, at + 16),
          lockOwner: b.readBigUInt64LE(at + 24),
          atimeMs: readTimeMs(b, at + 32, at + 56),
          mtimeMs: readTimeMs(b, at + 40, at + 60),
          ctimeMs: readTimeMs(b, at + 48, at + 64),
          mode: b.readUInt32LE(at + 68),
          uid: b.readUInt32LE(at + 76),
          gid: b.readUInt32LE(at + 80),
        },
      };
    }
    case Opcode.READLINK:
      return { op: 'readlink' };
    case Opcode.SYMLINK: {
      const name = a.name();
      return { op: 'symlink', name, target: a.name() };
    }
    case Opcode.MKNOD: {
      const at = a.struct(Size.MKNOD_IN, 'fuse_mknod_in');
      return { op: 'mknod', mode: b.readUInt32LE(at), rdev: b.readUInt32LE(at + 4), umask: b.readUInt32LE(at + 8), name: a.name() };
    }
    case Opcode.MKDIR: {
      const at = a.struct(Size.MKDIR_IN, 'fuse_mkdir_in');
      return { op: 'mkdir', mode: b.readUInt32LE(at), umask: b.readUInt32LE(at + 4), name: a.name() };
    }
    case Opcode.UNLINK:
      return { op: 'unlink', name: a.name() };
    case Opcode.RMDIR:
      return { op: 'rmdir', name: a.name() };
    case Opcode.RENAME: {
      const at = a.struct(Size.RENAME_IN, 'fuse_rename_in');
      const newParent = readU64(b, at);
      const name = a.name();
      return { op: 'rename', name, newParent, newName: a.name(), flags: 0 };
    }
    case Opcode.RENAME2: {
      const at = a.struct(Size.RENAME2_IN, 'fuse_rename2_in');
      const newParent = readU64(b, at);
      const flags = b.readUInt32LE(at + 8);
      const name = a.name();
      return { op: 'rename', name, newParent, newName: a.name(), flags };
    }
    case Opcode.LINK: {
      const at = a.struct(Size.LINK_IN, 'fuse_link_in');
      return { op: 'link', oldNodeid: readU64(b, at), newName: a.name() };
    }
    case Opcode.OPEN:
    case Opcode.OPENDIR: {
      const at = a.struct(Size.OPEN_IN, 'fuse_open_in');
      return { op: h.opcode === Opcode.OPEN ? 'open' : 'opendir', flags: b.readUInt32LE(at), openFlags: b.readUInt32LE(at + 4) };
    }
    case Opcode.READ:
      return { op: 'read', args: decodeReadIn(b, a.struct(Size.READ_IN, 'fuse_read_in')) };
    case Opcode.READDIR:
      return { op: 'readdir', args: decodeReadIn(b, a.struct(Size.READ_IN, 'fuse_read_in')) };
    case Opcode.READDIRPLUS:
      return { op: 'readdirplus', args: decodeReadIn(b, a.struct(Size.READ_IN, 'fuse_read_in')) };
    case Opcode.WRITE: {
      const at = a.struct(Size.WRITE_IN, 'fuse_write_in');
      const args: WriteArgs = {
        fh: readU64(b, at),
        offset: readU64(b, at + 8),
        size: b.readUInt32LE(at + 16),
        writeFlags: b.readUInt32LE(at + 20),
        lockOwner: b.readBigUInt64LE(at + 24),
        flags: b.readUInt32LE(at + 32),
      };
      return { op: 'write', args, data: a.bytes(args.size, 'write data') };
    }
    case Opcode.STATFS:
      return { op: 'statfs' };
    case Opcode.RELEASE:
      return { op: 'release', args: decodeReleaseIn(b, a.struct(Size.RELEASE_IN, 'fuse_release_in')) };
    case Opcode.RELEASEDIR:
      return { op: 'releasedir', args: decodeReleaseIn(b, a.struct(Size.RELEASE_IN, 'fuse_release_in')) };
    case Opcode.FSYNC:
    case Opcode.FSYNCDIR: {
      const at = a.struct(Size.FSYNC_IN, 'fuse_fsync_in');
      const fh = readU64(b, at);
      const datasync = (b.readUInt32LE(at + 8) & FUSE_FSYNC_FDATASYNC) !== 0;
      return { op: h.opcode === Opcode.FSYNC ? 'fsync' : 'fsyncdir', fh, datasync };
    }
    case Opcode.SETXATTR: {
      const n = ctx.setxattrExt ? Size.SETXATTR_IN : Size.COMPAT_SETXATTR_IN;
      const at = a.struct(n, 'fuse_setxattr_in');
      const size = b.readUInt32LE(at);
      const flags = b.readUInt32LE(at + 4);
      const setxattrFlags = ctx.setxattrExt ? b.readUInt32LE(at + 8) : 0;
      const name = a.name();
      return { op: 'setxattr', name, value: a.bytes(size, 'xattr value'), flags, setxattrFlags };
    }
    case Opcode.GETXATTR: {
      const at = a.struct(Size.GETXATTR_IN, 'fuse_getxattr_in');
      return { op: 'getxattr', size: b.readUInt32LE(at), name: a.name() };
    }
    case Opcode.LISTXATTR: {
      const at = a.struct(Size.GETXATTR_IN, 'fuse_getxattr_in');
      return { op: 'listxattr', size: b.readUInt32LE(at) };
    }
    case Opcode.REMOVEXATTR:
      return { op: 'removexattr', name: a.name() };
    case Opcode.FLUSH: {
      const at = a.struct(Size.FLUSH_IN, 'fuse_flush_in');
      return { op: 'flush', fh: readU64(b, at), lockOwner: b.readBigUInt64LE(at + 16) };
    }
    case Opcode.INIT: {
      const init = decodeInitIn(b);
      if (init instanceof DecodeError) throw new Bad(init.errno, init.message);
      return { op: 'init', init };
    }
    case Opcode.GETLK:
      return { op: 'getlk', ...decodeLk(a) };
    case Opcode.SETLK:
    case Opcode.SETLKW: {
      const lk = decodeLk(a);
      const wait = h.opcode === Opcode.SETLKW;
      if (lk.lkFlags & FUSE_LK_FLOCK) return { op: 'flock', fh: lk.fh, owner: lk.owner, type: lk.lock.type, wait };
      return { op: 'setlk', ...lk, wait };
    }
    case Opcode.ACCESS: {
      const at = a.struct(Size.ACCESS_IN, 'fuse_access_in');
      return { op: 'access', mask: b.readUInt32LE(at) };
    }
    case Opcode.CREATE: {
      const at = a.struct(Size.CREATE_IN, 'fuse_create_in');
      return {
        op: 'create',
        flags: b.readUInt32LE(at),
        mode: b.readUInt32LE(at + 4),
        umask: b.readUInt32LE(at + 8),
        openFlags: b.readUInt32LE(at + 12),
        name: a.name(),
      };
    }
    case Opcode.INTERRUPT: {
      const at = a.struct(Size.INTERRUPT_IN, 'fuse_interrupt_in');
      return { op: 'interrupt', target: b.readBigUInt64LE(at) };
    }
    case Opcode.DESTROY:
      return { op: 'destroy' };
    case Opcode.LSEEK: {
      const at = a.struct(Size.LSEEK_IN, 'fuse_lseek_in');
      return { op: 'lseek', fh: readU64(b, at), offset: readU64(b, at + 8), whence: b.readUInt32LE(at + 16) };
    }
    default:
      return { op: 'unknown', opcode: h.opcode, payload: b };
  }
}

/**
 * Decode one message as returned by one read(2) of /dev/fuse: `buf[0, nread)`.
 * Never throws; malformed input gives `{header, error}` (header null if even
 * the 40-byte header is missing).
 */
export function decodeRequest(buf: Buffer, nread: number, ctx: DecodeContext = {}): Decoded {
  const h = decodeInHeader(buf, nread);
  if (h instanceof DecodeError) return { header: null, error: h };
  const bad = checkHeader(h, nread);
  if (bad) return { header: h, error: bad };
  const body = buf.subarray(Size.IN_HEADER, h.len - h.totalExtlen * 8);
  try {
    return { header: h, request: decodeArgs(h, new Args(body, opcodeName(h.opcode)), ctx) };
  } catch (e) {
    if (e instanceof Bad) return { header: h, error: new DecodeError(e.errno, e.message) };
    // Buffer range errors etc. cannot happen after the length checks, but never throw.
    return { header: h, error: new DecodeError(Errno.EIO, `decode failed: ${(e as Error).message}`) };
  }
}

/** Decode a fuse_init_out (used to share the negotiated INIT between workers, and in tests). */
export function decodeInitOut(b: Buffer): {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: bigint;
  maxBackground: number;
  congestionThreshold: number;
  maxWrite: number;
  timeGran: number;
  maxPages: number;
  mapAlignment: number;
  maxStackDepth: number;
  requestTimeout: number;
} {
  const lo = b.readUInt32LE(12);
  const full = b.length >= Size.INIT_OUT;
  let flags = BigInt(lo);
  if (full && lo & (1 << 30)) flags |= BigInt(b.readUInt32LE(32)) << 32n;
  return {
    major: b.readUInt32LE(0),
    minor: b.readUInt32LE(4),
    maxReadahead: b.readUInt32LE(8),
    flags,
    maxBackground: b.readUInt16LE(16),
    congestionThreshold: b.readUInt16LE(18),
    maxWrite: b.readUInt32LE(20),
    timeGran: full ? b.readUInt32LE(24) : 0,
    maxPages: full ? b.readUInt16LE(28) : 0,
    mapAlignment: full ? b.readUInt16LE(30) : 0,
    maxStackDepth: full ? b.readUInt32LE(36) : 0,
    requestTimeout: full ? b.readUInt16LE(40) : 0,
  };
}
