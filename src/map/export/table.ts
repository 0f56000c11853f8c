/**
 * The map as a flat table of file-ordered rows {fileOffset, devindex, offset, length}
 * covering exactly [0, fileSize). Rows come from `resolveRange` (the one place the
 * stripe math lives):
 *
 * - a row is a maximal run that is contiguous both in the file and on one device,
 *   so an interleave yields one row per chunk piece, except that consecutive chunks
 *   which happen to be device-contiguous on the same device (always the case with one
 *   strip) are merged; simple extents that abut on the device merge the same way;
 * - the last row ends at fileSize (allocation slack beyond the file is not shown);
 * - if the map is too small for the file the rows stop where the map does.
 */
import type { FileMap } from '../../format/types.js';
import { resolveRange } from '../resolve.js';

export interface MapRow {
  fileOffset: number;
  devindex: number;
  offset: number;
  length: number;
}

/** Rows covering [0, end) (end defaults to fileSize); see the module comment for merging. */
export function mapTable(map: FileMap, fileSize: number, end: number = fileSize): MapRow[] {
  const rows: MapRow[] = [];
  let fileOffset = 0;
  resolveRange(map, end, 0, end, (devindex, offset, length) => {
    const last = rows[rows.length - 1];
    if (last && last.devindex === devindex && last.offset + last.length === offset) last.length += length;
    else rows.push({ fileOffset, devindex, offset, length });
    fileOffset += length;
  });
  return rows;
}

/** Device location of one file byte through a table (undefined if unmapped). */
export function resolveInTable(rows: readonly MapRow[], fileOffset: number): { devindex: number; offset: number } | undefined {
  let lo = 0;
  let hi = rows.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = rows[mid]!;
    if (fileOffset < r.fileOffset) hi = mid - 1;
    else if (fileOffset >= r.fileOffset + r.length) lo = mid + 1;
    else return { devindex: r.devindex, offset: r.offset + (fileOffset - r.fileOffset) };
  }
  return undefined;
}
