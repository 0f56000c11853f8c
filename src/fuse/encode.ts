/**
 * Reply and notification encoding: typed values → wire bytes. PURE (no I/O).
 * Reply payload encoders return the bytes that follow the 16-byte out header;
 * the session prepends the header (see encodeOutHeader) and writes both with
 * one writev. Notification encoders return complete messages (header included).
 */
import { FUSE_KERNEL_VERSION, InitFlag, NotifyCode, S_IFMT, Size } from './protocol.js';
import type { AttrReply, CreateReply, DirEntry, DirEntryPlus, EntryReply, FileLock, FuseAttr, OpenReply, StatfsReply } from './types.js';

const TWO32 = 0x1_0000_0000;

/** Write a non-negative integer (< 2^64) as u64; negative values as s64 two's complement. */
export function writeU64(buf: Buffer, value: number, off: number): void {
  if (value >= 0 && value <= Number.MAX_SAFE_INTEGER) {
    buf.writeUInt32LE(value % TWO32, off);
    buf.writeUInt32LE(Math.floor(value / TWO32), off + 4);
  } else if (value === Infinity || value >= 2 ** 63) {
    buf.writeBigInt64LE(0x7fffffffffffffffn, off);
  } else {
    buf.writeBigInt64LE(BigInt(Math.trunc(value)), off);
  }
}

/** fuse_out_header into target[0,16). error is 0 or a NEGATIVE errno (or a positive notify code). */
export function encodeOutHeader(target: Buffer, len: number, error: number, unique: bigint): Buffer {
  target.writeUInt32LE(len, 0);
  target.writeInt32LE(error, 4);
  target.writeBigUInt64LE(unique, 8);
  return target;
}

/** A complete 16-byte error reply; errno is positive (it is negated on the wire). */
export function encodeErrorReply(unique: bigint, errno: number): Buffer {
  return encodeOutHeader(Buffer.alloc(Size.OUT_HEADER), Size.OUT_HEADER, -Math.abs(errno), unique);
}

/** Seconds (float) → [u64 sec, u32 nsec] for entry/attr validity. */
function splitTimeout(seconds: number): [number, number] {
  if (!(seconds > 0)) return [0, 0];
  if (!Number.isFinite(seconds)) return [2 ** 53, 0];
  const s = Math.floor(seconds);
  return [s, Math.min(999_999_999, Math.round((seconds - s) * 1e9))];
}

/** ms since epoch → [s64 sec, u32 nsec]. */
function splitMs(ms: number): [number, number] {
  const s = Math.floor(ms / 1000);
  const ns = Math.min(999_999_999, Math.max(0, Math.round((ms - s * 1000) * 1e6)));
  return [s, ns];
}

/** struct fuse_attr (88 bytes) at buf[off]. */
export function writeAttr(buf: Buffer, a: FuseAttr, off: number): void {
  const size = a.size ?? 0;
  writeU64(buf, a.ino, off);
  writeU64(buf, size, off + 8);
  writeU64(buf, a.blocks ?? Math.ceil(size / 512), off + 16);
  const [as, an] = splitMs(a.atimeMs ?? 0);
  const [ms, mn] = splitMs(a.mtimeMs ?? 0);
  const [cs, cn] = splitMs(a.ctimeMs ?? 0);
  writeU64(buf, as, off + 24);
  writeU64(buf, ms, off + 32);
  writeU64(buf, cs, off + 40);
  buf.writeUInt32LE(an, off + 48);
  buf.writeUInt32LE(mn, off + 52);
  buf.writeUInt32LE(cn, off + 56);
  buf.writeUInt32LE(a.mode >>> 0, off + 60);
  buf.writeUInt32LE((a.nlink ?? 1) >>> 0, off + 64);
  buf.writeUInt32LE((a.uid ?? 0) >>> 0, off + 68);
  buf.writeUInt32LE((a.gid ?? 0) >>> 0, off + 72);
  buf.writeUInt32LE((a.rdev ?? 0) >>> 0, off + 76);
  buf.writeUInt32LE((a.blksize ?? 0) >>> 0, off + 80);
  buf.writeUInt32LE((a.flags ?? 0) >>> 0, off + 84);
}

