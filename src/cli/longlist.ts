/**
 * `ls -l` as coreutils prints it: mode string (setuid/setgid/sticky as s/S, t/T),
 * link count, owner and group names (or numbers), size (or -h human), name; the
 * columns padded to the widest value in the listing. famfs logs no times, so
 * there is no date column.
 */
import fs from 'node:fs';
import type { FamfsStat } from '../api/files.js';

const S_ISUID = 0o4000, S_ISGID = 0o2000, S_ISVTX = 0o1000;

export function modeString(type: 'file' | 'dir' | 'symlink', mode: number): string {
  const bit = (on: number, ch: string): string => (mode & on ? ch : '-');
  const special = (x: number, s: number, lower: string, upper: string): string => (mode & s ? (mode & x ? lower : upper) : bit(x, 'x'));
  return (type === 'dir' ? 'd' : type === 'symlink' ? 'l' : '-') +
    bit(0o400, 'r') + bit(0o200, 'w') + special(0o100, S_ISUID, 's', 'S') +
    bit(0o040, 'r') + bit(0o020, 'w') + special(0o010, S_ISGID, 's', 'S') +
    bit(0o004, 'r') + bit(0o002, 'w') + special(0o001, S_ISVTX, 't', 'T');
}

/** Sizes as `ls -h`: powers of 1024, one decimal below 10, always rounded up. */
export function humanSize(n: number): string {
  if (n < 1024) return String(n);
  const units = ['K', 'M', 'G', 'T', 'P', 'E'];
  let v = n, u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  if (v < 10) {
    const r = Math.ceil(v * 10) / 10;
    if (r < 10) return `${r.toFixed(1)}${units[u]}`;
    v = r;
  }
  const c = Math.ceil(v);
  if (c >= 1024 && u < units.length - 1) return `1.0${units[u + 1]}`;
  return `${c}${units[u]}`;
}

/** id → name from a passwd/group style file (name:x:id:...); empty when unreadable. */
function idNames(file: string): Map<number, string> {
  const m = new Map<number, string>();
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return m;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && /^[0-9]+$/.test(f[2]!) && !m.has(Number(f[2]))) m.set(Number(f[2]), f[0]!);
  }
  return m;
}

export interface LongOptions {
  numeric?: boolean;
  human?: boolean;
  /** Name to print for each entry (default: its path). */
  name?: (s: FamfsStat) => string;
}

export function longLines(stats: FamfsStat[], o: LongOptions = {}): string[] {
  const users = o.numeric ? new Map<number, string>() : idNames('/etc/passwd');
  const groups = o.numeric ? new Map<number, string>() : idNames('/etc/group');
  const rows = stats.map((s) => [
    modeString(s.type, s.mode),
    String(s.nlink),
    users.get(s.uid) ?? String(s.uid),
    groups.get(s.gid) ?? String(s.gid),
    o.human ? humanSize(s.size) : String(s.size),
    (o.name ?? ((x: FamfsStat) => x.path))(s) + (s.target !== undefined ? ` -> ${s.target}` : ''),
  ]);
  const width = (i: number): number => Math.max(0, ...rows.map((r) => r[i]!.length));
  const w = [0, 1, 2, 3, 4].map(width);
  return rows.map((r) => `${r[0]} ${r[1]!.padStart(w[1]!)} ${r[2]!.padEnd(w[2]!)} ${r[3]!.padEnd(w[3]!)} ${r[4]!.padStart(w[4]!)} ${r[5]}`);
}
