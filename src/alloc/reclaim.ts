/**
 * Space of deleted files (issue 14): a deleted or replaced file's extents stay allocated
 * until every live host has replayed past the delete and none of them holds the file
 * open or mapped. The allocator asks a ReleaseOracle which pending frees are safe now.
 */
import type { FileMap } from '../format/types.js';

/** A deleted (or replaced) file whose extents are not free yet. */
export interface PendingFree {
  /** The file's id: the log slot that created it (a rename keeps it). */
  fileId: number;
  /** The slot of the DELETE or RENAME entry that removed it. */
  deleteIndex: number;
  path: string;
  size: number;
  map: FileMap;
}

export interface ReleaseOracle {
  /**
   * The fileIds among `pending` whose space may be reused now. Anything it cannot decide
   * yet (a host not known to be gone, a host that still holds the file) stays pending.
   */
  releasable(pending: readonly PendingFree[]): Set<number>;
}

/** For a file system without the presence area (no deletes can exist there): nothing is released. */
export const HOLD_ALL: ReleaseOracle = { releasable: () => new Set() };
