/**
 * A shared memory device: a DAX char device or a regular file (sparse image in
 * /dev/shm for everyone without CXL hardware). Mapped MAP_SHARED in 1 GiB
 * windows, lazily, and handed out as Buffer views: nothing here reads a whole
 * device into memory, and nothing outside [0, size) is ever touched. A device
 * file truncated under us is noticed before data pieces are handed out
 * (checkLive), since a mapped page past a file's end faults with SIGBUS.
 */
import fs from 'node:fs';
import { daxDriver, fsdevHint } from './daxmode.js';
import { copyFileRange, fallocate, fileSize, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, flock, LOCK_EX, LOCK_NB, LOCK_UN, MADV_DONTNEED, madvise, MAP_SHARED, mmap, msync, munmap, PROT_READ, PROT_WRITE, viewOf, type NativePointer } from '../sys/libc.js';
import { cacheOps, type CacheOps } from '../sys/fcc.js';
import { simulatedCache, simOptionsFromEnv, type SimulatedCache } from './simcache.js';

export const WINDOW_SIZE = 1 << 30;
const HEAD_ALIGN = 2 << 20;

export type DeviceKind = 'file' | 'dax';

export class DeviceError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
  }
}

/**
 * How this process keeps its CPU cache coherent with other hosts' stores:
 *  - 'cpu': write back / invalidate lines with CPU instructions (src/sys/fcc.ts): the default
 *    for a DAX device, which may be memory that several hosts share without coherence;
 *  - 'coherent': nothing: the default for a regular file, whose every user shares one
 *    kernel's page cache (so one machine's coherence covers them all);
 *  - 'simulated': each host has its own simulated cache (FAMFS_SIM_NONCOHERENT, tests only).
 * FAMFS_COHERENT=1 forces 'coherent' (e.g. coherent CXL), FAMFS_COHERENT=0 forces 'cpu'.
 */
export type Coherence = 'cpu' | 'coherent' | 'simulated';

export function coherenceFromEnv(kind: DeviceKind = 'dax', env = process.env): Coherence {
  if (env.FAMFS_SIM_NONCOHERENT) return 'simulated';
  if (env.FAMFS_COHERENT === '1') return 'coherent';
  if (env.FAMFS_COHERENT === '0') return 'cpu';
  return kind === 'dax' ? 'cpu' : 'coherent';
}

export interface DeviceInfo {
  path: string;
  kind: DeviceKind;
  size: number;
}

function devMajorMinor(rdev: number): [number, number] {
  const r = BigInt(rdev);
  const major = Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn));
  const minor = Number((r & 0xffn) | ((r >> 12n) & ~0xffn));
  return [major, minor];
}

/** What a path is, and how big, without mapping it. Throws DeviceError with a clear message. */
export function probeDevice(path: string): DeviceInfo {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new DeviceError(code === 'ENOENT' ? `${path}: no such device or file` : `${path}: ${(e as Error).message}`, code);
  }
  if (st.isFile()) return { path, kind: 'file', size: st.size };
  if (st.isCharacterDevice()) {
    const [maj, min] = devMajorMinor(st.rdev);
    const sysfs = `/sys/dev/char/${maj}:${min}/size`;
    let text: string;
    try {
      text = fs.readFileSync(sysfs, 'utf8');
    } catch {
      throw new DeviceError(`${path}: character device ${maj}:${min} is not a DAX device (no ${sysfs})`, 'ENODEV');
    }
    return { path, kind: 'dax', size: Number(text.trim()) };
  }
  throw new DeviceError(`${path}: not a DAX character device or a regular file`, 'ENODEV');
}

interface MemoryCopy {
  bytes: Buffer;
  reload?: (into: Buffer) => void;
}

interface Window {
  ptr: NativePointer;
  buf: Buffer;
}

/**
 * A piece of the device reachable without mapping the device itself: famfs kernel mode,
 * where the device is bound to fsdev_dax and only the mount's files can be mapped
 * (`.meta/.superblock` at 0, `.meta/.log` at LOG_OFFSET), or a copy of those bytes.
 */
