/**
 * The lease of a file system with the presence area: a host whose heartbeat has not moved for
 * lease_ms (on the observer's own clock) counts as gone; a host whose own last beat is older
 * than lease_ms / 2 stops serving. Kept in feature block bytes 24..27 (0 = DEFAULT_LEASE_MS).
 */
import { DEFAULT_LEASE_MS } from '../format/constants.js';
import { EXT_VERSION, FEATURE_BLOCK_OFFSET } from '../format/features.js';
import type { Device } from '../device/device.js';

export const LEASE_FIELD_OFFSET = FEATURE_BLOCK_OFFSET + 24;
/** Shortest beat period (the owner beats every lease / 20). */
export const MIN_BEAT_MS = 50;

/** The lease of an (already checked) extended superblock on `device`. */
export function leaseMsOf(device: Device, version: number): number {
  if (version !== EXT_VERSION) return DEFAULT_LEASE_MS;
  const v = device.view(LEASE_FIELD_OFFSET, 4).readUInt32LE(0);
  return v === 0 ? DEFAULT_LEASE_MS : v;
}

export function beatMs(leaseMs: number): number {
  return Math.max(MIN_BEAT_MS, Math.floor(leaseMs / 20));
}

/** Monotonic milliseconds, the same clock in every thread of the process (CLOCK_MONOTONIC). */
export function monoMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}
