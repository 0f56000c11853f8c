/**
 * The master's metadata service, on the daemon's main thread: every file and
 * directory created through the mount starts as a *new node*, visible only in
 * this mount, and is logged later in creation order (parents first):
 *
 * - a new file may grow while open; it is committed once no one has it open
 *   and the mount has been idle for `commitDelayMs`, or at once by fsync;
 * - chmod/chown (and utimes, which famfs does not keep) on a new node shape the
 *   entry that will be logged — tar and rsync set modes right after closing a
 *   file, and directory modes at the very end, so the short idle window is
 *   what lets them produce exact modes;
 * - a new file can be renamed or unlinked (rsync's temp files), a new empty
 *   directory removed; logged nodes never can.
 *
 * While new nodes exist the service holds the host's single-writer lock (flock
 * on the device), so its allocations, which are not in the log yet, cannot
 * collide with a CLI writer; CLI verbs wait for it. Space is taken in 2 MiB
 * units, growing a file geometrically (its last extent in place when the next
 * units are free), at most 16 extents; unused tail units are not logged and so
 * are free again. Nothing is logged before commit: a crash leaves no entry and
 * no lost space.
 */
import { ALLOC_UNIT, EXT_PATH_MAX, FM_ALL_HOSTS_RW, MAX_SIMPLE_EXTENTS } from '../format/constants.js';
import type { Extent, SimpleMap } from '../format/types.js';
import { Famfs } from '../api/famfs.js';
import { FamfsError } from '../api/errors.js';
import type { AllocBitmap } from '../alloc/bitmap.js';
import { relpathProblem } from '../meta/paths.js';
import { hasFeature, SYMLINKS } from '../format/features.js';
import { alignLargeFile } from './align.js';

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
}

/** Once logged, a new node's id stands for the log-derived id. */
export interface Committed {
  committedId: number;
}

interface NewNode extends NewNodeAttr {
  parentId: number;
  path: string;
  opens: number;
  allocated: number;
  /** Why it can no longer be committed (e.g. ENOSPC during a write). */
  failed?: string;
  unlinked?: boolean;
}

export interface MasterOptions {
  commitDelayMs: number;
  log: (msg: string) => void;
  /** Shared with the workers: number of new nodes (0 lets them skip calls here). */
  pendingCount?: Int32Array;
}

export class MasterService {
  readonly famfs: Famfs;
  private bitmap?: AllocBitmap;
  private locked = false;
  private nextId = NEW_NODE_ID_BASE;
  /** New nodes in creation order. */
  private readonly nodes = new Map<number, NewNode>();
  /** Logged new nodes: temporary id → log-derived id, for as long as the kernel may use it. */
  private readonly committed = new Map<number, number>();
  private timer?: NodeJS.Timeout;

  constructor(device: string, private readonly opts: MasterOptions) {
    this.famfs = Famfs.open(device, { writable: true });
  }

  get pending(): number {
    return this.nodes.size;
  }

