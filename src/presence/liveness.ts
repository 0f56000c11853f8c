/**
 * Who is live, judged on this process's own clock: clocks of different hosts are not assumed
 * synchronized, only to run at similar rates. A slot counts as gone once its heartbeat (and
 * token) has not changed for a whole lease since this observer first saw it: a short-lived
 * observer (a CLI writer) therefore cannot call anyone gone before it has watched a lease.
 */
import type { PresenceSlot } from '../format/presence.js';
import { monoMs } from './lease.js';

export type Liveness = 'absent' | 'live' | 'gone';

interface Seen {
  token: bigint;
  heartbeat: number;
  changedAt: number;
}

export class LivenessTracker {
  private readonly seen = new Map<number, Seen>();

  constructor(readonly leaseMs: number, private readonly now: () => number = monoMs) {}

  /** Record what the slots show now (call before judging them). */
  observe(slots: readonly (PresenceSlot | null)[]): void {
    const t = this.now();
    for (const s of slots) {
      if (!s) continue;
      const prev = this.seen.get(s.index);
      if (!prev || prev.token !== s.token || prev.heartbeat !== s.heartbeat) this.seen.set(s.index, { token: s.token, heartbeat: s.heartbeat, changedAt: t });
    }
  }

  /** free and left slots are absent; a live slot is gone once silent for a lease. */
  judge(s: PresenceSlot): Liveness {
    if (s.state !== 'live') return 'absent';
    const seen = this.seen.get(s.index);
    if (!seen || seen.token !== s.token || seen.heartbeat !== s.heartbeat) return 'live';
    return this.now() - seen.changedAt >= this.leaseMs ? 'gone' : 'live';
  }

  /** How long slot i's heartbeat has been still, as far as this observer knows (ms). */
  silentFor(i: number): number | undefined {
    const seen = this.seen.get(i);
    return seen ? this.now() - seen.changedAt : undefined;
  }
}
