/**
 * One whole process that replays a log: `node dist/bench/replay-child.js DEVICE`.
 * Prints one JSON line: replay wall time, the tree's counts, and memory after replay
 * (resident set and its parts from /proc/self/status, V8 heap), for bench/biglog.ts.
 */
import fs from 'node:fs';
import { Famfs } from '../src/api/famfs.js';

function statusKb(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const t0 = performance.now();
const f = Famfs.open(process.argv[2]!);
const replayMs = performance.now() - t0;
const mem = process.memoryUsage();
const out = {
  replayMs, files: f.stats.files, dirs: f.stats.dirs, problems: f.problems.length,
  rss: statusKb('VmRSS'), rssAnon: statusKb('RssAnon'), rssFile: statusKb('RssFile'), rssShmem: statusKb('RssShmem'),
  heapUsed: mem.heapUsed, external: mem.external, arrayBuffers: mem.arrayBuffers,
};
f.close();
process.stdout.write(JSON.stringify(out) + '\n');
