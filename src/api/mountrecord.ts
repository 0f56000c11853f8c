/**
 * Which daemon serves a famfs mount, known without asking it (a SIGSTOPped or wedged daemon
 * never answers, and a stat or getxattr on its mount would hang the caller).
 *
 * Each daemon, once mounted, writes a small record under /run/famfs/mounts named after its
 * mount's device number (major:minor, from mountinfo; unique among mounted file systems).
 * A reader looks the mount up in mountinfo and trusts the record only if its pid still runs
 * with the same start time (/proc/PID/stat), so a record left by a killed daemon, or a pid
 * reused since, never names the wrong process. Reading /proc never waits for the daemon.
 */
import fs from 'node:fs';
import path from 'node:path';
import { mountAt, type MountInfo } from '../fuse/mountinfo.js';

export interface MountRecord {
  pid: number;
  /** Start time of pid (field 22 of /proc/PID/stat, clock ticks since boot). */
  start: string;
  /** The daemon's system UUID (hosts simulated on one machine differ in it). */
  systemUuid: string;
  device: string;
  mountpoint: string;
  dataPath: 'kernel' | 'daemon';
}

/** What the mount's daemon is doing, as /proc shows it. */
export type DaemonState = 'running' | 'stopped' | 'gone';

export function runDir(): string {
  return process.env.FAMFS_RUN_DIR || '/run/famfs/mounts';
}

function recordFile(m: Pick<MountInfo, 'major' | 'minor'>): string {
  return path.join(runDir(), `${m.major}:${m.minor}.json`);
}

/** Fields of /proc/PID/stat after the command name (which may hold spaces and parentheses). */
function procStat(pid: number): string[] | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

export function processStart(pid: number): string | undefined {
  return procStat(pid)?.[19];
}

/** running (any state but stopped or dead), stopped (SIGSTOP, ptrace stop), gone (no such process, zombie). */
export function processState(pid: number): DaemonState {
  const s = procStat(pid)?.[0];
  if (!s || s === 'Z' || s === 'X') return 'gone';
  return s === 'T' || s === 't' ? 'stopped' : 'running';
}

/**
 * The famfs mount that answers at `mountpoint` (mountinfo only, the mount is not touched): the
 * path resolved through symlinks, the newest mount there (a later one hides earlier ones).
 */
export function famfsMountInfoAt(mountpoint: string): MountInfo | undefined {
  return mountAt(mountpoint, 'famfs');
}

/** Called by the daemon once mounted; failures only cost the record (callers fall back). */
export function writeMountRecord(m: MountInfo, r: Omit<MountRecord, 'pid' | 'start'>): string | undefined {
  const start = processStart(process.pid);
  if (!start) return undefined;
  const file = recordFile(m);
  try {
    fs.mkdirSync(runDir(), { recursive: true, mode: 0o755 });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ ...r, pid: process.pid, start } satisfies MountRecord) + '\n', { mode: 0o644 });
    fs.renameSync(tmp, file);
    return file;
  } catch {
    return undefined;
  }
}

/** Remove our record at exit (only if it is still ours: the number may have been reused). */
export function removeMountRecord(file: string): void {
  try {
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as MountRecord;
    if (r.pid === process.pid) fs.rmSync(file, { force: true });
  } catch {
    /* gone already */
  }
}

/** The record of mount `m` whose daemon still runs (or is stopped); undefined when none is trustworthy. */
export function readMountRecord(m: Pick<MountInfo, 'major' | 'minor'>): MountRecord | undefined {
  let r: MountRecord;
  try {
    r = JSON.parse(fs.readFileSync(recordFile(m), 'utf8')) as MountRecord;
  } catch {
    return undefined;
  }
  if (!Number.isInteger(r.pid) || r.pid <= 0 || processStart(r.pid) !== r.start) return undefined;
  return r;
}

/** The daemon of a mount and its state; undefined when no record names it (then nothing is known). */
export function mountDaemon(m: Pick<MountInfo, 'major' | 'minor'>): { record: MountRecord; state: DaemonState } | undefined {
  const record = readMountRecord(m);
  return record ? { record, state: processState(record.pid) } : undefined;
}

/**
 * Why the mount at `mountpoint` must not be touched (stat, getxattr, readdir) now: its daemon
 * is stopped, so any call would wait until it runs again. undefined: go ahead.
 */
export function untouchable(mountpoint: string): string | undefined {
  const m = famfsMountInfoAt(mountpoint);
  const d = m && mountDaemon(m);
  if (!d || d.state === 'running') return undefined;
  return d.state === 'stopped' ? `its daemon (pid ${d.record.pid}) is stopped` : `its daemon (pid ${d.record.pid}) is gone`;
}
