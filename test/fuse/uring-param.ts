/**
 * Tests that need FUSE over io_uring turn fuse.enable_uring on only around
 * their own mount's INIT (the kernel offers the ring at INIT and keeps using it
 * for that connection after the parameter goes back), then restore it. Other
 * daemons on the machine never ask for the ring, so the short window is harmless.
 */
import * as fs from 'node:fs';
import { ENABLE_URING_PARAM } from '../../src/fuse/uring.js';

/** Why io_uring tests cannot run here, or '' if they can. */
export function uringSkipReason(): string {
  if (process.getuid?.() !== 0) return 'not root (cannot turn on fuse.enable_uring)';
  if (!fs.existsSync(ENABLE_URING_PARAM)) return `${ENABLE_URING_PARAM} missing: kernel without FUSE over io_uring`;
  return '';
}

/** Run fn with enable_uring = Y, restoring the previous value afterwards. */
export async function withUringEnabled<T>(fn: () => Promise<T>): Promise<T> {
  const before = fs.readFileSync(ENABLE_URING_PARAM, 'utf8').trim();
  if (before !== 'Y') fs.writeFileSync(ENABLE_URING_PARAM, 'Y');
  try {
    return await fn();
  } finally {
    if (before !== 'Y') fs.writeFileSync(ENABLE_URING_PARAM, before);
  }
}

/** Loud skip notice (node:test prints skips quietly). */
export function announceUringSkip(reason: string): void {
  if (reason) console.error(`\n!!!!!!!!!! SKIPPING FUSE-OVER-IO_URING TESTS: ${reason} !!!!!!!!!!\n`);
}
