/**
 * The synchronous request loop: read one request, decode, call the handler,
 * write one reply. Works over any fd (a /dev/fuse fd or its clone) or any
 * FuseTransport (tests drive it with scripted messages).
 *
 * Design:
 * - One preallocated read buffer (max_write + 64 KiB): the kernel requires
 *   > max_write + headers, and WRITE payloads are handed out as views of it.
 * - Replies go out with one writev(header, ...payload): READ data returned by
 *   the handler (e.g. views of an mmap) is never copied in JS.
 * - The loop blocks its thread; run it in a worker_thread (see server.ts).
 * - INIT in a multi-worker server: the kernel queues requests on one shared
 *   input queue, so INIT goes to whichever worker reads first, and the kernel
 *   sends nothing else until INIT is answered. That worker records the kernel
 *   offer and its reply in a SharedArrayBuffer before replying; the other
 *   workers find it there before their first request and initialise their own
 *   handler instance with the same connection parameters.
 * - Lookup counts are kept per session. With several workers a FORGET may reach
 *   a different worker than the LOOKUP, so per-session counts can go negative;
 *   only their sum over all workers is meaningful (handlers that need exact
 *   counts must share them, e.g. via SharedArrayBuffer).
 */
import type { OpStatsRecorder } from './opstats.js';
import * as fs from 'node:fs';
import {
  DecodeError,
  decodeInitOut,
  decodeRequest,
  type DecodeContext,
  type FuseRequest,
  type InHeader,
} from './decode.js';
import {
  encodeAttrOut,
  encodeCreateOut,
  encodeEntryOut,
  encodeErrorReply,
  encodeGetxattrOut,
  encodeInitOut,
  encodeLkOut,
  encodeLseekOut,
  encodeOpenOut,
  encodeOutHeader,
  encodeStatfsOut,
  encodeWriteOut,
  packDirents,
  packDirentsPlus,
  type TimeoutDefaults,
} from './encode.js';
import { FuseError, errnoOf, type FuseHandler, type InitWishes, type Request } from './handler.js';
import { DEFAULT_MAX_WRITE, connectionFrom, defaultWantedFlags, negotiateInit } from './negotiate.js';
import { Errno, InitFlag, Opcode, Size, opcodeName } from './protocol.js';
import type { EntryReply, FuseConnection, KernelInit } from './types.js';
import { describe, formatLog, trimRead } from './session-helpers.js';
import { FdReply, readPieces, ShortPieceError, threadPipe } from './splice.js';

/** Where requests come from and replies go. */
export interface FuseTransport {
  /** Read one message into buf; return its length (0 = EOF). Throw Node-style errors ({code}). */
  read(buf: Buffer): number;
  /** Write one whole message made of these buffers. */
  writev(bufs: Buffer[]): void;
  /** Write header + the reply's file pieces with splice; false when not possible (nothing sent). */
  splice?(header: Buffer, reply: FdReply): boolean;
}

/** A transport over an fd (the same fd for both directions, as /dev/fuse), or a read/write fd pair. */
export function fdTransport(readFd: number, writeFd = readFd): FuseTransport {
  const pipe = threadPipe();
  return {
    read: (buf) => fs.readSync(readFd, buf, 0, buf.length, null),
    writev: (bufs) => {
      fs.writevSync(writeFd, bufs);
    },
    splice: (header, reply) => pipe.send(writeFd, header, reply),
  };
}

/** One line of the debug trace. */
export interface RequestLog {
  unique: bigint;
  opcode: number;
  opname: string;
  nodeid: number;
  pid: number;
  /** 0 on success, else the errno replied; -1 = no reply (FORGET, INTERRUPT…). */
  errno: number;
  /** Reply payload bytes (excluding the 16-byte header). */
  bytes: number;
  /** Short description of the arguments, e.g. a name or offset/size. */
  detail: string;
}

