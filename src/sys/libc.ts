/**
 * The only place the project touches native code: thin koffi bindings for the
 * few libc calls Node lacks (mmap, msync, flock, ioctl, umount2, pipe2, splice). Everything
 * above this module sees plain numbers, Buffers and thrown SystemErrors.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';

type Koffi = typeof import('koffi');

/** koffi and libc are loaded on first use: CLI verbs that never touch a device start without them. */
let koffiModule: Koffi | undefined;
function koffi(): Koffi {
  return (koffiModule ??= loadKoffi());
}

/**
 * koffi's own entry point first loads its installer's helpers, and with them
 * https, tls, crypto and zlib (about 10 ms of a CLI verb's start-up): take the
 * prebuilt addon for this platform directly when it is there, else the entry point.
 */
function loadKoffi(): Koffi {
  const req = createRequire(import.meta.url);
  const arch = process.arch === 'arm' ? 'armhf' : process.arch;
  for (const libc of process.platform === 'linux' ? ['linux', 'musl'] : [process.platform]) {
    try {
      const native = req(`koffi/build/koffi/${libc}_${arch}/koffi.node`) as Koffi & { version?: string };
      if (native.version === (req('koffi/package.json') as { version: string }).version) return native;
    } catch {
      /* not built for this platform (or this libc): try the next */
    }
  }
  return req('koffi') as Koffi;
}

function bind() {
  const libc = koffi().load('libc.so.6');
  return {
    mmap: libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)'),
    munmap: libc.func('int munmap(void *addr, size_t len)'),
    msync: libc.func('int msync(uintptr_t addr, size_t len, int flags)'),
    madvise: libc.func('int madvise(uintptr_t addr, size_t len, int advice)'),
    flock: libc.func('int flock(int fd, int op)'),
    ioctlU32: libc.func('int ioctl(int fd, unsigned long req, _Inout_ uint32_t *arg)'),
    umount2: libc.func('int umount2(const char *target, int flags)'),
    fallocate: libc.func('int fallocate(int fd, int mode, int64_t offset, int64_t len)'),
    copyFileRange: libc.func('int64_t copy_file_range(int fd_in, _Inout_ int64_t *off_in, int fd_out, _Inout_ int64_t *off_out, size_t len, unsigned int flags)'),
    getxattr: libc.func('long getxattr(const char *path, const char *name, void *value, size_t size)'),
    pipe2: libc.func('int pipe2(_Out_ int *fds, int flags)'),
    fcntl: libc.func('int fcntl(int fd, int cmd, ...)'),
    spliceFrom: libc.func('int64_t splice(int fd_in, _Inout_ int64_t *off_in, int fd_out, void *off_out, size_t len, unsigned int flags)'),
    splice: libc.func('int64_t splice(int fd_in, void *off_in, int fd_out, void *off_out, size_t len, unsigned int flags)'),
    poll: libc.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    errnoLocation: libc.func('int *__errno_location(void)'),
    strerror: libc.func('const char *strerror(int errnum)'),
  };
}

let bound: ReturnType<typeof bind> | undefined;
function c(): ReturnType<typeof bind> {
  return (bound ??= bind());
}

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const MS_ASYNC = 1;
export const MS_SYNC = 4;
export const MADV_DONTNEED = 4;
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
export const MNT_FORCE = 1;
export const MNT_DETACH = 2;
export const FALLOC_FL_KEEP_SIZE = 1;
export const FALLOC_FL_PUNCH_HOLE = 2;

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 4: 'EINTR', 5: 'EIO', 9: 'EBADF', 11: 'EAGAIN', 12: 'ENOMEM',
  13: 'EACCES', 16: 'EBUSY', 19: 'ENODEV', 22: 'EINVAL', 25: 'ENOTTY', 28: 'ENOSPC',
  18: 'EXDEV', 20: 'ENOTDIR', 38: 'ENOSYS', 95: 'EOPNOTSUPP', 61: 'ENODATA', 107: 'ENOTCONN', 116: 'ESTALE',
};

function errno(): number {
  return koffi().decode(c().errnoLocation(), 'int') as number;
}

/** Error thrown by a failed libc call; `code` is the errno name, as Node's own errors. */
export class LibcError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly syscall: string;
  constructor(syscall: string, err: number) {
    const code = ERRNO_NAMES[err] ?? `E${err}`;
    super(`${syscall}: ${c().strerror(err) as string} (${code})`);
    this.errno = err;
    this.code = code;
    this.syscall = syscall;
  }
}

