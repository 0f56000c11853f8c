/**
 * The device table of a multi-device famfs (ADD_DAXDEV entries), and a scan that finds it
 * without replaying the tree: `famfs mount` needs only the devices (and the superblock)
 * before the workers replay everything, and a whole replay of a big log costs seconds.
 */
import { EntryType, LOG_ENTRY_SIZE, logSlots } from '../format/constants.js';
import { decodeLogEntry, entryCrcOk, entrySeqnum, type AddDaxdevEntry } from '../format/logentry.js';
import type { LogView } from './log.js';

/** One device of a multi-device file system (index 0 = the superblock's). */
export interface DaxdevInfo {
  index: number;
  uuid: string;
  size: number;
}

/** Device table slots (the famfs V10 kernel's per-connection table holds 24). */
export const MAX_DAXDEVS = 24;

/** Where every slot keeps its type (CONT slots too: a scan never mistakes one for a head). */
const TYPE_OFFSET = 8;
/** Slots read per batch (2 MiB, as replay). */
const SCAN_BATCH = 4096;

function intact(b: Buffer, index: number): boolean {
  try {
    return entrySeqnum(b) === index && entryCrcOk(b);
  } catch {
    return false;
  }
}

/** Why `entry` cannot join `table` (upstream's famfs_daxdev_table_add rules), or undefined. */
export function daxdevProblem(table: readonly DaxdevInfo[], entry: AddDaxdevEntry, primaryUuid?: string): string | undefined {
  const want = table.length + 1;
  if (entry.index !== want) return `ADD_DAXDEV index ${entry.index}, expected ${want}`;
  if (want >= MAX_DAXDEVS) return `more than ${MAX_DAXDEVS} devices`;
  if (entry.uuid === primaryUuid || table.some((d) => d.uuid === entry.uuid)) return `device uuid ${entry.uuid} is already in the table`;
  if (!Number.isSafeInteger(entry.size) || entry.size <= 0) return `device size ${entry.size}`;
  return undefined;
}

/**
 * The devices the committed log adds, as a replay would find them: every intact slot (seqnum
 * and CRC) of type ADD_DAXDEV, in log order, under the same rules. Reads one 32-bit type per
 * slot otherwise; nothing is decoded, no tree is built.
 */
export function scanDaxdevs(log: LogView, primaryUuid?: string): DaxdevInfo[] {
  const table: DaxdevInfo[] = [];
  const end = Math.min(log.nextIndex(), logSlots(log.logLen));
  log.invalidateSlots(0, end);
  for (let first = 0; first < end; first += SCAN_BATCH) {
    const count = Math.min(SCAN_BATCH, end - first);
    const batch = log.copySlots(first, count);
    log.releaseSlots(first, count);
    for (let k = 0; k < count; k++) {
      if (batch.readUInt32LE(k * LOG_ENTRY_SIZE + TYPE_OFFSET) !== EntryType.ADD_DAXDEV) continue;
      const index = first + k;
      const ok = (b: Buffer): boolean => intact(b, index);
      const buf = log.readSlot(index, ok); // read again (once more if bad), as replay does
      if (!ok(buf)) continue;
      const entry = decodeLogEntry(buf);
      if (entry.type === 'add_daxdev' && !daxdevProblem(table, entry, primaryUuid)) table.push({ index: entry.index, uuid: entry.uuid, size: entry.size });
    }
  }
  return table;
}