export interface SessionOptions {
  /** Upper bound for max_write; the read buffer is this + 64 KiB. Default 1 MiB. */
  maxWrite?: number;
  /** true → trace each request to stderr; a function → called for each request. */
  debug?: boolean | ((e: RequestLog) => void);
  /** Error log (handler exceptions, malformed messages). Default: synchronous write to stderr. */
  log?: (msg: string) => void;
  /** Label for log lines, e.g. "worker 2". */
  name?: string;
  /** Multi-worker INIT sharing (createSharedInit()). */
  sharedInit?: SharedArrayBuffer;
  /** Called once when this session knows the connection (after INIT, or lazily from sharedInit). */
  onInit?: (conn: FuseConnection, receivedInit: boolean) => void;
  /** Per-opcode request counts and latencies (see opstats.ts). */
  opStats?: OpStatsRecorder;
}

/** Why loop() returned. */
export type SessionEnd =
  | 'unmounted' // read → ENODEV
  | 'aborted' // read → ECONNABORTED (abort with ABORT_ERROR)
  | 'eof' // read → 0 (non-fuse transport closed)
  | 'protocol' // INIT with an unsupported major
  | 'stopped'; // stop() was called

const SHARED_INIT_BYTES = 256;
const SI_STATE = 0; // Int32 index: 0 = not yet, 1 = published
const SI_KERNEL = 16; // byte offset: major, minor, maxReadahead, flags lo, flags hi (u32 each)
const SI_OUTLEN = 40; // byte offset: u32 length of init_out
const SI_OUT = 64; // byte offset: init_out bytes (≤ 64)

/** SharedArrayBuffer to pass to every worker's session of one connection. */
export function createSharedInit(): SharedArrayBuffer {
  return new SharedArrayBuffer(SHARED_INIT_BYTES);
}

const NO_REPLY = Symbol('no reply');
type Payload = Buffer[] | FdReply | typeof NO_REPLY;
const EMPTY: Buffer[] = [];
const IOV_MAX = 1024;

export class FuseSession {
  readonly transport: FuseTransport;
  readonly buffer: Buffer;
  readonly maxWrite: number;
  /** Negotiated connection (null until INIT). */
  conn: FuseConnection | null = null;
  /** Requests handled, by outcome. */
  readonly stats = { requests: 0, errors: 0, replyFailures: 0 };

  private readonly handler: FuseHandler;
  private readonly log: (msg: string) => void;
  private readonly trace: ((e: RequestLog) => void) | null;
  private readonly lookups = new Map<number, number>();
  private readonly hdr = Buffer.alloc(Size.OUT_HEADER);
  private ctx: DecodeContext = {};
  private timeouts: TimeoutDefaults = { entryTimeout: 1, attrTimeout: 1 };
  private stopping = false;
  private destroyed = false;
  private end: SessionEnd | null = null;

  constructor(
    fdOrTransport: number | FuseTransport,
    handler: FuseHandler,
    private readonly opts: SessionOptions = {},
  ) {
    this.transport = typeof fdOrTransport === 'number' ? fdTransport(fdOrTransport) : fdOrTransport;
    this.handler = handler;
    this.maxWrite = opts.maxWrite ?? DEFAULT_MAX_WRITE;
    this.buffer = Buffer.allocUnsafe(this.maxWrite + 64 * 1024);
    const label = opts.name ? `fuse[${opts.name}]` : 'fuse';
    this.log = opts.log ?? ((m) => writeStderr(`${label}: ${m}\n`));
    if (typeof opts.debug === 'function') this.trace = opts.debug;
    else if (opts.debug) this.trace = (e) => writeStderr(`${label}: ${formatLog(e)}\n`);
    else this.trace = null;
  }

  /** Net lookup count this session has seen for nodeid (see the multi-worker note above). */
  lookupCount(nodeid: number): number {
    return this.lookups.get(nodeid) ?? 0;
  }

  /** Ask loop() to return after the current request (it cannot interrupt a blocked read). */
  stop(): void {
    this.stopping = true;
  }

