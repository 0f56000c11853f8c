/**
 * READs below 1 MiB of device files on this kernel's page cache, read with pread into one
 * reply buffer per worker (the session writes a reply out before it reads the next request).
 * That costs a second copy but no first-touch page faults of the worker's own mapping and no
 * 1 GiB window (a full GC when V8 counts it); 1 MiB reads stay on the mapping, whose single
 * copy wins once its pages are mapped (docs/performance.md, "Reads").
 * FAMFS_READ_FD=0 keeps every READ on the mapping (to compare).
 */
import type { Famfs } from '../api/famfs.js';
import type { FileMap } from '../format/types.js';

const ENABLED = process.env.FAMFS_READ_FD !== '0';
const BELOW = 1 << 20;

export class FdReads {
  private buf = Buffer.alloc(0);

  constructor(private readonly famfs: Famfs) {}

  /** File bytes [offset, +size) clamped to the file, or undefined: read them through the mapping. */
  read(file: { map: FileMap; size: number }, offset: number, size: number): Buffer | undefined {
    if (!ENABLED || size >= BELOW) return undefined;
    const want = Math.min(size, file.size - offset);
    if (this.buf.length < want) this.buf = Buffer.allocUnsafe(Math.max(want, 128 << 10));
    return this.famfs.readThroughFd(file, offset, want, this.buf);
  }
}
