/** What every verb needs: find the file system a command names, and print results. */
import { Famfs } from '../api/famfs.js';
import { FamfsError } from '../api/errors.js';

export interface DeviceOption {
  device?: string;
}

/** Open the famfs named by --device. */
export function openTarget(opts: DeviceOption, mode: { writable?: boolean } = {}): Famfs {
  if (!opts.device) throw new FamfsError('no file system given: use --device DEV', 'EINVAL', 2);
  return Famfs.open(opts.device, mode);
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Run `fn` with an open famfs and close it afterwards. */
export function withFamfs<T>(opts: DeviceOption, mode: { writable?: boolean }, fn: (fs: Famfs) => T): T {
  const fs = openTarget(opts, mode);
  try {
    return fn(fs);
  } finally {
    fs.close();
  }
}
