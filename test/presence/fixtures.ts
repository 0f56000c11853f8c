/** A famfs device in /dev/shm with the presence area and a short lease, for presence tests. */
import { mkfs } from '../../src/api/mkfs.js';
import { asHost, GiB, sparseFile, type Host } from '../core/helpers.js';

/** mkfs --features delete (delete, rename, presence) --lease, as `master`. */
export function presenceDevice(master: Host, tag: string, leaseMs: number, features: string[] = ['delete']): string {
  const dev = sparseFile(tag, 4 * GiB);
  asHost(master, () => mkfs(dev, { features, leaseMs }));
  return dev;
}
