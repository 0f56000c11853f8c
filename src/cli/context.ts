/**
 * What every verb needs: find the file system a command names — either
 * `--device DEV` with paths relative to the file system root, or a path inside
 * a mounted famfs (found in this host's mount table, as upstream's path
 * discovery) — and print results.
 */
import fs from 'node:fs';
import { Famfs } from '../api/famfs.js';
import { FamfsError } from '../api/errors.js';
import { findMounted as findMountedPath, type MountedPath } from '../api/locate.js';

export interface DeviceOption {
  device?: string;
}

export interface Target {
  device: string;
  /** Path relative to the file system root. */
  rel: string;
  /** Set when the target was found through a mount. */
  mountpoint?: string;
}

/** One line when the mount a path is in cannot be touched now (its daemon is stopped): the verb works on the device. */
function sayUnreachable(m: MountedPath): void {
  if (m.unreachable) process.stderr.write(`famfs: ${m.mountpoint}: ${m.unreachable}: working on ${m.device} directly; the mount catches up once its daemon runs again\n`);
}

/** The famfs mount holding a host path, with the path relative to its root. */
export function findMounted(hostPath: string): Target | undefined {
  const m = findMountedPath(hostPath);
  if (m) sayUnreachable(m);
  return m;
}

/** Resolve a verb's file system and path: --device with a root-relative path, or a path in a mount. */
export function target(opts: DeviceOption, path: string | undefined): Target {
  if (opts.device) return { device: opts.device, rel: path ?? '' };
  const where = path ?? '.';
  const t = findMounted(where);
  if (!t) throw new FamfsError(`${where}: not inside a mounted famfs; give the file system with --device DEV`, 'EINVAL', 2);
  return t;
}

/**
 * As target(), and a PATH outside every mount that is a device or an image file names the
 * device itself (upstream's `famfs fsck /dev/dax0.0`).
 */
export function targetOrDevice(opts: DeviceOption, path: string | undefined): Target {
  if (opts.device || path === undefined) return target(opts, path);
  const t = findMounted(path);
  if (t) return t;
  const st = fs.statSync(path, { throwIfNoEntry: false });
  if (st && (st.isCharacterDevice() || st.isFile())) return { device: path, rel: '' };
  return target(opts, path);
}

/** Said once when a writer verb has to wait for the host's log lock. */
export const lockWait = { onWait: (): void => void process.stderr.write('famfs: waiting for the log lock (held by another famfs writer, e.g. a mount with files being written)\n') };

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/**
 * Open the file system of a target, run `fn`, close. A read-only verb on a path in a mount
 * falls back to reading through the mount when this user cannot open the device.
 */
export function withTarget<T>(t: Target, mode: { writable?: boolean }, fn: (fs: Famfs, rel: string) => T): T {
  const fs = t.mountpoint ? Famfs.openPath(t.mountpoint, mode) : Famfs.open(t.device, mode);
  try {
    return fn(fs, t.rel);
  } finally {
    fs.close();
  }
}

/** Shorthand: resolve then open. */
export function withFamfs<T>(opts: DeviceOption, path: string | undefined, mode: { writable?: boolean }, fn: (fs: Famfs, rel: string) => T): T {
  return withTarget(target(opts, path), mode, fn);
}
