/**
 * (a) Replay of a full default log: 8 MiB = 15,420 entries (120 directories,
 * 15,300 files with one 2 MiB extent each, on a 32 GiB sparse device).
 * The figure is Famfs.open (map, check superblock and header, validate and
 * replay every entry into the tree). References, same bytes, same process:
 * the CRC-32 pass that replay must do anyway (our table CRC over 536 bytes
 * of each slot), and JSON.parse of the same entries written as JSON.
 */
import { Famfs } from '../src/api/famfs.js';
import { mkfs } from '../src/api/mkfs.js';
import { crc32 } from '../src/format/crc32.js';
import { decodeLogEntry } from '../src/format/logentry.js';
import { entryOffset, LOG_ENTRY_SIZE, LOG_OFFSET } from '../src/format/constants.js';
import { asMaster, GiB, median, MiB, sparse } from './common.js';
import type { BenchContext, BenchRow } from './types.js';
import fs from 'node:fs';

const ENTRIES = 15420;
const DIRS = 120;

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const dev = sparse(ctx, 'replay.img', 32 * GiB);
  asMaster(ctx, () => {
    mkfs(dev);
    const f = Famfs.open(dev, { writable: true });
    try {
      f.writer((w) => {
        for (let d = 0; d < DIRS; d++) w.mkdir(`dir${d}`);
        for (let i = 0; i < ENTRIES - DIRS; i++) w.creat(`dir${i % DIRS}/file${i}`, 4096 + i);
      });
      if (f.log.nextIndex() !== ENTRIES) throw new Error(`log holds ${f.log.nextIndex()} entries, wanted ${ENTRIES}`);
    } finally {
      f.close();
    }
  });
  ctx.log(`log filled: ${ENTRIES} entries`);

  let files = 0;
  const replay = median(5, () => {
    const f = asMaster(ctx, () => Famfs.open(dev));
    files = f.stats.files;
    if (f.problems.length) throw new Error(`replay refused ${f.problems.length} entries`);
    f.close();
  });
  if (files !== ENTRIES - DIRS) throw new Error(`replayed ${files} files`);

  // The same log bytes, read into process memory once.
  const fd = fs.openSync(dev, 'r');
  const log = Buffer.alloc(8 * MiB);
  fs.readSync(fd, log, 0, log.length, LOG_OFFSET);
  fs.closeSync(fd);
  const base = entryOffset(0) - LOG_OFFSET;
  let sink = 0;
  const crc = median(5, () => {
    for (let i = 0; i < ENTRIES; i++) sink ^= crc32(log, base + i * LOG_ENTRY_SIZE, base + i * LOG_ENTRY_SIZE + 536);
  });
  const asJson = JSON.stringify(Array.from({ length: ENTRIES }, (_, i) => decodeLogEntry(log.subarray(base + i * LOG_ENTRY_SIZE, base + (i + 1) * LOG_ENTRY_SIZE))));
  const parse = median(5, () => {
    sink ^= (JSON.parse(asJson) as unknown[]).length;
  });
  const scan = median(5, () => {
    sink ^= Buffer.from(log).compare(log);
  });
  void sink;
  const note = `goal ≤ 60 ms (issue 15); ${ENTRIES} entries (${DIRS} dirs, ${ENTRIES - DIRS} files); a plain copy+compare pass over the 8 MiB takes ${(scan * 1000).toFixed(2)} ms`;
  return [
    { name: `replay ${ENTRIES.toLocaleString('en-US')} entries (Famfs.open)`, value: replay, unit: 's', ref: 'CRC-32 of every slot (the check replay must do)', refValue: crc, note },
    { name: `replay ${ENTRIES.toLocaleString('en-US')} entries (Famfs.open)`, value: replay, unit: 's', ref: `JSON.parse of the same entries as JSON (${(asJson.length / MiB).toFixed(1)} MiB)`, refValue: parse },
  ];
}
