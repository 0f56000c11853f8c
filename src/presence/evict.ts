/**
 * `famfs hosts` and `--evict`: watch the presence area for a while (liveness is judged on this
 * process's own clock, so a host is called gone only after this command has watched it stay
 * silent for a whole lease), and free a gone host's slot so that its holds stop counting.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PresenceSlot } from '../format/presence.js';
import { FamfsError } from '../api/errors.js';
import type { PresenceArea } from './area.js';
import { beatMs } from './lease.js';
import { LivenessTracker, type Liveness } from './liveness.js';

export interface HostRow extends PresenceSlot {
  liveness: Liveness | 'unreadable';
  /** How long this command saw its heartbeat stand still (ms). */
  silentMs: number;
}

/** Watch for `watchMs` (at least two beat periods), sampling every beat period. */
export async function watchHosts(area: PresenceArea, leaseMs: number, watchMs: number): Promise<HostRow[]> {
  const tracker = new LivenessTracker(leaseMs);
  const step = beatMs(leaseMs);
  const end = Date.now() + Math.max(watchMs, 2 * step + 10);
  let slots = area.readAll();
  tracker.observe(slots);
  while (Date.now() < end) {
    await sleep(Math.min(step, Math.max(1, end - Date.now())));
    slots = area.readAll();
    tracker.observe(slots);
  }
  return slots.map((s, i) => {
    if (!s) return { ...emptyRow(i), liveness: 'unreadable', silentMs: 0 };
    const silent = tracker.silentFor(i) ?? 0;
    // Shorter than a lease of watching: a silent slot is "live" for the oracle; say how long it was silent.
    return { ...s, liveness: tracker.judge(s), silentMs: s.state === 'live' ? silent : 0 };
  });
}

function emptyRow(i: number): PresenceSlot {
  return { index: i, state: 'live', token: 0n, kernelMode: false, role: 'none', replayed: 0, pid: 0, systemUuid: '', label: '?', held: [], heartbeat: 0, intents: [] };
}

/**
 * Free slot `i` after watching it stay silent for a whole lease (its token unchanged); returns
 * what it showed. The oracle then ignores it: a kernel-mode host's mappings, if that host still runs, are no
 * longer protected, which is why this is an administrator's decision.
 */
export async function evictSlot(area: PresenceArea, leaseMs: number, i: number, log: (m: string) => void): Promise<PresenceSlot> {
  const first = area.read(i);
  if (!first) throw new FamfsError(`slot ${i} is unreadable (an update that never ends); it cannot be evicted safely`, 'EBUSY');
  if (first.state !== 'live') throw new FamfsError(`slot ${i} is ${first.state}: nothing to evict`, 'EINVAL');
  const tracker = new LivenessTracker(leaseMs);
  tracker.observe([first]);
  log(`watching slot ${i} (${first.label || '?'}, pid ${first.pid}) for one lease (${leaseMs} ms) to be sure it is silent`);
  const end = Date.now() + leaseMs + beatMs(leaseMs);
  while (Date.now() < end) {
    await sleep(beatMs(leaseMs));
    const s = area.read(i);
    if (!s) continue;
    tracker.observe([s]);
    if (s.token !== first.token || s.heartbeat !== first.heartbeat || s.state !== 'live') {
      throw new FamfsError(`slot ${i} is not silent (its heartbeat moved or it changed hands): that host is running; stop it or unmount it there`, 'EBUSY');
    }
  }
  if (tracker.judge(first) !== 'gone') throw new FamfsError(`slot ${i} was not silent for a whole lease`, 'EBUSY');
  area.clear(i);
  return first;
}
