/**
 * The presence area of a kernel-mode host. Bound to fsdev_dax, the device cannot be mapped
 * by user space, but the presence area lies inside the superblock's 2 MiB unit, which the
 * mount serves as `.meta/.superblock` (the famfs kernel maps only 2 MiB-aligned extents, so
 * the area cannot be a file of its own). The daemon's own threads may open that file for
 * writing (FamfsFs.open); their stores go to the shared memory through DAX.
 */
import nodePath from 'node:path';
import { SUPERBLOCK_SIZE } from '../format/constants.js';
import { Device, probeDevice } from '../device/device.js';
import { mapFile } from '../api/mounted.js';

export function superblockFileOf(mountpoint: string): string {
  return nodePath.join(mountpoint, '.meta/.superblock');
}

/** A Device whose only reachable range is [0, 2 MiB), mapped writable through the mount. */
export function mountedPresenceDevice(devicePath: string, superblockFile: string): Device {
  const region = mapFile(superblockFile, SUPERBLOCK_SIZE, true, 0);
  try {
    return Device.fromRegions(probeDevice(devicePath), -1, true, [region], 'kernel mode: only the superblock unit (presence area) is mapped here');
  } catch (e) {
    region.release?.();
    throw e;
  }
}
