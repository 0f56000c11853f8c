/** The replayed namespace: directories and files with their maps, held in memory. */
import { freezePath, makeDir, ROOT_ID, type DirNode, type TreeNode } from './nodes.js';
import { NodeIndex } from './nodeindex.js';

export { FIRST_ENTRY_ID, idForEntry, ROOT_ID } from './nodes.js';
export type { DirNode, FileNode, NodeBase, SymlinkNode, TreeNode } from './nodes.js';

export class Tree {
  readonly root: DirNode;
  /** Every node ever added, removed ones too, by id. */
  readonly byId = new NodeIndex();
  files = 0;
  dirs = 0;
  symlinks = 0;

  constructor(rootMode = 0o755, uid = 0, gid = 0) {
    this.root = makeDir({ name: '', parent: undefined, entryIndex: -1, attrs: Object.freeze({ mode: rootMode, uid, gid, flags: 0 }) }, '');
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

  /** Add a node made for `parent` (its `parent` field is that directory). */
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
    freezePath(node);
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
    // Files and symlinks compute their paths from their directory's: only directories store one.
    const rebase = (d: DirNode, path: string): void => {
      d.path = path;
      for (const c of d.children.values()) if (c.kind === 'dir') rebase(c, `${path}/${c.name}`);
    };
    if (node.kind === 'dir') rebase(node, parent.path === '' ? name : `${parent.path}/${name}`);
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