  /** Serve until unmount (or EOF / protocol error / stop()). Throws only on unexpected read errors. */
  loop(): SessionEnd {
    try {
      while (!this.stopping && this.end === null) {
        let n: number;
        try {
          n = this.transport.read(this.buffer);
        } catch (e) {
          const code = (e as { code?: string }).code;
          if (code === 'EINTR' || code === 'EAGAIN' || code === 'ENOENT') continue;
          if (code === 'ENODEV') return (this.end = 'unmounted');
          if (code === 'ECONNABORTED') return (this.end = 'aborted');
          throw e;
        }
        if (n === 0) return (this.end = 'eof');
        this.processMessage(this.buffer, n);
      }
      return this.end ?? 'stopped';
    } finally {
      threadPipe().close();
      this.callDestroy();
    }
  }

  /** Handle one message already in buf[0, nread) (public for tests). */
  processMessage(buf: Buffer, nread: number): void {
    const t0 = this.opts.opStats ? performance.now() : 0;
    this.handleMessage(buf, nread);
    if (this.opts.opStats && nread >= 8) this.opts.opStats.record(buf.readUInt32LE(4), performance.now() - t0);
  }

  private handleMessage(buf: Buffer, nread: number): void {
    this.stats.requests++;
    const d = decodeRequest(buf, nread, this.ctx);
    if (d.error) {
      this.stats.errors++;
      const h = d.header;
      this.log(`malformed ${h ? opcodeName(h.opcode) : 'message'} (${nread} bytes): ${d.error.message}`);
      if (h && !isNoReplyOp(h.opcode)) this.reply(h, d.error.errno, EMPTY, 'malformed');
      return;
    }
    const h = d.header;
    const r = d.request;
    if (r.op === 'init') return this.doInit(h, r.init);
    if (!this.conn) {
      let ready = false;
      try {
        ready = this.lazyInit();
        if (!ready) this.log(`${opcodeName(h.opcode)} before INIT`);
      } catch (e) {
        this.log(`handler init failed: ${(e as Error)?.stack ?? String(e)}`);
      }
      if (!ready) {
        if (!isNoReplyOp(h.opcode)) this.reply(h, Errno.EIO, EMPTY, '');
        return;
      }
    }
    let payload: Payload;
    let errno = 0;
    let counted: number[] | null = null;
    try {
      const res = this.dispatch(h, r);
      payload = res.payload;
      counted = res.counted;
      errno = res.errno ?? 0;
    } catch (e) {
      payload = EMPTY;
      errno = errnoOf(e) ?? -1;
      if (errno === -1) {
        errno = Errno.EIO;
        this.log(`handler threw on ${opcodeName(h.opcode)} nodeid=${h.nodeid}: ${(e as Error)?.stack ?? String(e)}`);
      }
    }
    if (payload === NO_REPLY || isNoReplyOp(h.opcode)) {
      // FORGET / BATCH_FORGET / INTERRUPT are never answered, even if the handler failed.
      this.traceReq(h, r, -1, 0);
      return;
    }
    if (errno !== 0) this.stats.errors++;
    const ok = this.reply(h, errno, payload, r);
    if (!ok && counted) this.undoLookups(h, counted);
  }

  // ---- INIT ----------------------------------------------------------------

  private doInit(h: InHeader, kernel: KernelInit): void {
    if (this.conn) {
      this.log('second INIT on one connection');
      this.reply(h, Errno.EPROTO, EMPTY, 'init');
      return;
    }
    const wishes = this.wishes(kernel);
    const neg = negotiateInit(kernel, wishes, { maxWrite: this.maxWrite, defaultFlags: defaultWantedFlags(this.handler) });
    if (!neg.ok) {
      this.log(neg.message);
      this.reply(h, neg.errno, EMPTY, 'init');
      this.end = 'protocol';
      return;
    }
    const outBytes = encodeInitOut(neg.out);
    try {
      this.adopt(neg.conn, wishes, true);
    } catch (e) {
      this.log(`handler init failed: ${(e as Error)?.stack ?? String(e)}`);
      this.reply(h, Errno.EIO, EMPTY, 'init');
      return;
    }
    const sab = this.opts.sharedInit;
    if (sab) {
      // Publish before replying: no other request can arrive before the reply.
      const dv = Buffer.from(sab);
      dv.writeUInt32LE(kernel.major, SI_KERNEL);
      dv.writeUInt32LE(kernel.minor, SI_KERNEL + 4);
      dv.writeUInt32LE(kernel.maxReadahead, SI_KERNEL + 8);
      dv.writeUInt32LE(Number(kernel.flags & 0xffffffffn), SI_KERNEL + 12);
      dv.writeUInt32LE(Number(kernel.flags >> 32n), SI_KERNEL + 16);
      dv.writeUInt32LE(outBytes.length, SI_OUTLEN);
      outBytes.copy(dv, SI_OUT);
      Atomics.store(new Int32Array(sab), SI_STATE, 1);
    }
    this.reply(h, 0, [outBytes], 'init');
  }