/** Default validity (seconds) used when a reply leaves entryTimeout/attrTimeout out. */
export interface TimeoutDefaults {
  entryTimeout: number;
  attrTimeout: number;
}
export const DEFAULT_TIMEOUTS: TimeoutDefaults = { entryTimeout: 1, attrTimeout: 1 };

/** struct fuse_entry_out (128 bytes) at buf[off]. */
export function writeEntryOut(buf: Buffer, e: EntryReply, off: number, d: TimeoutDefaults = DEFAULT_TIMEOUTS): void {
  const [es, en] = splitTimeout(e.entryTimeout ?? d.entryTimeout);
  const [as, an] = splitTimeout(e.attrTimeout ?? d.attrTimeout);
  writeU64(buf, e.nodeid, off);
  writeU64(buf, e.generation ?? 0, off + 8);
  writeU64(buf, es, off + 16);
  writeU64(buf, as, off + 24);
  buf.writeUInt32LE(en, off + 32);
  buf.writeUInt32LE(an, off + 36);
  writeAttr(buf, e.attr, off + 40);
}

export function encodeEntryOut(e: EntryReply, d: TimeoutDefaults = DEFAULT_TIMEOUTS): Buffer {
  const b = Buffer.alloc(Size.ENTRY_OUT);
  writeEntryOut(b, e, 0, d);
  return b;
}

export function encodeAttrOut(r: AttrReply, d: TimeoutDefaults = DEFAULT_TIMEOUTS): Buffer {
  const b = Buffer.alloc(Size.ATTR_OUT);
  const [s, ns] = splitTimeout(r.attrTimeout ?? d.attrTimeout);
  writeU64(b, s, 0);
  b.writeUInt32LE(ns, 8);
  writeAttr(b, r.attr, 16);
  return b;
}

function writeOpenOut(b: Buffer, r: OpenReply, off: number): void {
  writeU64(b, r.fh ?? 0, off);
  b.writeUInt32LE((r.openFlags ?? 0) >>> 0, off + 8);
  b.writeInt32LE(r.backingId ?? 0, off + 12);
}

export function encodeOpenOut(r: OpenReply): Buffer {
  const b = Buffer.alloc(Size.OPEN_OUT);
  writeOpenOut(b, r, 0);
  return b;
}

/** CREATE reply: fuse_entry_out + fuse_open_out (144 bytes). */
export function encodeCreateOut(r: CreateReply, d: TimeoutDefaults = DEFAULT_TIMEOUTS): Buffer {
  const b = Buffer.alloc(Size.ENTRY_OUT + Size.OPEN_OUT);
  writeEntryOut(b, r, 0, d);
  writeOpenOut(b, r, Size.ENTRY_OUT);
  return b;
}

export function encodeStatfsOut(r: StatfsReply): Buffer {
  const b = Buffer.alloc(Size.STATFS_OUT);
  const bsize = r.bsize ?? 4096;
  writeU64(b, r.blocks ?? 0, 0);
  writeU64(b, r.bfree ?? 0, 8);
  writeU64(b, r.bavail ?? 0, 16);
  writeU64(b, r.files ?? 0, 24);
  writeU64(b, r.ffree ?? 0, 32);
  b.writeUInt32LE(bsize, 40);
  b.writeUInt32LE(r.namelen ?? 255, 44);
  b.writeUInt32LE(r.frsize ?? bsize, 48);
  return b;
}

export function encodeWriteOut(size: number): Buffer {
  const b = Buffer.alloc(Size.WRITE_OUT);
  b.writeUInt32LE(size >>> 0, 0);
  return b;
}

/** fuse_getxattr_out: the size a GETXATTR/LISTXATTR with size 0 asks for. */
export function encodeGetxattrOut(size: number): Buffer {
  const b = Buffer.alloc(Size.GETXATTR_OUT);
  b.writeUInt32LE(size >>> 0, 0);
  return b;
}

export function encodeLseekOut(offset: number): Buffer {
  const b = Buffer.alloc(Size.LSEEK_OUT);
  writeU64(b, offset, 0);
  return b;
}

/** fuse_lk_out (GETLK reply). */
export function encodeLkOut(l: FileLock): Buffer {
  const b = Buffer.alloc(Size.LK_OUT);
  writeU64(b, l.start, 0);
  writeU64(b, l.end, 8);
  b.writeUInt32LE(l.type >>> 0, 16);
  b.writeUInt32LE(l.pid >>> 0, 20);
  return b;
}

