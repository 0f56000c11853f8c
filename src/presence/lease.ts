/**
 * The lease of a file system with the presence area: a host whose heartbeat has not moved for
 * lease_ms (on the observer's own clock) counts as gone; a host whose own last beat is older
 * than lease_ms / 2 stops serving. Kept in feature block bytes 24..27 (0 = DEFAULT_LEASE_MS).
 */
export { leaseMsOf } from '../format/features.js';

/** Shortest beat period (the owner beats every lease / 20). */
export const MIN_BEAT_MS = 50;

export function beatMs(leaseMs: number): number {
  return Math.max(MIN_BEAT_MS, Math.floor(leaseMs / 20));
}

/** Monotonic milliseconds, the same clock in every thread of the process (CLOCK_MONOTONIC). */
export function monoMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}
