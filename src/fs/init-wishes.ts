/**
 * INIT: what the daemon asks of the kernel, and which data path the kernel's answer leaves
 * the mount with (kernel mode needs the famfs extension, bit 43, and 2 MiB allocation units).
 */
import { ALLOC_UNIT } from '../format/constants.js';
import type { InitWishes } from '../fuse/handler.js';
import type { FuseConnection, KernelInit } from '../fuse/types.js';
import { InitFlag } from '../fuse/protocol.js';
import type { FamfsMountConfig } from './config.js';
import { FUSE_DAX_FMAP, wantKernelMode, type DataPath } from './kernel.js';

export function initWishes(kernel: KernelInit, allocUnit: number, config: FamfsMountConfig): InitWishes {
  // Direct I/O for every file (coherent with other hosts, large READs); still allow mmap.
  // Symlinks never change once logged, so the kernel may cache their targets.
  let add = InitFlag.DIRECT_IO_ALLOW_MMAP | InitFlag.PARALLEL_DIROPS | InitFlag.DO_READDIRPLUS | InitFlag.READDIRPLUS_AUTO | InitFlag.ASYNC_READ | InitFlag.MAX_PAGES | InitFlag.BIG_WRITES | InitFlag.CACHE_SYMLINKS;
  // famfs kernel mode: accept bit 43 only from a kernel known to be famfs-enabled (the bit is ambiguous),
  // and never for small allocation units (a famfs kernel maps only 2 MiB-aligned extents).
  if (allocUnit >= ALLOC_UNIT && wantKernelMode(config.dataPath ?? 'auto', !!config.famfsKernel, kernel.flags)) add |= FUSE_DAX_FMAP | InitFlag.INIT_EXT;
  // flock stays in the kernel (per host, exactly POSIX semantics); no writeback cache.
  return { addFlags: add, removeFlags: InitFlag.FLOCK_LOCKS | InitFlag.WRITEBACK_CACHE | InitFlag.POSIX_LOCKS, entryTimeout: config.timeout, attrTimeout: config.timeout, maxPages: config.maxPages };
}

/** The data path INIT settled on; `--data-path kernel` that cannot be had fails the mount. */
export function negotiatedDataPath(conn: FuseConnection, allocUnit: number, config: FamfsMountConfig): DataPath {
  const path: DataPath = (conn.flags & FUSE_DAX_FMAP) !== 0n ? 'kernel' : 'daemon';
  if (config.dataPath === 'kernel' && allocUnit < ALLOC_UNIT) {
    throw new Error(`--data-path kernel: this famfs uses ${allocUnit}-byte allocation units; a famfs kernel maps only 2 MiB-aligned extents`);
  }
  if (config.dataPath === 'kernel' && path !== 'kernel') {
    throw new Error('--data-path kernel: the kernel did not offer the famfs FUSE extension (INIT bit 43)');
  }
  return path;
}
