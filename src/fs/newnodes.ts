/**
 * A worker thread's view of the master's new nodes (files and directories
 * created through this mount and not yet logged): asks the main thread, caches
 * what it learns, and follows a new node to its logged node once committed.
 */
import type { FileMap } from '../format/types.js';
import type { Famfs } from '../api/famfs.js';
import type { DirNode, SymlinkNode, TreeNode } from '../meta/tree.js';
import { isNewNodeId, type Committed, type NewNodeAttr } from './master.js';
import type { RpcClient } from './rpc.js';
import { NewFileSlotsView, newFilePool } from './newslots.js';
import { NewNameCounts } from './newnames.js';
import { NewFilePool } from './newpool.js';
import { ROOT_ID } from '../meta/tree.js';
import { relpathProblem, META_NAME } from '../meta/paths.js';
import { EXT_PATH_MAX, MAX_RELPATH_BYTES } from '../format/constants.js';
import { META_DIR_ID } from './metafiles.js';

/** A file the daemon serves bytes of that is not in the tree: a .meta file or a new file. */
export interface Served {
  id: number;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  map: FileMap;
  path: string;
  meta: boolean;
}

export type AnyNode = TreeNode | Served;

/** A new file's map as this thread last heard of it (for writes past its first extent). */
interface KnownMap {
  map: FileMap;
  /** Bytes the map covers (writes past it must ask: the file may have grown since). */
  covered: number;
}

/** Forget every known map once this many are kept (they are only a shortcut). */
const MAX_KNOWN = 1024;

export class NewNodes {
  private readonly aliases = new Map<number, number>();
  private readonly slots?: NewFileSlotsView;
  private readonly known = new Map<number, KnownMap>();
  private readonly names?: NewNameCounts;
  private readonly pool?: NewFilePool;

  /** `pendingAdd`: change the shared count of new nodes (a create made here counts until the main thread drains it). */
  constructor(private readonly famfs: Famfs, private readonly rpc: RpcClient, private readonly pendingCount: () => number, newFiles?: SharedArrayBuffer, private readonly pendingAdd?: (by: number) => void) {
    if (newFiles) {
      this.slots = new NewFileSlotsView(newFiles);
      this.names = new NewNameCounts(newFiles);
      if (pendingAdd) this.pool = newFilePool(newFiles);
    }
  }

