/**
 * READ replies whose bytes live in files (famfs: a device file on this kernel's page cache),
 * sent with splice(2) as libfuse's FUSE_SPLICE_WRITE does: the reply header is written into a
 * pipe, the file's pages are spliced into it after the header (page references, no copy), and
 * the pipe is spliced into /dev/fuse, where the kernel copies the pages once, straight into
 * the reader's buffer. Against writev from a mapping this saves the pinning of the source
 * pages (get_user_pages of every 4 KiB page) and, for a fresh daemon, every page fault of its
 * mapping; against pread it saves a whole copy (docs/performance.md, "Default-mount reads").
 */
import * as fs from 'node:fs';
import { pipe, setPipeSize, splice, SPLICE_F_NONBLOCK } from '../sys/libc.js';

const PAGE = 4096;

/** Bytes [offset, offset+length) of the file open as `fd`. */
export interface FdPiece {
  fd: number;
  offset: number;
  length: number;
}

/**
 * A READ answer made of file pieces, in order. `onShort` is called when a piece ends early
 * (the file shrank under the daemon); the READ is then answered EIO. `fallback`: the same
 * bytes as buffers, for a transport that cannot splice (else they are read with pread).
 */
export class FdReply {
  constructor(
    readonly pieces: FdPiece[],
    readonly onShort?: (why: string) => void,
    readonly fallback?: () => Buffer[],
  ) {}

  /** True when this thread's pipe can take the whole reply (see threadPipe). */
  fits(): boolean {
    return threadPipe().fits(this);
  }

  get length(): number {
    let n = 0;
    for (const p of this.pieces) n += p.length;
    return n;
  }

  /** At most `max` bytes of this answer (the kernel asked for that many). */
  trimmed(max: number): FdReply {
    if (this.length <= max) return this;
    const out: FdPiece[] = [];
    let left = max;
    for (const p of this.pieces) {
      if (left <= 0) break;
      out.push({ fd: p.fd, offset: p.offset, length: Math.min(p.length, left) });
      left -= p.length;
    }
    return new FdReply(out, this.onShort, this.fallback);
  }

  /** Pipe slots the pieces take (a slot holds at most one page, pieces need not be aligned). */
  slots(): number {
    let n = 0;
    for (const p of this.pieces) n += Math.ceil((p.offset % PAGE + p.length) / PAGE);
    return n;
  }
}

/** A piece ended before its length: the file is shorter than the handler thought. */
export class ShortPieceError extends Error {
  readonly code = 'EIO';
}

/** The bytes of `reply` read with pread into one buffer (transports that cannot splice). */
export function readPieces(reply: FdReply): Buffer {
  const buf = Buffer.allocUnsafe(reply.length);
  let at = 0;
  for (const p of reply.pieces) {
    for (let done = 0; done < p.length;) {
      const n = fs.readSync(p.fd, buf, at + done, p.length - done, p.offset + done);
      if (n === 0) throw new ShortPieceError(`file ${p.fd}: [${p.offset + done}, +${p.length - done}) is past its end`);
      done += n;
    }
    at += p.length;
  }
  return buf;
}

/** The largest READ a daemon asks for (max_pages 4096, fs.fuse.max_pages_limit's top). */
const WANT_BYTES = (16 << 20) + 2 * PAGE;

/**
 * One pipe per thread (each worker thread loads its own copy of this module; a session's
 * send runs start to end in one synchronous call), made on first use and sized for the
 * largest READ: root with CAP_SYS_RESOURCE passes fs.pipe-max-size, others get at most it
 * (1 MiB by default: 256 page slots, one short of a 1 MiB READ and its header). A READ that
 * does not fit is answered another way.
 */
let pipeOfThread: SplicePipe | undefined;
export function threadPipe(): SplicePipe {
  return (pipeOfThread ??= new SplicePipe(process.env.FAMFS_READ_SPLICE === '0'));
}

export class SplicePipe {
  private fds: [number, number] | null = null;
  private slotsMax = 0;

  constructor(private broken = false) {}

  /** True when `reply` and its header fit in the pipe. */
  fits(reply: FdReply): boolean {
    return this.open() !== null && reply.slots() + 1 <= this.slotsMax;
  }

  /**
   * Send header + reply into `fuseFd`. false: not possible here (no pipe, too big for it),
   * nothing was sent — the caller writes the reply another way. Throws ShortPieceError
   * (nothing sent) and the Node-style errors of writing to /dev/fuse.
   */
  send(fuseFd: number, header: Buffer, reply: FdReply): boolean {
    if (!this.fits(reply)) return false;
    const [r, w] = this.fds!;
    let inPipe = fs.writeSync(w, header);
    try {
      for (const piece of reply.pieces) {
        for (let done = 0; done < piece.length;) {
          const n = splice(piece.fd, piece.offset + done, w, piece.length - done, SPLICE_F_NONBLOCK);
          if (n === 0) throw new ShortPieceError(`file ${piece.fd}: [${piece.offset + done}, +${piece.length - done}) is past its end`);
          done += n;
          inPipe += n;
        }
      }
    } catch (e) {
      this.reset();
      if (e instanceof ShortPieceError) throw e;
      return false; // EAGAIN (pipe full after all), or a file that cannot splice: write it another way
    }
    try {
      // /dev/fuse takes a whole message per splice and empties the pipe of it, even on error.
      splice(r, null, fuseFd, inPipe);
    } catch (e) {
      this.reset();
      throw e;
    }
    return true;
  }

  private open(): [number, number] | null {
    if (this.fds || this.broken) return this.fds;
    let fds: [number, number] | undefined;
    try {
      fds = pipe();
      this.slotsMax = Math.floor(biggest(fds[1]) / PAGE);
      this.fds = fds;
    } catch {
      if (fds) for (const fd of fds) fs.closeSync(fd);
      this.broken = true; // no pipe2 here (or no fd left): never try again
    }
    return this.fds;
  }

  /** Drop a pipe that may hold part of a message. */
  private reset(): void {
    if (!this.fds) return;
    for (const fd of this.fds) fs.closeSync(fd);
    this.fds = null;
  }

  /** Close the pipe (a session ended); the next send makes a new one. */
  close(): void {
    this.reset();
  }
}

/** Size the pipe as large as this process may: WANT_BYTES, else fs.pipe-max-size, else 1 MiB. */
function biggest(fd: number): number {
  let max = WANT_BYTES;
  try {
    max = Math.min(max, Number(fs.readFileSync('/proc/sys/fs/pipe-max-size', 'utf8')));
  } catch {
    /* no /proc: try the sizes below */
  }
  for (const size of [WANT_BYTES, max, 1 << 20]) {
    try {
      return setPipeSize(fd, size);
    } catch {
      /* EPERM past fs.pipe-max-size without CAP_SYS_RESOURCE: a smaller one */
    }
  }
  return 64 << 10; // a new pipe's default size
}
