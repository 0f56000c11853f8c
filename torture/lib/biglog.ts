/**
 * A log sized for a big tree: `famfs mkfs --files N` (library form), fill every slot with
 * the library (directories of 1,000 entries, 1-byte files in 4 KiB units), replay on
 * another host, fsck there. The npm test runs it at 100,000; `npm run torture` at 1,000,000.
 */
import fs from 'node:fs';
import { mkfs, logLenForEntries } from '../../src/api/mkfs.js';
import { Famfs } from '../../src/api/famfs.js';
import { fsck } from '../../src/api/fsck.js';
import { logSlots } from '../../src/format/constants.js';
import { asHost, type Host } from '../../test/core/helpers.js';

export interface BigLogResult {
  entries: number;
  logLen: number;
  slots: number;
  mkfsMs: number;
  fillMs: number;
  replayMs: number;
  fsckMs: number;
  clean: boolean;
  files: number;
  dirs: number;
  /** Resident set after the replay (bytes). */
  rss: number;
  errors: string[];
}

export function bigLog(opts: { entries: number; master: Host; client: Host; device: string }): BigLogResult {
  const { entries, master, client, device } = opts;
  const errors: string[] = [];
  const ms = (t0: number): number => performance.now() - t0;
  let t = performance.now();
  // Data space: one 4 KiB unit per file, plus the log.
  const size = Math.max(4 * 1024 ** 3, logLenForEntries(entries) + entries * 4096 + 64 * 1024 ** 2);
  asHost(master, () => mkfs(device, { size: Math.ceil(size / 2 ** 30) * 2 ** 30, files: entries, allocUnit: 4096 }));
  const mkfsMs = ms(t);
  t = performance.now();
  const w = asHost(master, () => Famfs.open(device, { writable: true }));
  try {
    asHost(master, () => w.writer((wr) => {
      let n = 0;
      for (let d = 0; n < entries; d++) {
        wr.mkdir(`dir-${d}`);
        n++;
        for (let i = 0; i < 999 && n < entries; i++, n++) wr.creat(`dir-${d}/file-${i}`, 1);
      }
    }));
  } finally {
    w.close();
  }
  const fillMs = ms(t);
  t = performance.now();
  const c = asHost(client, () => Famfs.open(device));
  try {
    const replayMs = ms(t);
    const rss = process.memoryUsage().rss;
    t = performance.now();
    const r = fsck(c);
    const fsckMs = ms(t);
    if (c.role !== 'client') errors.push('replay host is not a client');
    if (r.log.entriesUsed !== entries) errors.push(`${r.log.entriesUsed} entries in the log, expected ${entries}`);
    if (!r.clean) errors.push(`fsck not clean: ${r.badEntries} bad, ${r.rejectedEntries} refused, ${r.collisions} collisions`);
    if (r.files + r.directories !== entries) errors.push(`${r.files} files + ${r.directories} dirs ≠ ${entries}`);
    return {
      entries, logLen: c.sb.logLen, slots: logSlots(c.sb.logLen), mkfsMs, fillMs, replayMs, fsckMs,
      clean: r.clean, files: r.files, dirs: r.directories, rss, errors,
    };
  } finally {
    c.close();
    fs.rmSync(device, { force: true });
  }
}
