/**
 * The master's table of new nodes (created through the mount, not yet logged)
 * and how names resolve against it and the log: a new node's parent may be
 * logged or new, and a new directory's temporary id keeps standing for its
 * logged node once committed (the kernel still uses it).
 */
import type { SimpleMap } from '../format/types.js';
import type { Famfs } from '../api/famfs.js';
import { FamfsError } from '../api/errors.js';
import { relpathProblem } from '../meta/paths.js';
import type { NewFileSlots } from './newslots.js';
import type { NewNameCounts } from './newnames.js';

/** Node ids of nodes not yet in the log; far above any log-derived id. */
export const NEW_NODE_ID_BASE = 2 ** 40;

export function isNewNodeId(id: number): boolean {
  return id >= NEW_NODE_ID_BASE;
}

/** What a worker learns about a new node (JSON over the RPC channel). */
export interface NewNodeAttr {
  id: number;
  kind: 'file' | 'dir' | 'symlink';
  /** Symlinks: the target as given. */
  target?: string;
  name: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  map: SimpleMap;
  /** A create's answer: the logged id of its parent, a new directory logged since (the worker keeps it as an alias). */
  parentLogged?: number;
}

/** Once logged, a new node's id stands for the log-derived id. */
export interface Committed {
  committedId: number;
}

export interface NewNode extends NewNodeAttr {
  parentId: number;
  path: string;
  opens: number;
  allocated: number;
  /** Last close (files) or last change (directories): the start of its max-age window. */
  since: number;
  /** A directory's mode was set after mkdir (see placeholder()). */
  modeSet?: boolean;
  /** Files: the shared-memory slot workers write through without a call (newslots.ts); absent if none. */
  slot?: number;
  /** Why it can no longer be committed (e.g. ENOSPC during a write). */
  failed?: string;
  unlinked?: boolean;
}

export class NewNodeTable {
  /** New nodes in creation order. */
  protected readonly nodes = new Map<number, NewNode>();
  /** Logged new nodes: temporary id → log-derived id, for as long as the kernel may use it. */
  protected readonly committed = new Map<number, number>();
  /** The nodes this service logged: log-derived id → the new-node id the kernel knows them by. */
  protected readonly loggedHere = new Map<number, number>();

  /** New nodes per name: newChild's shortcut (most lookups and creates are of names no new node has). */
  private readonly nameCount = new Map<string, number>();

  constructor(readonly famfs: Famfs, protected readonly slots?: NewFileSlots, protected readonly sharedNames?: NewNameCounts) {}

  private countName(name: string, by: 1 | -1): void {
    const c = (this.nameCount.get(name) ?? 0) + by;
    if (c > 0) this.nameCount.set(name, c);
    else this.nameCount.delete(name);
    if (by > 0) this.sharedNames?.add(name);
    else this.sharedNames?.remove(name);
  }

  protected addNode(n: NewNode): void {
    this.nodes.set(n.id, n);
    this.countName(n.name, 1);
  }

  /** A node leaves the table (logged: only after its entry is appended; or dropped). */
  protected removeNode(n: NewNode): void {
    if (this.nodes.delete(n.id)) this.countName(n.name, -1);
  }

  protected moveNode(n: NewNode, parentId: number, name: string): void {
    if (this.nodes.has(n.id)) {
      this.countName(n.name, -1);
      this.countName(name, 1);
    }
    n.parentId = parentId;
    n.name = name;
  }

  /** A new file's size now: workers raise it in its slot without telling this thread. */
  protected sizeOf(n: NewNode): number {
    return n.slot !== undefined && this.slots ? this.slots.current(n.slot) : n.size;
  }

  /** No more writes without a call: the size is final until this thread changes it. */
  protected retireSlot(n: NewNode): void {
    if (n.slot === undefined || !this.slots) return;
    n.size = this.slots.retire(n.slot);
    delete n.slot;
  }

  get pending(): number {
    return this.nodes.size;
  }

  /** True for the log-derived id of a node this service created and logged. */
  madeHere(id: number): boolean {
    return this.loggedHere.has(id);
  }

  /** The id this mount's kernel knows a logged node by: its new-node id if made here, else its own. */
  kernelId(id: number): number {
    return this.loggedHere.get(id) ?? id;
  }

