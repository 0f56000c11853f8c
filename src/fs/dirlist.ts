/**
 * READDIR cookies: 1 = after ".", 2 = after "..", 2+k = after the k-th child. Children only
 * ever append; a removed or moved-away child leaves a hole (null), so every cookie keeps its
 * meaning across changes.
 */
import type { DirNode } from '../meta/tree.js';
import { basename } from '../meta/paths.js';
import type { AnyNode } from './newnodes.js';

export interface DirListEntry {
  name: string;
  node: AnyNode;
  off: number;
}

/** At most `limit` entries of `dir` (children `kids`) after cookie `offset`. */
export function listDir(dir: DirNode, kids: readonly (AnyNode | null)[], offset: number, limit: number): DirListEntry[] {
  const out: DirListEntry[] = [];
  if (offset < 1) out.push({ name: '.', node: dir, off: 1 });
  if (offset < 2) out.push({ name: '..', node: dir.parent ?? dir, off: 2 });
  for (let i = Math.max(0, offset - 2); i < kids.length && out.length < limit; i++) {
    const k = kids[i];
    if (!k) continue;
    out.push({ name: 'kind' in k ? k.name : basename(k.path), node: k, off: i + 3 });
  }
  return out;
}
