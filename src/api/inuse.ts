/**
 * Which mounts of this host use a device: a mount whose source is that device (any file
 * system type), or a famfs mount whose file system has it as device 1.. . mkfs asks before
 * it overwrites anything, so a mounted famfs is never wiped from under its daemon.
 */
import fs from 'node:fs';
import { readMountInfo } from '../fuse/mountinfo.js';
import { Famfs } from './famfs.js';
import { FamfsError } from './errors.js';
import { readDevHeader } from './devices.js';

/** The type our daemon mounts as (fs/daemon.ts FS_TYPE; not imported, to keep the api free of the FUSE layer). */
const FAMFS_FSTYPE = 'fuse.famfs';

/** Same device node or same file: rdev for character/block devices, dev+ino for files. */
export function sameDevice(a: string, b: string): boolean {
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    if ((sa.isCharacterDevice() || sa.isBlockDevice()) && (sb.isCharacterDevice() || sb.isBlockDevice())) return sa.rdev === sb.rdev;
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/** The mount points on this host that use `devicePath` (empty: none). */
export function mountsUsing(devicePath: string): string[] {
  const out: string[] = [];
  // Only a device that carries a secondary-device header can be device 1.. of a mounted famfs.
  const secondary = typeof readDevHeader(devicePath) !== 'string';
  for (const m of readMountInfo()) {
    if (!m.source.startsWith('/')) continue;
    if (sameDevice(m.source, devicePath)) {
      out.push(m.mountpoint);
      continue;
    }
    if (secondary && m.fstype === FAMFS_FSTYPE && famfsDevices(m.source).some((p) => sameDevice(p, devicePath))) out.push(m.mountpoint);
  }
  return out;
}

/** Paths of devices 1.. of the famfs on `device0`, as this host finds them (best effort). */
function famfsDevices(device0: string): string[] {
  let f: Famfs | undefined;
  try {
    f = Famfs.open(device0);
    const out: string[] = [];
    for (const d of f.daxdevs) {
      const p = f.devicePath(d.index);
      if (p) out.push(p);
    }
    return out;
  } catch {
    return [];
  } finally {
    f?.close();
  }
}

/** Throws (EBUSY, naming the mount points) unless `evenIfMounted`. */
export function refuseIfMounted(devicePath: string, what: string, evenIfMounted?: boolean): void {
  if (evenIfMounted) return;
  const mps = mountsUsing(devicePath);
  if (mps.length) throw new FamfsError(`${devicePath}: in use by the mount${mps.length > 1 ? 's' : ''} ${mps.join(', ')}; unmount first (or add --even-if-mounted to ${what} anyway)`, 'EBUSY');
}
