/** The replayed namespace: directories and files with their maps, held in memory. */
import type { FileMap } from '../format/types.js';

/** Node ids are deterministic: every host and every daemon thread derives the same ones from the log. */
export const ROOT_ID = 1;
export const FIRST_ENTRY_ID = 16;

export function idForEntry(index: number): number {
  return FIRST_ENTRY_ID + index;
}

interface NodeBase {
  id: number;
  name: string;
  path: string;
  mode: number;
  uid: number;
  gid: number;
  parent: DirNode | undefined;
  /** Log slot that created it (-1 for the root). */
  entryIndex: number;
}

export interface DirNode extends NodeBase {
  kind: 'dir';
  children: Map<string, TreeNode>;
  /** Children in log order; append-only, so a directory listing's positions stay stable as it grows. */
  order: TreeNode[];
  subdirs: number;
}

export interface FileNode extends NodeBase {
  kind: 'file';
  size: number;
  flags: number;
  map: FileMap;
}

/** A symbolic link (extension): its target exactly as given, resolved by whoever follows it. */
export interface SymlinkNode extends NodeBase {
  kind: 'symlink';
  target: string;
}

export type TreeNode = DirNode | FileNode | SymlinkNode;

export class Tree {
  readonly root: DirNode;
  readonly byId = new Map<number, TreeNode>();
  files = 0;
  dirs = 0;
  symlinks = 0;

  constructor(rootMode = 0o755, uid = 0, gid = 0) {
    this.root = { kind: 'dir', id: ROOT_ID, name: '', path: '', mode: rootMode, uid, gid, parent: undefined, entryIndex: -1, children: new Map(), order: [], subdirs: 0 };
    this.byId.set(ROOT_ID, this.root);
  }

  /** Look up a normalised relative path ('' = root). */
  lookup(relpath: string): TreeNode | undefined {
    if (relpath === '') return this.root;
    let node: TreeNode = this.root;
    for (const part of relpath.split('/')) {
      if (node.kind !== 'dir') return undefined;
      const next = node.children.get(part);
      if (!next) return undefined;
      node = next;
    }
    return node;
  }

  add(parent: DirNode, node: TreeNode): void {
    parent.children.set(node.name, node);
    parent.order.push(node);
    this.byId.set(node.id, node);
    if (node.kind === 'dir') {
      parent.subdirs++;
      this.dirs++;
    } else if (node.kind === 'symlink') this.symlinks++;
    else this.files++;
  }

  /** Depth-first walk in name order. */
  *walk(from: TreeNode = this.root): Generator<TreeNode> {
    yield from;
    if (from.kind === 'dir') {
      const names = [...from.children.keys()].sort();
      for (const n of names) yield* this.walk(from.children.get(n)!);
    }
  }
}