export interface Region {
  offset: number;
  buf: Buffer;
  /** Undo the mapping (called once by close()). */
  release?: () => void;
}

export class Device implements DeviceInfo {
  readonly path: string;
  readonly kind: DeviceKind;
  readonly size: number;
  readonly writable: boolean;
  readonly fd: number;
  readonly coherence: Coherence;
  private readonly windows: (Window | undefined)[];
  private readonly sim?: SimulatedCache;
  private ops?: CacheOps;
  /** Small mappings of the device's start (see mapHead), smallest first; the last one serves. */
  private readonly heads: (Window & { len: number })[] = [];
  private closed = false;
  /** Set for a device reached through regions only (kernel mode): nothing else is mapped. */
  private readonly regions?: Region[];
  /** Why a range outside the regions cannot be reached. */
  private readonly regionHint: string;
  /** Set for a device known only by its leading bytes (see inMemory): no fd, no mapping. */
  private readonly memory?: MemoryCopy;

  private constructor(info: DeviceInfo, fd: number, writable: boolean, memory?: MemoryCopy, regions?: Region[], regionHint = '') {
    this.path = info.path;
    this.kind = info.kind;
    this.size = info.size;
    this.fd = fd;
    this.writable = writable;
    this.memory = memory;
    this.windows = new Array(memory || regions ? 0 : Math.ceil(info.size / WINDOW_SIZE));
    // An inMemory copy is refreshed by reload(), never through the CPU cache; regions are
    // DAX-mapped famfs files (the kernel's mapping) or a private copy.
    this.coherence = memory || regions ? 'coherent' : coherenceFromEnv(info.kind);
    if (this.coherence === 'simulated') this.sim = simulatedCache(info.path, info.size, WINDOW_SIZE, simOptionsFromEnv()!);
    this.regions = regions;
    this.regionHint = regionHint;
  }

  /**
   * A device whose bytes are reachable only in `regions` (offsets within [0, size)).
   * `fd` is an open descriptor of the device node, used only for the writer lock.
   */
  static fromRegions(info: DeviceInfo, fd: number, writable: boolean, regions: Region[], hint: string): Device {
    return new Device(info, fd, writable, undefined, regions, hint);
  }

  private regionView(offset: number, length: number): Buffer {
    for (const r of this.regions!) {
      if (offset >= r.offset && offset + length <= r.offset + r.buf.length) return r.buf.subarray(offset - r.offset, offset - r.offset + length);
    }
    throw new DeviceError(`${this.path}: range [${offset}, +${length}) is not reachable: ${this.regionHint}`, 'ENODEV');
  }

  /**
   * A read-only stand-in for a device that cannot be opened here, holding a copy
   * of its first `bytes.length` bytes (superblock and log, read through a mount
   * by a user without access to the device). `reload` refreshes the copy.
   * Ranges past the copy fail with EACCES: file data must be read another way.
   */
  static inMemory(path: string, size: number, bytes: Buffer, reload?: (into: Buffer) => void): Device {
    return new Device({ path, kind: 'file', size: Math.max(size, bytes.length) }, -1, false, { bytes, reload });
  }

  /** True for an inMemory device: only its metadata is reachable. */
  get metadataOnly(): boolean {
    return this.memory !== undefined;
  }

  /** Refresh an inMemory device's copy (no-op for a mapped device, which is always current). */
  reload(): void {
    this.memory?.reload?.(this.memory.bytes);
  }

  private memoryView(offset: number, length: number): Buffer {
    const bytes = this.memory!.bytes;
    if (offset + length > bytes.length) throw new DeviceError(`${this.path}: file data is not reachable without access to the device (only its metadata was read, through the mount)`, 'EACCES');
    return bytes.subarray(offset, offset + length);
  }