  /** Commit what can be (unmount); anything still open is lost, as after a crash. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.commitReady();
    for (const n of this.nodes.values()) this.opts.log(`${n.path}: still open at unmount; not committed`);
    this.nodes.clear();
    this.published();
    this.unlockIfIdle();
    this.famfs.close();
  }

  // ---- bookkeeping ----

  private published(): void {
    if (this.opts.pendingCount) Atomics.store(this.opts.pendingCount, 0, this.nodes.size);
  }

  /** Restart the idle window after any change to a new node. */
  private touch(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.nodes.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.commitReady();
    }, this.opts.commitDelayMs);
  }

  private lock(): void {
    if (this.locked) return;
    this.famfs.device.lock({ onWait: () => this.opts.log('waiting for the log lock held by another famfs writer') });
    this.locked = true;
    this.famfs.refresh();
    this.bitmap = this.famfs.buildBitmap().bitmap;
  }

  private unlockIfIdle(): void {
    if (!this.locked || this.nodes.size > 0) return;
    this.famfs.device.unlock();
    this.locked = false;
    this.bitmap = undefined;
  }

  /** A directory by id: logged (in the tree) or new. */
  private dir(id: number): { id: number; path: string } {
    const alias = this.committed.get(id);
    if (alias !== undefined) id = alias;
    const n = this.nodes.get(id);
    if (n) {
      if (n.kind !== 'dir') throw new FamfsError('not a directory', 'ENOTDIR');
      return n;
    }
    this.famfs.refresh();
    const d = this.famfs.tree.byId.get(id);
    if (!d) throw new FamfsError('no such directory', 'ENOENT');
    if (d.kind !== 'dir') throw new FamfsError('not a directory', 'ENOTDIR');
    return d;
  }

  private childPath(parent: { path: string }, name: string): string {
    // The kernel never sends such names, but a hostile or broken peer might: never join them.
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw new FamfsError(`bad name ${JSON.stringify(name)}`, 'EINVAL');
    const path = parent.path === '' ? name : `${parent.path}/${name}`;
    const problem = relpathProblem(path, this.famfs.longNames);
    if (problem) throw new FamfsError(`${path}: ${problem}`, problem.startsWith('path longer') ? 'ENAMETOOLONG' : 'EINVAL');
    return path;
  }

  /** The id a directory goes by now (a new directory's id maps to its logged one once committed). */
  private canon(id: number): number {
    return this.committed.get(id) ?? id;
  }

  private newChild(parentId: number, name: string): NewNode | undefined {
    parentId = this.canon(parentId);
    for (const n of this.nodes.values()) if (n.parentId === parentId && n.name === name && !n.unlinked) return n;
    return undefined;
  }

  private exists(parent: { id: number }, name: string): boolean {
    const d = this.famfs.tree.byId.get(parent.id);
    return (d?.kind === 'dir' && d.children.has(name)) || this.newChild(parent.id, name) !== undefined;
  }

  private attr(n: NewNode): NewNodeAttr {
    return { id: n.id, kind: n.kind, name: n.name, size: n.size, mode: n.mode, uid: n.uid, gid: n.gid, map: n.map, ...(n.target !== undefined ? { target: n.target } : {}) };
  }

  private node(id: number): NewNode {
    const n = this.nodes.get(id);
    if (!n) throw new FamfsError('not a new node', 'ESTALE');
    return n;
  }

  // ---- space ----

  /** Make room for `end` bytes: grow in place, else add an extent at least as large as the file has (≤ 1 GiB at a time). */
  private ensureCapacity(f: NewNode, end: number): void {
    if (end <= f.allocated) return;
    const bm = this.bitmap!;
    // small-units: a file growing to 2 MiB or more takes further space in aligned 2 MiB units.
    const unit = this.famfs.geometry.allocUnit;
    const au = end >= ALLOC_UNIT ? ALLOC_UNIT : unit;
    const need = Math.ceil((end - f.allocated) / au) * au;
    const want = Math.ceil(Math.max(need, Math.min(f.allocated, 1024 ** 3), au) / au) * au;
    const sizes = want === need ? [need] : [want, need];
    const last = f.map.extents[f.map.extents.length - 1];
    for (const size of sizes) {
      if (last && last.offset + last.length + size <= bm.capacity && bm.isFree(last.offset + last.length, size)) {
        bm.mark(last.offset + last.length, size);
        last.length += size;
        f.allocated += size;
        return;
      }
    }
    if (f.map.extents.length >= MAX_SIMPLE_EXTENTS) throw new FamfsError(`${f.path}: out of space (a file may have at most ${MAX_SIMPLE_EXTENTS} extents)`, 'ENOSPC');
    for (const size of sizes) {
      const u = bm.findAndMark(size / unit, 0, undefined, au / unit);
      if (u >= 0) {
        f.map.extents.push({ devindex: 0, offset: u * unit, length: size });
        f.allocated += size;
        return;
      }
    }
    throw new FamfsError(`${f.path}: out of space`, 'ENOSPC');
  }

  private freeAll(f: NewNode): void {
    for (const e of f.map.extents) this.bitmap!.free(e.offset, e.length);
    f.map.extents = [];
    f.allocated = 0;
  }

  /** The extents to log: whole units up to the size (at least one, as creat does); the tail is freed. */
  private trim(f: NewNode): Extent[] {
    if (f.allocated === 0) this.ensureCapacity(f, 1);
    const moved = f.opens === 0 ? alignLargeFile(this.famfs, this.bitmap!, f.map, f.size) : undefined;
    if (moved) f.map = moved;
    const unit = f.size >= ALLOC_UNIT && moved ? ALLOC_UNIT : this.famfs.geometry.allocUnit;
    const keep = Math.max(1, Math.ceil(f.size / unit)) * unit;
    const out: Extent[] = [];
    let base = 0;
    for (const e of f.map.extents) {
      const len = Math.min(e.length, Math.max(0, keep - base));
      if (len > 0) out.push({ ...e, length: len });
      if (len < e.length) this.bitmap!.free(e.offset + len, e.length - len);
      base += e.length;
    }
    return out;
  }

  private drop(n: NewNode): void {
    if (n.kind === 'file') this.freeAll(n);
    this.nodes.delete(n.id);
    this.published();
    this.unlockIfIdle();
  }

  // ---- commit ----

  /** Log one node whose parent is logged. Returns false when it was dropped instead. */
  private commitNode(n: NewNode): boolean {
    const parentId = this.canon(n.parentId);
    if (n.failed) {
      this.opts.log(`${n.path}: not committed (${n.failed}); dropped`);
      this.drop(n);
      return false;
    }
    try {
      if (n.kind === 'dir') this.famfs.log.append({ type: 'mkdir', path: n.path, mode: n.mode, uid: n.uid, gid: n.gid });
      else if (n.kind === 'symlink') this.famfs.log.append({ type: 'symlink', path: n.path, target: n.target!, uid: n.uid, gid: n.gid });
      else {
        const extents = this.trim(n);
        n.map = { kind: 'simple', extents };
        this.famfs.log.append({ type: 'file', path: n.path, size: n.size, flags: FM_ALL_HOSTS_RW, mode: n.mode, uid: n.uid, gid: n.gid, map: n.map });
      }
    } catch (e) {
      n.failed = (e as { code?: string }).code ?? 'EIO';
      this.opts.log(`${n.path}: commit failed: ${(e as Error).message}; dropped`);
      this.drop(n);
      return false;
    }
    this.famfs.refresh();
    const logged = this.famfs.tree.lookup(n.path);
    if (logged && logged.parent?.id === parentId) this.committed.set(n.id, logged.id);
    else this.opts.log(`${n.path}: logged but refused by replay`);
    this.nodes.delete(n.id);
    this.published();
    return true;
  }

  private parentLogged(n: NewNode): boolean {
    return !this.nodes.has(this.canon(n.parentId));
  }

  /** Commit every new node that nobody has open, parents before children. */
  commitReady(): void {
    for (let progress = true; progress; ) {
      progress = false;
      for (const n of [...this.nodes.values()]) {
        if (n.opens > 0 || n.unlinked || !this.parentLogged(n)) continue;
        this.commitNode(n);
        progress = true;
      }
    }
    this.unlockIfIdle();
  }

  /** Commit a node now, with its new ancestors (fsync). */
  private commitNow(n: NewNode): void {
    const chain: NewNode[] = [];
    for (let cur: NewNode | undefined = n; cur; cur = this.nodes.get(this.canon(cur.parentId))) chain.unshift(cur);
    for (const c of chain) {
      if (!this.commitNode(c)) throw new FamfsError(`${n.path}: not committed`, c.failed ?? 'EIO');
    }
    this.unlockIfIdle();
  }

  // ---- the calls workers make ----

  handle(op: string, a: Record<string, number | string>): unknown {
    const id = a.id as number;
    let r: unknown;
    switch (op) {
      case 'mkdir': r = this.create(a.parent as number, a.name as string, 'dir', a.mode as number, a.uid as number, a.gid as number); break;
      case 'create': r = this.create(a.parent as number, a.name as string, 'file', a.mode as number, a.uid as number, a.gid as number); break;
      case 'symlink': r = this.create(a.parent as number, a.name as string, 'symlink', 0o777, a.uid as number, a.gid as number, a.target as string); break;
      case 'lookup': return this.lookup(a.parent as number, a.name as string);
      case 'list': return this.list(a.parent as number);
      case 'get': return this.get(id);
      case 'open': r = this.open(id); break;
      case 'extend': r = this.extend(id, a.offset as number, a.length as number); break;
      case 'flush': return this.flush(id);
      case 'release': r = this.release(id); break;
      case 'fsync': return this.fsync(id);
      case 'setattr': r = this.setattr(id, a); break;
      case 'unlink': r = this.unlink(a.parent as number, a.name as string, a.dir === 1); break;
      case 'rename': r = this.rename(a.parent as number, a.name as string, a.newParent as number, a.newName as string); break;
      default: throw new FamfsError(`unknown call ${op}`, 'ENOSYS');
    }
    this.touch();
    return r;
  }

  create(parentId: number, name: string, kind: NewNodeAttr['kind'], mode: number, uid: number, gid: number, target?: string): NewNodeAttr {
    const parent = this.dir(parentId);
    if (kind === 'symlink') {
      if (!hasFeature(this.famfs.features, SYMLINKS)) throw new FamfsError('this famfs has no symbolic links (famfs mkfs --features symlinks)', 'EPERM');
      const tlen = Buffer.byteLength(target ?? '');
      if (tlen === 0 || tlen > EXT_PATH_MAX) throw new FamfsError(`symlink target of ${tlen} bytes`, tlen ? 'ENAMETOOLONG' : 'ENOENT');
    }
    if (this.exists(parent, name)) throw new FamfsError(`${name}: exists`, 'EEXIST');
    const path = this.childPath(parent, name);
    const h = this.famfs.log.readHeader();
    if (h.nextIndex + this.nodes.size > h.lastIndex) throw new FamfsError('the famfs log is full', 'ENOSPC');
    this.lock();
    const n: NewNode = {
      id: this.nextId++, kind, parentId: parent.id, name, path, mode: mode & 0o7777, uid, gid,
      size: kind === 'symlink' ? Buffer.byteLength(target!) : 0, map: { kind: 'simple', extents: [] }, allocated: 0, opens: kind === 'file' ? 1 : 0,
      ...(kind === 'symlink' ? { target } : {}),
    };
    this.nodes.set(n.id, n);
    this.published();
    return this.attr(n);
  }

  lookup(parentId: number, name: string): NewNodeAttr | null {
    const n = this.newChild(parentId, name);
    return n ? this.attr(n) : null;
  }

  list(parentId: number): NewNodeAttr[] {
    const out: NewNodeAttr[] = [];
    parentId = this.canon(parentId);
    for (const n of this.nodes.values()) if (n.parentId === parentId && !n.unlinked) out.push(this.attr(n));
    return out;
  }

  get(id: number): NewNodeAttr | Committed {
    const n = this.nodes.get(id);
    if (n && !n.unlinked) return this.attr(n);
    const c = this.committed.get(id);
    if (c !== undefined) return { committedId: c };
    throw new FamfsError('stale node', 'ESTALE');
  }

  private open(id: number): NewNodeAttr | Committed {
    const n = this.nodes.get(id);
    if (n) n.opens++;
    return this.get(id);
  }

  private extend(id: number, offset: number, length: number): NewNodeAttr | Committed {
    const f = this.nodes.get(id);
    if (!f) return this.get(id);
    const end = offset + length;
    try {
      this.ensureCapacity(f, end);
    } catch (e) {
      f.failed = (e as { code?: string }).code ?? 'EIO';
      throw e;
    }
    // Bytes skipped over by a write past EOF read as zeros, as in any file system.
    if (offset > f.size) {
      for (const s of this.famfs.slices({ map: f.map, size: offset }, f.size, offset - f.size)) s.fill(0);
    }
    f.size = Math.max(f.size, end);
    return this.attr(f);
  }

  /** close(2) of one descriptor: report a file that can no longer be committed. */
  private flush(id: number): null {
    const f = this.nodes.get(id);
    if (f?.failed) throw new FamfsError(`${f.path}: cannot be committed`, f.failed);
    return null;
  }

  /** The last reference to an open file went away; it is logged after the idle window. */
  private release(id: number): null {
    const f = this.nodes.get(id);
    if (!f) return null;
    f.opens = Math.max(0, f.opens - 1);
    if (f.opens === 0 && f.unlinked) this.drop(f);
    else if (f.opens === 0 && this.opts.commitDelayMs === 0 && this.parentLogged(f)) this.commitNode(f), this.unlockIfIdle();
    return null;
  }

  private fsync(id: number): null {
    const f = this.nodes.get(id);
    if (f) this.commitNow(f);
    return null;
  }

  private setattr(id: number, a: Record<string, number | string>): NewNodeAttr | Committed {
    const n = this.nodes.get(id);
    if (!n) return this.get(id);
    if (typeof a.mode === 'number' && n.kind !== 'symlink') n.mode = a.mode & 0o7777;
    if (typeof a.uid === 'number') n.uid = a.uid;
    if (typeof a.gid === 'number') n.gid = a.gid;
    if (typeof a.size === 'number' && n.kind === 'file') {
      if (a.size > n.size) this.extend(id, a.size, 0);
      else n.size = a.size;
    }
    return this.attr(n);
  }

  private unlink(parentId: number, name: string, dir: boolean): null {
    const n = this.newChild(parentId, name);
    if (!n) throw new FamfsError(`${name}: famfs cannot remove logged files or directories`, 'EPERM');
    if (dir !== (n.kind === 'dir')) throw new FamfsError(name, dir ? 'ENOTDIR' : 'EISDIR');
    if (n.kind === 'dir' && this.list(n.id).length) throw new FamfsError(name, 'ENOTEMPTY');
    if (n.opens > 0) n.unlinked = true;
    else this.drop(n);
    return null;
  }

  private rename(parentId: number, name: string, newParentId: number, newName: string): null {
    const n = this.newChild(parentId, name);
    if (!n) throw new FamfsError(`${name}: famfs cannot rename logged files or directories`, 'EPERM');
    if (n.kind === 'dir' && this.list(n.id).length) throw new FamfsError(`${name}: only empty new directories can be renamed`, 'EPERM');
    const parent = this.dir(newParentId);
    const target = this.newChild(parent.id, newName);
    const tree = this.famfs.tree.byId.get(parent.id);
    if (tree?.kind === 'dir' && tree.children.has(newName)) throw new FamfsError(`${newName}: a logged node cannot be replaced`, 'EPERM');
    if (target && target !== n) {
      if (target.kind === 'dir' || n.kind === 'dir') throw new FamfsError(newName, 'EEXIST');
      if (target.opens > 0) target.unlinked = true;
      else this.drop(target);
    }
    n.path = this.childPath(parent, newName);
    n.parentId = parent.id;
    n.name = newName;
    return null;
  }
}
