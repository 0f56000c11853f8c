/**
 * The synchronous request loop: read one request, decode, call the handler,
 * write one reply. Works over any fd (a /dev/fuse fd or its clone) or any
 * FuseTransport (tests drive it with scripted messages).
 *
 * Design:
 * - One preallocated read buffer (max_write + 64 KiB): the kernel requires
 *   > max_write + headers, and WRITE payloads are handed out as views of it.
 * - The loop blocks its thread; run it in a worker_thread (see server.ts).
 * - The parts: transport.ts (where bytes come from and go), this file (the loop,
 *   INIT and the order of the steps), shared-init.ts (INIT across workers),
 *   dispatch.ts (opcode → handler method → reply payload, lookup counts),
 *   reply.ts (writev/splice of the reply, failed replies, the debug trace).
 */
import type { OpStatsRecorder } from './opstats.js';
import * as fs from 'node:fs';
import { decodeRequest, type DecodeContext, type InHeader } from './decode.js';
import { encodeInitOut } from './encode.js';
import { errnoOf, type FuseHandler, type InitWishes } from './handler.js';
import { DEFAULT_MAX_WRITE, defaultWantedFlags, negotiateInit } from './negotiate.js';
import { Errno, InitFlag, Opcode, opcodeName } from './protocol.js';
import type { FuseConnection, KernelInit } from './types.js';
import { formatLog } from './session-helpers.js';
import { threadPipe } from './splice.js';
import { Dispatcher, EMPTY, NO_REPLY, type Payload } from './dispatch.js';
import { ReplyWriter, type RequestLog, type SessionStats } from './reply.js';
import { publishSharedInit, readSharedInit } from './shared-init.js';
import { fdTransport, type FuseTransport } from './transport.js';

export { fdTransport, type FuseTransport } from './transport.js';
export { createSharedInit } from './shared-init.js';
export type { RequestLog } from './reply.js';

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

export class FuseSession {
  readonly transport: FuseTransport;
  readonly buffer: Buffer;
  readonly maxWrite: number;
  /** Negotiated connection (null until INIT). */
  conn: FuseConnection | null = null;
  /** Requests handled, by outcome. */
  readonly stats: SessionStats = { requests: 0, errors: 0, replyFailures: 0 };

  private readonly handler: FuseHandler;
  private readonly log: (msg: string) => void;
  private readonly dispatcher: Dispatcher;
  private readonly out: ReplyWriter;
  private ctx: DecodeContext = {};
  private stopping = false;
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
    let trace: ((e: RequestLog) => void) | null = null;
    if (typeof opts.debug === 'function') trace = opts.debug;
    else if (opts.debug) trace = (e) => writeStderr(`${label}: ${formatLog(e)}\n`);
    this.dispatcher = new Dispatcher(handler, this.log);
    this.out = new ReplyWriter(this.transport, this.stats, this.log, trace);
  }

  /**
   * Net lookup count this session has seen for nodeid. With several workers a FORGET may
   * reach a different worker than the LOOKUP: only the sum over all workers is meaningful.
   */
  lookupCount(nodeid: number): number {
    return this.dispatcher.lookupCount(nodeid);
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
        if (this.end === null && this.out.deviceGone) this.end = 'unmounted'; // a reply met ENODEV
      }
      return this.end ?? 'stopped';
    } finally {
      threadPipe().close();
      this.dispatcher.destroy();
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
      if (h && !isNoReplyOp(h.opcode)) this.out.reply(h, d.error.errno, EMPTY, 'malformed');
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
        if (!isNoReplyOp(h.opcode)) this.out.reply(h, Errno.EIO, EMPTY, '');
        return;
      }
    }
    let payload: Payload;
    let errno = 0;
    let counted: number[] | null = null;
    try {
      const res = this.dispatcher.dispatch(h, r);
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
      this.out.traceReq(h, r, -1, 0);
      return;
    }
    if (errno !== 0) this.stats.errors++;
    const ok = this.out.reply(h, errno, payload, r);
    if (!ok && counted) this.dispatcher.undoLookups(h, counted);
  }

  // ---- INIT ----------------------------------------------------------------

  private doInit(h: InHeader, kernel: KernelInit): void {
    if (this.conn) {
      this.log('second INIT on one connection');
      this.out.reply(h, Errno.EPROTO, EMPTY, 'init');
      return;
    }
    const wishes = this.wishes(kernel);
    const neg = negotiateInit(kernel, wishes, { maxWrite: this.maxWrite, defaultFlags: defaultWantedFlags(this.handler) });
    if (!neg.ok) {
      this.log(neg.message);
      this.out.reply(h, neg.errno, EMPTY, 'init');
      this.end = 'protocol';
      return;
    }
    const outBytes = encodeInitOut(neg.out);
    try {
      this.adopt(neg.conn, wishes, true);
    } catch (e) {
      this.log(`handler init failed: ${(e as Error)?.stack ?? String(e)}`);
      this.out.reply(h, Errno.EIO, EMPTY, 'init');
      return;
    }
    // Publish before replying: no other request can arrive before the reply.
    if (this.opts.sharedInit) publishSharedInit(this.opts.sharedInit, kernel, outBytes);
    this.out.reply(h, 0, [outBytes], 'init');
  }

  /** A worker that did not get INIT: adopt the one another worker published. */
  private lazyInit(): boolean {
    const shared = this.opts.sharedInit ? readSharedInit(this.opts.sharedInit) : null;
    if (!shared) return false;
    this.adopt(shared.conn, this.wishes(shared.kernel), false);
    return true;
  }

  private wishes(kernel: KernelInit): InitWishes {
    return this.handler.initWishes?.(kernel) ?? {};
  }

  private adopt(conn: FuseConnection, wishes: InitWishes, received: boolean): void {
    this.ctx = { setxattrExt: (conn.flags & InitFlag.SETXATTR_EXT) !== 0n };
    this.dispatcher.timeouts = { entryTimeout: wishes.entryTimeout ?? 1, attrTimeout: wishes.attrTimeout ?? 1 };
    this.handler.init?.(conn);
    this.conn = conn;
    this.opts.onInit?.(conn, received);
  }
}

/** Operations the kernel never expects an answer to. */
function isNoReplyOp(op: number): boolean {
  return op === Opcode.FORGET || op === Opcode.BATCH_FORGET || op === Opcode.INTERRUPT;
}

function writeStderr(s: string): void {
  try {
    fs.writeSync(2, s);
  } catch {
    /* stderr gone: nothing to do */
  }
}
