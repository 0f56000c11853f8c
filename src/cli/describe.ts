/** The JSON shape of files and directories shared by `ls --json` and `getmap --json`. */
import type { FileMap } from '../format/types.js';
import type { TreeNode } from '../meta/tree.js';

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

export function nodeJson(n: TreeNode): NodeJson {
  return {
    path: n.path,
    type: n.kind,
    size: n.kind === 'file' ? n.size : 0,
    mode: n.mode,
    uid: n.uid,
    gid: n.gid,
    map: n.kind === 'file' ? n.map : null,
    ...(n.kind === 'symlink' ? { target: n.target } : {}),
  };
}

export function modeString(n: TreeNode): string {
  const r = ['---', '--x', '-w-', '-wx', 'r--', 'r-x', 'rw-', 'rwx'];
  const m = n.mode;
  return (n.kind === 'dir' ? 'd' : n.kind === 'symlink' ? 'l' : '-') + r[(m >> 6) & 7]! + r[(m >> 3) & 7]! + r[m & 7]!;
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
