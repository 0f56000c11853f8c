/**
 * Opening /dev/fuse, mounting (as root, via `mount -i` with the fd as the
 * child's fd 3), unmounting, cloning the device fd, and reading mountinfo.
 *
 * Why `mount -i`: Node has no mount(2); util-linux mount(8) with `-i` calls
 * mount(2) directly (no mount.fuse helper). The fd=N option names the fd in the
 * calling process, so the /dev/fuse fd is passed as stdio[3] and fd=3 is used.
 * The superblock holds its own reference to the connection, so our fd stays
 * valid after mount(8) exits. mount(2) does not wait for INIT (the kernel sends
 * it asynchronously), so mounting before any reader exists is fine (verified on
 * Linux 6.18: mount exits in ~10 ms with INIT still queued).
 */
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { ioctlU32, umount2, MNT_DETACH } from '../sys/libc.js';
import { FUSE_DEV_IOC_CLONE } from './protocol.js';

export const FUSE_DEVICE = '/dev/fuse';
const MOUNT_BIN = '/usr/bin/mount';

/** Open /dev/fuse read-write (Node sets O_CLOEXEC). Throws a clear error if absent. */
export function openFuseDevice(path = FUSE_DEVICE, extraFlags = 0): number {
  try {
    return fs.openSync(path, fs.constants.O_RDWR | extraFlags);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new Error(`${path} does not exist (is the fuse module loaded? try: modprobe fuse)`);
    if (err.code === 'EACCES' || err.code === 'EPERM') throw new Error(`cannot open ${path}: permission denied (need root)`);
    throw err;
  }
}

/** True if /dev/fuse exists (tests skip without it). */
export function fuseAvailable(path = FUSE_DEVICE): boolean {
  try {
    return fs.statSync(path).isCharacterDevice();
  } catch {
    return false;
  }
}

export interface MountOptions {
  /** allow_other: let users other than the mounter access the fs. */
  allowOther?: boolean;
  /** default_permissions: the kernel checks mode bits (no ACCESS requests). */
  defaultPermissions?: boolean;
  /** Mount read-only. */
  readOnly?: boolean;
  /** max_read=N (limits READ size). */
  maxRead?: number;
  /** Root inode mode for rootmode= (only S_IFMT matters to the kernel). Default 0o40000. */
  rootMode?: number;
  /** user_id= / group_id= (owner of the connection). Default: this process's uid/gid. */
  userId?: number;
  groupId?: number;
  /** nosuid,nodev like libfuse. Default true. */
  nosuidNodev?: boolean;
  /** noatime. */
  noatime?: boolean;
  /** Allow mounting over a non-empty directory. Default false. */
  nonEmpty?: boolean;
  /** Extra raw options, appended as given. */
  extra?: string[];
}

export interface MountParams {
  /** An open /dev/fuse fd (openFuseDevice()). */
  fd: number;
  mountpoint: string;
  /** Shown as the mount source (fsname). Default: subtype or "fuse". */
  source?: string;
  /** Type becomes fuse.<subtype>. */
  subtype?: string;
  options?: MountOptions;
}

export class MountError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MountError';
  }
}

/** The -o string for a FUSE mount (fd=3 because the fd is the child's fd 3). */
export function fuseMountOptions(o: MountOptions = {}): string {
  const opts = [
    'fd=3',
    `rootmode=${(o.rootMode ?? 0o40000).toString(8)}`,
    `user_id=${o.userId ?? process.getuid?.() ?? 0}`,
    `group_id=${o.groupId ?? process.getgid?.() ?? 0}`,
  ];
  if (o.nosuidNodev ?? true) opts.push('nosuid', 'nodev');
  if (o.readOnly) opts.push('ro');
  if (o.noatime) opts.push('noatime');
  if (o.allowOther) opts.push('allow_other');
  if (o.defaultPermissions) opts.push('default_permissions');
  if (o.maxRead !== undefined) opts.push(`max_read=${o.maxRead}`);
  for (const x of o.extra ?? []) opts.push(x);
  for (const x of opts) if (/[\s]/.test(x)) throw new MountError(`mount option ${JSON.stringify(x)} contains whitespace`);
  return opts.join(',');
}

/** Check that mountpoint is an existing (empty unless nonEmpty) directory. */
export function checkMountpoint(mountpoint: string, nonEmpty = false): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(mountpoint);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new MountError(`mount point ${mountpoint} does not exist`);
    if (err.code === 'ENOTCONN') throw new MountError(`mount point ${mountpoint} is a dead FUSE mount (unmount it first: umount -l ${mountpoint})`);
    throw new MountError(`mount point ${mountpoint}: ${err.message}`);
  }
  if (!st.isDirectory()) throw new MountError(`mount point ${mountpoint} is not a directory`);
  if (!nonEmpty && fs.readdirSync(mountpoint).length > 0) {
    throw new MountError(`mount point ${mountpoint} is not empty`);
  }
}

/**
 * Mount a FUSE file system on `mountpoint` served through `fd` (root only).
 * Resolves when mount(8) has succeeded. INIT is then queued on the connection:
 * start reading (workers) right away; anything touching the mount blocks until
 * INIT is answered.
 */
export async function mountFuse(p: MountParams): Promise<void> {
  const o = p.options ?? {};
  checkMountpoint(p.mountpoint, o.nonEmpty);
  const type = p.subtype ? `fuse.${p.subtype}` : 'fuse';
  const source = p.source ?? p.subtype ?? 'fuse';
  if (/[\s,]/.test(type)) throw new MountError(`bad subtype ${JSON.stringify(p.subtype)}`);
  const args = ['-i', '-t', type, '-o', fuseMountOptions(o), '--', source, p.mountpoint];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(MOUNT_BIN, args, { stdio: ['ignore', 'pipe', 'pipe', p.fd] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (e) => reject(new MountError(`cannot run ${MOUNT_BIN}: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new MountError(`mount ${type} on ${p.mountpoint} failed (${signal ?? `exit ${code}`}): ${out.trim() || 'no output'}`));
    });
  });
}

/** umount2(mountpoint); lazy → MNT_DETACH (detach now, finish when no longer busy). */
export function unmountFuse(mountpoint: string, opts: { lazy?: boolean } = {}): void {
  umount2(mountpoint, opts.lazy ? MNT_DETACH : 0);
}

/**
 * A new /dev/fuse fd attached to the connection of `masterFd` (FUSE_DEV_IOC_CLONE).
 * Requests are then distributed over all fds; each reply must go to the fd its
 * request was read from. Only works once the master fd is mounted.
 * nonBlocking: reads fail with EAGAIN instead of waiting (the io_uring transport polls).
 */
export function cloneFuseFd(masterFd: number, opts: { nonBlocking?: boolean } = {}): number {
  const fd = openFuseDevice(FUSE_DEVICE, opts.nonBlocking ? fs.constants.O_NONBLOCK : 0);
  try {
    ioctlU32(fd, FUSE_DEV_IOC_CLONE, masterFd);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  return fd;
}

export { parseMountInfo, readMountInfo, findFuseMounts, isMounted, abortFuseConnection, type MountInfo } from './mountinfo.js';
