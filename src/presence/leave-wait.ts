/**
 * `famfs umount` and the presence area: find this machine's daemon slot on the device before
 * unmounting, then wait (bounded) until the daemon has left it. A host powered off right
 * after `famfs umount` returned then leaves no live slot whose holds keep space.
 */
import { probeFamfs } from '../api/probe.js';
import { trySystemUuid } from '../api/sysuuid.js';
import { Device } from '../device/device.js';
import { PRESENCE_OFFSET, PRESENCE_SIZE } from '../format/constants.js';
import { PresenceArea } from './area.js';
import { hasFeature, PRESENCE } from '../format/features.js';
import { pidAlive } from './host.js';

export interface DaemonSlot {
  slot: number;
  pid: number;
  token: bigint;
}

/** The presence area of `devicePath`, or undefined (no such area, or the device cannot be mapped here: kernel mode). */
export function openArea(devicePath: string): PresenceArea | undefined {
  try {
    // The feature block is enough: no replay of the log just to unmount.
    if (!hasFeature(probeFamfs(devicePath).features, PRESENCE)) return undefined;
    const dev = Device.open(devicePath);
    dev.mapHead(PRESENCE_OFFSET + PRESENCE_SIZE);
    return new PresenceArea(dev);
  } catch {
    return undefined;
  }
}

/** Live slots of this machine (system UUID) whose daemon runs: one mount per device per host, so normally one. */
export function localDaemonSlots(area: PresenceArea): DaemonSlot[] {
  const me = trySystemUuid();
  if (!me) return [];
  return area.readAll().flatMap((s) => (s && s.state === 'live' && s.systemUuid === me && pidAlive(s.pid) ? [{ slot: s.index, pid: s.pid, token: s.token }] : []));
}

/** The live slots of one daemon (by pid and system UUID: pids of other hosts may be the same number). */
export function daemonSlots(area: PresenceArea, d: { pid: number; systemUuid: string }): DaemonSlot[] {
  return area.readAll().flatMap((s) => (s && s.state === 'live' && s.pid === d.pid && s.systemUuid === d.systemUuid ? [{ slot: s.index, pid: s.pid, token: s.token }] : []));
}

export type LeaveOutcome = { left: true } | { left: false; why: 'exited' | 'timeout'; slot: DaemonSlot };

/** Wait until no slot in `slots` shows its daemon any more; up to `ms`. */
export async function waitLeft(area: PresenceArea, slots: DaemonSlot[], ms: number): Promise<LeaveOutcome> {
  const holding = (d: DaemonSlot): boolean => {
    const s = area.read(d.slot);
    // By pid, not token: a daemon that was paused may rejoin (a new token) before it sees the unmount.
    return !s || (s.state === 'live' && s.pid === d.pid);
  };
  const end = Date.now() + ms;
  for (;;) {
    const stuck = slots.find(holding);
    if (!stuck) return { left: true };
    // A daemon that died leaves its slot behind: nothing to wait for.
    if (!pidAlive(stuck.pid)) return holding(stuck) ? { left: false, why: 'exited', slot: stuck } : { left: true };
    if (Date.now() > end) return { left: false, why: 'timeout', slot: stuck };
    await new Promise((r) => setTimeout(r, 10));
  }
}
