/** Fixtures for tests that mount real famfs file systems through /dev/fuse. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { famfs, famfsOk, type Host } from '../core/helpers.js';

export const HAVE_FUSE = fs.existsSync('/dev/fuse') && process.getuid?.() === 0;
export const NO_FUSE_REASON = 'SKIPPED: /dev/fuse is absent or we are not root; famfs mount tests need both';
if (!HAVE_FUSE) console.error(`\n*** ${NO_FUSE_REASON} ***\n`);

const mounts = new Set<string>();

export function tempMountpoint(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `famfs-mnt-${tag}-`));
}

/** `famfs mount` as `host`; returns the mount point. */
export function mount(host: Host, device: string, tag: string, extra: string[] = []): string {
  const mp = tempMountpoint(tag);
  famfsOk(host, ['mount', ...extra, device, mp]);
  mounts.add(mp);
  return mp;
}

export function umount(host: Host, mp: string): void {
  famfs(host, ['umount', mp]);
  const deadline = Date.now() + 5000;
  while (isMounted(mp) && Date.now() < deadline) famfs(host, ['umount', '--lazy', mp]);
  mounts.delete(mp);
  fs.rmdirSync(mp);
}

export function isMounted(mp: string): boolean {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === mp);
}

/** Leave nothing mounted, whatever happened. */
export function umountAll(host: Host): void {
  for (const mp of [...mounts]) {
    try {
      umount(host, mp);
    } catch {
      /* keep going */
    }
  }
}

export async function waitFor(cond: () => boolean, ms: number, stepMs = 5): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return performance.now() - t0;
}

export function errnoOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
}
