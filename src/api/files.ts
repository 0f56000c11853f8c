/**
 * Files as a library user sees them: stat records, directory listings, and
 * the bytes of a file as chunks — zero-copy views on the shared mapping when
 * the device is open here, or reads through the mount when only the mount is
 * readable (a user without access to the device).
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import type { Readable } from 'node:stream';
import { stream } from '../sys/builtin.js';
import type { FileMap } from '../format/types.js';
import type { FileNode, TreeNode } from '../meta/tree.js';
import { FamfsError } from './errors.js';
import { DELETE, hasFeature } from '../format/features.js';
import type { Famfs } from './famfs.js';

export interface FamfsStat {
  /** Path relative to the file system root ('' = the root). */
  path: string;
  name: string;
  type: 'file' | 'dir' | 'symlink';
  /** Bytes (0 for directories; a symlink's target length). */
  size: number;
  /** Permission bits including setuid/setgid/sticky (no file-type bits). */
  mode: number;
  uid: number;
  gid: number;
  /** 1 for files; 2 + subdirectories for directories, as ls -l shows them. */
  nlink: number;
  /** The inode number a mount reports (stable on every host: derived from the log slot). */
  ino: number;
  /** The log slot that created it (-1 for the root). */
  index: number;
  map: FileMap | null;
  /** Symlinks only (docs/format.md): the target as stored. */
  target?: string;
}

export function statOf(n: TreeNode): FamfsStat {
  return {
    path: n.path, name: n.name, type: n.kind,
    size: n.kind === 'file' ? n.size : n.kind === 'symlink' ? Buffer.byteLength(n.target) : 0,
    mode: n.mode, uid: n.uid, gid: n.gid,
    nlink: n.kind === 'dir' ? 2 + n.subdirs : 1,
    ino: n.id, index: n.entryIndex,
    map: n.kind === 'file' ? n.map : null,
    ...(n.kind === 'symlink' ? { target: n.target } : {}),
  };
}

/** A directory's entries in name order (a file: itself). */
export function listDir(famfs: Famfs, path: string): FamfsStat[] {
  const n = famfs.lookup(path);
  if (n.kind !== 'dir') return [statOf(n)];
  return [...n.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(statOf);
}

export interface RangeOptions {
  /** First byte (default 0). */
  start?: number;
  /** One past the last byte (default: the file's size). */
  end?: number;
  /** Chunk size for reads through a mount (default 1 MiB); views on the mapping are never split further. */
  chunkSize?: number;
}

/** [start, end) of a file of `size` bytes named `name` (end clipped to the size); a bad range is EINVAL. */
export function byteRange(name: string, size: number, o: RangeOptions): [number, number] {
  const start = o.start ?? 0, end = Math.min(o.end ?? size, size);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) throw new FamfsError(`${name}: invalid range [${o.start}, ${o.end})`, 'EINVAL');
  return [start, end];
}

/** [start, end) of the open file `fd` (at `host`) in fresh Buffers of up to `chunkSize` (default 1 MiB). */
export function* readChunks(fd: number, host: string, start: number, end: number, chunkSize = 1 << 20): Generator<Buffer> {
  for (let pos = start; pos < end; ) {
    const buf = Buffer.allocUnsafe(Math.min(chunkSize, end - pos));
    const n = fs.readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) throw new FamfsError(`${host}: ended at ${pos} of ${end} bytes`, 'EIO');
    pos += n;
    yield n === buf.length ? buf : buf.subarray(0, n);
  }
}

/**
 * The bytes of [start, end) of a file, in order. With the device open: Buffer
 * views on the shared mapping, one per piece (no copy; they stay valid until
 * famfs.close()). Through a mount only: fresh Buffers read from the mount's file.
 */
export function* fileChunks(famfs: Famfs, file: FileNode, o: RangeOptions = {}): Generator<Buffer> {
  const [start, end] = byteRange(file.path, file.size, o);
  if (end === start) return;
  if (!famfs.device.metadataOnly) {
    // Another host may have written the bytes since this host last read them.
    if (!hasFeature(famfs.features, DELETE)) yield* famfs.freshSlices(file, start, end - start);
    else yield* copiedWhileLive(famfs, file, start, end, o.chunkSize);
    return;
  }
  const host = hostPath(famfs, file.path);
  const fd = fs.openSync(host, 'r');
  try {
    yield* readChunks(fd, host, start, end, o.chunkSize);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A file system with deletes: a device reader holds no presence slot, so its file may be
 * deleted and its space handed to another file while it reads. Each chunk is copied, then the
 * log is looked at: a file not deleted by then was not reused while it was copied (the space of
 * a file is reused only after its DELETE is committed). Deleted: ESTALE, never the new bytes.
 */
function* copiedWhileLive(famfs: Famfs, file: FileNode, start: number, end: number, chunkSize = 1 << 20): Generator<Buffer> {
  for (const s of famfs.freshSlices(file, start, end - start)) {
    for (let at = 0; at < s.length; at += chunkSize) {
      const copy = Buffer.from(s.subarray(at, Math.min(s.length, at + chunkSize)));
      famfs.refreshIfMoved();
      if (file.removed) throw new FamfsError(`${file.path}: deleted while being read (its space may hold another file's bytes now)`, 'ESTALE');
      yield copy;
    }
  }
}

/** A Readable of the file's bytes (the chunks of fileChunks, so zero-copy when the device is open). */
export function fileStream(famfs: Famfs, file: FileNode, o: RangeOptions = {}): Readable {
  return stream().Readable.from(fileChunks(famfs, file, o), { objectMode: false });
}

/** The host path of a file in the mount the famfs was opened through. */
export function hostPath(famfs: Famfs, rel: string): string {
  if (!famfs.mountpoint) throw new FamfsError(`${rel}: this famfs was not opened through a mount`, 'EINVAL');
  return nodePath.join(famfs.mountpoint, rel);
}

/** Write through the mount's file (for a famfs opened through its mount without the device). */
export function writeThroughMount(famfs: Famfs, file: { path: string }, offset: number, data: Buffer): number {
  const host = hostPath(famfs, file.path);
  const fd = fs.openSync(host, 'r+');
  try {
    let done = 0;
    while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, offset + done);
    return done;
  } finally {
    fs.closeSync(fd);
  }
}
