/**
 * The files a replay has removed but whose space is not free yet. Part A's Replayer lists
 * them (`pending`); this adapter keeps the presence code independent of where it lives.
 */
import type { PendingFree } from '../alloc/reclaim.js';
import type { Famfs } from '../api/famfs.js';

export function pendingFrees(famfs: Famfs): readonly PendingFree[] {
  return (famfs as unknown as { pending?: readonly PendingFree[] }).pending ?? [];
}
