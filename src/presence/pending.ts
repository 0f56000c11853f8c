/**
 * The files a replay has removed but whose space is not free yet (the Replayer's pending
 * frees, through the library).
 */
import type { PendingFree } from '../alloc/reclaim.js';
import type { Famfs } from '../api/famfs.js';

export function pendingFrees(famfs: Famfs): readonly PendingFree[] {
  return famfs.pendingFrees;
}