/** An opaque pointer to a native mapping. */
export type NativePointer = unknown;

/** mmap(2); throws LibcError on MAP_FAILED. */
export function mmap(length: number, prot: number, flags: number, fd: number, offset: number): NativePointer {
  const p = c().mmap(null, length, prot, flags, fd, offset);
  if (koffi().address(p) === 0xffffffffffffffffn) throw new LibcError('mmap', errno());
  return p;
}

export function munmap(p: NativePointer, length: number): void {
  if (c().munmap(p, length) !== 0) throw new LibcError('munmap', errno());
}

/** A Buffer over native memory (no copy). Length must be at most buffer.constants.MAX_LENGTH. */
export function viewOf(p: NativePointer, length: number): Buffer {
  return Buffer.from(koffi().view(p, length) as ArrayBuffer);
}

/** madvise(2) of the whole pages inside [offset, offset+length) of the mapping that starts at p. */
export function madvise(p: NativePointer, offset: number, length: number, advice: number): void {
  const start = Math.ceil(offset / 4096) * 4096;
  const end = Math.floor((offset + length) / 4096) * 4096;
  if (end <= start) return;
  if (c().madvise(BigInt(koffi().address(p)) + BigInt(start), end - start, advice) !== 0) throw new LibcError('madvise', errno());
}

/** msync(2) of [offset, offset+length) inside the mapping that starts at p (offset rounded down to a page). */
export function msync(p: NativePointer, offset: number, length: number, flags = MS_SYNC): void {
  const start = offset - (offset % 4096);
  const addr = BigInt(koffi().address(p)) + BigInt(start);
  if (c().msync(addr, offset + length - start, flags) !== 0) throw new LibcError('msync', errno());
}

/** flock(2); returns false when LOCK_NB was given and the lock is held elsewhere. */
export function flock(fd: number, op: number): boolean {
  if (c().flock(fd, op) === 0) return true;
  const e = errno();
  if (e === 11 && (op & LOCK_NB)) return false;
  throw new LibcError('flock', e);
}

/** ioctl(2) whose argument is a pointer to one u32 (in and out); returns the u32 after the call. */
export function ioctlU32(fd: number, request: number, value: number): number {
  const arg = [value];
  if (c().ioctlU32(fd, request, arg) < 0) throw new LibcError('ioctl', errno());
  return arg[0] as number;
}

/** fallocate(2); throws LibcError (EOPNOTSUPP where the file system or device can't). */
export function fallocate(fd: number, mode: number, offset: number, length: number): void {
  if (c().fallocate(fd, mode, offset, length) !== 0) throw new LibcError('fallocate', errno());
}

/**
 * copy_file_range(2): up to `length` bytes from fdIn at offIn to fdOut at offOut, copied
 * inside the kernel (page cache to page cache, no user buffer, no page faults). Returns the
 * bytes copied (0 at the source's end); throws LibcError (EXDEV across file system types, …).
 */
export function copyFileRange(fdIn: number, offIn: number, fdOut: number, offOut: number, length: number): number {
  const n = Number(c().copyFileRange(fdIn, [BigInt(offIn)], fdOut, [BigInt(offOut)], length, 0));
  if (n < 0) throw new LibcError('copy_file_range', errno());
  return n;
}

export const O_CLOEXEC = 0o2000000;
export const SPLICE_F_NONBLOCK = 2;
const F_SETPIPE_SZ = 1031;

/** pipe2(2): [read end, write end]. */
export function pipe(flags = O_CLOEXEC): [number, number] {
  const fds = Buffer.alloc(8);
  if (c().pipe2(fds, flags) !== 0) throw new LibcError('pipe2', errno());
  return [fds.readInt32LE(0), fds.readInt32LE(4)];
}

/** fcntl(F_SETPIPE_SZ): the pipe's capacity in bytes (the kernel rounds up), or a thrown LibcError (EPERM past pipe-max-size). */
export function setPipeSize(fd: number, bytes: number): number {
  const n = c().fcntl(fd, F_SETPIPE_SZ, 'int', bytes) as number;
  if (n < 0) throw new LibcError('fcntl(F_SETPIPE_SZ)', errno());
  return n;
}

