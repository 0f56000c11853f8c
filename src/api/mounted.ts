/**
 * A famfs reached through its kernel-mode mount: the device is bound to fsdev_dax, so
 * nothing can map it; the superblock and log are the mount's `.meta/.superblock` and
 * `.meta/.log`, and file bytes are the mounted files, all mapped MAP_SHARED (the famfs
 * kernel maps them through DAX, so stores reach the shared memory directly). This is
 * how upstream's CLI works on a famfs kernel.
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { LOG_OFFSET, SUPERBLOCK_SIZE } from '../format/constants.js';
import { Device, probeDevice, type Region } from '../device/device.js';
import { MAP_SHARED, mmap, munmap, PROT_READ, PROT_WRITE, viewOf, getxattr } from '../sys/libc.js';
import { FamfsError } from './errors.js';
import { famfsMountInfoAt, mountDaemon, untouchable } from './mountrecord.js';
import { sleepSync } from '../sys/sleep.js';

/** Map [0, length) of a host file MAP_SHARED; the Region releases the mapping. */
export function mapFile(path: string, length: number, writable: boolean, offset = 0): Region {
  const fd = fs.openSync(path, writable ? 'r+' : 'r');
  try {
    if (length === 0) return { offset, buf: Buffer.alloc(0) };
    const ptr = mmap(length, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    return { offset, buf: viewOf(ptr, length), release: () => munmap(ptr, length) };
  } finally {
    fs.closeSync(fd); // the mapping keeps the file
  }
}

/**
 * Whether a famfs mount serves data in kernel mode: from its daemon's record (never waiting
 * for a stopped daemon), else asked of the daemon.
 */
export function mountIsKernelMode(mountpoint: string): boolean {
  const m = famfsMountInfoAt(mountpoint);
  const d = m && mountDaemon(m);
  if (d) return d.record.dataPath === 'kernel';
  try {
    return getxattr(mountpoint, 'user.famfs.data_path') === 'kernel';
  } catch {
    return false;
  }
}

/**
 * The device as seen through a kernel-mode mount: [0, 2 MiB) is `.meta/.superblock`,
 * [LOG_OFFSET, +log size) is `.meta/.log`; anything else is refused with a clear error.
 * The device node is opened (never mapped) for the host's writer lock.
 */
export function openMountedDevice(mountpoint: string, devicePath: string, writable: boolean): Device {
  const info = probeDevice(devicePath);
  const logPath = nodePath.join(mountpoint, '.meta/.log');
  const sbPath = nodePath.join(mountpoint, '.meta/.superblock');
  let logSize: number;
  try {
    logSize = fs.statSync(logPath).size;
  } catch (e) {
    throw new FamfsError(`${logPath}: ${(e as Error).message}`, (e as NodeJS.ErrnoException).code ?? 'EIO');
  }
  const regions: Region[] = [];
  try {
    regions.push(mapFile(sbPath, SUPERBLOCK_SIZE, false, 0));
    try {
      regions.push(mapFile(logPath, logSize, writable, LOG_OFFSET));
    } catch (e) {
      // A client's .meta/.log is read-only: map it so; Famfs.writer then says "only the master".
      const code = (e as NodeJS.ErrnoException).code;
      if (!writable || (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS')) throw e;
      writable = false;
      regions.push(mapFile(logPath, logSize, false, LOG_OFFSET));
    }
    const fd = fs.openSync(devicePath, 'r');
    return Device.fromRegions(info, fd, writable, regions, `in famfs kernel mode file data is reached through the files of the mount at ${mountpoint}`);
  } catch (e) {
    for (const r of regions) r.release?.();
    throw new FamfsError(`${mountpoint}: cannot map its .meta files: ${(e as Error).message}`, (e as NodeJS.ErrnoException).code ?? 'EIO');
  }
}

/** The pid of a mount's daemon, from its record (no request to the daemon), else asked of it. */
export function mountDaemonPid(mountpoint: string): number | undefined {
  const m = famfsMountInfoAt(mountpoint);
  const d = m && mountDaemon(m);
  if (d) return d.state === 'gone' ? undefined : d.record.pid;
  if (m && untouchable(mountpoint)) return undefined;
  try {
    const pid = Number(getxattr(mountpoint, 'user.famfs.pid'));
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Ask a mount's daemon to replay its log now (SIGUSR1), so a name just logged is found at once. */
export function pokeDaemon(mountpoint: string): void {
  const pid = mountDaemonPid(mountpoint);
  try {
    if (pid) process.kill(pid, 'SIGUSR1'); // a stopped daemon gets it when it runs again
  } catch {
    /* the daemon follows the log by itself anyway */
  }
}

const PAGE = 4096;

/** Mappings of files in a kernel-mode mount, by path relative to its root (kept until close). */
export class MountedFiles {
  private readonly maps = new Map<string, Region>();

  constructor(readonly mountpoint: string, private readonly writable: boolean) {}

  /** The whole file mapped; a file logged a moment ago may take the daemon one poll to show. */
  file(rel: string, size: number): Buffer {
    let r = this.maps.get(rel);
    if (r && r.buf.length !== size) {
      r.release?.();
      this.maps.delete(rel);
      r = undefined;
    }
    if (!r) {
      const host = nodePath.join(this.mountpoint, rel);
      for (let waited = 0; ; waited += 10) {
        try {
          r = mapFile(host, size, this.writable);
          break;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT' || waited >= 10_000) throw new FamfsError(`${host}: ${(e as Error).message}`, code ?? 'EIO');
          if (waited === 0) pokeDaemon(this.mountpoint);
          sleepSync(10);
        }
      }
      this.maps.set(rel, r);
    }
    return r.buf;
  }

  /**
   * Zero [from, end of the file's last page): a famfs kernel maps whole pages, so the bytes
   * after EOF in the last page are visible to every mapping of the file.
   */
  zero(rel: string, size: number, from: number): void {
    const end = Math.ceil(size / PAGE) * PAGE;
    if (end <= from) return;
    this.file(rel, size); // waits until the daemon shows the name
    const r = mapFile(nodePath.join(this.mountpoint, rel), end, true);
    try {
      r.buf.fill(0, from);
    } finally {
      r.release?.();
    }
  }

  close(): void {
    for (const r of this.maps.values()) r.release?.();
    this.maps.clear();
  }
}
