/**
 * Finding the famfs a host path belongs to: the famfs FUSE mount that holds it
 * (from /proc/self/mountinfo, as upstream's path discovery), and the path
 * relative to that file system's root.
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { findFuseMounts } from '../fuse/mountinfo.js';
import { untouchable } from './mountrecord.js';

/** The mount type of every famfs mount (`fuse.famfs` in mountinfo, fstab and findmnt). */
export const FAMFS_FSTYPE = 'fuse.famfs';

export interface MountedPath {
  /** The device the mount serves (its source in mountinfo). */
  device: string;
  mountpoint: string;
  /** Path relative to the file system root ('' = the root). */
  rel: string;
  /** Set when the mount must not be touched now (its daemon is stopped): why. */
  unreachable?: string;
}

/** The famfs mounts of this host. */
export function famfsMountList(): { device: string; mountpoint: string }[] {
  return findFuseMounts({ type: FAMFS_FSTYPE }).map((m) => ({ device: m.source, mountpoint: m.mountpoint }));
}

/** The innermost famfs mount whose mount point is `abs` or lexically above it. */
function lexicalMount(abs: string): { device: string; mountpoint: string } | undefined {
  let best: { device: string; mountpoint: string } | undefined;
  for (const m of famfsMountList()) {
    const inside = abs === m.mountpoint || abs.startsWith(m.mountpoint.endsWith('/') ? m.mountpoint : m.mountpoint + '/');
    if (inside && (!best || m.mountpoint.length > best.mountpoint.length)) best = m;
  }
  return best;
}

/**
 * Canonical form of a host path whose tail may not exist yet. A path inside a mount whose
 * daemon is stopped is taken as written (mount points in mountinfo are canonical already):
 * resolving it would wait for the daemon.
 */
export function realish(p: string): string {
  const abs = nodePath.resolve(p);
  const lex = lexicalMount(abs);
  if (lex && untouchable(lex.mountpoint)) return abs;
  const tail: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      return nodePath.join(fs.realpathSync(cur), ...tail.reverse());
    } catch {
      const parent = nodePath.dirname(cur);
      if (parent === cur) return abs;
      tail.push(nodePath.basename(cur));
      cur = parent;
    }
  }
}

/** The famfs mount holding a host path (the innermost one), or undefined. */
export function findMounted(hostPath: string): MountedPath | undefined {
  const abs = realish(hostPath);
  const best = lexicalMount(abs);
  if (!best) return undefined;
  const why = untouchable(best.mountpoint);
  return { device: best.device, mountpoint: best.mountpoint, rel: nodePath.relative(best.mountpoint, abs), ...(why ? { unreachable: why } : {}) };
}
