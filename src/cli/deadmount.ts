/**
 * A famfs mount whose daemon is gone or wedged, and clearing it.
 *
 * A daemon SIGKILLed while it writes a cache invalidation can stay in the
 * kernel for good (waiting for a directory lock that a caller's CREATE holds
 * until an answer that never comes): its /dev/fuse fds never close, so the
 * connection is never aborted and every caller hangs. Only an abort through
 * fusectl (/sys/fs/fuse/connections/<minor of st_dev>/abort) ends it. Nothing
 * here touches the mount itself from this process: a stat could hang.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMounted, type MountInfo } from '../fuse/mountinfo.js';
import { umount2, MNT_DETACH } from '../sys/libc.js';
import type { ProbeAnswer } from './status-probe.js';

const PROBE_JS = fileURLToPath(new URL('./status-probe.js', import.meta.url));
const FUSECTL = '/sys/fs/fuse/connections';
/**
 * How long a daemon may take to answer one getxattr before it counts as wedged: generous,
 * because a live daemon on a loaded machine took over 3 s (it would be aborted wrongly).
 */
export const PROBE_TIMEOUT_MS = Number(process.env.FAMFS_PROBE_TIMEOUT_MS) || 10_000;

export type DaemonHealth = 'alive' | 'gone' | 'unresponsive';

/**
 * Ask the daemon (one getxattr on the root) from a child process that is killed
 * after `timeoutMs`: in a wedged mount the request is never read, so the child
 * stays killable.
 */
export function probeDaemon(mountpoint: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<DaemonHealth> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PROBE_JS, mountpoint], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', () => {
      clearTimeout(timer);
      let a: ProbeAnswer;
      try {
        a = JSON.parse(out) as ProbeAnswer;
      } catch {
        return resolve('unresponsive');
      }
      // ENOTCONN: the kernel already aborted it (all fds closed); any other answer came from a daemon.
      resolve(a.error && /ENOTCONN/.test(a.error) ? 'gone' : 'alive');
    });
  });
}

/** Write 1 to the connection's fusectl abort file, mounting fusectl for the moment if needed. */
export function abortConnection(minor: number): boolean {
  const file = `${FUSECTL}/${minor}/abort`;
  let mounted = false;
  if (!fs.existsSync(`${FUSECTL}/${minor}`)) {
    mounted = spawnSync('/usr/bin/mount', ['-t', 'fusectl', 'fusectl', FUSECTL]).status === 0;
  }
  try {
    fs.writeFileSync(file, '1');
    return true;
  } catch {
    return false;
  } finally {
    if (mounted) {
      try {
        umount2(FUSECTL, 0);
      } catch {
        /* busy: leave it mounted, as systemd would */
      }
    }
  }
}

/**
 * If the famfs mount at `m` has no working daemon, abort its connection (so
 * blocked callers get ENOTCONN and a stuck daemon can finish exiting), say so
 * in one line, and detach it. Returns false, touching nothing, if the daemon answers.
 */
export async function clearDeadMount(m: MountInfo, say: (line: string) => void): Promise<boolean> {
  const health = await probeDaemon(m.mountpoint);
  if (health === 'alive') return false;
  const aborted = abortConnection(m.minor);
  const why = health === 'gone' ? 'its daemon is gone' : `its daemon did not answer within ${PROBE_TIMEOUT_MS} ms`;
  say(`famfs: ${m.mountpoint}: ${why}; ${aborted ? `aborted FUSE connection ${m.minor}` : `could not abort FUSE connection ${m.minor}`} and unmounted it`);
  try {
    umount2(m.mountpoint, MNT_DETACH);
  } catch (e) {
    if (isMounted(m.mountpoint)) throw e; // else its daemon, woken by the abort, unmounted it first
  }
  return true;
}
