/**
 * The contract between `bench/run.ts` and a bench module: an async function
 * that measures something and returns rows, each figure next to a reference
 * measured in the same run on the same machine.
 */
export interface BenchRow {
  /** What was measured, e.g. "replay 15,420 entries". */
  name: string;
  value: number;
  /** Unit of value and refValue: "s", "files/s", "MiB/s", ... */
  unit: string;
  /** What the reference is, e.g. "cp -r of the same tree to tmpfs". */
  ref: string;
  refValue: number;
  /** Whether a smaller or a larger value is better (default: from the unit; "/s" → higher). */
  better?: 'lower' | 'higher';
  /**
   * The goal (issue 15) for ratio = value / refValue, or for the value itself: '>=' for
   * figures where higher is better, '<=' for times. Printed with the row, and whether this
   * run met it. Rows of issue 15's table get theirs from bench/goals.ts when unset here.
   */
  goal?: { op: '>=' | '<='; ratio: number } | { op: '>=' | '<='; value: number };
  /** Anything a reader needs to judge the figure (sizes, caveats). */
  note?: string;
}

/** A bench module: `export async function run(ctx): Promise<BenchRow[]>`. */
export type BenchFn = (ctx: BenchContext) => Promise<BenchRow[]>;

export interface BenchContext {
  /** Scratch directory on tmpfs for this module (removed afterwards by the runner). */
  shmDir: string;
  /** Environment for child processes: FAMFS_SYSTEM_UUID_FILE set to this run's master. */
  env: NodeJS.ProcessEnv;
  /** Repository root (for bin/famfs.js). */
  repo: string;
  log: (line: string) => void;
}