  /** A worker that did not get INIT: adopt the one another worker published. */
  private lazyInit(): boolean {
    const sab = this.opts.sharedInit;
    if (!sab || Atomics.load(new Int32Array(sab), SI_STATE) !== 1) return false;
    const dv = Buffer.from(sab);
    const kernel: KernelInit = {
      major: dv.readUInt32LE(SI_KERNEL),
      minor: dv.readUInt32LE(SI_KERNEL + 4),
      maxReadahead: dv.readUInt32LE(SI_KERNEL + 8),
      flags: BigInt(dv.readUInt32LE(SI_KERNEL + 12)) | (BigInt(dv.readUInt32LE(SI_KERNEL + 16)) << 32n),
    };
    const out = decodeInitOut(dv.subarray(SI_OUT, SI_OUT + dv.readUInt32LE(SI_OUTLEN)));
    this.adopt(connectionFrom(kernel, out), this.wishes(kernel), false);
    return true;
  }

  private wishes(kernel: KernelInit): InitWishes {
    return this.handler.initWishes?.(kernel) ?? {};
  }

  private adopt(conn: FuseConnection, wishes: InitWishes, received: boolean): void {
    this.ctx = { setxattrExt: (conn.flags & InitFlag.SETXATTR_EXT) !== 0n };
    this.timeouts = { entryTimeout: wishes.entryTimeout ?? 1, attrTimeout: wishes.attrTimeout ?? 1 };
    this.handler.init?.(conn);
    this.conn = conn;
    this.opts.onInit?.(conn, received);
  }

