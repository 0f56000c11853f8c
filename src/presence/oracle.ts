/**
 * PresenceOracle: which pending frees every host has let go of. A file's space is releasable
 * when every live slot has replayed past its delete, does not hold it (list or overflow floor)
 * and has no write intent on it. Gone slots matter only through write intents and, for a
 * kernel-mode host (whose mappings cannot be revoked), through everything it held or had not
 * yet seen deleted. An unreadable slot holds everything.
 */
import { HOLD_ALL, type PendingFree, type ReleaseOracle } from '../alloc/reclaim.js';
import { PRESENCE_OFFSET, PRESENCE_SIZE } from '../format/constants.js';
import type { Device } from '../device/device.js';
import { slotHolds, type PresenceSlot } from '../format/presence.js';
import { PresenceArea } from './area.js';
import { LivenessTracker, type Liveness } from './liveness.js';

export interface HoldReason {
  slot: number;
  label: string;
  why: 'not replayed' | 'held' | 'write intent' | 'kernel mapping' | 'unreadable slot';
}

export class PresenceOracle implements ReleaseOracle {
  constructor(private readonly area: PresenceArea, readonly tracker: LivenessTracker) {}

  /** Read every slot and update the liveness record. */
  snapshot(): { slots: (PresenceSlot | null)[]; liveness: Liveness[] } {
    const slots = this.area.readAll();
    this.tracker.observe(slots);
    return { slots, liveness: slots.map((s) => (s ? this.tracker.judge(s) : 'live')) };
  }

  releasable(pending: readonly PendingFree[]): Set<number> {
    const out = new Set<number>();
    if (pending.length === 0) return out;
    const snap = this.snapshot();
    for (const p of pending) if (holders(snap, p).length === 0) out.add(p.fileId);
    return out;
  }

  /** Who keeps a pending free (for fsck and `famfs hosts`). */
  holders(p: PendingFree): HoldReason[] {
    return holders(this.snapshot(), p);
  }
}

export function holders(snap: { slots: (PresenceSlot | null)[]; liveness: Liveness[] }, p: PendingFree): HoldReason[] {
  const out: HoldReason[] = [];
  snap.slots.forEach((s, i) => {
    if (!s) return void out.push({ slot: i, label: '?', why: 'unreadable slot' });
    const l = snap.liveness[i];
    if (l === 'absent') return;
    const r = (why: HoldReason['why']): void => void out.push({ slot: i, label: s.label, why });
    if (s.intents.includes(p.fileId)) return r('write intent');
    if (l === 'live') {
      if (s.replayed <= p.deleteIndex) return r('not replayed');
      if (slotHolds(s, p.fileId, p.deleteIndex)) return r('held');
      return;
    }
    if (s.kernelMode && (s.replayed <= p.deleteIndex || slotHolds(s, p.fileId, p.deleteIndex))) r('kernel mapping');
  });
  return out;
}

/**
 * The oracle of a file system opened on `device`; HOLD_ALL (nothing is released) when this
 * view of the device does not reach the presence area (a kernel-mode mount's metadata view).
 * A short-lived opener (a CLI writer) has not watched anyone for a lease, so it calls no host
 * gone: every slot with state live counts, which is the conservative choice.
 */
export function presenceOracle(device: Device, leaseMs: number): ReleaseOracle {
  try {
    device.view(PRESENCE_OFFSET, PRESENCE_SIZE);
    return new PresenceOracle(new PresenceArea(device), new LivenessTracker(leaseMs));
  } catch {
    return HOLD_ALL;
  }
}
