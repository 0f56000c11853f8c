/**
 * FUSE over io_uring (Linux ≥ 6.14, fuse.enable_uring=Y) as a FuseTransport:
 * the session reads requests and writes replies exactly as over /dev/fuse; this
 * module moves them through ring entries instead.
 *
 * One transport per worker thread, each with its own ring (request delivery
 * runs as task_work of the thread that submitted the entry, so the ring must
 * live in the serving thread). Every worker registers `depth` entries on
 * every possible-CPU queue, so the kernel's "ready" condition (all queues
 * have an entry) holds as soon as the first worker has registered.
 *
 * What still travels over /dev/fuse (the worker's cloned fd, opened
 * O_NONBLOCK and watched with a POLL_ADD on the same ring): INIT, FORGETs,
 * INTERRUPTs, requests queued before the ring was ready. Notifications are
 * written to /dev/fuse by the main thread as before.
 *
 * Start-up: the worker that reads INIT adds FUSE_OVER_IO_URING to the reply
 * (only if the kernel offered it), writes it, then registers its entries (the
 * kernel refuses REGISTER before INIT is answered, and sizes entries from the
 * negotiated max_write/max_pages). It publishes the payload size in the
 * shared state and signals an eventfd that every other worker's ring polls;
 * they then register theirs.
 *
 * Teardown: unmount completes every waiting entry with -ENOTCONN and makes the
 * /dev/fuse read fail with ENODEV, which ends the session; close() then
 * munmaps the ring before closing it (a ring left mapped outlives its fd).
 * If the process dies, the kernel cancels the entries with the ring.
 */
import * as fs from 'node:fs';
import { IoUring, IORING_OP_URING_CMD, IORING_SETUP_SUBMIT_ALL, NativeMemory, createEventFd } from '../sys/uring.js';
import type { FuseTransport } from './transport.js';
import { COMMIT_ID_OFFSET, RING_HEADER_SIZE, messageToRing, payloadSizeFromInitOut, ringRequestToMessage } from './uring-frame.js';

export type TransportChoice = 'dev' | 'uring' | 'auto';
export const TRANSPORT_CHOICES: readonly TransportChoice[] = ['dev', 'uring', 'auto'];

export const ENABLE_URING_PARAM = '/sys/module/fuse/parameters/enable_uring';
const IO_URING_DISABLED_SYSCTL = '/proc/sys/kernel/io_uring_disabled';
const POSSIBLE_CPUS = '/sys/devices/system/cpu/possible';

const FUSE_INIT = 26;
const FUSE_IO_URING_CMD_REGISTER = 1;
const FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2;
const INIT_EXT = 1 << 30;
/** FUSE_OVER_IO_URING = bit 41 = flags2 bit 9. */
const FLAGS2_OVER_IO_URING = 1 << 9;
const EIO = 5;
const ENOTCONN = 107;
const ECONNABORTED = 103;
const ECANCELED = 125;
const EAGAIN = 11;
const EINTR = 4;
const PAGE = 4096;
const TAG_DEV = 0;
const TAG_WAKE = 1;
const TAG_ENTRY = 2;
/** Default entries per queue per worker: one being served, one already holding the next request. */
export const DEFAULT_URING_DEPTH = 2;

/** Is FUSE over io_uring usable here? `reason` says why not, and how to fix it. */
export function uringSupport(): { ok: true } | { ok: false; reason: string } {
  let param: string;
  try {
    param = fs.readFileSync(ENABLE_URING_PARAM, 'utf8').trim();
  } catch {
    return { ok: false, reason: `this kernel has no FUSE over io_uring (${ENABLE_URING_PARAM} is missing: needs Linux ≥ 6.14 with CONFIG_FUSE_IO_URING and the fuse module loaded)` };
  }
  if (param !== 'Y' && param !== '1') {
    return { ok: false, reason: `FUSE over io_uring is disabled (${ENABLE_URING_PARAM} = ${param}); as root: echo Y > ${ENABLE_URING_PARAM}` };
  }
  try {
    const v = fs.readFileSync(IO_URING_DISABLED_SYSCTL, 'utf8').trim();
    if (v === '2') return { ok: false, reason: `io_uring is disabled system-wide (kernel.io_uring_disabled = 2)` };
  } catch {
    /* older kernels have no such sysctl */
  }
  try {
    new IoUring(4).close();
  } catch (e) {
    return { ok: false, reason: `io_uring is not usable by this process (${(e as Error).message}; a seccomp profile or kernel.io_uring_disabled may block it)` };
  }
  return { ok: true };
}