  private callDestroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      this.handler.destroy?.();
    } catch (e) {
      this.log(`handler destroy failed: ${(e as Error)?.stack ?? String(e)}`);
    }
  }

  // ---- dispatch --------------------------------------------------------------

  /**
   * Call the handler for one request. Returns the reply payload (or NO_REPLY)
   * and the nodeids whose lookup count this reply added (to undo if it fails).
   * Throws FuseError / errno errors; handler results that are FuseErrors are thrown.
   */
  private dispatch(h: InHeader, r: FuseRequest): Dispatched {
    const H = this.handler;
    const req: Request = { unique: h.unique, opcode: h.opcode, nodeid: h.nodeid, uid: h.uid, gid: h.gid, pid: h.pid };
    const n = h.nodeid;
    const one = (b: Buffer) => ({ payload: [b], counted: null });
    const none = { payload: EMPTY, counted: null };
    switch (r.op) {
      case 'lookup': {
        // Negative lookups and absent xattrs are frequent answers: returned, not thrown (a throw
        // through dispatch cost more than the rest of the request).
        const e = need(H.lookup).call(H, req, n, r.name);
        return e instanceof FuseError ? failed(e) : this.entry(e);
      }
      case 'forget':
        this.forget(req, n, r.nlookup);
        return { payload: NO_REPLY, counted: null };
      case 'batchForget':
        for (const it of r.items) this.forget(req, it.nodeid, it.nlookup);
        return { payload: NO_REPLY, counted: null };
      case 'getattr':
        return one(encodeAttrOut(ok(need(H.getattr).call(H, req, n, r.fh)), this.timeouts));
      case 'setattr':
        return one(encodeAttrOut(ok(need(H.setattr).call(H, req, n, r.args)), this.timeouts));
      case 'readlink':
        return one(Buffer.from(ok(need(H.readlink).call(H, req, n)), 'utf8'));
      case 'symlink':
        return this.entry(need(H.symlink).call(H, req, n, r.name, r.target));
      case 'mknod':
        return this.entry(need(H.mknod).call(H, req, n, r.name, r.mode, r.rdev, r.umask));
      case 'mkdir':
        return this.entry(need(H.mkdir).call(H, req, n, r.name, r.mode, r.umask));
      case 'link':
        return this.entry(need(H.link).call(H, req, r.oldNodeid, n, r.newName));
      case 'unlink':
        ok(need(H.unlink).call(H, req, n, r.name));
        return none;
      case 'rmdir':
        ok(need(H.rmdir).call(H, req, n, r.name));
        return none;
      case 'rename':
        ok(need(H.rename).call(H, req, n, r.name, r.newParent, r.newName, r.flags));
        return none;
      case 'open':
        // No open method = stateless files: fh 0, like libfuse.
        return one(encodeOpenOut(H.open ? ok(H.open.call(H, req, n, r.flags, r.openFlags)) : {}));
      case 'opendir':
        return one(encodeOpenOut(H.opendir ? ok(H.opendir.call(H, req, n, r.flags, r.openFlags)) : {}));
      case 'read': {
        const res = ok(need(H.read).call(H, req, n, r.args));
        return { payload: trimRead(res, r.args.size), counted: null };
      }
      case 'write': {
        const written = ok(need(H.write).call(H, req, n, r.args, r.data));
        return one(encodeWriteOut(written));
      }
      case 'statfs':
        // No statfs method: answer like libfuse's default (namelen 255, bsize 512).
        return one(encodeStatfsOut(H.statfs ? ok(H.statfs.call(H, req, n)) : { namelen: 255, bsize: 512 }));
      case 'release':
        if (H.release) ok(H.release.call(H, req, n, r.args));
        return none;
      case 'releasedir':
        if (H.releasedir) ok(H.releasedir.call(H, req, n, r.args));
        return none;
      case 'fsync':
        ok(need(H.fsync).call(H, req, n, r.fh, r.datasync));
        return none;
      case 'fsyncdir':
        ok(need(H.fsyncdir).call(H, req, n, r.fh, r.datasync));
        return none;
      case 'flush':
        ok(need(H.flush).call(H, req, n, r.fh, r.lockOwner));
        return none;
      case 'setxattr':
        ok(need(H.setxattr).call(H, req, n, r.name, r.value, r.flags));
        return none;
      case 'getxattr': {
        const v = need(H.getxattr).call(H, req, n, r.name);
        if (v instanceof FuseError) return failed(v);
        return one(sizedReply(typeof v === 'string' ? Buffer.from(v, 'utf8') : v, r.size));
      }
      case 'listxattr': {
        const names = ok(need(H.listxattr).call(H, req, n));
        const list = Buffer.from(names.map((s) => s + '\0').join(''), 'utf8');
        return one(sizedReply(list, r.size));
      }
      case 'removexattr':
        ok(need(H.removexattr).call(H, req, n, r.name));
        return none;
      case 'readdir': {
        const res = ok(need(H.readdir).call(H, req, n, r.args));
        const data = Buffer.isBuffer(res) ? res.subarray(0, r.args.size) : packDirents(res, r.args.size, r.args.offset);
        return one(data);
      }
      case 'readdirplus': {
        const res = ok(need(H.readdirplus).call(H, req, n, r.args));
        const { data, packed } = packDirentsPlus(res, r.args.size, r.args.offset, this.timeouts);
        const counted: number[] = [];
        for (let i = 0; i < packed; i++) {
          const e = res[i]!;
          if (e.entry.nodeid !== 0 && e.name !== '.' && e.name !== '..') counted.push(e.entry.nodeid);
        }
        this.addLookups(counted);
        return { payload: [data], counted };
      }
      case 'access':
        ok(need(H.access).call(H, req, n, r.mask));
        return none;
      case 'create': {
        const c = ok(need(H.create).call(H, req, n, r.name, r.mode, r.flags, r.umask));
        const counted = c.nodeid !== 0 ? [c.nodeid] : [];
        this.addLookups(counted);
        return { payload: [encodeCreateOut(c, this.timeouts)], counted };
      }
      case 'getlk':
        return one(encodeLkOut(ok(need(H.getlk).call(H, req, n, r.fh, r.owner, r.lock))));
      case 'setlk':
        ok(need(H.setlk).call(H, req, n, r.fh, r.owner, r.lock, r.wait));
        return none;
      case 'flock':
        ok(need(H.flock).call(H, req, n, r.fh, r.owner, r.type, r.wait));
        return none;
      case 'interrupt':
        // Handlers run to completion synchronously, so there is nothing to cancel; no reply.
        H.interrupt?.call(H, req, r.target);
        return { payload: NO_REPLY, counted: null };
      case 'lseek':
        return one(encodeLseekOut(ok(need(H.lseek).call(H, req, n, r.fh, r.offset, r.whence))));
      case 'destroy':
        this.callDestroy();
        return none;
      case 'unknown': {
        // Protocol extensions (opcodes this layer does not know) go to the handler as raw bytes.
        const res = ok(need(H.extension).call(H, req, r.opcode, r.payload));
        return { payload: Array.isArray(res) ? res : [res], counted: null };
      }
      case 'init': // handled before dispatch
        throw new FuseError(Errno.ENOSYS);
    }
  }

  private entry(res: EntryReply | FuseError | undefined): Dispatched {
    const e = ok(res as EntryReply | FuseError);
    const counted = e.nodeid !== 0 ? [e.nodeid] : [];
    this.addLookups(counted);
    return { payload: [encodeEntryOut(e, this.timeouts)], counted };
  }

  private addLookups(ids: number[]): void {
    for (const id of ids) this.lookups.set(id, (this.lookups.get(id) ?? 0) + 1);
  }

  /** A reply carrying new lookups never reached the kernel: take them back and tell the handler. */
  private undoLookups(h: InHeader, ids: number[]): void {
    const req: Request = { unique: h.unique, opcode: Opcode.FORGET, nodeid: 0, uid: h.uid, gid: h.gid, pid: h.pid };
    for (const id of ids) this.forget(req, id, 1);
  }

  private forget(req: Request, nodeid: number, nlookup: number): void {
    const left = (this.lookups.get(nodeid) ?? 0) - nlookup;
    if (left === 0) this.lookups.delete(nodeid);
    else this.lookups.set(nodeid, left);
    try {
      this.handler.forget?.({ ...req, nodeid }, nodeid, nlookup);
    } catch (e) {
      this.log(`handler forget threw: ${(e as Error)?.stack ?? String(e)}`);
    }
  }

  // ---- replies ---------------------------------------------------------------

  /** Write header + payload. Returns false if the kernel did not take the reply. */
  private reply(h: InHeader, errno: number, payload: Buffer[] | FdReply, r: FuseRequest | string): boolean {
    if (payload instanceof FdReply) {
      if (errno === 0) return this.replyFromFiles(h, payload, r);
      payload = EMPTY;
    }
    let len = Size.OUT_HEADER;
    let iov: Buffer[];
    if (errno !== 0) {
      iov = [encodeOutHeader(this.hdr, Size.OUT_HEADER, -errno, h.unique)];
    } else {
      for (const b of payload) len += b.length;
      if (payload.length + 1 > IOV_MAX) payload = [Buffer.concat(payload)];
      iov = [encodeOutHeader(this.hdr, len, 0, h.unique), ...payload];
    }
    this.traceReq(h, r, errno, errno ? 0 : len - Size.OUT_HEADER);
    try {
      this.transport.writev(iov);
      return true;
    } catch (e) {
      return this.replyFailed(h, e, len, errno);
    }
  }

  /** A reply the kernel did not take. */
  private replyFailed(h: InHeader, e: unknown, len: number, errno: number): boolean {
    const code = (e as { code?: string }).code;
    this.stats.replyFailures++;
    if (code === 'ENOENT') return false; // request was interrupted/aborted: harmless
    if (code === 'ENODEV') {
      this.end = 'unmounted';
      return false;
    }
    this.log(`reply to ${opcodeName(h.opcode)} unique=${h.unique} (${len} bytes, errno ${errno}) failed: ${(e as Error).message}`);
    return false;
  }

  /** A READ answered from file pieces: spliced when the transport can, else as buffers. */
  private replyFromFiles(h: InHeader, reply: FdReply, r: FuseRequest | string): boolean {
    const len = Size.OUT_HEADER + reply.length;
    let sent = false;
    try {
      sent = this.transport.splice?.(encodeOutHeader(this.hdr, len, 0, h.unique), reply) ?? false;
    } catch (e) {
      if (!(e instanceof ShortPieceError)) return this.replyFailed(h, e, len, 0);
      reply.onShort?.(e.message);
      this.stats.errors++;
      return this.reply(h, Errno.EIO, EMPTY, r);
    }
    if (sent) {
      this.traceReq(h, r, 0, len - Size.OUT_HEADER);
      return true;
    }
    let bufs: Buffer[];
    try {
      bufs = reply.fallback ? reply.fallback() : [readPieces(reply)];
    } catch (e) {
      if (e instanceof ShortPieceError) reply.onShort?.(e.message);
      this.stats.errors++;
      const errno = errnoOf(e);
      if (errno === null) this.log(`handler's READ fallback threw on nodeid=${h.nodeid}: ${(e as Error)?.stack ?? String(e)}`);
      return this.reply(h, errno ?? Errno.EIO, EMPTY, r);
    }
    return this.reply(h, 0, bufs, r);
  }

  private traceReq(h: InHeader, r: FuseRequest | string, errno: number, bytes: number): void {
    if (!this.trace) return;
    try {
      this.traceOne(h, r, errno, bytes);
    } catch {
      /* a failing debug hook must not break serving */
    }
  }

  private traceOne(h: InHeader, r: FuseRequest | string, errno: number, bytes: number): void {
    this.trace!({
      unique: h.unique,
      opcode: h.opcode,
      opname: opcodeName(h.opcode),
      nodeid: h.nodeid,
      pid: h.pid,
      errno,
      bytes,
      detail: typeof r === 'string' ? r : describe(r),
    });
  }
}

