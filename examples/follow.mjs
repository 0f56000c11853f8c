#!/usr/bin/env node
// Follow a famfs as its master adds files and directories: one JSON line per log event.
// Usage: node examples/follow.mjs DEVICE|MOUNTED-PATH [COUNT]   (stops after COUNT events)
import { Famfs } from 'famfs';

const [where, count] = process.argv.slice(2);
if (!where) {
  console.error('usage: follow.mjs DEVICE|MOUNTED-PATH [COUNT]');
  process.exit(2);
}
const limit = count === undefined ? Infinity : Number(count);

const fs = Famfs.openPath(where);
const stop = new AbortController();
process.on('SIGINT', () => stop.abort());
console.log('following');
let seen = 0;
for await (const ev of fs.follow({ signal: stop.signal, intervalMs: 50 })) {
  console.log(JSON.stringify(ev.type === 'created' ? { type: ev.type, kind: ev.kind, path: ev.path, size: ev.stat.size } : ev));
  if (++seen >= limit) break;
}
fs.close();
