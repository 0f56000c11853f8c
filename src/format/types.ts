/**
 * The neutral file map, shared by every layer: a file is an ordered list of
 * device pieces, or an interleave (a cyclic list of equal strips). Nothing in
 * it is famfs-specific; the log codec, the allocator, the daemon's data path
 * and every kernel export speak this type.
 */
export interface Extent {
  /** Index into the file system's device table (0 = primary device). */
  devindex: number;
  /** Byte offset on that device. */
  offset: number;
  /** Length in bytes. */
  length: number;
}

export interface SimpleMap {
  kind: 'simple';
  extents: Extent[];
}

/**
 * File offset o lives in chunk c = o / chunkSize, on strip c % strips.length,
 * at strips[strip].offset + floor(c / strips.length) * chunkSize + o % chunkSize.
 */
export interface InterleaveMap {
  kind: 'interleave';
  chunkSize: number;
  strips: Extent[];
}

export type FileMap = SimpleMap | InterleaveMap;
