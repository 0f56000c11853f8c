/**
 * Hang detection for torture children: a child is hung when it reports no
 * progress (a "PROGRESS" line on stdout) for `idleMs`; slow is not hung, since a
 * loaded machine (2 cores shared by many) can take several times as long. `capMs`
 * bounds the whole run however steadily it progresses.
 */
import type { ChildProcess } from 'node:child_process';

export const PROGRESS_LINE = 'PROGRESS';

/** Watch `c`; SIGKILL it when idle too long or past the cap. Returns why it was killed ('' if it was not). */
export function watchProgress(c: ChildProcess, idleMs: number, capMs: number): () => string {
  let why = '';
  const stop = (reason: string): void => {
    why = reason;
    c.kill('SIGKILL');
  };
  const minutes = (ms: number): string => `${+(ms / 60_000).toFixed(2)} min`;
  const arm = (): NodeJS.Timeout => setTimeout(() => stop(`no progress for ${minutes(idleMs)}`), idleMs);
  let idle = arm();
  const cap = setTimeout(() => stop(`still running after ${minutes(capMs)}`), capMs);
  c.stdout?.on('data', (d: Buffer) => {
    if (!d.includes(PROGRESS_LINE)) return;
    clearTimeout(idle);
    idle = arm();
  });
  c.on('close', () => {
    clearTimeout(idle);
    clearTimeout(cap);
  });
  return () => why;
}
