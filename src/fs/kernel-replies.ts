/**
 * Kernel mode's two questions (reference fuse-kernel.md §1): GET_FMAP (a file's map, once
 * per open) and GET_DAXDEV (a device index's local path). The rules for which maps a famfs
 * kernel may see live here; famfs-fs.ts only dispatches the opcodes.
 */
import type { FileNode } from '../meta/tree.js';
import { mapProblem, type Geometry } from '../meta/validate.js';
import { FuseError } from '../fuse/handler.js';
import { Errno } from '../fuse/protocol.js';
import { encodeDaxdevReply, encodeGetFmapReply, fmapKernelProblem, FAMFS_MAX_DAXDEVS, FMAP_REPLY_MAX } from '../map/export/index.js';
import { metaFileType } from './metafiles.js';
import type { AnyNode, Served } from './newnodes.js';

/**
 * The V10 kernel verified in reference §7 fails open(2) with EINVAL for any se_devindex ≠ 0,
 * so such maps are refused here (EIO, logged) rather than sent. Files on devices > 0 are
 * served by the daemon data path.
 */
export const KERNEL_DEVINDEX_ZERO_ONLY = true;

/** What a GET_FMAP answer needs from the file system serving it. */
export interface FmapSource {
  node(id: number): AnyNode | undefined;
  /** A file still being written on the master: it has no fixed map yet. */
  isNew(id: number): boolean;
  /** False for a deleted file this host holds no open of (file systems with presence). */
  mayMap(f: FileNode | Served): boolean;
  geometry: Geometry;
}

/**
 * The GET_FMAP reply for a regular file. Unknown inode → EINVAL, no fmap (directory,
 * file still being written on the master) → ENOENT, a map the kernel must not see
 * (outside the device or data area, unaligned, beyond the kernel's limits) → EIO.
 */
export function fmapReply(src: FmapSource, nodeid: number): Buffer | FuseError {
  const n = src.node(nodeid);
  if (!n) return new FuseError(Errno.EINVAL, `GET_FMAP: unknown node ${nodeid}`);
  if (('kind' in n && n.kind !== 'file') || src.isNew(nodeid)) return new FuseError(Errno.ENOENT, `GET_FMAP: node ${nodeid} has no fmap`);
  const f = n as FileNode | Served;
  const meta = 'meta' in f && f.meta;
  if (!src.mayMap(f)) return new FuseError(Errno.ENOENT, `GET_FMAP ${f.path}: deleted, and not held by an open on this host`);
  const problem = (meta ? undefined : mapProblem(f.map, f.size, src.geometry)) ?? fmapKernelProblem(f.map, f.size, { devindexZeroOnly: KERNEL_DEVINDEX_ZERO_ONLY });
  if (problem) return new FuseError(Errno.EIO, `GET_FMAP ${f.path}: ${problem}`);
  const bytes = encodeGetFmapReply(f.map, f.size, metaFileType(f.id));
  if (bytes.length > FMAP_REPLY_MAX) return new FuseError(Errno.EIO, `GET_FMAP ${f.path}: reply of ${bytes.length} bytes`);
  return bytes;
}

/** The 280-byte GET_DAXDEV reply; index out of range → EINVAL. */
export function daxdevReply(index: number, ndevices: number, devicePath: (index: number) => string | undefined): Buffer | FuseError {
  const path = index < FAMFS_MAX_DAXDEVS && index < ndevices ? devicePath(index) : undefined;
  if (path === undefined) return new FuseError(Errno.EINVAL, `GET_DAXDEV: no device ${index}`);
  try {
    return encodeDaxdevReply(index, path);
  } catch (e) {
    return new FuseError(Errno.EINVAL, `GET_DAXDEV ${index}: ${(e as Error).message}`);
  }
}
