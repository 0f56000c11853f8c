import type { Command } from 'commander';
import { FamfsError } from '../api/errors.js';
import { unmountFuse } from '../fuse/mount.js';
import { clearDeadMount, famfsMountAt } from './deadmount.js';
import { mountIsKernelMode } from '../api/mounted.js';
import { getxattr } from '../sys/libc.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Wait (up to `ms`) for a daemon to exit: in kernel mode it rebinds the device to device_dax on its way out. */
async function waitExit(pid: number, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return !alive(pid);
}

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
      // A kernel-mode daemon maps the mount's own .meta files (the device cannot be mapped), which
      // keeps the mount busy: detach it, and the daemon lets go once it sees it gone.
      const kernel = mountIsKernelMode(m.mountpoint);
      if (!o.lazy && !kernel) throw new FamfsError(`${m.mountpoint}: busy (files are open); close them or use --lazy`, 'EBUSY');
      let pid = 0;
      try {
        pid = Number(getxattr(m.mountpoint, 'user.famfs.pid') ?? 0);
      } catch {
        /* dead daemon */
      }
      unmountFuse(m.mountpoint, { lazy: true });
      if (kernel && pid > 0 && !(await waitExit(pid, 30_000))) {
        throw new FamfsError(`${m.mountpoint}: detached, but its daemon (pid ${pid}) still runs: files in it are still open`, 'EBUSY');
      }
    });
}
