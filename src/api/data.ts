/** Moving bytes in and out of famfs files: PRNG fill and verify, copy from host files. */
import fs from 'node:fs';
import { RandomStream } from '../format/prng.js';
import type { Famfs } from './famfs.js';
import type { FileNode } from '../meta/tree.js';
import type { FileMap } from '../format/types.js';

type Mapped = { map: FileMap; size: number };
import { FamfsError } from './errors.js';
import { LOG_OFFSET } from '../format/constants.js';

/** Fill a file with upstream's PRNG stream for `seed`. */
export function randomize(famfs: Famfs, file: Mapped, seed: number): void {
  const rs = new RandomStream(seed);
  for (const s of famfs.slices(file, 0, file.size)) rs.fill(s);
  famfs.flushFile(file); // fcc-site: creat-random-flush
}

/** Offset of the first byte that differs from the PRNG stream, or -1. */
export function verify(famfs: Famfs, file: FileNode, seed: number): number {
  return verifyChunks(famfs.chunks(file), seed);
}

/** The same over any sequence of a file's bytes in order (e.g. reads through a mount). */
export function verifyChunks(chunks: Iterable<Buffer>, seed: number): number {
  const rs = new RandomStream(seed);
  let base = 0;
  for (const s of chunks) {
    const at = rs.compare(s);
    if (at >= 0) return base + at;
    base += s.length;
  }
  return -1;
}

/**
 * Copy a host file's bytes into a famfs file — inside the kernel on a file device, else
 * pread straight into the mapping — then flush. `onProgress` gets bytes done.
 */
export function copyFromHost(famfs: Famfs, file: Mapped, srcPath: string, onProgress?: (n: number) => void): void {
  const fd = fs.openSync(srcPath, 'r');
  try {
    if (famfs.throughFd(file)) copyThroughFd(famfs, file, fd, srcPath, onProgress);
    else copyIntoMapping(famfs, file, fd, srcPath, onProgress);
    famfs.flushFile(file); // fcc-site: cp-data-flush
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * File devices: the kernel copies each device piece from the source (copy_file_range), as
 * cp does; storing through the mapping instead costs a page fault per 4 KiB of a
 * tmpfs-backed device (about half the time of a 1 GiB copy, docs/performance.md).
 */
function copyThroughFd(famfs: Famfs, file: Mapped, fd: number, srcPath: string, onProgress?: (n: number) => void): void {
  let done = 0;
  const CHUNK = 64 << 20; // progress granularity
  famfs.pieces(file, 0, file.size, (dev, off, len) => {
    for (let at = 0; at < len; ) {
      const want = Math.min(CHUNK, len - at);
      const n = dev.writeFromFile(fd, done, off + at, want);
      if (n < want) throw new FamfsError(`${srcPath}: file shrank while being copied`, 'EIO');
      at += n;
      done += n;
      onProgress?.(n);
    }
  });
}

/** Other devices (DAX, simulated caches, CPU write-back): pread straight into the mapping, no bounce buffer. */
function copyIntoMapping(famfs: Famfs, file: Mapped, fd: number, srcPath: string, onProgress?: (n: number) => void): void {
  let done = 0;
  const CHUNK = 8 << 20;
  for (const s of famfs.slices(file, 0, file.size)) {
    for (let off = 0; off < s.length; ) {
      const n = fs.readSync(fd, s, off, Math.min(CHUNK, s.length - off), done);
      if (n === 0) throw new FamfsError(`${srcPath}: file shrank while being copied`, 'EIO');
      off += n;
      done += n;
      onProgress?.(n);
    }
  }
}

export interface FlushResult {
  files: number;
  bytes: number;
}

/**
 * `famfs flush`: write back and drop from this host's CPU cache the bytes of a
 * file, or of every file under a directory (the root: also the superblock and
 * the log), when the direction is unknown (upstream's hard flush).
 */
export function hardFlush(famfs: Famfs, path: string): FlushResult {
  const top = famfs.lookup(path);
  const r: FlushResult = { files: 0, bytes: 0 };
  for (const n of famfs.tree.walk(top)) {
    if (n.kind !== 'file') continue;
    famfs.invalidateFile(n); // fcc-site: famfs-flush-file
    r.files++;
    r.bytes += n.size;
  }
  if (top === famfs.tree.root) {
    const metaLen = LOG_OFFSET + famfs.sb.logLen;
    famfs.device.invalidate(0, metaLen); // fcc-site: famfs-flush-meta
    r.bytes += metaLen;
  }
  return r;
}
