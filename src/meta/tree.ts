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
  /** Its position in its parent's `order` (readdir cookies). */
  pos?: number;
  /** Deleted, or replaced by a rename (issue 14): no longer in any directory, still reachable by id. */
  removed?: boolean;
}

export interface DirNode extends NodeBase {
  kind: 'dir';
  children: Map<string, TreeNode>;
  /**
   * Children in log order; append-only, so a directory listing's positions stay stable as it
   * grows. A child that was removed or moved away leaves a null (its position is never reused).
   */
  order: (TreeNode | null)[];
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
    this.link(parent, node);
    this.byId.set(node.id, node);
    this.count(node, 1);
  }

  private count(node: TreeNode, d: number): void {
    if (node.kind === 'dir') this.dirs += d;
    else if (node.kind === 'symlink') this.symlinks += d;
    else this.files += d;
  }

  private link(parent: DirNode, node: TreeNode): void {
    parent.children.set(node.name, node);
    node.pos = parent.order.length;
    parent.order.push(node);
    if (node.kind === 'dir') parent.subdirs++;
  }

  private unlink(node: TreeNode): void {
    const parent = node.parent;
    if (!parent) return;
    parent.children.delete(node.name);
    if (node.pos !== undefined && parent.order[node.pos] === node) parent.order[node.pos] = null;
    if (node.kind === 'dir') parent.subdirs--;
  }

  /**
   * Take a node out of its directory (a delete, or the file a rename replaced). It stays in
   * byId, marked removed, so handles opened before keep working; its path is kept as it was.
   */
  remove(node: TreeNode): void {
    this.unlink(node);
    node.removed = true;
    this.count(node, -1);
  }

  /** Move a node to `parent` under `name`; a directory's descendants get their new paths. */
  move(node: TreeNode, parent: DirNode, name: string): void {
    this.unlink(node);
    node.name = name;
    node.parent = parent;
    this.link(parent, node);
    const base = parent.path === '' ? name : `${parent.path}/${name}`;
    const rebase = (n: TreeNode, path: string): void => {
      n.path = path;
      if (n.kind === 'dir') for (const c of n.children.values()) rebase(c, `${path}/${c.name}`);
    };
    rebase(node, base);
  }

  /** Is `node` `dir` itself or below it? */
  static within(node: TreeNode, dir: TreeNode): boolean {
    for (let n: TreeNode | undefined = node; n; n = n.parent) if (n === dir) return true;
    return false;
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