/** Fields of fuse_init_out; `flags` is the u64 set (bits ≥ 32 go to flags2). */
export interface InitOut {
  major?: number;
  minor: number;
  maxReadahead: number;
  flags: bigint;
  maxBackground?: number;
  congestionThreshold?: number;
  maxWrite: number;
  timeGran?: number;
  maxPages?: number;
  mapAlignment?: number;
  maxStackDepth?: number;
  requestTimeout?: number;
}

/**
 * fuse_init_out: 64 bytes, or the 24-byte 7.5–7.22 form when minor < 23.
 * flags2 is written only when INIT_EXT is in `flags` (the kernel ignores it otherwise).
 */
export function encodeInitOut(o: InitOut): Buffer {
  const full = o.minor >= 23;
  const b = Buffer.alloc(full ? Size.INIT_OUT : Size.COMPAT_22_INIT_OUT);
  b.writeUInt32LE(o.major ?? FUSE_KERNEL_VERSION, 0);
  b.writeUInt32LE(o.minor, 4);
  b.writeUInt32LE(o.maxReadahead >>> 0, 8);
  b.writeUInt32LE(Number(o.flags & 0xffffffffn), 12);
  b.writeUInt16LE(o.maxBackground ?? 0, 16);
  b.writeUInt16LE(o.congestionThreshold ?? 0, 18);
  b.writeUInt32LE(o.maxWrite >>> 0, 20);
  if (full) {
    b.writeUInt32LE(o.timeGran ?? 1, 24);
    b.writeUInt16LE(o.maxPages ?? 0, 28);
    b.writeUInt16LE(o.mapAlignment ?? 0, 30);
    if (o.flags & InitFlag.INIT_EXT) b.writeUInt32LE(Number((o.flags >> 32n) & 0xffffffffn), 32);
    b.writeUInt32LE(o.maxStackDepth ?? 0, 36);
    b.writeUInt16LE(o.requestTimeout ?? 0, 40);
  }
  return b;
}

/** DT_* type for a directory entry. */
export function direntType(e: { type?: number; mode?: number }): number {
  if (e.type !== undefined) return e.type;
  if (e.mode !== undefined) return (e.mode & S_IFMT) >>> 12;
  return 0;
}

const align8 = (n: number) => (n + 7) & ~7;

/** Record length of a fuse_dirent with a name of `namelen` bytes. */
export const direntSize = (namelen: number) => align8(Size.DIRENT + namelen);
/** Record length of a fuse_direntplus with a name of `namelen` bytes. */
export const direntplusSize = (namelen: number) => align8(Size.DIRENTPLUS + namelen);

/**
 * Packs fuse_dirent / fuse_direntplus records into a reply of at most `size`
 * bytes (the READDIR size). add() returns false (and adds nothing) when the
 * record does not fit; an empty result means end of directory.
 */
export class DirentPacker {
  private readonly buf: Buffer;
  private used = 0;
  /** Number of records added. */
  count = 0;
  constructor(
    readonly size: number,
    readonly plus = false,
    private readonly timeouts: TimeoutDefaults = DEFAULT_TIMEOUTS,
  ) {
    this.buf = Buffer.alloc(size);
  }

  /** fuse_dirent: ino, off = cookie of the next entry, type = DT_*. */
  add(name: string, ino: number, type: number, off: number): boolean {
    if (this.plus) throw new Error('DirentPacker: use addPlus() for READDIRPLUS');
    const nameLen = Buffer.byteLength(name);
    const rec = direntSize(nameLen);
    if (this.used + rec > this.size) return false;
    this.writeDirent(this.used, name, nameLen, ino, type, off);
    this.used += rec;
    this.count++;
    return true;
  }

  /** fuse_direntplus: entry_out then dirent (ino and type taken from entry.attr). */
  addPlus(name: string, entry: EntryReply, off: number): boolean {
    if (!this.plus) throw new Error('DirentPacker: use add() for READDIR');
    const nameLen = Buffer.byteLength(name);
    const rec = direntplusSize(nameLen);
    if (this.used + rec > this.size) return false;
    writeEntryOut(this.buf, entry, this.used, this.timeouts);
    this.writeDirent(this.used + Size.ENTRY_OUT, name, nameLen, entry.attr.ino, (entry.attr.mode & S_IFMT) >>> 12, off);
    this.used += rec;
    this.count++;
    return true;
  }

