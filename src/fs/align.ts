/**
 * small-units (docs/format.md): a file of 2 MiB or more keeps upstream's 2 MiB-aligned
 * extents. `famfs cp` knows the size up front; a file written through the master's mount
 * grows in small units, so at commit — when nobody has it open — its bytes move once into
 * one aligned extent of whole 2 MiB units and the small-unit space is freed.
 */
import { ALLOC_UNIT } from '../format/constants.js';
import type { SimpleMap } from '../format/types.js';
import type { DeviceSpace } from '../alloc/space.js';
import type { Famfs } from '../api/famfs.js';

/** The aligned map the file was moved to, or undefined when nothing had to (or could) move. */
export function alignLargeFile(famfs: Famfs, bm: DeviceSpace, map: SimpleMap, size: number): SimpleMap | undefined {
  const unit = bm.allocUnit;
  if (unit >= ALLOC_UNIT || size < ALLOC_UNIT) return undefined;
  if (map.extents.every((e) => e.offset % ALLOC_UNIT === 0 && e.length % ALLOC_UNIT === 0)) return undefined;
  const len = Math.ceil(size / ALLOC_UNIT) * ALLOC_UNIT;
  const e = bm.take(len, ALLOC_UNIT); // on the device the placement picks
  if (!e) return undefined; // no aligned room left: the file keeps its small-unit extents
  const to: SimpleMap = { kind: 'simple', extents: [e] };
  const dst = { map: to, size, path: '' };
  let off = 0;
  for (const piece of famfs.slices({ map, size }, 0, size)) off += famfs.write(dst, off, piece);
  famfs.flushFile(dst);
  for (const e of map.extents) bm.free(e);
  return to;
}