  /**
   * CREATE of a regular file without a call (newpool.ts): a ready file from the pool, published
   * with its name, or undefined when anything is unusual (the caller makes the call instead).
   * The caller then calls afterCreateHere() (rings the main thread if the pool runs low).
   */
  createFast(parent: number, name: string, mode: number, uid: number, gid: number): Served | undefined {
    const { pool, names, slots } = this;
    if (!pool || !names || !slots || !this.pendingAdd || !NewFilePool.fits(name)) return undefined;
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) return undefined;
    if ((parent === ROOT_ID && name === META_NAME) || parent === META_DIR_ID) return undefined;
    const i = pool.take();
    if (i < 0) return undefined;
    this.pendingAdd(1);
    let done = false;
    try {
      if (!names.claim(name)) return undefined;
      try {
        if (!this.freeHere(parent, name)) return undefined;
        const id = pool.id(i);
        const e = slots.firstExtent(slots.slotOf(id), id);
        if (!e) return undefined;
        pool.publish(i, { parent, name, mode, uid, gid });
        done = true;
        names.served();
        return { id, size: 0, mode, uid, gid, map: { kind: 'simple', extents: [e] }, path: name, meta: false };
      } finally {
        if (!done) names.remove(name);
      }
    } finally {
      if (!done) {
        pool.putBack(i);
        this.pendingAdd(-1);
      }
    }
  }

  /**
   * After this thread claimed `name`'s bucket (no new node has it): true if directory `parent`
   * has no logged child `name` and the path fits. An unlogged new directory has no logged
   * children; a logged one (or a new one this thread knows was logged) is checked in the tree.
   */
  private freeHere(parent: number, name: string): boolean {
    const long = this.famfs.longNames;
    const max = long ? EXT_PATH_MAX : MAX_RELPATH_BYTES;
    let id = parent;
    if (isNewNodeId(parent)) {
      const alias = this.aliases.get(parent);
      if (alias === undefined) {
        const dirBytes = this.slots!.dirPathBytes(this.slots!.slotOf(parent), parent);
        if (dirBytes === undefined || dirBytes === 0) return false;
        return !relpathProblem(name, long) && dirBytes + 1 + Buffer.byteLength(name) <= max;
      }
      id = alias;
    }
    // Caught up after the claim: a node of this name logged before it is in the tree now.
    this.famfs.refreshIfMoved();
    const p = this.famfs.tree.byId.get(id);
    if (!p || p.kind !== 'dir' || p.removed || p.children.has(name)) return false;
    return !relpathProblem(p.path === '' ? name : `${p.path}/${name}`, long);
  }

  /** Files made by the workers without a call (famfs status), or undefined without a pool. */
  get madeHere(): number | undefined {
    return this.pool?.made;
  }

  /** After a create made here: wake the main thread if the pool runs low (else the next call or tick takes the file in). */
  afterCreateHere(): void {
    if (this.pool?.low()) this.rpc.ring();
  }

  /** A create's answer named its parent's logged id: later creates there can be made here. */
  learnParent(parent: number, logged: number): void {
    if (isNewNodeId(parent)) this.aliases.set(parent, logged);
  }

  /**
   * True when no new node has `name` now. Read it before catching up with the log: a node
   * leaves the count only once its entry is appended, so the catch-up then finds it logged.
   */
  noNewNamed(name: string): boolean {
    return !!this.names && !this.names.mayExist(name);
  }

  /** A request about new nodes was answered here without a call (it counts as activity). */
  servedHere(): void {
    this.names?.served();
  }

  /** New directory `id` as its slot shows it (attributes only), while it is not logged; else undefined. */
  unloggedDirNode(id: number): DirNode | undefined {
    const a = this.slots?.dirAttr(this.slots.slotOf(id), id);
    if (!a) return undefined;
    this.names?.served();
    return { kind: 'dir', id, name: '', path: '', mode: a.mode, uid: a.uid, gid: a.gid, parent: undefined, entryIndex: -1, children: new Map(), order: [], subdirs: 0 };
  }

  /** True while new directory `id` is not logged (its slot is live): all its children are new nodes. */
  unloggedDir(id: number): boolean {
    return !!this.slots && this.slots.live(this.slots.slotOf(id), id);
  }

  /**
   * A new file ready for a write ending at `end` without a call (newslots.ts): the file (only its
   * id, size and map) at a size covering `end`, or undefined when the main thread must be asked.
   */
  writeFast(id: number, end: number): Served | undefined {
    if (!this.slots) return undefined;
    const slot = this.slots.slotOf(id);
    const k = this.known.get(id);
    let map: FileMap;
    if (k && end <= k.covered) map = k.map;
    else {
      const e = this.slots.firstExtent(slot, id);
      if (!e || end > e.length) return undefined;
      map = { kind: 'simple', extents: [e] };
    }
    const size = this.slots.reserve(slot, id, end);
    if (size === undefined) return undefined;
    this.names?.served();
    return { id, size, map, mode: 0, uid: 0, gid: 0, path: '', meta: false };
  }

  /** close(2): true if the main thread has nothing to report (a live slot, not failed), so no call. */
  flushQuiet(id: number): boolean {
    if (!this.slots) return false;
    const slot = this.slots.slotOf(id);
    if (!this.slots.live(slot, id) || this.slots.failed(slot)) return false;
    this.names?.served();
    return true;
  }

  /** True while the main thread holds new nodes (else no call is needed for a miss). */
  get active(): boolean {
    return this.pendingCount() > 0;
  }

  /** True for the id of a node that is new and, as far as this thread knows, not logged yet. */
  isNew(id: number): boolean {
    return isNewNodeId(id) && !this.aliases.has(id);
  }

  /**
   * Only a create may give up waiting (for a log lock a CLI writer holds); the main thread
   * then changes nothing. Every other call is answered promptly and must be applied
   * (a lost release would keep a file open forever), so it waits for its answer.
   */
  call<T>(op: string, args: Record<string, unknown>): T {
    return this.rpc.call<T>(op, args, op === 'create' || op === 'mkdir' ? 60_000 : Infinity);
  }

  /** A call whose answer nobody needs (RpcClient.post): applied before this worker's next call. */
  post(op: string, args: Record<string, unknown>): void {
    this.rpc.post(op, args);
  }

  /** Turn a reply into a node: a servable new file, a new directory, or the logged node it became. */
  adopt(r: NewNodeAttr | Committed | null, id?: number): AnyNode | undefined {
    if (!r) return undefined;
    if ('committedId' in r) {
      if (id !== undefined) this.aliases.set(id, r.committedId);
      this.famfs.refresh();
      return this.famfs.tree.byId.get(r.committedId);
    }
    if (r.kind === 'dir') {
      const d: DirNode = { kind: 'dir', id: r.id, name: r.name, path: r.name, mode: r.mode, uid: r.uid, gid: r.gid, parent: undefined, entryIndex: -1, children: new Map(), order: [], subdirs: 0 };
      return d;
    }
    if (r.kind === 'symlink') {
      const l: SymlinkNode = { kind: 'symlink', id: r.id, name: r.name, path: r.name, mode: 0o777, uid: r.uid, gid: r.gid, parent: undefined, entryIndex: -1, target: r.target ?? '' };
      return l;
    }
    const f: Served = { id: r.id, size: r.size, mode: r.mode, uid: r.uid, gid: r.gid, map: r.map, path: r.name, meta: false };
    if (this.slots && r.map.extents.length > 1) {
      if (this.known.size >= MAX_KNOWN) this.known.clear();
      this.known.set(r.id, { map: r.map, covered: r.map.extents.reduce((n, e) => n + e.length, 0) });
    }
    return f;
  }

  /** The node for a new-node id (asking the main thread for its current state). */
  get(id: number): AnyNode | undefined {
    const alias = this.aliases.get(id);
    if (alias !== undefined) return this.famfs.tree.byId.get(alias);
    return this.adopt(this.call<NewNodeAttr | Committed>('get', { id }), id);
  }

  /** A call that may report the node as committed; returns the node either way. */
  update(op: string, id: number, args: Record<string, unknown> = {}): AnyNode | undefined {
    return this.adopt(this.call<NewNodeAttr | Committed>(op, { id, ...args }), id);
  }

  lookup(parent: number, name: string): AnyNode | undefined {
    return this.active ? this.adopt(this.call<NewNodeAttr | Committed | null>('lookup', { parent, name })) : undefined;
  }

  list(parent: number): AnyNode[] {
    if (!this.active) return [];
    return this.call<NewNodeAttr[]>('list', { parent }).map((r) => this.adopt(r)!);
  }
}
