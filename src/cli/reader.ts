/**
 * What the read-only verbs (ls, cat, getmap, verify) need from a famfs, in two
 * forms: the replayed log (the device is open here: root, or --device), or the
 * mount as this user sees it (MountReader: readdir, lstat, the daemon's xattrs,
 * read(2)) when the device is closed to them. The second never opens the device
 * nor the root-only `.meta` files, and the kernel checks every step.
 */
import { Famfs } from '../api/famfs.js';
import { FamfsError } from '../api/errors.js';
import { statOf, type FamfsStat } from '../api/files.js';
import { MountReader, type StatOptions } from '../api/mountreader.js';
import type { FileMap } from '../format/types.js';
import { target, type DeviceOption } from './context.js';

export interface Reader {
  stat(rel: string): FamfsStat;
  /** A regular file with its map (EACCES through a mount unless this user may read it). */
  file(rel: string): FamfsStat & { map: FileMap };
  /** Everything below `rel` (not itself), depth first in name order; unlistable directories go to onError. */
  walk(rel: string, onError: (e: FamfsError) => void, o?: StatOptions): Iterable<FamfsStat>;
  /** `o.xattrs` false: maps are not needed (through a mount: two fewer requests per entry). */
  readdir(rel: string, o?: StatOptions): FamfsStat[];
  chunks(rel: string): Iterable<Buffer>;
}

function famfsReader(fs: Famfs): Reader {
  return {
    stat: (rel) => fs.stat(rel),
    file: (rel) => statOf(fs.file(rel)) as FamfsStat & { map: FileMap },
    *walk(rel) {
      const start = fs.lookup(rel);
      for (const n of fs.tree.walk(start)) if (n !== start) yield statOf(n);
    },
    readdir: (rel) => fs.readdir(rel),
    chunks: (rel) => fs.chunks(rel),
  };
}

/** The device could not be opened by this user: read through the mount instead. */
const CLOSED = new Set(['EACCES', 'EPERM', 'ENOENT']);

/**
 * Resolve a verb's path and run `fn` with a Reader: the device's log when this user can open
 * it (always with --device), else the mount as this user sees it.
 */
export function withReader<T>(opts: DeviceOption, path: string | undefined, fn: (r: Reader, rel: string) => T): T {
  const t = target(opts, path);
  let fs: Famfs | undefined;
  if (!t.mountpoint) fs = Famfs.open(t.device);
  else {
    try {
      fs = Famfs.openPath(t.mountpoint, { via: 'device' });
    } catch (e) {
      if (!(e instanceof FamfsError) || !CLOSED.has(e.code)) throw e;
    }
  }
  if (!fs) return fn(MountReader.open(t.mountpoint!), t.rel);
  try {
    return fn(famfsReader(fs), t.rel);
  } finally {
    fs.close();
  }
}
