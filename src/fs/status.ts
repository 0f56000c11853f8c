/**
 * What a running daemon says about itself (`famfs status`): published as the
 * xattr user.famfs.status (JSON) on every node of the mount, so any user who
 * may read the mount can ask — no socket, no device access.
 */
import type { Famfs } from '../api/famfs.js';
import { VERSION } from '../api/version.js';
import { summarizeOpStats, type OpStat } from '../fuse/opstats.js';
import { opcodeName } from '../fuse/protocol.js';
import { FUSE_GET_DAXDEV, FUSE_GET_FMAP } from './kernel.js';
import type { PresenceSummary } from './presence-gate.js';

export interface DeviceUse {
  index: number;
  path: string;
  capacity: number;
  used: number;
  free: number;
}

export interface DaemonStatus {
  version: string;
  pid: number;
  uptimeS: number;
  role: string;
  dataPath: string;
  uuid: string;
  devices: DeviceUse[];
  log: { used: number; capacity: number };
  /** Files and directories made through a master mount, not yet logged. */
  pendingNodes: number;
  /** Master mounts: files the FUSE workers made without a call to the main thread (newpool.ts). */
  workerCreates?: number;
  requests: OpStat[];
  /** File systems with the presence area: this host's slot and the other hosts it sees. */
  presence?: PresenceSummary;
}

/** The root's xattr holding the JSON status. */
export const STATUS_XATTR = 'user.famfs.status';

const famfsOpName = (op: number): string => (op === FUSE_GET_FMAP ? 'GET_FMAP' : op === FUSE_GET_DAXDEV ? 'GET_DAXDEV' : opcodeName(op));

export function daemonStatus(famfs: Famfs, o: { role: string; dataPath: string; startedMs: number; pending: number; workerCreates?: number; devices?: string[]; opStats?: SharedArrayBuffer; presence?: PresenceSummary }): DaemonStatus {
  const h = famfs.log.readHeader();
  const use = (index: number, bm: { capacity: number; usedBytes: number; freeBytes: number }): DeviceUse => ({
    index, path: o.devices?.[index] || famfs.devicePath(index) || '', capacity: bm.capacity, used: bm.usedBytes, free: bm.freeBytes,
  });
  const devices = [use(0, famfs.buildBitmap().bitmap)];
  for (const d of famfs.daxdevs) {
    try {
      devices.push(use(d.index, famfs.deviceBitmap(d.index).bitmap));
    } catch {
      /* a device without a size: nothing to report */
    }
  }
  return {
    version: VERSION,
    pid: process.pid,
    uptimeS: Math.round((Date.now() - o.startedMs) / 100) / 10,
    role: o.role,
    dataPath: o.dataPath,
    uuid: famfs.sb.uuid,
    devices,
    log: { used: Math.min(h.nextIndex, h.lastIndex + 1), capacity: h.lastIndex + 1 },
    pendingNodes: o.pending,
    ...(o.workerCreates !== undefined ? { workerCreates: o.workerCreates } : {}),
    requests: o.opStats ? summarizeOpStats(o.opStats, famfsOpName) : [],
    ...(o.presence ? { presence: o.presence } : {}),
  };
}