  /** Open a device; read-only opens map PROT_READ, so a stray write faults instead of corrupting. */
  static open(path: string, opts: { writable?: boolean } = {}): Device {
    const info = probeDevice(path);
    const writable = opts.writable ?? false;
    let fd: number;
    try {
      fd = fs.openSync(path, writable ? 'r+' : 'r');
    } catch (e) {
      throw new DeviceError(`${path}: ${(e as Error).message}`, (e as NodeJS.ErrnoException).code ?? 'EIO');
    }
    // In fsdev mode mmap fails with a bare ENODEV, on first use: say why now.
    if (info.kind === 'dax' && daxDriver(path) === 'fsdev_dax') {
      fs.closeSync(fd);
      throw new DeviceError(fsdevHint(path), 'ENODEV');
    }
    return new Device(info, fd, writable);
  }

  /**
   * Map [0, length) (rounded up to 2 MiB, the devdax alignment) on its own, so
   * that the superblock and log are served without a 1 GiB window. V8 counts
   * every mapped ArrayBuffer as external memory, and a 1 GiB one forces a
   * full garbage collection (see docs/performance.md).
   */
  mapHead(length: number): void {
    // The simulated cache serves views by window: no head mappings beside it.
    if (this.memory || this.regions || this.closed || this.sim || this.windows[0]) return;
    const len = Math.min(this.size, Math.ceil(length / HEAD_ALIGN) * HEAD_ALIGN);
    const last = this.heads.at(-1);
    if (len <= 0 || len >= WINDOW_SIZE || (last && last.len >= len)) return;
    const ptr = mmap(len, this.writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, this.fd, 0);
    this.heads.push({ ptr, buf: viewOf(ptr, len), len });
  }

  /** The head mapping covering [offset, offset+length), if any. */
  private headFor(offset: number, length: number): (Window & { len: number }) | undefined {
    const h = this.heads.at(-1);
    return h && offset + length <= h.len ? h : undefined;
  }

  private window(i: number): Buffer {
    let w = this.windows[i];
    if (!w) {
      if (this.closed) throw new DeviceError(`${this.path}: device is closed`, 'EBADF');
      const start = i * WINDOW_SIZE;
      const len = Math.min(WINDOW_SIZE, this.size - start);
      const ptr = mmap(len, this.writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, this.fd, start);
      w = { ptr, buf: viewOf(ptr, len) };
      this.windows[i] = w;
    }
    return w.buf;
  }