/**
 * splice(2) from `fdIn` at `offIn` (a file; its offset is not moved) into the pipe `fdOut`,
 * or with `offIn` null from a pipe into `fdOut`. Returns the bytes moved (0: end of file).
 */
export function splice(fdIn: number, offIn: number | null, fdOut: number, length: number, flags = 0): number {
  const n = Number(offIn === null ? c().splice(fdIn, null, fdOut, null, length, flags) : c().spliceFrom(fdIn, [BigInt(offIn)], fdOut, null, length, flags));
  if (n < 0) throw new LibcError('splice', errno());
  return n;
}

const POLLOUT = 4;
/** One struct pollfd (int fd, short events, short revents), reused: callers are synchronous. */
const pollfd = Buffer.alloc(8);

/**
 * Wait until `fd` can take a write (poll(2) for POLLOUT; an error or hang-up on it counts too:
 * the next write reports it). `timeoutMs` -1 waits for good; returns false on a timeout.
 */
export function waitWritable(fd: number, timeoutMs = -1): boolean {
  pollfd.writeInt32LE(fd, 0);
  pollfd.writeInt16LE(POLLOUT, 4);
  for (;;) {
    pollfd.writeInt16LE(0, 6);
    const n = c().poll(pollfd, 1, timeoutMs) as number;
    if (n > 0) return true;
    if (n === 0) return false;
    const err = errno();
    if (err !== 4) throw new LibcError('poll', err); // EINTR: wait again
  }
}

const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const STATX_MODE = 0x2;
const STATX_SIZE = 0x200;
/** struct statx: stx_mode (u16) at 28, stx_size (u64) at 40, the same on every architecture. */
const STX_MODE = 28, STX_SIZE = 40;

type StatxFn = (dirfd: number, path: string, flags: number, mask: number, buf: Buffer) => number;
/** statx(2), bound on first use; null when this libc has none (glibc < 2.28): then fs.*statSync. */
let statxFn: StatxFn | null | undefined;
const statxBuf = Buffer.alloc(256);

function statx(dirfd: number, path: string, flags: number, mask: number): Buffer | undefined {
  if (statxFn === undefined) {
    try {
      statxFn = koffi().load('libc.so.6').func('int statx(int dirfd, const char *path, int flags, unsigned int mask, _Out_ uint8_t *buf)') as StatxFn;
    } catch {
      statxFn = null;
    }
  }
  if (!statxFn) return undefined;
  if (statxFn(dirfd, path, flags, mask, statxBuf) !== 0) throw new LibcError('statx', errno());
  return statxBuf;
}

/**
 * The size of an open file. fs.fstatSync builds a Stats with four Dates, several times the
 * cost of the call itself, and a writer asks before every store to a file device (a
 * truncated device must give EIO, not SIGBUS): statx(2) of the size alone.
 */
export function fileSize(fd: number): number {
  const b = statx(fd, '', AT_EMPTY_PATH, STATX_SIZE);
  return b ? Number(b.readBigUInt64LE(STX_SIZE)) : fs.fstatSync(fd).size;
}

/** Size and mode of a path, symbolic links followed (fs.statSync without its Stats object; `famfs cp` plans one per file). */
export function sizeAndMode(path: string): { size: number; mode: number } {
  const b = statx(AT_FDCWD, path, 0, STATX_SIZE | STATX_MODE);
  if (!b) {
    const st = fs.statSync(path);
    return { size: st.size, mode: st.mode };
  }
  return { size: Number(b.readBigUInt64LE(STX_SIZE)), mode: b.readUInt16LE(STX_MODE) };
}

/** umount2(2). */
export function umount2(target: string, flags = 0): void {
  if (c().umount2(target, flags) !== 0) throw new LibcError('umount2', errno());
}

/** getxattr(2) as a string; undefined when the attribute is absent (ENODATA) or unsupported. */
export function getxattr(path: string, name: string): string | undefined {
  for (const size of [4096, 65536]) {
    const buf = Buffer.alloc(size);
    const n = c().getxattr(path, name, buf, buf.length) as number;
    if (n < 0) {
      const e = errno();
      if (e === 61 || e === 95) return undefined;
      if (e === 34 && size < 65536) continue; // ERANGE: a long value (user.famfs.status), ask again with room for it
      throw new LibcError('getxattr', e);
    }
    return buf.subarray(0, n).toString('utf8');
  }
  return undefined;
}