/** num_possible_cpus(): the kernel makes one queue per possible CPU, offline ones included. */
export function possibleCpus(text = readOr(POSSIBLE_CPUS, '0')): number {
  let n = 0;
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m) n += (m[2] === undefined ? 0 : Number(m[2]) - Number(m[1])) + 1;
  }
  return Math.max(1, n);
}

function readOr(p: string, fallback: string): string {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return fallback;
  }
}

// Shared state (Int32 words of a SharedArrayBuffer) of one connection's transports.
const S_STATE = 0; // UringState
const S_PAYLOAD = 1; // payload size of every entry
const S_RING_REQ = 2; // requests served over the ring (all workers)
const S_DEV_REQ = 3; // requests served over /dev/fuse (all workers)
const S_WORDS = 4;

export const UringState = { Pending: 0, Active: 1, Declined: 2 } as const;
export type UringState = (typeof UringState)[keyof typeof UringState];

/** What every worker of one connection shares (structured-clonable). */
export interface UringShared {
  sab: SharedArrayBuffer;
  /** eventfd polled by every worker's ring; written once INIT is settled. */
  eventFd: number;
  depth: number;
  nrQueues: number;
}

export function createUringShared(depth = DEFAULT_URING_DEPTH): UringShared {
  return { sab: new SharedArrayBuffer(S_WORDS * 4), eventFd: createEventFd(), depth: Math.max(1, Math.floor(depth)), nrQueues: possibleCpus() };
}

/** Connection-wide view of the shared state (main thread). */
export function uringStatus(s: UringShared): { state: UringState; ringRequests: number; devRequests: number } {
  const w = new Int32Array(s.sab);
  return { state: Atomics.load(w, S_STATE) as UringState, ringRequests: Atomics.load(w, S_RING_REQ), devRequests: Atomics.load(w, S_DEV_REQ) };
}

interface Entry {
  tag: number;
  qid: number;
  header: Buffer;
  payload: Buffer;
  iovAddr: bigint;
  registered: boolean;
  dead: boolean;
}

export class UringTransport implements FuseTransport {
  private readonly ring: IoUring;
  private readonly words: Int32Array;
  private mem: NativeMemory | null = null;
  private entries: Entry[] = [];
  /** Source of the request the session is handling: an entry, 'dev', or none. */
  private current: Entry | 'dev' | null = null;
  private currentIsInit = false;
  private kernelOffers = false;
  private devPollArmed = false;
  private closed = false;

  constructor(
    private readonly devFd: number,
    private readonly shared: UringShared,
    private readonly log: (msg: string) => void = () => undefined,
  ) {
    this.words = new Int32Array(shared.sab);
    const n = shared.nrQueues * shared.depth;
    this.ring = new IoUring(nextPow2(n + 4), { cqEntries: nextPow2(2 * (n + 4)), flags: IORING_SETUP_SUBMIT_ALL });
    this.ring.pollIn(shared.eventFd, TAG_WAKE);
  }

  read(buf: Buffer): number {
    if (this.current !== null && this.current !== 'dev') this.commitError(this.current); // the session sent no reply
    this.current = null;
    for (;;) {
      if (!this.devPollArmed) {
        this.ring.pollIn(this.devFd, TAG_DEV);
        this.devPollArmed = true;
      }
      // Replies go to the kernel before the next request is taken.
      if (this.ring.pending > 0 && this.ring.cqReady() > 0) this.ring.enter(0);
      const c = this.ring.reap();
      if (!c) {
        this.ring.enter(1);
        continue;
      }
      if (c.tag === TAG_DEV) {
        this.devPollArmed = false;
        const n = this.readDev(buf);
        if (n >= 0) return n;
      } else if (c.tag === TAG_WAKE) {
        this.onWake();
      } else {
        const e = this.entries[c.tag - TAG_ENTRY];
        if (!e) continue;
        const n = this.onEntry(e, c.res, buf);
        if (n >= 0) return n;
      }
    }
  }

