/** Fixtures for tests that mount real famfs file systems through /dev/fuse. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { asHost, famfs, famfsOk, GiB, makeHost, removeAllShm, removeHost, sparseFile, type Host } from '../core/helpers.js';
import { mkfs, type MkfsOptions } from '../../src/api/mkfs.js';
import { abortConnection } from '../../src/cli/deadmount.js';
import { findFuseMounts } from '../../src/fuse/mountinfo.js';
import { umount2, MNT_DETACH } from '../../src/sys/libc.js';

export const HAVE_FUSE = fs.existsSync('/dev/fuse') && process.getuid?.() === 0;
export const NO_FUSE_REASON = 'SKIPPED: /dev/fuse is absent or we are not root; famfs mount tests need both';
if (!HAVE_FUSE) console.error(`\n*** ${NO_FUSE_REASON} ***\n`);

const mounts = new Set<string>();

export function tempMountpoint(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `famfs-mnt-${tag}-`));
}

/** `famfs mount` as `host`; returns the mount point. */
export function mount(host: Host, device: string, tag: string, extra: string[] = []): string {
  const mp = tempMountpoint(tag);
  famfsOk(host, ['mount', ...extra, device, mp]);
  mounts.add(mp);
  return mp;
}

/**
 * Unmount, whatever state the daemon is in: `famfs umount` (which aborts a dead or
 * wedged connection), then a lazy one, then, if still mounted, abort + detach here.
 */
export function umount(host: Host, mp: string): void {
  const minor = findFuseMounts({ mountpoint: mp })[0]?.minor;
  famfs(host, ['umount', mp]);
  if (isMounted(mp)) famfs(host, ['umount', '--lazy', mp]);
  if (isMounted(mp)) {
    if (minor !== undefined) abortConnection(minor);
    umount2(mp, MNT_DETACH);
  }
  mounts.delete(mp);
  fs.rmdirSync(mp);
}

/** The daemon pid of the famfs mounted at mp (asks it: only while it is healthy). */
export function daemonPid(host: Host, mp: string): number {
  const rows = JSON.parse(famfsOk(host, ['status', '--json']).stdout) as { mountpoint: string; pid: number | null }[];
  const pid = rows.find((r) => r.mountpoint === mp)?.pid;
  if (!pid) throw new Error(`no daemon pid for ${mp}`);
  return pid;
}

/** Task states of every thread of pid ('' if it is gone; a thread that ends while we look is left out). */
export function taskStates(pid: number): string {
  let out = '';
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return ''; // gone
  }
  for (const t of tids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      out += stat.charAt(stat.lastIndexOf(')') + 2);
    } catch {
      /* this thread ended meanwhile */
    }
  }
  return out;
}

/** For a failure message: each thread's name, state and kernel stack, and who the parent is. */
export function describeTask(pid: number): string {
  const read = (f: string): string => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  const status = read(`/proc/${pid}/status`);
  if (!status) return `pid ${pid}: gone`;
  const field = (k: string): string => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '?';
  let out = `pid ${pid} (${field('Name')}) state ${field('State')} ppid ${field('PPid')} threads ${field('Threads')} pending ${field('ShdPnd')}`;
  let tids: string[] = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    /* gone meanwhile */
  }
  for (const t of tids) {
    const stat = read(`/proc/${pid}/task/${t}/stat`);
    const stack = read(`/proc/${pid}/task/${t}/stack`).trim().split('\n').map((l) => l.replace(/^\[<0>\] /, '')).join(' < ');
    out += `\n  ${t} ${stat.slice(stat.indexOf('('), stat.lastIndexOf(')') + 3)} ${stack}`;
  }
  return out;
}

/**
 * Not finished exiting. A zombie has (its fds are closed, whoever reaps it), but a
 * zombie leader whose other threads still run has not: so look at every thread.
 */
export function pidAlive(pid: number): boolean {
  return /[^ZX]/.test(taskStates(pid));
}

/** Wait up to ms for pid to be gone; true if it is. */
export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (pidAlive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return !pidAlive(pid);
}

/**
 * After SIGKILLing the daemon of mp: let it exit; if it does not within ms (wedged in the
 * kernel on a directory lock held by a caller), abort its connection so it can. Never stats
 * the mount (that could hang this process). Returns whether an abort was needed.
 */
export async function reapKilledDaemon(mp: string, pid: number, ms = 3000): Promise<boolean> {
  if (await waitGone(pid, ms)) return false;
  const m = findFuseMounts({ mountpoint: mp })[0];
  if (m) abortConnection(m.minor);
  if (!(await waitGone(pid, 10_000))) throw new Error(`daemon ${pid} of ${mp} did not exit even after its connection was aborted`);
  return true;
}

export function isMounted(mp: string): boolean {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === mp);
}

/** Leave nothing mounted, whatever happened. */
export function umountAll(host: Host): void {
  for (const mp of [...mounts]) {
    try {
      umount(host, mp);
    } catch {
      /* keep going */
    }
  }
}

/** The file system twoHosts() makes, fills and mounts on both hosts. */
export interface SharedDevice {
  /** What the master's mkfs gets (e.g. `{ features: ['delete'], leaseMs: 2000 }`). */
  mkfs: MkfsOptions;
  /** Bytes of the /dev/shm file (default 4 GiB). */
  size?: number;
  /** Runs after mkfs, before the mounts (files made here are logged before any daemon starts). */
  populate?: (dev: string, master: Host) => void;
}

export interface TwoHosts {
  master: Host;
  client: Host;
}

/** twoHosts() with a device: its path and both mount points, set by a before() hook. */
export interface TwoMounts extends TwoHosts {
  dev: string;
  mpM: string;
  mpC: string;
}

/**
 * A master and a client host for the describe block that calls this (made at once, which is
 * fine: a skipped block never runs its body); after it, everything mounted is unmounted and
 * the hosts and /dev/shm devices are removed. Register cleanups that must come first before calling.
 * With `device`, a before() hook formats a device as the master, populates it and mounts it on
 * both hosts (read dev, mpM and mpC in hooks and tests, not while the block is collected).
 */
export function twoHosts(tag: string): TwoHosts;
export function twoHosts(tag: string, device: SharedDevice): TwoMounts;
export function twoHosts(tag: string, device?: SharedDevice): TwoHosts | TwoMounts {
  const hosts: TwoMounts = { master: makeHost(`${tag}-master`), client: makeHost(`${tag}-client`), dev: '', mpM: '', mpC: '' };
  after(() => {
    umountAll(hosts.master);
    removeAllShm();
    removeHost(hosts.master);
    removeHost(hosts.client);
  });
  if (device) {
    before(() => {
      hosts.dev = sparseFile(tag, device.size ?? 4 * GiB);
      asHost(hosts.master, () => mkfs(hosts.dev, device.mkfs));
      device.populate?.(hosts.dev, hosts.master);
      hosts.mpM = mount(hosts.master, hosts.dev, `${tag}-master`);
      hosts.mpC = mount(hosts.client, hosts.dev, `${tag}-client`);
    });
  }
  return hosts;
}

export async function waitFor(cond: () => boolean, ms: number, stepMs = 5): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return performance.now() - t0;
}

/** The errno name fn failed with (undefined if it did not); Node 20 has no name for ESTALE (-116). */
export function errnoOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return err.errno === -116 ? 'ESTALE' : err.code;
  }
}
