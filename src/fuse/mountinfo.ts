/**
 * Reading /proc/self/mountinfo to find FUSE mounts, and aborting a connection
 * through fusectl. No native code (importable where libc bindings are not).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** One line of /proc/self/mountinfo. */
export interface MountInfo {
  mountId: number;
  parentId: number;
  /** st_dev of the fs; for FUSE the minor is the connection id in /sys/fs/fuse/connections. */
  major: number;
  minor: number;
  root: string;
  mountpoint: string;
  mountOptions: string;
  fstype: string;
  source: string;
  superOptions: string;
}

/** \040 style octal escapes used in mountinfo. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parse mountinfo text (exported for tests). */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0 || f.length < sep + 3) continue;
    const [maj, min] = f[2]!.split(':');
    out.push({
      mountId: Number(f[0]),
      parentId: Number(f[1]),
      major: Number(maj),
      minor: Number(min),
      root: unescapeMount(f[3]!),
      mountpoint: unescapeMount(f[4]!),
      mountOptions: f[5]!,
      fstype: f[sep + 1]!,
      source: unescapeMount(f[sep + 2]!),
      superOptions: f[sep + 3] ?? '',
    });
  }
  return out;
}

export function readMountInfo(path = '/proc/self/mountinfo'): MountInfo[] {
  return parseMountInfo(fs.readFileSync(path, 'utf8'));
}

/** FUSE mounts (type fuse, fuse.*, fuseblk) matching all given criteria. */
export function findFuseMounts(q: { mountpoint?: string; source?: string; type?: string } = {}): MountInfo[] {
  return readMountInfo().filter(
    (m) =>
      (m.fstype === 'fuse' || m.fstype === 'fuseblk' || m.fstype.startsWith('fuse.')) &&
      (q.mountpoint === undefined || m.mountpoint === q.mountpoint) &&
      (q.source === undefined || m.source === q.source) &&
      (q.type === undefined || m.fstype === q.type || m.fstype === `fuse.${q.type}`),
  );
}

/**
 * The canonical path of a mount point, found without touching the mount itself (a stopped or
 * wedged daemon would hang a stat of it): the parent directory's realpath, then the last
 * component followed with readlink while it is a symlink (readlink of a mount's root never
 * reaches its daemon). When the parent cannot be resolved (inside a dead mount: ENOTCONN),
 * the path as given, made absolute and normalised.
 */
export function mountpointPath(p: string): string {
  let abs = path.resolve(p);
  for (let hops = 0; hops < 40; hops++) {
    let dir: string;
    try {
      dir = fs.realpathSync.native(path.dirname(abs));
    } catch {
      return abs;
    }
    const full = path.join(dir, path.basename(abs));
    let target: string;
    try {
      target = fs.readlinkSync(full);
    } catch {
      return full; // not a symlink (EINVAL), or not there
    }
    abs = path.resolve(dir, target);
  }
  return abs; // a symlink loop: as far as it went
}

/**
 * The mount that answers at `mountpoint` (resolved as mountpointPath does): of FUSE mounts of
 * `type` there, the newest (a later mount on the same path hides the earlier ones).
 */
export function mountAt(mountpoint: string, type?: string): MountInfo | undefined {
  const at = findFuseMounts({ mountpoint: mountpointPath(mountpoint), type });
  // A mount stacked on another has the one below as its parent; mountinfo lists it later too.
  return at.find((m) => !at.some((o) => o.parentId === m.mountId)) ?? at.at(-1);
}

/** Is anything mounted exactly at this path? (No stat: safe on a hung FUSE mount.) */
export function isMounted(mountpoint: string): boolean {
  return readMountInfo().some((m) => m.mountpoint === mountpoint);
}

/**
 * Abort a FUSE connection via fusectl (/sys/fs/fuse/connections/<id>/abort):
 * every pending and future request fails with ENOTCONN and readers see ENODEV.
 * `target` is a mountpoint (looked up in mountinfo) or a connection id (the
 * minor of the mount's st_dev). Returns false if fusectl is not mounted
 * (mount -t fusectl none /sys/fs/fuse/connections) or the connection is gone.
 */
export function abortFuseConnection(target: string | number): boolean {
  let id: number;
  if (typeof target === 'number') id = target;
  else {
    const m = mountAt(target);
    if (!m) return false;
    id = m.minor;
  }
  try {
    fs.writeFileSync(`/sys/fs/fuse/connections/${id}/abort`, '1');
    return true;
  } catch {
    return false;
  }
}
