/**
 * `famfs cp` progress on a terminal: files and bytes done of the total, one
 * bar for the whole run. Off in pipes and logs (stderr not a TTY) and with
 * --quiet. The totals come from a stat walk of the sources, done before the
 * copy starts (cheap next to the copy, and it lets the bar show an ETA).
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import type cliProgressModule from 'cli-progress';

/**
 * cli-progress, loaded only when a bar is shown (loadBars): its modules were a few ms of every
 * `famfs cp` start-up, bar or not (docs/performance.md, stop 22).
 */
let cliProgress: typeof cliProgressModule | undefined;

export async function loadBars(): Promise<void> {
  cliProgress ??= (await import('cli-progress')).default;
}

export interface CopyTotals {
  files: number;
  bytes: number;
}

/** Regular files and their bytes under `sources` (directories only when recursive); unreadable entries are skipped. */
export function copyTotals(sources: string[], recursive: boolean): CopyTotals {
  const t: CopyTotals = { files: 0, bytes: 0 };
  const visit = (p: string): void => {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      return;
    }
    if (st.isFile()) {
      t.files++;
      t.bytes += st.size;
    } else if (st.isDirectory() && recursive) {
      let names: string[];
      try {
        names = fs.readdirSync(p);
      } catch {
        return;
      }
      for (const n of names) {
        const child = nodePath.join(p, n);
        // cp copies what it finds by type without following symlinks below the top; count likewise.
        const l = fs.lstatSync(child, { throwIfNoEntry: false });
        if (l && !l.isSymbolicLink()) visit(child);
      }
    }
  };
  for (const s of sources) visit(s);
  return t;
}

const MiB = 2 ** 20;
const fmtBytes = (n: number): string => (n >= 10 * 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / MiB).toFixed(1)} MiB`);

export class CopyProgress {
  private readonly bar?: cliProgressModule.SingleBar;
  private files = 0;
  private bytes = 0;

  constructor(readonly totals: CopyTotals, enabled: boolean, stream: NodeJS.WriteStream = process.stderr) {
    if (!enabled || totals.files === 0) return;
    if (!cliProgress) throw new Error('CopyProgress: call loadBars() first');
    this.bar = new cliProgress.SingleBar({
      format: 'famfs cp [{bar}] {percentage}% | {files}/{totalFiles} files | {done}/{totalBytes} | ETA {eta_formatted}',
      stream, hideCursor: true, etaBuffer: 50, fps: 10,
    }, cliProgress.Presets.shades_classic);
    this.bar.start(Math.max(1, totals.bytes), 0, this.payload());
  }

  private payload(): Record<string, string | number> {
    return { files: this.files, totalFiles: this.totals.files, done: fmtBytes(this.bytes), totalBytes: fmtBytes(this.totals.bytes) };
  }

  /** A file's copy begins: the previous one is done. */
  fileStarted(): void {
    if (!this.bar) return;
    if (this.started) this.files++;
    this.started = true;
    this.bar.update(this.bytes, this.payload());
  }
  private started = false;

  copied(n: number): void {
    if (!this.bar) return;
    this.bytes += n;
    this.bar.update(this.bytes, this.payload());
  }

  /** The run is over (every started file done). */
  stop(): void {
    if (!this.bar) return;
    if (this.started) this.files++;
    this.started = false;
    this.bar.update(Math.max(1, this.bytes), this.payload());
    this.bar.stop();
  }
}
