import type { Command } from 'commander';
import { FamfsError } from '../api/errors.js';
import { unmountFuse } from '../fuse/mount.js';
import { clearDeadMount, famfsMountAt } from './deadmount.js';

export function register(program: Command): void {
  program
    .command('umount')
    .description('unmount a famfs (also one whose daemon died or is wedged: its connection is aborted); the daemon then exits')
    .argument('<MOUNTPOINT>', 'where it is mounted')
    .option('-l, --lazy', 'detach now even if busy (MNT_DETACH)')
    .action(async (mountpoint: string, o: { lazy?: boolean }) => {
      // Found in mountinfo only: a stat of a wedged mount point could hang.
      const m = famfsMountAt(mountpoint);
      if (!m) throw new FamfsError(`${mountpoint}: no famfs is mounted there`, 'EINVAL');
      if (!o.lazy) {
        try {
          unmountFuse(m.mountpoint); // a live daemon sees it and exits; unmounting also aborts a dead connection
          return;
        } catch (e) {
          if ((e as { code?: string }).code !== 'EBUSY') throw e;
        }
      }
      // Busy, or detaching: a detached wedged connection would hang its callers for good, so check first.
      if (await clearDeadMount(m, (l) => process.stderr.write(`${l}\n`))) return;
      if (!o.lazy) throw new FamfsError(`${m.mountpoint}: busy (files are open); close them or use --lazy`, 'EBUSY');
      unmountFuse(m.mountpoint, { lazy: true });
    });
}
