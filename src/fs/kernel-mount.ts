/**
 * The device side of famfs kernel mode: before mounting, copy the superblock and log
 * while the device is still a plain devdax (afterwards nothing can map it), then bind it
 * to fsdev_dax; after the last famfs mount of the device on this host ends, bind it back
 * to device_dax so every verb can use it again (docs/fuse.md, "Kernel mode on a famfs kernel").
 */
import { LOG_HEADER_SIZE, LOG_OFFSET } from '../format/constants.js';
import { Famfs } from '../api/famfs.js';
import { FamfsError } from '../api/errors.js';
import { probeDevice } from '../device/device.js';
import { daxMode, fsdevAvailable, setDaxMode } from '../device/daxmode.js';
import { famfsKernelPresent, type DataPathChoice } from './kernel.js';

/**
 * Whether this mount will run in kernel mode: a famfs kernel (with fsdev_dax), a DAX device,
 * and not --data-path daemon. --data-path kernel on anything else is an error.
 */
export function kernelModeIntended(choice: DataPathChoice, device: string): boolean {
  if (choice === 'daemon') return false;
  const famfsKernel = famfsKernelPresent();
  const dax = probeDevice(device).kind === 'dax';
  if (choice === 'kernel') {
    if (!dax) throw new FamfsError(`--data-path kernel: ${device} is not a DAX device (the famfs kernel maps only DAX devices); use --data-path daemon`, 'EINVAL');
    return true;
  }
  return famfsKernel && dax && fsdevAvailable();
}

/** A device left in fsdev mode (by a daemon that died) goes back to devdax before a mount reads it. */
export function ensureDevdax(device: string, log: (m: string) => void): void {
  if (daxMode(device) !== 'fsdev') return;
  setDaxMode(device, 'devdax');
  log(`${device} was still bound to fsdev_dax with no famfs mount of it on this host: bound it back to device_dax`);
}

/**
 * Copy [0, LOG_OFFSET + log size) of the device (superblock and log) into shared memory for
 * the workers. The log header is read first and written last, so the copy never counts an
 * entry it does not hold even if the master appends meanwhile.
 */
export function snapshotMeta(device: string): SharedArrayBuffer {
  const fs = Famfs.open(device);
  try {
    const header = Buffer.from(fs.device.view(LOG_OFFSET, LOG_HEADER_SIZE));
    const len = LOG_OFFSET + fs.sb.logLen;
    const sab = new SharedArrayBuffer(len);
    const image = Buffer.from(sab);
    let at = 0;
    for (const s of fs.device.slices(0, len)) {
      s.copy(image, at);
      at += s.length;
    }
    header.copy(image, LOG_OFFSET);
    return sab;
  } finally {
    fs.close();
  }
}

/** Bind the device to fsdev_dax for the famfs kernel (one clear line when that fails). */
export function enterKernelMode(device: string, log: (m: string) => void): void {
  const { changed } = setDaxMode(device, 'fsdev');
  if (changed) log(`bound ${device} to fsdev_dax (famfs kernel mode)`);
}

/** After a kernel-mode mount ended: back to devdax unless another famfs mount on this host still uses the device. */
export function leaveKernelMode(device: string, stillMounted: boolean, log: (m: string) => void): void {
  if (stillMounted || daxMode(device) !== 'fsdev') return;
  try {
    setDaxMode(device, 'devdax');
    log(`bound ${device} back to device_dax`);
  } catch (e) {
    log(`${(e as Error).message}`);
  }
}
