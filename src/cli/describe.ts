/** The JSON shape of files and directories shared by `ls --json` and `getmap --json`. */
import type { FileMap } from '../format/types.js';
import type { TreeNode } from '../meta/tree.js';
import { statOf, type FamfsStat } from '../api/files.js';

export interface NodeJson {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  size: number;
  mode: number;
  uid: number;
  gid: number;
  map: FileMap | null;
  /** Symlinks only: the target as stored. */
  target?: string;
}

/** The JSON of a stat record (from the log, or from a mount as a user sees it). */
export function statJson(s: FamfsStat): NodeJson {
  return {
    path: s.path,
    type: s.type,
    size: s.type === 'file' ? s.size : 0,
    mode: s.mode,
    uid: s.uid,
    gid: s.gid,
    map: s.type === 'file' ? s.map : null,
    ...(s.type === 'symlink' ? { target: s.target } : {}),
  };
}

export function nodeJson(n: TreeNode): NodeJson {
  return statJson(statOf(n));
}

export function mapText(map: FileMap): string[] {
  const hex = (n: number): string => `0x${n.toString(16)}`;
  if (map.kind === 'simple') {
    return [`  extents: ${map.extents.length}`, ...map.extents.map((e) => `    dev ${e.devindex}  offset ${hex(e.offset)}  length ${e.length}`)];
  }
  return [
    `  interleave: ${map.strips.length} strips, chunk size ${map.chunkSize}`,
    ...map.strips.map((e, i) => `    strip ${i}: dev ${e.devindex}  offset ${hex(e.offset)}  length ${e.length}`),
  ];
}