  /** A directory by id: logged (in the tree) or new. */
  protected dir(id: number): { id: number; path: string } {
    const alias = this.committed.get(id);
    if (alias !== undefined) id = alias;
    const n = this.nodes.get(id);
    if (n) {
      if (n.kind !== 'dir') throw new FamfsError('not a directory', 'ENOTDIR');
      return n;
    }
    this.famfs.refresh();
    const d = this.famfs.tree.byId.get(id);
    if (!d || d.removed) throw new FamfsError('no such directory', 'ENOENT');
    if (d.kind !== 'dir') throw new FamfsError('not a directory', 'ENOTDIR');
    return d;
  }

  protected childPath(parent: { path: string }, name: string): string {
    // The kernel never sends such names, but a hostile or broken peer might: never join them.
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw new FamfsError(`bad name ${JSON.stringify(name)}`, 'EINVAL');
    const path = parent.path === '' ? name : `${parent.path}/${name}`;
    const problem = relpathProblem(path, this.famfs.longNames);
    if (problem) throw new FamfsError(`${path}: ${problem}`, problem.startsWith('path longer') ? 'ENAMETOOLONG' : 'EINVAL');
    return path;
  }

  /** The id a directory goes by now (a new directory's id maps to its logged one once committed). */
  protected canon(id: number): number {
    return this.committed.get(id) ?? id;
  }

  protected newChild(parentId: number, name: string): NewNode | undefined {
    if (!this.nameCount.has(name)) return undefined;
    parentId = this.canon(parentId);
    for (const n of this.nodes.values()) if (this.canon(n.parentId) === parentId && n.name === name && !n.unlinked) return n;
    return undefined;
  }

  protected exists(parent: { id: number }, name: string): boolean {
    const d = this.famfs.tree.byId.get(parent.id);
    if (d?.removed) throw new FamfsError('directory was removed', 'ENOENT');
    return (d?.kind === 'dir' && d.children.has(name)) || this.newChild(parent.id, name) !== undefined;
  }

  protected attr(n: NewNode): NewNodeAttr {
    return { id: n.id, kind: n.kind, name: n.name, size: this.sizeOf(n), mode: n.mode, uid: n.uid, gid: n.gid, map: n.map, ...(n.target !== undefined ? { target: n.target } : {}) };
  }

  /**
   * tar (as root) makes directories 0700 and cp -a drops their group/other bits, and both
   * set the real mode only after filling them; famfs cannot change a logged mode. So a new
   * directory still at 0700 since its mkdir is not logged by the max-age rule (nor is anything
   * below it): it waits for its chmod, 1.5 s of idle mount, fsync/sync, or a waiting CLI writer.
   */
  protected underPlaceholder(n: NewNode): boolean {
    for (let cur: NewNode | undefined = n; cur; cur = this.nodes.get(this.canon(cur.parentId))) {
      if (cur.kind === 'dir' && !cur.modeSet && (cur.mode & 0o777) === 0o700) return true;
    }
    return false;
  }

  /** True if `n` is below directory `dirId` (new or logged). */
  protected below(n: NewNode, dirId: number): boolean {
    for (let p = this.canon(n.parentId); ; ) {
      if (p === dirId) return true;
      const up = this.nodes.get(p);
      if (up) {
        p = this.canon(up.parentId);
        continue;
      }
      const d = this.famfs.tree.byId.get(p);
      if (!d?.parent) return false;
      p = d.parent.id;
    }
  }

  /**
   * `name` in directory `parentId` among the new nodes, or, for a new directory a worker does
   * not know to be logged yet, among its logged children too (workers ask once, not twice).
   */
  lookup(parentId: number, name: string): NewNodeAttr | Committed | null {
    const n = this.newChild(parentId, name);
    if (n) return this.attr(n);
    const logged = this.committed.get(parentId);
    if (logged === undefined) return null;
    this.famfs.refresh();
    const d = this.famfs.tree.byId.get(logged);
    const c = d?.kind === 'dir' && !d.removed ? d.children.get(name) : undefined;
    return c ? { committedId: c.id } : null;
  }

  list(parentId: number): NewNodeAttr[] {
    const out: NewNodeAttr[] = [];
    parentId = this.canon(parentId);
    for (const n of this.nodes.values()) if (this.canon(n.parentId) === parentId && !n.unlinked) out.push(this.attr(n));
    return out;
  }

  get(id: number): NewNodeAttr | Committed {
    const n = this.nodes.get(id);
    // An unlinked node still open somewhere is served to its holders (POSIX: unlink does not
    // revoke open files or mappings); it is dropped at its last release.
    if (n) return this.attr(n);
    const c = this.committed.get(id);
    if (c !== undefined) return { committedId: c };
    throw new FamfsError('stale node', 'ESTALE');
  }

}
