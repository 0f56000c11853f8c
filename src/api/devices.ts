/**
 * Where this host finds the devices of a multi-device famfs.
 *
 * Device 0 is the one named on the command line. Devices 1.. are known to the log by
 * uuid (ADD_DAXDEV) because paths differ per host; each carries a small header
 * (src/format/devheader.ts) naming the file system and its own uuid. A host lists
 * candidate paths, one per line ('#' comments allowed), in its device list:
 * `$FAMFS_DEVICE_LIST`, else `/etc/famfs/devices`. Each candidate's header is read and
 * matched to the table; `famfs mkfs` and `famfs devadd` add the paths they format.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Device } from '../device/device.js';
import { DEVHEADER_SIZE, SECONDARY_DATA_START, decodeDevHeader, encodeDevHeader, type DevHeader } from '../format/devheader.js';
import { checkSuperblock, SUPERBLOCK_STRUCT_SIZE } from '../format/superblock.js';
import { newUuid } from '../format/uuid.js';
import type { DaxdevInfo } from '../meta/replay.js';
import type { Famfs } from './famfs.js';
import { FamfsError, asFamfsError } from './errors.js';
import { refuseIfMounted } from './inuse.js';

export const DEFAULT_DEVICE_LIST = '/etc/famfs/devices';

export function deviceListFile(): string {
  return process.env.FAMFS_DEVICE_LIST || DEFAULT_DEVICE_LIST;
}

/** Candidate paths from this host's device list (missing list → none). */
export function listedDevices(file = deviceListFile()): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
}

/** Add a path to this host's device list (once). */
export function rememberDevice(devicePath: string, file = deviceListFile()): void {
  const p = path.resolve(devicePath);
  if (listedDevices(file).includes(p)) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(file, `${p}\n`);
}

/** The secondary-device header at byte 0 of `devicePath`, or why there is none. */
export function readDevHeader(devicePath: string): DevHeader | string {
  let dev: Device;
  try {
    dev = Device.open(devicePath);
  } catch (e) {
    return (e as Error).message;
  }
  try {
    if (dev.size < DEVHEADER_SIZE) return 'too small';
    dev.invalidate(0, DEVHEADER_SIZE); // fcc-site: devheader-invalidate
    return decodeDevHeader(Buffer.from(dev.view(0, DEVHEADER_SIZE)));
  } finally {
    dev.close();
  }
}

/** The local path of device `d` of file system `fsUuid` among `candidates`, or undefined. */
export function resolveDaxdev(fsUuid: string, d: DaxdevInfo, candidates: readonly string[]): string | undefined {
  for (const c of candidates) {
    const h = readDevHeader(c);
    if (typeof h !== 'string' && h.fsUuid === fsUuid && h.devUuid === d.uuid && h.index === d.index) return c;
  }
  return undefined;
}

export interface AddDeviceResult {
  index: number;
  uuid: string;
  size: number;
}

/** Why `devicePath` cannot become a secondary device (throws), checked before anything is written. */
export function checkAddable(dev: Device, devicePath: string, opts: { force?: boolean; evenIfMounted?: boolean } = {}): void {
  if (dev.size < 2 * SECONDARY_DATA_START) throw new FamfsError(`${devicePath}: ${dev.size} bytes is too small for a famfs device`, 'EINVAL');
  dev.invalidate(0, SUPERBLOCK_STRUCT_SIZE); // fcc-site: devadd-check-invalidate
  const head = dev.view(0, SUPERBLOCK_STRUCT_SIZE);
  if (!opts.force) {
    if (checkSuperblock(head) === 'ok') throw new FamfsError(`${devicePath}: holds a famfs file system; use --force to overwrite it`, 'EEXIST');
    const h = decodeDevHeader(Buffer.from(head.subarray(0, DEVHEADER_SIZE)));
    if (typeof h !== 'string') throw new FamfsError(`${devicePath}: is already device ${h.index} of famfs ${h.fsUuid}; use --force to reuse it`, 'EEXIST');
  }
  refuseIfMounted(devicePath, opts.force ? 'overwrite it' : 'use it', opts.evenIfMounted);
}

/** As checkAddable, opening the device read-only for the look. */
export function checkAddablePath(devicePath: string, opts: { force?: boolean; evenIfMounted?: boolean } = {}): void {
  let dev: Device;
  try {
    dev = Device.open(devicePath);
  } catch (e) {
    throw asFamfsError(e);
  }
  try {
    checkAddable(dev, devicePath, opts);
  } finally {
    dev.close();
  }
}

/**
 * Add `devicePath` as the next device of the file system open in `famfs` (master,
 * writable): write its header, then log ADD_DAXDEV (a crash in between leaves an
 * unreferenced header and nothing else), then list the path in this host's device list.
 * Refuses a device that holds a famfs superblock or belongs to a file system already.
 */
export function addDevice(famfs: Famfs, devicePath: string, opts: { force?: boolean; evenIfMounted?: boolean } = {}): AddDeviceResult {
  const p = path.resolve(devicePath);
  if (famfs.devicePath(0) && path.resolve(famfs.devicePath(0)!) === p) throw new FamfsError(`${devicePath}: is device 0 of this file system`, 'EINVAL');
  let dev: Device;
  try {
    dev = Device.open(p, { writable: true });
  } catch (e) {
    throw asFamfsError(e);
  }
  try {
    checkAddable(dev, devicePath, opts);
    const head = dev.view(0, SUPERBLOCK_STRUCT_SIZE);
    return famfs.writer((w) => {
      const index = famfs.daxdevs.length + 1;
      const uuid = newUuid();
      const size = dev.size;
      // No superblock magic may survive on a secondary device.
      head.fill(0, 0, SUPERBLOCK_STRUCT_SIZE);
      encodeDevHeader({ index, fsUuid: famfs.sb.uuid, devUuid: uuid, size }).copy(head);
      dev.flush(0, SUPERBLOCK_STRUCT_SIZE); // fcc-site: devadd-header-flush
      w.fs.log.append({ type: 'add_daxdev', index, uuid, size });
      famfs.refresh();
      if (famfs.daxdevs.length !== index) throw new FamfsError(`${devicePath}: the ADD_DAXDEV entry was written but replay refused it`, 'EIO');
      rememberDevice(p);
      return { index, uuid, size };
    });
  } finally {
    dev.close();
  }
}
