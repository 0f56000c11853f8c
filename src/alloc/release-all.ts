/**
 * The oracle for a file system no host uses (or a single host that holds nothing): every
 * pending free is releasable. Offline tools and single-host tests use it; a mounted file
 * system must use the presence area's oracle instead (issue 14 part B).
 */
import type { PendingFree, ReleaseOracle } from './reclaim.js';

export const RELEASE_ALL: ReleaseOracle = { releasable: (pending: readonly PendingFree[]) => new Set(pending.map((p) => p.fileId)) };