  private checkRange(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new DeviceError(`${this.path}: range [${offset}, +${length}) is outside the device (size ${this.size})`, 'ERANGE');
    }
  }

  /** The size now: a file can be truncated under us (a DAX device cannot change size). */
  liveSize(): number {
    return this.kind === 'file' && !this.memory && !this.regions ? fileSize(this.fd) : this.size;
  }

  /**
   * Refuse (EIO) a range a truncated device file no longer holds: touching a mapped page
   * past the end of the file kills the process with SIGBUS. One fstat; DAX devices skip it.
   */
  checkLive(offset: number, length: number): void {
    if (this.kind !== 'file' || length === 0) return;
    const live = this.liveSize();
    if (offset + length > live) throw new DeviceError(`${this.path}: the device shrank to ${live} bytes (${this.size} when opened); [${offset}, +${length}) is past its end`, 'EIO');
  }

  /** A Buffer over [offset, offset+length); the range must not cross a 1 GiB window boundary. */
  view(offset: number, length: number): Buffer {
    this.checkRange(offset, length);
    if (this.regions) return this.regionView(offset, length);
    if (this.memory) return this.memoryView(offset, length);
    const head = this.headFor(offset, length);
    if (head) return head.buf.subarray(offset, offset + length);
    const i = Math.floor(offset / WINDOW_SIZE);
    const start = offset - i * WINDOW_SIZE;
    if (start + length > WINDOW_SIZE) throw new DeviceError(`range [${offset}, +${length}) crosses a mapping window`, 'ERANGE');
    return this.sim ? this.sim.view(i, start, length) : this.window(i).subarray(start, start + length);
  }

  /** Buffers covering [offset, offset+length) in order, split at window boundaries; appended to `out`. */
  slices(offset: number, length: number, out: Buffer[] = []): Buffer[] {
    this.checkRange(offset, length);
    if (this.regions || this.memory) {
      if (length > 0) out.push(this.regions ? this.regionView(offset, length) : this.memoryView(offset, length));
      return out;
    }
    this.checkLive(offset, length);
    const head = this.headFor(offset, length);
    if (head) {
      if (length > 0) out.push(head.buf.subarray(offset, offset + length));
      return out;
    }
    while (length > 0) {
      const i = Math.floor(offset / WINDOW_SIZE);
      const start = offset - i * WINDOW_SIZE;
      const n = Math.min(length, WINDOW_SIZE - start);
      out.push(this.sim ? this.sim.view(i, start, n) : this.window(i).subarray(start, start + n));
      offset += n;
      length -= n;
    }
    return out;
  }

  /**
   * True when bytes can be stored through the device's fd (a regular file shared through one
   * kernel's page cache) rather than through the mapping: bulk copies then cost no page fault
   * per 4 KiB and map no 1 GiB window. A DAX device has no write(2); a simulated cache must
   * see every store.
   */
  get writesThroughFd(): boolean {
    return this.kind === 'file' && this.writable && this.fd >= 0 && !this.memory && !this.regions && this.coherence === 'coherent';
  }

  /**
   * True when bytes can be read through the device's fd with pread (a regular file shared
   * through one kernel's page cache, as writesThroughFd, read-only opens included): a read
   * then costs one copy and neither maps a window nor faults the mapping's pages in.
   */
  get readsThroughFd(): boolean {
    return this.kind === 'file' && this.fd >= 0 && !this.memory && !this.regions && this.coherence === 'coherent';
  }

  /**
   * pread device bytes [offset, offset+length) into `buf` at `at`. A short read means the
   * device file shrank under us: EIO, as checkLive (without its fstat on every call).
   */
  readInto(offset: number, length: number, buf: Buffer, at: number): void {
    this.checkRange(offset, length);
    if (!this.readsThroughFd) throw new DeviceError(`${this.path}: cannot be read through its descriptor`, 'EINVAL');
    for (let done = 0; done < length;) {
      const n = fs.readSync(this.fd, buf, at + done, length - done, offset + done);
      if (n === 0) throw new DeviceError(`${this.path}: the device shrank (${this.size} bytes when opened); [${offset + done}, +${length - done}) is past its end`, 'EIO');
      done += n;
    }
  }

  /**
   * Store `data` at device bytes [offset, offset+length) through the fd (writesThroughFd
   * devices): no mapping touched, so no page fault per 4 KiB in this thread.
   */
  writeAt(offset: number, data: Buffer): void {
    this.checkRange(offset, data.length);
    if (!this.writesThroughFd) throw new DeviceError(`${this.path}: cannot be written through its descriptor`, 'EINVAL');
    this.checkLive(offset, data.length); // a pwrite past a truncated file's end would grow it again
    for (let w = 0; w < data.length; ) w += fs.writeSync(this.fd, data, w, data.length - w, offset + w);
  }

  private cfrWorks = true;

  /**
   * Copy `length` bytes of the host file `srcFd` (from `srcOffset`) to device bytes
   * [offset, offset+length) through the device fd: copy_file_range (inside the kernel), or
   * pread + pwrite through one buffer where the kernel refuses it (another file system type).
   * Returns the bytes copied: fewer only when the source ended first.
   */
  writeFromFile(srcFd: number, srcOffset: number, offset: number, length: number): number {
    this.checkRange(offset, length);
    if (!this.writesThroughFd) throw new DeviceError(`${this.path}: cannot be written through its descriptor`, 'EINVAL');
    this.checkLive(offset, length);
    let done = 0;
    while (this.cfrWorks && done < length) {
      let n: number;
      try {
        n = copyFileRange(srcFd, srcOffset + done, this.fd, offset + done, length - done);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EXDEV' && code !== 'EINVAL' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw e;
        this.cfrWorks = false; // e.g. a source on another file system type: plain copies from now on
        break;
      }
      if (n === 0) return done;
      done += n;
    }
    const buf = done < length ? Buffer.allocUnsafe(Math.min(8 << 20, length - done)) : undefined;
    while (buf && done < length) {
      const n = fs.readSync(srcFd, buf, 0, Math.min(buf.length, length - done), srcOffset + done);
      if (n === 0) return done;
      for (let w = 0; w < n; ) w += fs.writeSync(this.fd, buf, w, n - w, offset + done + w);
      done += n;
    }
    return done;
  }

  /** Run fn over [offset, offset+length) split at window boundaries (window index, start in it, length). */
  private eachWindow(offset: number, length: number, fn: (i: number, start: number, n: number) => void): void {
    this.checkRange(offset, length);
    if (this.memory || this.regions) return;
    while (length > 0) {
      const i = Math.floor(offset / WINDOW_SIZE);
      const start = offset - i * WINDOW_SIZE;
      const n = Math.min(length, WINDOW_SIZE - start);
      fn(i, start, n);
      offset += n;
      length -= n;
    }
  }

  /** The head mapping for a non-empty range of a mapped (not in-memory) device, if one covers it. */
  private headRange(offset: number, length: number, liveChecked = false): (Window & { len: number }) | undefined {
    this.checkRange(offset, length);
    if (this.memory || length === 0) return undefined;
    if (!liveChecked) this.checkLive(offset, length); // a page past a truncated file's end would SIGBUS
    return this.headFor(offset, length);
  }

  private cpu(): CacheOps {
    return (this.ops ??= cacheOps());
  }

  /**
   * Make our stores in [offset, offset+length) visible to other hosts: write
   * the CPU cache lines back (CLWB/CLFLUSHOPT/CLFLUSH + SFENCE, DC CVAC + DSB),
   * then msync a file-backed device so its page cache reaches the file too. A
   * devdax mapping has no page cache (and its driver refuses msync).
   */
  flush(offset: number, length: number, liveChecked = false): void {
    // `liveChecked`: the caller has just checked [offset, offset+length) against the live size
    // (writeAt did, in the same request): one fstat per store, not two.
    const head = this.headRange(offset, length, liveChecked);
    if (head) {
      if (this.coherence === 'cpu') this.cpu().writeBack(head.buf.subarray(offset, offset + length));
      if (this.kind !== 'dax') msync(head.ptr, offset, length);
      return;
    }
    let synced = false;
    this.eachWindow(offset, length, (i, start, n) => {
      // Nothing stored through a window this process never mapped: the bytes came through the
      // fd (writeAt, writeFromFile) and sit in the page cache; fdatasync does what msync would.
      if (!this.windows[i] && !this.sim && this.coherence !== 'cpu') {
        if (this.kind !== 'dax' && !synced) fs.fdatasyncSync(this.fd);
        synced = true;
        return;
      }
      const w = this.window(i);
      if (this.sim) this.sim.writeBack(i, start, n);
      else if (this.coherence === 'cpu') this.cpu().writeBack(w.subarray(start, start + n));
      if (this.kind !== 'dax') msync(this.windows[i]!.ptr, start, n);
    });
  }

  /**
   * Before loading bytes another host may have stored in [offset, offset+length):
   * write back our dirty lines there and drop the rest from the CPU cache, so the
   * next loads read memory. Prefetch may refill a line at once: readers keep
   * their CRC/seqnum checks and retry.
   */
  invalidate(offset: number, length: number): void {
    if (this.coherence === 'coherent') return void this.checkRange(offset, length);
    const head = this.headRange(offset, length);
    if (head) {
      if (this.coherence === 'cpu') this.cpu().invalidate(head.buf.subarray(offset, offset + length));
      return;
    }
    this.eachWindow(offset, length, (i, start, n) => {
      if (this.sim) this.sim.invalidate(i, start, n);
      else if (this.coherence === 'cpu') this.cpu().invalidate(this.window(i).subarray(start, start + n));
    });
  }

  /**
   * Done reading [offset, offset+length) for now: drop this process's page mappings of the
   * whole pages inside it, so they leave its resident set (the bytes stay on the device; the
   * next access maps them again). Replay calls it after copying each batch of log slots: a
   * million-entry log is 544 MiB. Best effort, and only over mappings that already exist.
   */
  dropPages(offset: number, length: number): void {
    if (this.memory || this.regions || this.sim || this.closed || length <= 0) return;
    this.checkRange(offset, length);
    try {
      const head = this.headFor(offset, length);
      if (head) return madvise(head.ptr, offset, length, MADV_DONTNEED);
      this.eachWindow(offset, length, (i, start, n) => {
        const w = this.windows[i];
        if (w) madvise(w.ptr, start, n, MADV_DONTNEED);
      });
    } catch {
      // Only memory accounting depends on it.
    }
  }

  /**
   * Make [offset, offset+length) read as zeros, durably. A file-backed device punches a
   * hole (instant, and gives tmpfs pages back); a DAX device, or a file system that can't
   * punch, has each 1 MiB chunk compared with zeros and only the chunks that differ written.
   */
  zero(offset: number, length: number): void {
    this.checkRange(offset, length);
    if (!this.writable) throw new DeviceError(`${this.path}: opened read-only`, 'EROFS');
    this.checkLive(offset, length);
    // Not beside a simulated cache: its lines would still hold the old bytes (stores go through it).
    if (this.kind === 'file' && this.canPunch && !this.sim) {
      try {
        fallocate(this.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
        return;
      } catch {
        this.canPunch = false; // e.g. EOPNOTSUPP: fall back for good on this device
      }
    }
    this.zeroByStores(offset, length);
  }

  private canPunch = true;

  /** The fallback of zero(): compare, then store and flush only the chunks that are not zero yet. */
  zeroByStores(offset: number, length: number): void {
    const ZERO_CHUNK = 1 << 20;
    const zeros = Buffer.alloc(ZERO_CHUNK);
    for (const s of this.slices(offset, length)) {
      for (let at = 0; at < s.length; at += ZERO_CHUNK) {
        const part = s.subarray(at, Math.min(s.length, at + ZERO_CHUNK));
        if (!part.equals(zeros.subarray(0, part.length))) part.fill(0);
      }
    }
    this.flush(offset, length); // msync skips clean pages; a no-op on DAX
  }

  /** Take the host-wide single-writer lock (flock on the device; the kernel drops it if we die). */
  lock(opts: { wait?: boolean; onWait?: () => void } = {}): void {
    if (this.memory) throw new DeviceError(`${this.path}: opened without access to the device; the log lock needs it`, 'EACCES');
    if (this.fd < 0) throw new DeviceError(`${this.path}: this view of the device cannot take the log lock`, 'EINVAL');
    if (flock(this.fd, LOCK_EX | LOCK_NB)) return;
    if (opts.wait === false) throw new DeviceError(`${this.path}: another famfs writer holds the log lock`, 'EBUSY');
    opts.onWait?.();
    flock(this.fd, LOCK_EX);
  }

  unlock(): void {
    if (this.memory) return;
    flock(this.fd, LOCK_UN);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.memory) return;
    this.windows.forEach((w, i) => {
      if (w) munmap(w.ptr, Math.min(WINDOW_SIZE, this.size - i * WINDOW_SIZE));
    });
    this.windows.fill(undefined);
    for (const h of this.heads.splice(0)) munmap(h.ptr, h.len);
    for (const r of this.regions ?? []) r.release?.();
    if (this.fd >= 0) fs.closeSync(this.fd);
  }
}
