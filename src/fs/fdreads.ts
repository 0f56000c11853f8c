/**
 * READs of device files on this kernel's page cache, answered through the device fd instead
 * of the worker's mapping (no first-touch page faults of the mapping, no 1 GiB window, which
 * V8 counts and answers with a full GC):
 * - splice(): as file pieces (FdReply) that the session splices from the device into
 *   /dev/fuse, one kernel copy straight into the reader's buffer (src/fuse/splice.ts), when
 *   this thread's pipe holds the whole READ; FAMFS_READ_SPLICE=0 turns this off;
 * - read(): below 1 MiB, with pread into one reply buffer per worker (the session writes a
 *   reply out before it reads the next request): a second copy, but no faults; 1 MiB reads
 *   that cannot splice stay on the mapping, whose single copy wins once its pages are mapped.
 * FAMFS_READ_FD=0 keeps every READ on the mapping (to compare). docs/performance.md, "Reads".
 */
import type { Famfs } from '../api/famfs.js';
import type { FileMap } from '../format/types.js';
import { FdReply } from '../fuse/splice.js';

const ENABLED = process.env.FAMFS_READ_FD !== '0';
const SPLICE = ENABLED && process.env.FAMFS_READ_SPLICE !== '0';
const BELOW = 1 << 20;

type File = { map: FileMap; size: number };

export class FdReads {
  private buf = Buffer.alloc(0);

  constructor(private readonly famfs: Famfs) {}

  /**
   * File bytes [offset, +size) clamped to the file as pieces to splice, or undefined.
   * `onShort`: a piece ended early (the device shrank); `fallback`: the bytes as buffers.
   */
  splice(file: File, offset: number, size: number, onShort: (why: string) => void, fallback: () => Buffer[]): FdReply | undefined {
    if (!SPLICE) return undefined;
    const pieces = this.famfs.fdPieces(file, offset, Math.min(size, file.size - offset));
    if (!pieces) return undefined;
    const reply = new FdReply(pieces.map((p) => ({ fd: p.dev.fd, offset: p.offset, length: p.length })), onShort, fallback);
    return reply.fits() ? reply : undefined;
  }

  /** File bytes [offset, +size) clamped to the file, read with pread, or undefined: read them through the mapping. */
  read(file: File, offset: number, size: number): Buffer | undefined {
    if (!ENABLED || size >= BELOW) return undefined;
    const want = Math.min(size, file.size - offset);
    if (this.buf.length < want) this.buf = Buffer.allocUnsafe(Math.max(want, 128 << 10));
    return this.famfs.readThroughFd(file, offset, want, this.buf);
  }
}
