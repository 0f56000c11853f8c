import type { Command } from 'commander';
import { FamfsError } from '../api/errors.js';
import { unmountFuse } from '../fuse/mount.js';
import { clearDeadMount } from './deadmount.js';
import { mountDaemonPid, mountIsKernelMode } from '../api/mounted.js';
import { famfsMountInfoAt, mountDaemon, processState } from '../api/mountrecord.js';
import type { MountInfo } from '../fuse/mountinfo.js';
import type { PresenceArea } from '../presence/area.js';
import { daemonSlots, localDaemonSlots, openArea, waitLeft, type DaemonSlot } from '../presence/leave-wait.js';
import { pidAlive } from '../presence/host.js';

/** Wait (up to `ms`) for a daemon to exit: in kernel mode it rebinds the device to device_dax on its way out. */
async function waitExit(pid: number, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (!pidAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return !pidAlive(pid);
}

/** How long `famfs umount` waits for the daemon to leave its presence slot. */
const LEAVE_WAIT_MS = 10_000;

/**
 * Unmount; 'dead' when the daemon was gone or wedged (its connection aborted), 'lazy' when
 * detached with files still open (--lazy), 'done' otherwise.
 */
async function unmount(m: MountInfo, o: { lazy?: boolean }): Promise<'done' | 'dead' | 'lazy'> {
  if (!o.lazy) {
    try {
      unmountFuse(m.mountpoint); // a live daemon sees it and exits; unmounting also aborts a dead connection
      return 'done';
    } catch (e) {
      if ((e as { code?: string }).code !== 'EBUSY') throw e;
    }
  }
  // Busy, or detaching: a detached wedged connection would hang its callers for good, so check first.
  if (await clearDeadMount(m, (l) => process.stderr.write(`${l}\n`))) return 'dead';
  // A kernel-mode daemon maps the mount's own .meta files (the device cannot be mapped), which
  // keeps the mount busy: detach it, and the daemon lets go once it sees it gone.
  const kernel = mountIsKernelMode(m.mountpoint);
  if (!o.lazy && !kernel) throw new FamfsError(`${m.mountpoint}: busy (files are open); close them or use --lazy`, 'EBUSY');
  const pid = mountDaemonPid(m.mountpoint) ?? 0;
  unmountFuse(m.mountpoint, { lazy: true });
  if (kernel && pid > 0 && !(await waitExit(pid, 30_000))) {
    throw new FamfsError(`${m.mountpoint}: detached, but its daemon (pid ${pid}) still runs: files in it are still open`, 'EBUSY');
  }
  return kernel ? 'done' : 'lazy';
}

/** Return only once the daemon left its presence slot; one clear line (or error) when it cannot. */
async function awaitLeave(area: PresenceArea, mine: DaemonSlot[], mp: string, dev: string, ms: number): Promise<void> {
  const r = await waitLeft(area, mine, ms);
  if (r.left) return;
  const { slot, pid } = r.slot;
  if (r.why === 'exited') {
    process.stderr.write(`famfs: ${mp}: its daemon (pid ${pid}) exited without leaving presence slot ${slot}: other hosts call it gone after a lease of silence; famfs hosts --evict ${slot} ${dev} frees it now\n`);
    return;
  }
  const how = processState(pid) === 'stopped' ? 'stopped (SIGSTOP)' : 'wedged?';
  throw new FamfsError(`${mp}: unmounted, but its daemon (pid ${pid}) still holds presence slot ${slot} after ${ms} ms (${how}): its holds keep space until it leaves, or until it is down and evicted (famfs hosts --evict ${slot} ${dev})`, 'EBUSY');
}

/** Without a record (a daemon of an older build): the local slot only when there is just one, else nothing to wait for. */
function soleLocalSlot(area: PresenceArea, mp: string): DaemonSlot[] {
  const local = localDaemonSlots(area);
  if (local.length > 1) process.stderr.write(`famfs: ${mp}: no record names its daemon and ${local.length} daemons of this machine use the device: not waiting for one to leave its presence slot\n`);
  return local.length === 1 ? local : [];
}

export function register(program: Command): void {
  program
    .command('umount')
    .description('unmount a famfs (also one whose daemon died or is wedged: its connection is aborted); the daemon then exits')
    .argument('<MOUNTPOINT>', 'where it is mounted')
    .option('-l, --lazy', 'detach now even if busy (MNT_DETACH)')
    .action(async (mountpoint: string, o: { lazy?: boolean }) => {
      // Found in mountinfo only: a stat of a wedged mount point could hang.
      const m = famfsMountInfoAt(mountpoint);
      if (!m) throw new FamfsError(`${mountpoint}: no famfs is mounted there`, 'EINVAL');
      // The slot of the daemon serving THIS mount (another local mount of the device has its own),
      // read before unmounting: its record names it without asking it (it may be stopped).
      const daemon = mountDaemon(m);
      const area = openArea(m.source);
      try {
        const mine = !area ? [] : daemon ? daemonSlots(area, daemon.record) : soleLocalSlot(area, m.mountpoint);
        const how = await unmount(m, o);
        // --lazy leaves open files working: the daemon keeps its slot (and their holds) until they close.
        if (area && mine.length && how !== 'lazy') await awaitLeave(area, mine, m.mountpoint, m.source, how === 'dead' ? 3000 : LEAVE_WAIT_MS);
      } finally {
        area?.device.close();
      }
    });
}
