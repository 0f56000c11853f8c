import type { RpcChannel } from './rpc.js';
import type { DataPathChoice } from './kernel.js';

/** What the daemon hands each worker (structured-clonable). */
export interface FamfsMountConfig {
  device: string;
  mountpoint: string;
  /** Entry/attribute cache timeout in seconds. */
  timeout: number;
  /** Serve as a client even on the master host (no metadata changes through this mount). */
  forceClient: boolean;
  verbose: boolean;
  /** Time stamps reported for every node (ms since epoch): famfs keeps none in its log. */
  mountTimeMs: number;
  /** Int32Array flags shared by all threads; see StateFlag. */
  state: SharedArrayBuffer;
  /** Calls to the main thread's metadata service (master mounts). */
  rpc: RpcChannel;
  /** Master mounts: new files' sizes, written by workers without a call (newslots.ts). */
  newFiles?: SharedArrayBuffer;
  /** Where file data is served: 'auto' (default), 'kernel' (famfs FUSE extensions) or 'daemon'. */
  dataPath?: DataPathChoice;
  /** The main thread found a famfs-enabled kernel (/proc/kallsyms). */
  famfsKernel?: boolean;
  /** A group (gid) allowed to read .meta/.log and .meta/.superblock (default: root only). */
  metaGroup?: number;
  /**
   * Kernel mode: bytes [0, LOG_OFFSET + log size) of the device (superblock and log), read
   * before it was bound to fsdev_dax and kept current by the main thread's watcher. The
   * workers replay from it: in that mode nothing can map the device.
   */
  metaImage?: SharedArrayBuffer;
  /** Local paths of the devices by index (index 0 = `device`); multi-device file systems. */
  devices?: string[];
  /**
   * -o cache: logged files are read through this host's page cache and kept there across
   * opens (FOPEN_KEEP_CACHE) instead of FOPEN_DIRECT_IO; see docs/fuse.md for when that is right.
   */
  cache?: boolean;
  /** FUSE max_pages to ask for (the kernel caps it at fs.fuse.max_pages_limit); default from max_write. */
  maxPages?: number;
  /** File systems with the presence area: this host's presence state and open-count table (issue 14). */
  presence?: import('../fs/presence-gate.js').PresenceShared;
  /** The statfs figure shared by the worker threads (shared-statfs.ts). */
  statfs?: SharedArrayBuffer;
  /** Per-opcode request statistics the FUSE workers record (for `famfs status`). */
  opStats?: SharedArrayBuffer;
}

export const StateFlag = {
  /** Set by the watcher when the device was re-formatted or its superblock destroyed. */
  STALE: 0,
  /** Number of new files not yet committed (0 lets workers skip asking the main thread). */
  PENDING: 1,
} as const;
