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
import { PresenceControl } from './control.js';
import { beatMs, monoMs } from './lease.js';

export interface BeatInit {
  device: string;
  control: SharedArrayBuffer;
}

const d = workerData as BeatInit;
const ctl = new PresenceControl(d.control);
const dev = Device.open(d.device, { writable: true });
dev.mapHead(PRESENCE_OFFSET + PRESENCE_SIZE);
const area = new PresenceArea(dev);

function tick(): void {
  if (ctl.stale) return;
  const slot = ctl.slot;
  if (slot < 0) return;
  const now = monoMs();
  if (now - ctl.lastBeat > ctl.leaseMs / 2) {
    if (ctl.markStale()) parentPort?.postMessage({ stale: `no heartbeat for ${now - ctl.lastBeat} ms (more than half the ${ctl.leaseMs} ms lease): this host was paused or starved` });
    return;
  }
  const s = area.read(slot);
  if (!s || s.state !== 'live' || s.token !== ctl.token) {
    if (ctl.markStale()) parentPort?.postMessage({ stale: `presence slot ${slot} is no longer ours (${s ? s.state : 'unreadable'}${s && s.token !== ctl.token ? ', another token' : ''})` });
    return;
  }
  area.storeWord(slot, P.HEARTBEAT, area.loadWord(slot, P.HEARTBEAT) + 1);
  ctl.beat(now);
}

setInterval(tick, beatMs(ctl.leaseMs));
parentPort?.postMessage({ ready: true });