// ---- helpers -------------------------------------------------------------------

/** Operations the kernel never expects an answer to. */
function isNoReplyOp(op: number): boolean {
  return op === Opcode.FORGET || op === Opcode.BATCH_FORGET || op === Opcode.INTERRUPT;
}

/** The method, or ENOSYS. */
function need<F>(f: F | undefined): F {
  if (!f) throw new FuseError(Errno.ENOSYS);
  return f;
}

/** What dispatch answers: a payload (or NO_REPLY), the lookups it counted, or an errno. */
interface Dispatched {
  payload: Payload;
  counted: number[] | null;
  errno?: number;
}

/** A FuseError the handler returned, answered without a throw. */
function failed(e: FuseError): Dispatched {
  return { payload: EMPTY, counted: null, errno: e.errno };
}

/** Unwrap a handler result: a returned FuseError is thrown. */
function ok<T>(v: T | FuseError): T {
  if (v instanceof FuseError) throw v;
  return v;
}

/** GETXATTR/LISTXATTR: size 0 = "how big?", too small = ERANGE. */
function sizedReply(value: Buffer, size: number): Buffer {
  if (size === 0) return encodeGetxattrOut(value.length);
  if (value.length > size) throw new FuseError(Errno.ERANGE);
  return value;
}

function writeStderr(s: string): void {
  try {
    fs.writeSync(2, s);
  } catch {
    /* stderr gone: nothing to do */
  }
}


