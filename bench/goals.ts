/**
 * Issue 15's table: every row, the bench module that measures it, which printed rows
 * it is (by name and reference), and its goal. `npm run bench` gives a row its goal
 * from here when the module did not set one, and ends with this table filled in:
 * each row's figure, same-run reference, ratio, goal and "met" / "NOT met" — or why
 * it has no figure (module not run or failed).
 *
 * The issue's goals are about the default mount; a `famfs --cache` row is listed as such
 * and counted apart.
 *
 * A goal on the ratio (value ÷ reference) has `ratio`; a goal on the figure itself
 * (seconds, bytes per entry) has `value`, and the reference is then only context.
 */
import type { BenchRow } from './types.js';

export type Goal = NonNullable<BenchRow['goal']>;

export interface Issue15Row {
  /** The row as issue 15 words it. */
  what: string;
  module: string;
  /** Matches the printed rows' names (several rows: e.g. famfs and famfs --cache). */
  name: RegExp;
  /** Matches their reference (the one the goal is about). */
  ref: RegExp;
  goal: Goal;
}

const atLeast = (ratio: number): Goal => ({ op: '>=', ratio });
const atMost = (ratio: number): Goal => ({ op: '<=', ratio });

export const ISSUE15: Issue15Row[] = [
  { what: 'famfs cp of a 1 GiB file vs cp to tmpfs', module: 'cp', name: /^famfs cp of a 1 GiB file$/, ref: /^cp of the same file/, goal: atLeast(0.8) },
  { what: 'famfs cp -r of 1,000 × 4 KiB vs cp -r to tmpfs', module: 'cp', name: /^famfs cp -r of /, ref: /^cp -r /, goal: atLeast(0.3) },
  { what: 'seq read 1 MiB warm vs bindfs', module: 'fuse', name: /^read 1 GiB dd bs=1M warm/, ref: /^bindfs/, goal: atLeast(3) },
  { what: 'seq read 1 MiB warm vs tmpfs', module: 'fuse', name: /^read 1 GiB dd bs=1M warm/, ref: /^tmpfs/, goal: atLeast(0.8) },
  { what: 'seq read 1 MiB cold vs bindfs', module: 'fuse', name: /^read 1 GiB dd bs=1M cold/, ref: /^bindfs/, goal: atLeast(2) },
  { what: 'seq read 128 KiB warm vs bindfs', module: 'fuse', name: /^read 1 GiB dd bs=128k warm/, ref: /^bindfs/, goal: atLeast(1.5) },
  { what: 'seq read 128 KiB cold vs bindfs', module: 'fuse', name: /^read 1 GiB dd bs=128k cold/, ref: /^bindfs/, goal: atLeast(1) },
  { what: '4 KiB random reads vs bindfs', module: 'fuse', name: /random 4 KiB preads/, ref: /^bindfs/, goal: atLeast(1.5) },
  { what: 'stat of 10,000 files right after mount vs bindfs', module: 'fuse', name: /^stat of .* files, first after mount/, ref: /^bindfs/, goal: atLeast(1) },
  { what: 'readdir of 10,000 entries cold, time vs bindfs', module: 'fuse', name: /^readdir of .* cold/, ref: /^bindfs/, goal: atMost(1) },
  { what: 'readdir of 10,000 entries warm, time vs bindfs', module: 'fuse', name: /^readdir of .* warm/, ref: /^bindfs/, goal: atMost(1) },
  { what: 'cp -r of 2,000 small files into the master mount vs famfs cp -r', module: 'create', name: /^cp -r of .* into the master mount/, ref: /^famfs cp -r/, goal: atLeast(0.6) },
  // Not in the issue's table: the large-file twin of the row above, a bench row since stop 21.
  { what: 'cp of a 1 GiB file into the master mount vs famfs cp (bench row, not in the issue)', module: 'create', name: /^cp of a 1 GiB file into the master mount/, ref: /^famfs cp -d/, goal: atLeast(0.8) },
  { what: 'famfs --version vs node -e 0', module: 'startup', name: /^famfs --version/, ref: /^node -e 0/, goal: atMost(1.5) },
  { what: 'famfs ls of a small fs vs node -e 0', module: 'startup', name: /^famfs ls /, ref: /^node -e 0/, goal: atMost(1.5) },
  { what: 'replay 15,420 entries in-process ≤ 60 ms', module: 'replay', name: /^replay 15,420 entries/, ref: /^CRC-32/, goal: { op: '<=', value: 0.06 } },
  { what: '1,000,000-entry log: whole-process replay ≤ 5 s', module: 'biglog', name: /^replay 1,000,000 entries, whole process/, ref: /pread/, goal: { op: '<=', value: 5 } },
  { what: '1,000,000-entry log: resident memory ≤ 300 B per entry', module: 'biglog', name: /^resident memory after replaying/, ref: /./, goal: { op: '<=', value: 300 } },
  { what: 'mount of a 100,000-entry fs until ready ≤ 2 s', module: 'biglog', name: /^famfs mount of a .*-entry file system/, ref: /^bindfs/, goal: { op: '<=', value: 2 } },
  { what: 'ls -lR of it on a client vs the same tree on bindfs', module: 'biglog', name: /^ls -lR of that/, ref: /bindfs/, goal: atMost(2) },
];

/** The figure a goal is about: the ratio to the reference, or the value itself. */
export function goalFigure(r: BenchRow, g: Goal): number {
  return 'value' in g ? r.value : r.refValue ? r.value / r.refValue : NaN;
}

export function goalMet(r: BenchRow, g: Goal): boolean {
  const x = goalFigure(r, g);
  const bound = 'value' in g ? g.value : g.ratio;
  return g.op === '>=' ? x >= bound : x <= bound;
}

export function goalText(g: Goal, unit: string): string {
  const op = g.op === '>=' ? '≥' : '≤';
  return 'value' in g ? `goal ${op} ${g.value}${unit ? ` ${unit}` : ''}` : `goal ${op} ${g.ratio}×`;
}

/** Issue 15's goal for a printed row the module gave none. */
export function issue15Goal(module: string, r: BenchRow): Goal | undefined {
  return ISSUE15.find((g) => g.module === module && g.name.test(r.name) && g.ref.test(r.ref))?.goal;
}
