/**
 * Warm the daemon's request path before the mount reports ready. A fresh daemon runs its
 * first few thousand requests in V8's interpreter and baseline tiers: the first `stat`
 * burst after a mount paid for that (docs/performance.md). Here the daemon sends itself
 * LOOKUPs through its own mount, a few at a time so that every worker thread gets some:
 * names that do not exist (the kernel keeps no negative entry for them, so each one reaches
 * a worker and nothing stays cached) and one listing of the root.
 */
import fs from 'node:fs';

export interface WarmUpOptions {
  /** LOOKUPs to send at most. */
  lookups?: number;
  /** Stop after this long (ms), whatever is left. */
  budgetMs?: number;
  /** Requests in flight (the libuv pool runs at most 4 at a time). */
  parallel?: number;
}

/** Returns how many LOOKUPs were answered. Errors other than ENOENT end it early, silently: it is only a warm-up. */
export async function warmUp(mountpoint: string, o: WarmUpOptions = {}): Promise<number> {
  const total = o.lookups ?? 4000;
  const end = Date.now() + (o.budgetMs ?? 250);
  let sent = 0;
  let answered = 0;
  let failed = false;
  const one = async (): Promise<void> => {
    while (!failed && sent < total && Date.now() < end) {
      const name = `${mountpoint}/.famfs-warm-up-${sent++}`;
      try {
        await fs.promises.lstat(name);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') failed = true;
      }
      answered++;
    }
  };
  try {
    await fs.promises.readdir(mountpoint);
  } catch {
    return 0;
  }
  await Promise.all(Array.from({ length: o.parallel ?? 4 }, one));
  return answered;
}
