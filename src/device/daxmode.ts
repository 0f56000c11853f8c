/**
 * Which driver a DAX device is bound to, and switching it (sysfs, root).
 *
 * - `device_dax` ("devdax"): user space maps /dev/daxX.Y; the daemon data path and every
 *   CLI verb with --device use this.
 * - `fsdev_dax` ("fsdev"): the famfs kernel maps files on the device itself (kernel mode);
 *   user space can no longer map the device (mmap fails with ENODEV), so the superblock,
 *   the log and the file data are reachable only through a famfs mount.
 *
 * Switching (facts of the famfs kernel, shared/famfs-kernel/README.md): to fsdev,
 * `device_dax/unbind`, `fsdev_dax/new_id` (which binds it), `fsdev_dax/bind` if it did not;
 * back, `fsdev_dax/unbind`, `fsdev_dax/remove_id`, `device_dax/bind`.
 */
import fs from 'node:fs';
import nodePath from 'node:path';

export type DaxMode = 'devdax' | 'fsdev';
export const DAX_MODES: readonly DaxMode[] = ['devdax', 'fsdev'];
const DRIVER: Record<DaxMode, string> = { devdax: 'device_dax', fsdev: 'fsdev_dax' };

export class DaxModeError extends Error {
  constructor(message: string, readonly code = 'EIO') {
    super(message);
  }
}

/** Overridable for tests that fake a sysfs tree. */
export function sysfsRoot(): string {
  return process.env.FAMFS_SYSFS || '/sys';
}

/** The dax device name ('dax0.0') of a character device path, or undefined for anything else. */
export function daxName(devPath: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(devPath);
  } catch {
    return undefined;
  }
  if (!st.isCharacterDevice()) return undefined;
  const r = BigInt(st.rdev);
  const major = Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn));
  const minor = Number((r & 0xffn) | ((r >> 12n) & ~0xffn));
  try {
    const name = nodePath.basename(fs.realpathSync(`${sysfsRoot()}/dev/char/${major}:${minor}`));
    return fs.existsSync(`${sysfsRoot()}/bus/dax/devices/${name}`) ? name : undefined;
  } catch {
    return undefined;
  }
}

/** The driver a DAX device is bound to ('device_dax', 'fsdev_dax', 'kmem'…), '' when unbound, undefined when not a DAX device. */
export function daxDriver(devPath: string): string | undefined {
  const name = daxName(devPath);
  if (!name) return undefined;
  try {
    return nodePath.basename(fs.readlinkSync(`${sysfsRoot()}/bus/dax/devices/${name}/driver`));
  } catch {
    return '';
  }
}

/** 'fsdev' / 'devdax' for a DAX device bound to either driver, else undefined. */
export function daxMode(devPath: string): DaxMode | undefined {
  const d = daxDriver(devPath);
  return d === 'fsdev_dax' ? 'fsdev' : d === 'device_dax' ? 'devdax' : undefined;
}

/** Whether this kernel has the famfs fsdev_dax driver at all. */
export function fsdevAvailable(): boolean {
  return fs.existsSync(`${sysfsRoot()}/bus/dax/drivers/fsdev_dax`);
}

function write(file: string, value: string): string | undefined {
  try {
    fs.writeFileSync(file, value);
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  }
}

/** The one line said when a device is in fsdev mode and a verb needs to map it. */
export function fsdevHint(devPath: string): string {
  return `${devPath} is bound to fsdev_dax (famfs kernel mode), so it cannot be mapped here: use paths inside its famfs mount, or switch it back with \`famfs daxdev --mode devdax ${devPath}\``;
}

/**
 * Bind a DAX device to the driver of `mode` (no-op when it already is). Throws
 * DaxModeError with one line that says what failed and what to do.
 */
export function setDaxMode(devPath: string, mode: DaxMode): { changed: boolean } {
  const name = daxName(devPath);
  if (!name) throw new DaxModeError(`${devPath}: not a DAX device (no /sys/bus/dax/devices entry)`, 'ENODEV');
  const cur = daxDriver(devPath);
  const want = DRIVER[mode];
  if (cur === want) return { changed: false };
  const drivers = `${sysfsRoot()}/bus/dax/drivers`;
  if (!fs.existsSync(`${drivers}/${want}`)) {
    throw new DaxModeError(`${devPath}: this kernel has no ${want} driver${mode === 'fsdev' ? ' (not a famfs kernel: mount with --data-path daemon)' : ''}`, 'ENODEV');
  }
  const fail = (step: string, err: string): never => {
    throw new DaxModeError(`${devPath}: cannot bind ${name} to ${want}: ${step} failed (${err}); this needs root${mode === 'fsdev' ? ' and a famfs kernel (DEV_DAX_FSDEV)' : ''}`, err === 'EACCES' || err === 'EPERM' ? 'EPERM' : 'EIO');
  };
  if (cur) {
    const err = write(`${drivers}/${cur}/unbind`, name);
    if (err) fail(`${cur}/unbind`, err);
  }
  if (mode === 'fsdev') {
    // new_id binds the device when the driver matches it; bind is needed only if it did not.
    const idErr = write(`${drivers}/fsdev_dax/new_id`, name);
    if (daxDriver(devPath) !== want) {
      const err = write(`${drivers}/fsdev_dax/bind`, name);
      if (err && daxDriver(devPath) !== want) fail('fsdev_dax/bind', idErr ? `${idErr}, then ${err}` : err);
    }
  } else {
    write(`${drivers}/fsdev_dax/remove_id`, name); // absent id: nothing to remove
    const err = write(`${drivers}/device_dax/bind`, name);
    if (err && daxDriver(devPath) !== want) fail('device_dax/bind', err);
  }
  if (daxDriver(devPath) !== want) fail('binding', `still bound to ${daxDriver(devPath) || 'no driver'}`);
  return { changed: true };
}
