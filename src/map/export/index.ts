/**
 * One entry point for every kernel-facing form of a file map (`famfs getmap --format …`).
 * All exports are pure functions of (map, fileSize); see docs/mapping.md.
 */
import type { FileMap } from '../../format/types.js';
import { encodeGetFmapReply, fmapKernelProblem, type FmapLimitOptions } from './famfs.js';
import { decodeNotifyMap, encodeNotifyMap, FUSE_MAP_CYCLIC, notifyMapProblem, type NotifyMapOptions } from './extmap.js';
import { bpfLayoutOf, encodeBpfBlob, type BpfLayout } from './bpf.js';
import { mapTable, type MapRow } from './table.js';

export * from './famfs.js';
export * from './extmap.js';
export * from './bpf.js';
export * from './table.js';

export const EXPORT_FORMATS = ['famfs', 'extmap', 'bpf', 'table'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export function isExportFormat(s: string): s is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(s);
}

export interface ExportOptions extends FmapLimitOptions, Partial<NotifyMapOptions> {}

export interface MapExport {
  format: ExportFormat;
  fileSize: number;
  /** Wire bytes (famfs: GET_FMAP reply payload; extmap: FUSE_NOTIFY_MAP payload; bpf: the blob). */
  bytes?: Buffer;
  /** Table rows (format 'table'). */
  rows?: MapRow[];
  /** bpf: which ops program reads the blob. */
  layout?: BpfLayout;
  /** extmap: whether the payload is one CYCLIC list. */
  cyclic?: boolean;
  /** Why the target kernel would refuse it (famfs, extmap), if it would. */
  problem?: string;
}

export interface MapExportJson {
  format: ExportFormat;
  fileSize: number;
  size?: number;
  hex?: string;
  rows?: MapRow[];
  layout?: BpfLayout;
  cyclic?: boolean;
  problem?: string;
}

/**
 * Default device backing ids for extmap: devindex + 1 (passthrough-style backing ids
 * are allocated from 1; a daemon passes its real registry through `backingIdOf`).
 */
export const defaultBackingIdOf = (devindex: number): bigint => BigInt(devindex) + 1n;

export function exportMap(format: ExportFormat, map: FileMap, fileSize: number, opts: ExportOptions = {}): MapExport {
  switch (format) {
    case 'famfs': {
      const problem = fmapKernelProblem(map, fileSize, opts);
      const out: MapExport = { format, fileSize };
      try {
        out.bytes = encodeGetFmapReply(map, fileSize);
      } catch (err) {
        if (!problem || !(err instanceof RangeError)) throw err; // unencodable (e.g. chunk ≥ 2^32): report, no bytes
      }
      if (problem) out.problem = problem;
      return out;
    }
    case 'extmap': {
      const bytes = encodeNotifyMap(map, fileSize, { ...opts, backingIdOf: opts.backingIdOf ?? defaultBackingIdOf });
      const decoded = decodeNotifyMap(bytes);
      const out: MapExport = { format, fileSize, bytes, cyclic: (decoded.flags & FUSE_MAP_CYCLIC) !== 0 };
      const problem = notifyMapProblem(decoded);
      if (problem) out.problem = problem;
      return out;
    }
    case 'bpf':
      return { format, fileSize, bytes: encodeBpfBlob(map, fileSize), layout: bpfLayoutOf(map) };
    case 'table':
      return { format, fileSize, rows: mapTable(map, fileSize) };
  }
}

/** A JSON-friendly form: bytes as lowercase hex plus their count. */
export function mapExportJson(e: MapExport): MapExportJson {
  const { bytes, ...rest } = e;
  return bytes ? { ...rest, size: bytes.length, hex: bytes.toString('hex') } : rest;
}
