/**
 * One whole process that replays a log: `node dist/bench/replay-child.js DEVICE`.
 * Prints one JSON line: replay wall time, the tree's counts, and memory after replay
 * (resident set and its parts from /proc/self/status, V8 heap), for bench/biglog.ts.
 * `--crc-only`: the reference instead, reading the log with pread and checking every
 * slot's CRC (the least any replay must do), no tree.
 */
import fs from 'node:fs';
import { Famfs } from '../src/api/famfs.js';
import { entryCrcOk } from '../src/format/logentry.js';
import { entryOffset, LOG_ENTRY_SIZE, LOG_OFFSET } from '../src/format/constants.js';
import { NEXT_INDEX_OFFSET } from '../src/format/logheader.js';
import { readU64 } from '../src/format/bytes.js';

function statusKb(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

function crcOnly(device: string): { entries: number; bad: number } {
  const fd = fs.openSync(device, 'r');
  try {
    const head = Buffer.alloc(8);
    fs.readSync(fd, head, 0, 8, LOG_OFFSET + NEXT_INDEX_OFFSET);
    const entries = readU64(head, 0);
    const batch = Buffer.alloc(4096 * LOG_ENTRY_SIZE);
    let bad = 0;
    for (let first = 0; first < entries; first += 4096) {
      const n = Math.min(4096, entries - first);
      fs.readSync(fd, batch, 0, n * LOG_ENTRY_SIZE, entryOffset(first));
      for (let k = 0; k < n; k++) if (!entryCrcOk(batch.subarray(k * LOG_ENTRY_SIZE, (k + 1) * LOG_ENTRY_SIZE))) bad++;
    }
    return { entries, bad };
  } finally {
    fs.closeSync(fd);
  }
}

const device = process.argv[2]!;
const t0 = performance.now();
if (process.argv.includes('--crc-only')) {
  const r = crcOnly(device);
  process.stdout.write(JSON.stringify({ replayMs: performance.now() - t0, ...r }) + '\n');
} else {
  const f = Famfs.open(device);
  const replayMs = performance.now() - t0;
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  const out = {
    replayMs, cpuMs: (cpu.user + cpu.system) / 1000, files: f.stats.files, dirs: f.stats.dirs, problems: f.problems.length,
    rss: statusKb('VmRSS'), rssAnon: statusKb('RssAnon'), rssFile: statusKb('RssFile'), rssShmem: statusKb('RssShmem'),
    heapUsed: mem.heapUsed, external: mem.external, arrayBuffers: mem.arrayBuffers,
  };
  f.close();
  process.stdout.write(JSON.stringify(out) + '\n');
}
