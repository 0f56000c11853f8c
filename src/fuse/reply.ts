/**
 * Writing one reply: header + payload with one writev (READ data the handler returned is
 * never copied in JS), file pieces spliced when the transport can, replies the kernel
 * refuses, and the debug trace line of each answered request.
 */
import type { FuseRequest, InHeader } from './decode.js';
import { encodeOutHeader } from './encode.js';
import { errnoOf } from './handler.js';
import { Errno, Size, opcodeName } from './protocol.js';
import { describe } from './session-helpers.js';
import { FdReply, readPieces, ShortPieceError } from './splice.js';
import type { FuseTransport } from './transport.js';

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

/** Requests handled, by outcome (the session's `stats`). */
export interface SessionStats {
  requests: number;
  errors: number;
  replyFailures: number;
}

const EMPTY: Buffer[] = [];
const IOV_MAX = 1024;

export class ReplyWriter {
  /** A reply failed with ENODEV: the connection is gone (the loop ends as 'unmounted'). */
  deviceGone = false;
  private readonly hdr = Buffer.alloc(Size.OUT_HEADER);

  constructor(
    private readonly transport: FuseTransport,
    private readonly stats: SessionStats,
    private readonly log: (msg: string) => void,
    private readonly trace: ((e: RequestLog) => void) | null,
  ) {}

  /** Write header + payload. Returns false if the kernel did not take the reply. */
  reply(h: InHeader, errno: number, payload: Buffer[] | FdReply, r: FuseRequest | string): boolean {
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
      this.deviceGone = true;
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

  /** Trace line of one request (errno -1 = not answered); a failing hook is ignored. */
  traceReq(h: InHeader, r: FuseRequest | string, errno: number, bytes: number): void {
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