  private writeDirent(at: number, name: string, nameLen: number, ino: number, type: number, off: number): void {
    writeU64(this.buf, ino, at);
    writeU64(this.buf, off, at + 8);
    this.buf.writeUInt32LE(nameLen, at + 16);
    this.buf.writeUInt32LE(type >>> 0, at + 20);
    this.buf.write(name, at + 24, nameLen, 'utf8');
    // padding bytes are already zero (Buffer.alloc)
  }

  /** The packed bytes (a view; no copy). */
  finish(): Buffer {
    return this.buf.subarray(0, this.used);
  }
}

/** Pack DirEntry[] (READDIR); entries without `off` get startOffset + index + 1. */
export function packDirents(entries: DirEntry[], size: number, startOffset: number): Buffer {
  const p = new DirentPacker(size);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (!p.add(e.name, e.ino, direntType(e), e.off ?? startOffset + i + 1)) break;
  }
  return p.finish();
}

/**
 * Pack DirEntryPlus[] (READDIRPLUS); returns the bytes and how many entries were
 * packed (the session counts lookups only for those).
 */
export function packDirentsPlus(
  entries: DirEntryPlus[],
  size: number,
  startOffset: number,
  d: TimeoutDefaults = DEFAULT_TIMEOUTS,
): { data: Buffer; packed: number } {
  const p = new DirentPacker(size, true, d);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (!p.addPlus(e.name, e.entry, e.off ?? startOffset + i + 1)) break;
  }
  return { data: p.finish(), packed: p.count };
}

function notifyHeader(b: Buffer, code: number): Buffer {
  return encodeOutHeader(b, b.length, code, 0n);
}

/** FUSE_NOTIFY_INVAL_INODE: off < 0 invalidates attributes only; len ≤ 0 means to EOF. */
export function encodeNotifyInvalInode(nodeid: number, off = 0, len = 0): Buffer {
  const b = Buffer.alloc(Size.OUT_HEADER + Size.NOTIFY_INVAL_INODE);
  notifyHeader(b, NotifyCode.INVAL_INODE);
  writeU64(b, nodeid, 16);
  b.writeBigInt64LE(BigInt(Math.trunc(off)), 24);
  b.writeBigInt64LE(BigInt(Math.trunc(len)), 32);
  return b;
}

/** FUSE_NOTIFY_INVAL_ENTRY: forget the dentry `name` in `parent` (flags: FUSE_EXPIRE_ONLY). */
export function encodeNotifyInvalEntry(parent: number, name: string, flags = 0): Buffer {
  const nameLen = Buffer.byteLength(name);
  const b = Buffer.alloc(Size.OUT_HEADER + Size.NOTIFY_INVAL_ENTRY + nameLen + 1);
  notifyHeader(b, NotifyCode.INVAL_ENTRY);
  writeU64(b, parent, 16);
  b.writeUInt32LE(nameLen, 24);
  b.writeUInt32LE(flags >>> 0, 28);
  b.write(name, 32, nameLen, 'utf8');
  return b;
}

/** FUSE_NOTIFY_DELETE: `name` (nodeid `child`) was removed from `parent`. */
export function encodeNotifyDelete(parent: number, child: number, name: string): Buffer {
  const nameLen = Buffer.byteLength(name);
  const b = Buffer.alloc(Size.OUT_HEADER + Size.NOTIFY_DELETE + nameLen + 1);
  notifyHeader(b, NotifyCode.DELETE);
  writeU64(b, parent, 16);
  writeU64(b, child, 24);
  b.writeUInt32LE(nameLen, 32);
  b.write(name, 40, nameLen, 'utf8');
  return b;
}

/** FUSE_NOTIFY_INC_EPOCH (7.44): invalidate all cached dentries. Header only. */
export function encodeNotifyIncEpoch(): Buffer {
  return notifyHeader(Buffer.alloc(Size.OUT_HEADER), NotifyCode.INC_EPOCH);
}
