import type { Command } from 'commander';
import fs from 'node:fs';
import { FamfsError } from '../api/errors.js';
import { famfsMountList as famfsMounts } from '../api/locate.js';
import { unmountFuse } from '../fuse/mount.js';

export function register(program: Command): void {
  program
    .command('umount')
    .description('unmount a famfs (also one whose daemon died); the daemon then exits')
    .argument('<MOUNTPOINT>', 'where it is mounted')
    .option('-l, --lazy', 'detach now even if busy (MNT_DETACH)')
    .action((mountpoint: string, o: { lazy?: boolean }) => {
      let mp = mountpoint;
      try {
        mp = fs.realpathSync(mountpoint);
      } catch {
        // A dead FUSE mount (ENOTCONN) cannot be resolved; match it as given.
      }
      const m = famfsMounts().find((x) => x.mountpoint === mp || x.mountpoint === mountpoint.replace(/\/+$/, ''));
      if (!m) throw new FamfsError(`${mountpoint}: no famfs is mounted there`, 'EINVAL');
      try {
        unmountFuse(m.mountpoint, { lazy: o.lazy });
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'EBUSY') throw new FamfsError(`${m.mountpoint}: busy (files are open); close them or use --lazy`, 'EBUSY');
        throw e;
      }
    });
}
