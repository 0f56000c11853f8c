/**
 * A minimal io_uring over raw x86-64 syscalls (koffi, no liburing, no native
 * addon): setup, the three mmaps, SQE slots, submit/wait, CQE reaping.
 * Only what the FUSE transport needs: 128-byte SQEs, one submitting thread.
 *
 * Memory ordering: the kernel reads the SQ only inside io_uring_enter (no
 * SQPOLL), and x86-64 keeps stores in order, so plain stores into the SQ and
 * Atomics.load / Atomics.store on the shared head and tail words suffice.
 */
import koffi from 'koffi';
import { LibcError, MAP_SHARED, PROT_READ, PROT_WRITE, mmap, munmap, viewOf, type NativePointer } from './libc.js';

const libc = koffi.load('libc.so.6');
const SYS_io_uring_setup = 425;
const SYS_io_uring_enter = 426;
const sys = {
  setup: libc.func('syscall', 'long', ['long', 'uint32_t', 'void *']),
  enter: libc.func('syscall', 'long', ['long', 'int', 'uint32_t', 'uint32_t', 'uint32_t', 'void *', 'size_t']),
  eventfd: libc.func('int eventfd(unsigned int initval, int flags)'),
  close: libc.func('int close(int fd)'),
  errnoLocation: libc.func('int *__errno_location(void)'),
};

export const IORING_SETUP_CQSIZE = 1 << 3;
/** Keep submitting a batch after one SQE in it fails (libfuse PR #1535: otherwise the rest stalls). */
export const IORING_SETUP_SUBMIT_ALL = 1 << 7;
export const IORING_SETUP_SQE128 = 1 << 10;
export const IORING_FEAT_SINGLE_MMAP = 1 << 0;
export const IORING_ENTER_GETEVENTS = 1 << 0;
export const IORING_OP_POLL_ADD = 6;
export const IORING_OP_URING_CMD = 46;
export const POLLIN = 0x1;
const IORING_OFF_SQ_RING = 0;
const IORING_OFF_CQ_RING = 0x8000000;
const IORING_OFF_SQES = 0x10000000;
const MAP_POPULATE = 0x8000;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;

function errno(): number {
  return koffi.decode(sys.errnoLocation(), 'int') as number;
}

/** Anonymous private memory (page-aligned; the kernel may keep pointers into it). */
export class NativeMemory {
  readonly ptr: NativePointer;
  readonly buf: Buffer;
  readonly address: bigint;
  private live = true;
  constructor(readonly size: number) {
    this.ptr = mmap(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    this.buf = viewOf(this.ptr, size);
    this.address = BigInt(koffi.address(this.ptr));
  }
  free(): void {
    if (this.live) munmap(this.ptr, this.size);
    this.live = false;
  }
}

/** close(2) for fds this module made (Node warns when fs.closeSync closes fds it did not open). */
export function closeFd(fd: number): void {
  sys.close(fd);
}

/** A non-blocking, close-on-exec eventfd (counter starts at 0). */
export function createEventFd(): number {
  const fd = sys.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) as number;
  if (fd < 0) throw new LibcError('eventfd', errno());
  return fd;
}

export interface Cqe {
  /** Low 32 bits of user_data (this module only ever sets those). */
  tag: number;
  res: number;
  flags: number;
}

export interface RingOptions {
  /** Extra setup flags (SQE128 is always set here). */
  flags?: number;
  /** CQ size (sets IORING_SETUP_CQSIZE); default 2 × SQ. */
  cqEntries?: number;
}

/** One io_uring with 128-byte SQEs, driven from a single thread. */
export class IoUring {
  readonly fd: number;
  readonly sqEntries: number;
  readonly cqEntries: number;
  readonly features: number;
  /** SQEs not yet handed to the kernel. */
  private toSubmit = 0;
  private sqTail = 0;
  private readonly maps: Array<{ ptr: NativePointer; len: number }> = [];
  private readonly sqHead: Uint32Array;
  private readonly sqTailW: Uint32Array;
  private readonly sqMask: number;
  private readonly sqArray: Uint32Array;
  private readonly cqHead: Uint32Array;
  private readonly cqTail: Uint32Array;
  private readonly cqMask: number;
  private readonly cqes: Buffer;
  readonly sqes: Buffer;
  private closed = false;