  writev(bufs: Buffer[]): void {
    const cur = this.current;
    this.current = null;
    if (cur === 'dev') {
      if (this.currentIsInit) return this.replyInit(bufs);
      fs.writevSync(this.devFd, bufs);
      return;
    }
    if (!cur) throw Object.assign(new Error('reply without a request'), { code: 'EINVAL' });
    messageToRing(bufs, cur.header, cur.payload);
    this.submitCommit(cur);
  }

  /** Stop serving: unmap and close the ring, free the entry buffers. The /dev/fuse fd stays the caller's. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ring.close();
    // The kernel copies into entry buffers only from task_work of this (now ringless) thread.
    this.mem?.free();
    this.mem = null;
  }

  // ---- /dev/fuse side ---------------------------------------------------------

  /** Non-blocking read of /dev/fuse: the message length, or -1 if another worker took it. */
  private readDev(buf: Buffer): number {
    let n: number;
    try {
      n = fs.readSync(this.devFd, buf, 0, buf.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return -1;
      throw e;
    }
    this.current = 'dev';
    this.currentIsInit = n >= 40 && buf.readUInt32LE(4) === FUSE_INIT;
    if (this.currentIsInit) {
      const flags = n >= 56 ? buf.readUInt32LE(52) : 0;
      const flags2 = n >= 60 && flags & INIT_EXT ? buf.readUInt32LE(56) : 0;
      this.kernelOffers = (flags2 & FLAGS2_OVER_IO_URING) !== 0;
    } else {
      Atomics.add(this.words, S_DEV_REQ, 1);
    }
    return n;
  }

  /**
   * The INIT reply: accept the ring if offered, write it, then register this worker's entries.
   * The entries are allocated before the reply goes out: once FUSE_OVER_IO_URING is agreed,
   * every request waits for a ready ring, so nothing may fail between the reply and REGISTER.
   */
  private replyInit(bufs: Buffer[]): void {
    const ok = bufs.length >= 2 && bufs[0]!.readInt32LE(4) === 0 && bufs[1]!.length >= 36;
    if (!ok || !this.kernelOffers) {
      fs.writevSync(this.devFd, bufs);
      this.settle(UringState.Declined, 0, ok ? 'the kernel did not offer FUSE_OVER_IO_URING in INIT' : 'INIT failed');
      return;
    }
    const out = Buffer.from(bufs[1]!);
    const payloadSize = payloadSizeFromInitOut(out);
    try {
      this.prepareEntries(payloadSize);
    } catch (e) {
      fs.writevSync(this.devFd, bufs);
      this.settle(UringState.Declined, 0, `io_uring entries could not be set up (${(e as Error).message})`);
      return;
    }
    out.writeUInt32LE(out.readUInt32LE(12) | INIT_EXT, 12);
    out.writeUInt32LE(out.readUInt32LE(32) | FLAGS2_OVER_IO_URING, 32);
    fs.writevSync(this.devFd, [bufs[0]!, out, ...bufs.slice(2)]);
    for (const e of this.entries) this.submitRegister(e);
    this.settle(UringState.Active, payloadSize, '');
  }

  private settle(state: UringState, payloadSize: number, reason: string): void {
    if (reason) this.log(`serving over /dev/fuse only: ${reason}`);
    Atomics.store(this.words, S_PAYLOAD, payloadSize);
    Atomics.store(this.words, S_STATE, state);
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    try {
      fs.writeSync(this.shared.eventFd, one);
    } catch {
      /* the other workers then stay on /dev/fuse */
    }
  }

  /** Another worker settled INIT. */
  private onWake(): void {
    if (this.mem || Atomics.load(this.words, S_STATE) !== UringState.Active) return;
    try {
      this.prepareEntries(Atomics.load(this.words, S_PAYLOAD));
      for (const e of this.entries) this.submitRegister(e);
    } catch (e) {
      this.log(`io_uring entries could not be set up (${(e as Error).message}); this worker serves /dev/fuse only`);
    }
  }

  // ---- ring side ------------------------------------------------------------------

  /** Allocate this worker's entries (header + payload buffers, iovecs) for every queue. */
  private prepareEntries(payloadSize: number): void {
    const { nrQueues, depth } = this.shared;
    const n = nrQueues * depth;
    const slot = PAGE + roundUp(payloadSize, PAGE);
    const mem = new NativeMemory(PAGE + n * slot);
    this.mem = mem;
    for (let i = 0; i < n; i++) {
      const base = PAGE + i * slot;
      const e: Entry = {
        tag: TAG_ENTRY + i,
        qid: i % nrQueues,
        header: mem.buf.subarray(base, base + RING_HEADER_SIZE),
        payload: mem.buf.subarray(base + PAGE, base + PAGE + payloadSize),
        iovAddr: mem.address + BigInt(i * 32),
        registered: false,
        dead: false,
      };
      mem.buf.writeBigUInt64LE(mem.address + BigInt(base), i * 32);
      mem.buf.writeBigUInt64LE(BigInt(RING_HEADER_SIZE), i * 32 + 8);
      mem.buf.writeBigUInt64LE(mem.address + BigInt(base + PAGE), i * 32 + 16);
      mem.buf.writeBigUInt64LE(BigInt(payloadSize), i * 32 + 24);
      this.entries.push(e);
    }
  }

  private cmdSqe(cmdOp: number, tag: number, qid: number): Buffer {
    const s = this.ring.sqe();
    s[0] = IORING_OP_URING_CMD;
    s.writeInt32LE(this.devFd, 4);
    s.writeUInt32LE(cmdOp, 8);
    s.writeUInt32LE(tag >>> 0, 32);
    s.writeUInt16LE(qid, 64);
    return s;
  }

  private submitRegister(e: Entry): void {
    const s = this.cmdSqe(FUSE_IO_URING_CMD_REGISTER, e.tag, e.qid);
    s.writeBigUInt64LE(e.iovAddr, 16);
    s.writeUInt32LE(2, 24);
  }

  private submitCommit(e: Entry): void {
    const s = this.cmdSqe(FUSE_IO_URING_CMD_COMMIT_AND_FETCH, e.tag, e.qid);
    e.header.copy(s, 56, COMMIT_ID_OFFSET, COMMIT_ID_OFFSET + 8);
  }

  private commitError(e: Entry): void {
    e.header.writeUInt32LE(16, 0);
    e.header.writeInt32LE(-EIO, 4);
    e.header.writeUInt32LE(0, 272);
    this.submitCommit(e);
  }

  /** A CQE for an entry: a request (length in buf) or -1. */
  private onEntry(e: Entry, res: number, buf: Buffer): number {
    if (res === 0) {
      e.registered = true;
      const n = ringRequestToMessage(e.header, e.payload, buf);
      if (typeof n === 'string') {
        this.log(`bad ring request on queue ${e.qid}: ${n}`);
        this.commitError(e);
        return -1;
      }
      Atomics.add(this.words, S_RING_REQ, 1);
      this.current = e;
      return n;
    }
    if (res === -EAGAIN || res === -EINTR) {
      // Resubmit what the entry was doing.
      if (e.registered) this.submitCommit(e);
      else this.submitRegister(e);
      return -1;
    }
    e.dead = true;
    if (res !== -ENOTCONN && res !== -ECONNABORTED && res !== -ECANCELED) {
      this.log(`io_uring ${e.registered ? 'COMMIT_AND_FETCH' : 'REGISTER'} on queue ${e.qid} failed: errno ${-res}`);
    }
    return -1;
  }
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
