/** Moving bytes in and out of famfs files: PRNG fill and verify, copy from host files. */
import fs from 'node:fs';
import { RandomStream } from '../format/prng.js';
import type { Famfs } from './famfs.js';
import type { FileNode } from '../meta/tree.js';
import type { FileMap } from '../format/types.js';

type Mapped = { map: FileMap; size: number };
import { FamfsError } from './errors.js';

/** Fill a file with upstream's PRNG stream for `seed`. */
export function randomize(famfs: Famfs, file: Mapped, seed: number): void {
  const rs = new RandomStream(seed);
  for (const s of famfs.slices(file, 0, file.size)) rs.fill(s);
  famfs.flushFile(file);
}

/** Offset of the first byte that differs from the PRNG stream, or -1. */
export function verify(famfs: Famfs, file: FileNode, seed: number): number {
  const rs = new RandomStream(seed);
  let base = 0;
  for (const s of famfs.chunks(file)) {
    const at = rs.compare(s);
    if (at >= 0) return base + at;
    base += s.length;
  }
  return -1;
}

/**
 * Copy a host file's bytes straight into the mapped file (pread into the
 * mapping, no bounce buffer), then flush. `onProgress` gets bytes done.
 */
export function copyFromHost(famfs: Famfs, file: Mapped, srcPath: string, onProgress?: (n: number) => void): void {
  const fd = fs.openSync(srcPath, 'r');
  try {
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
    famfs.flushFile(file);
  } finally {
    fs.closeSync(fd);
  }
}
