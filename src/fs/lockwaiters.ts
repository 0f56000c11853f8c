/**
 * Who is waiting for this host's famfs log lock (an flock on the device):
 * /proc/locks lists blocked flock requests as "N: -> FLOCK ... MAJ:MIN:INODE".
 * The master's daemon reads it while it holds the lock, so that a CLI writer
 * is never kept waiting by files somebody merely holds open on the mount.
 */
import fs from 'node:fs';

export interface LockTarget {
  /** "maj:min:inode" as /proc/locks prints it (hex major/minor, decimal inode). */
  key: string;
}

export function lockTarget(fd: number): LockTarget {
  const st = fs.fstatSync(fd, { bigint: true });
  const dev = st.dev;
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return { key: `${hex(major)}:${hex(minor)}:${st.ino}` };
}

/** Pids of processes blocked in flock() on the target (empty if /proc/locks cannot be read). */
export function lockWaiters(t: LockTarget, text?: string): number[] {
  try {
    text ??= fs.readFileSync('/proc/locks', 'utf8');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] !== '->' || f[2] !== 'FLOCK' || f[6] !== t.key) continue;
    out.push(Number(f[5]));
  }
  return out;
}
