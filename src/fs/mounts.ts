/**
 * Which famfs mounts this host has: only /proc/self/mountinfo, no native code
 * and no daemon modules, so that CLI verbs that merely locate a file system
 * start fast.
 */
import { findFuseMounts } from '../fuse/mountinfo.js';

export const FS_SUBTYPE = 'famfs';
export const FS_TYPE = `fuse.${FS_SUBTYPE}`;

/** The famfs mounts of this host, from /proc/self/mountinfo. */
export function famfsMounts(): { device: string; mountpoint: string }[] {
  return findFuseMounts({ type: FS_TYPE }).map((m) => ({ device: m.source, mountpoint: m.mountpoint }));
}
