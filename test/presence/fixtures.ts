/** A famfs device in /dev/shm with the presence area and a short lease, for presence tests. */
import { mkfs } from '../../src/api/mkfs.js';
import { PRESENCE_OFFSET, PRESENCE_SIZE } from '../../src/format/constants.js';
import { Device } from '../../src/device/device.js';
import { PresenceArea } from '../../src/presence/area.js';
import { asHost, GiB, sparseFile, type Host } from '../core/helpers.js';

/** mkfs --features delete (delete, rename, presence) --lease, as `master`. */
export function presenceDevice(master: Host, tag: string, leaseMs: number, features: string[] = ['delete']): string {
  const dev = sparseFile(tag, 4 * GiB);
  asHost(master, () => mkfs(dev, { features, leaseMs }));
  return dev;
}

/** The presence area of `dev`, read and written directly (as another host would see it). */
export function presenceArea(dev: string): PresenceArea {
  const d = Device.open(dev);
  d.mapHead(PRESENCE_OFFSET + PRESENCE_SIZE);
  return new PresenceArea(d);
}
