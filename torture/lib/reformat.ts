/**
 * Property 6 (long): repeated re-formats under a live client mount; each must
 * turn client reads into ESTALE within the deadline. Needs root and /dev/fuse.
 */
import fs from 'node:fs';
import path from 'node:path';
import { famfsOk, GiB, makeHost, removeHost, sparseFile, removeAllShm } from '../../test/core/helpers.js';
import { progress } from './common.js';
import { HAVE_FUSE, mount, umount, umountAll, waitFor } from '../../test/fs/mounted.js';

export async function reformatCycles(cycles: number, deadlineMs = 2000): Promise<{ tried: number; failed: number; lost: number; maxMs: number; errors: string[]; skipped?: string }> {
  if (!HAVE_FUSE) return { tried: 0, failed: 0, lost: 0, maxMs: 0, errors: [], skipped: 'no /dev/fuse or not root' };
  const master = makeHost('tort-m'), client = makeHost('tort-c');
  const res = { tried: 0, failed: 0, lost: 0, maxMs: 0, errors: [] as string[] };
  const dev = sparseFile('tort-reformat', 4 * GiB);
  try {
    for (let i = 0; i < cycles; i++) {
      res.tried++;
      progress();
      famfsOk(master, ['mkfs', '--force', dev]);
      famfsOk(master, ['creat', '-d', dev, '-s', '4096', '-r', '-S', String(i + 1), 'f']);
      const mp = mount(client, dev, 'tort');
      try {
        fs.readFileSync(path.join(mp, 'f'));
        // The client is simulated on this host, so its mount is here too: --even-if-mounted.
        famfsOk(master, i % 2 ? ['mkfs', '--force', '--kill', '--even-if-mounted', dev] : ['mkfs', '--force', '--even-if-mounted', dev]);
        const ms = await waitFor(() => {
          try {
            fs.readFileSync(path.join(mp, 'f'));
            return false;
          } catch (e) {
            return (e as NodeJS.ErrnoException).errno === -116;
          }
        }, deadlineMs, 5);
        res.maxMs = Math.max(res.maxMs, ms);
      } catch (e) {
        res.failed++;
        res.lost++;
        res.errors.push(`cycle ${i}: ${(e as Error).message}`);
      } finally {
        umount(client, mp);
      }
    }
  } finally {
    umountAll(client);
    removeAllShm();
    removeHost(master);
    removeHost(client);
  }
  return res;
}
