/**
 * A record this process just encoded, as decodeLogEntry would give it back from the log:
 * lets the writer apply its own entries without reading them back (Replayer.applyCommitted).
 * Only FILE and MKDIR (what creat, mkdir and cp write), and only values the encoding holds
 * exactly; anything else returns undefined and the caller replays the slots instead.
 */
import type { FileMap, Extent } from '../format/types.js';
import type { FileEntry, LogEntry, MkdirEntry, NewLogEntry } from '../format/logentry.js';

/** The encoder stores u32 fields with writeUInt32LE, which truncates a fraction silently. */
function u32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffff_ffff;
}

/** A path that survives UTF-8 encoding unchanged (a lone surrogate would come back as U+FFFD). */
function exactPath(p: string): boolean {
  return p.isWellFormed() && !p.includes('\0');
}

function extent(e: Extent): Extent {
  return { devindex: e.devindex, offset: e.offset, length: e.length };
}

/** A private copy in the decoder's shape: the caller's map may change after it is logged. */
function copyMap(m: FileMap): FileMap {
  if (m.kind === 'simple') return { kind: 'simple', extents: m.extents.map(extent) };
  return { kind: 'interleave', chunkSize: m.chunkSize, strips: m.strips.map(extent) };
}

export function asDecoded(entry: NewLogEntry, seqnum: number): LogEntry | undefined {
  if (entry.type === 'file') {
    if (!u32(entry.flags) || !u32(entry.uid) || !u32(entry.gid) || !u32(entry.mode) || !exactPath(entry.path)) return undefined;
    const e: FileEntry = { type: 'file', seqnum, size: entry.size, flags: entry.flags, uid: entry.uid, gid: entry.gid, mode: entry.mode, path: entry.path, map: copyMap(entry.map) };
    return e;
  }
  if (entry.type === 'mkdir') {
    if (!u32(entry.uid) || !u32(entry.gid) || !u32(entry.mode) || !exactPath(entry.path)) return undefined;
    const e: MkdirEntry = { type: 'mkdir', seqnum, uid: entry.uid, gid: entry.gid, mode: entry.mode, path: entry.path };
    return e;
  }
  return undefined;
}