  constructor(entries: number, opts: RingOptions = {}) {
    const p = Buffer.alloc(120);
    let flags = IORING_SETUP_SQE128 | (opts.flags ?? 0);
    if (opts.cqEntries) {
      flags |= IORING_SETUP_CQSIZE;
      p.writeUInt32LE(opts.cqEntries, 4);
    }
    p.writeUInt32LE(flags, 8);
    const fd = Number(sys.setup(SYS_io_uring_setup, entries, p));
    if (fd < 0) throw new LibcError('io_uring_setup', errno());
    this.fd = fd;
    try {
      this.sqEntries = p.readUInt32LE(0);
      this.cqEntries = p.readUInt32LE(4);
      this.features = p.readUInt32LE(20);
      const so = (i: number) => p.readUInt32LE(40 + i * 4);
      const co = (i: number) => p.readUInt32LE(80 + i * 4);
      const sqSize = so(6) + 4 * this.sqEntries;
      const cqSize = co(5) + 16 * this.cqEntries;
      let sq: Buffer;
      let cq: Buffer;
      if (this.features & IORING_FEAT_SINGLE_MMAP) {
        sq = cq = this.map(Math.max(sqSize, cqSize), IORING_OFF_SQ_RING);
      } else {
        sq = this.map(sqSize, IORING_OFF_SQ_RING);
        cq = this.map(cqSize, IORING_OFF_CQ_RING);
      }
      this.sqes = this.map(128 * this.sqEntries, IORING_OFF_SQES);
      const u32 = (b: Buffer, off: number, n = 1) => new Uint32Array(b.buffer, b.byteOffset + off, n);
      this.sqHead = u32(sq, so(0));
      this.sqTailW = u32(sq, so(1));
      this.sqMask = u32(sq, so(2))[0]!;
      this.sqArray = u32(sq, so(6), this.sqEntries);
      this.cqHead = u32(cq, co(0));
      this.cqTail = u32(cq, co(1));
      this.cqMask = u32(cq, co(2))[0]!;
      this.cqes = cq.subarray(co(5), co(5) + 16 * this.cqEntries);
      this.sqTail = Atomics.load(this.sqTailW, 0);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private map(len: number, off: number): Buffer {
    const ptr = mmap(len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, this.fd, off);
    this.maps.push({ ptr, len });
    return viewOf(ptr, len);
  }

  /** Free SQ slots. */
  sqSpace(): number {
    return this.sqEntries - (this.sqTail - Atomics.load(this.sqHead, 0));
  }

  /**
   * A zeroed 128-byte SQE view, queued for the next enter(); the caller fills
   * it in before then. Throws if the SQ is full (callers size the ring so it is not).
   */
  sqe(): Buffer {
    if (this.sqSpace() <= 0) throw new Error('io_uring submission queue full');
    const idx = this.sqTail & this.sqMask;
    const s = this.sqes.subarray(idx * 128, idx * 128 + 128);
    s.fill(0);
    this.sqArray[idx] = idx;
    this.sqTail = (this.sqTail + 1) >>> 0;
    Atomics.store(this.sqTailW, 0, this.sqTail);
    this.toSubmit++;
    return s;
  }

  /** SQEs queued but not yet submitted. */
  get pending(): number {
    return this.toSubmit;
  }

  /** CQEs ready to reap. */
  cqReady(): number {
    return (Atomics.load(this.cqTail, 0) - this.cqHead[0]!) >>> 0;
  }

  /**
   * Submit what is queued and, if waitFor > 0, block until that many CQEs are
   * ready. Returns an errno (EINTR, EBUSY, …) instead of throwing for the
   * transient ones; throws on the others.
   */
  enter(waitFor: number): number {
    const flags = waitFor > 0 ? IORING_ENTER_GETEVENTS : 0;
    const r = Number(sys.enter(SYS_io_uring_enter, this.fd, this.toSubmit, waitFor, flags, null, 0));
    if (r < 0) {
      const e = errno();
      if (e === 4 || e === 11 || e === 16) return e; // EINTR, EAGAIN, EBUSY: try again
      throw new LibcError('io_uring_enter', e);
    }
    this.toSubmit -= Math.min(r, this.toSubmit);
    return 0;
  }

  /** The next CQE, or null; consumes it. */
  reap(): Cqe | null {
    const head = this.cqHead[0]!;
    if (head === Atomics.load(this.cqTail, 0)) return null;
    const off = (head & this.cqMask) * 16;
    const c: Cqe = { tag: this.cqes.readUInt32LE(off), res: this.cqes.readInt32LE(off + 8), flags: this.cqes.readUInt32LE(off + 12) };
    Atomics.store(this.cqHead, 0, (head + 1) >>> 0);
    return c;
  }

  /** Queue a one-shot POLL_ADD for POLLIN on fd. */
  pollIn(fd: number, tag: number): void {
    const s = this.sqe();
    s[0] = IORING_OP_POLL_ADD;
    s.writeInt32LE(fd, 4);
    s.writeUInt32LE(POLLIN, 28); // poll32_events
    s.writeUInt32LE(tag, 32);
  }

  /** munmap the rings, then close the fd (a ring left mapped outlives its fd). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const m of this.maps.splice(0)) {
      try {
        munmap(m.ptr, m.len);
      } catch {
        /* nothing more to do */
      }
    }
    closeFd(this.fd);
  }
}
