/**
 * Fill a freshly made famfs log straight from the codec (no writer, no per-entry flush):
 * how the bench builds logs of a million entries in seconds. Directories of 1,000 entries
 * (`dir-D/file-I`, 1-byte files, one allocation unit each), as torture's biglog lays them out.
 */
import fs from 'node:fs';
import { mkfs, logLenForEntries } from '../src/api/mkfs.js';
import { encodeLogEntry, type NewLogEntry } from '../src/format/logentry.js';
import { entryOffset, LOG_ENTRY_SIZE, LOG_OFFSET } from '../src/format/constants.js';
import { NEXT_INDEX_OFFSET, NEXT_SEQNUM_OFFSET } from '../src/format/logheader.js';
import { writeU64 } from '../src/format/bytes.js';

const UNIT = 4096;
const PER_DIR = 1000;
/** Slots written per pwrite. */
const CHUNK = 4096;

export interface FilledLog {
  files: number;
  dirs: number;
}

/** mkfs `device` (a new sparse file) for `entries` entries in 4 KiB units, then fill every one of them. */
export function makeFilledLog(device: string, entries: number): FilledLog {
  const logLen = logLenForEntries(entries);
  const size = Math.ceil((LOG_OFFSET + logLen + entries * UNIT + 64 * 2 ** 20) / 2 ** 30) * 2 ** 30;
  mkfs(device, { size: Math.max(size, 4 * 2 ** 30), files: entries, allocUnit: UNIT });
  const dataStart = LOG_OFFSET + logLen;
  const fd = fs.openSync(device, 'r+');
  let files = 0, dirs = 0, d = -1, inDir = PER_DIR;
  try {
    const chunk = Buffer.alloc(CHUNK * LOG_ENTRY_SIZE);
    for (let first = 0; first < entries; first += CHUNK) {
      const n = Math.min(CHUNK, entries - first);
      for (let k = 0; k < n; k++) {
        let e: NewLogEntry;
        if (inDir === PER_DIR) {
          d++;
          inDir = 1;
          dirs++;
          e = { type: 'mkdir', path: `dir-${d}`, mode: 0o755, uid: 0, gid: 0 };
        } else {
          e = {
            type: 'file', path: `dir-${d}/file-${inDir - 1}`, size: 1, flags: 0, mode: 0o644, uid: 0, gid: 0,
            map: { kind: 'simple', extents: [{ devindex: 0, offset: dataStart + files * UNIT, length: UNIT }] },
          };
          inDir++;
          files++;
        }
        encodeLogEntry(e, first + k).copy(chunk, k * LOG_ENTRY_SIZE);
      }
      fs.writeSync(fd, chunk, 0, n * LOG_ENTRY_SIZE, entryOffset(first));
    }
    const counter = Buffer.alloc(8);
    writeU64(counter, 0, entries);
    fs.writeSync(fd, counter, 0, 8, LOG_OFFSET + NEXT_SEQNUM_OFFSET);
    fs.writeSync(fd, counter, 0, 8, LOG_OFFSET + NEXT_INDEX_OFFSET);
  } finally {
    fs.closeSync(fd);
  }
  return { files, dirs };
}
