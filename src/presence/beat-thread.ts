/**
 * The heartbeat thread: bumps this host's heartbeat every lease / 20 (≥ 50 ms) from a thread
 * that shares nothing with the FUSE request loops or the main thread's log work. It stops
 * beating, and marks the host stale, when it finds its own last beat older than half a lease
 * (the process was paused or starved) or its token gone from its slot (evicted, or taken).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PRESENCE_OFFSET, PRESENCE_SIZE } from '../format/constants.js';
import { P } from '../format/presence.js';
import { Device } from '../device/device.js';
import { PresenceArea } from './area.js';
import { mountedPresenceDevice } from './mounted-area.js';
import { PresenceControl } from './control.js';
import { beatMs, monoMs } from './lease.js';

export interface BeatInit {
  device: string;
  control: SharedArrayBuffer;
  /** Kernel mode: the mount's `.meta/.superblock`, mapped writable instead of the device. */
  superblockFile?: string;
}

const d = workerData as BeatInit;
const ctl = new PresenceControl(d.control);
const area = new PresenceArea(openArea());

function openArea(): Device {
  if (d.superblockFile) return mountedPresenceDevice(d.device, d.superblockFile);
  const dev = Device.open(d.device, { writable: true });
  dev.mapHead(PRESENCE_OFFSET + PRESENCE_SIZE);
  return dev;
}

function tick(): void {
  if (ctl.stale || ctl.joining || ctl.lastBeat === 0) return; // not incarnated yet
  const slot = ctl.slot;
  // Nothing to beat for until the main thread has joined (lastBeat 0: no incarnation yet).
  if (slot < 0 || ctl.lastBeat === 0) return;
  const now = monoMs();
  if (now - ctl.lastBeat > ctl.leaseMs / 2) {
    if (ctl.markStale()) parentPort?.postMessage({ stale: `no heartbeat for ${now - ctl.lastBeat} ms (more than half the ${ctl.leaseMs} ms lease): this host was paused or starved` });
    return;
  }
  const s = area.read(slot);
  // Unreadable: mostly our own main thread in the middle of publishing (a seqlock read gives up
  // after a few microseconds; a loaded machine deschedules the writer for longer). Not a sign of
  // losing the slot: no beat this tick, look again at the next (still stale after half a lease).
  if (!s) return;
  if (s.state !== 'live' || s.token !== ctl.token) {
    if (ctl.markStale()) parentPort?.postMessage({ stale: `presence slot ${slot} is no longer ours (${s.state}${s.token !== ctl.token ? ', another token' : ''})` });
    return;
  }
  area.storeWord(slot, P.HEARTBEAT, area.loadWord(slot, P.HEARTBEAT) + 1);
  ctl.beat(now);
}

const timer = setInterval(tick, beatMs(ctl.leaseMs));
parentPort?.on('message', (m: { stop?: boolean }) => {
  if (!m.stop) return;
  clearInterval(timer);
  area.device.close();
  parentPort?.postMessage({ stopped: true });
});
parentPort?.postMessage({ ready: true });
