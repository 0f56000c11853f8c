/**
 * The master's metadata service, on the daemon's main thread: mkdir and the
 * life of new files created through the mount (CREATE → writes that grow it →
 * commit as one FILE entry when the last opener closes or fsyncs).
 *
 * While any new file is open the service holds the host's single-writer lock
 * (flock on the device), so its allocations, which are not in the log yet,
 * cannot collide with a CLI writer; CLI verbs wait for it. Space is taken in
 * 2 MiB units, growing each file geometrically (the last extent in place when
 * the next units are free), at most 16 extents; unused tail units are not
 * logged and become free again. Nothing is logged before commit, so a crash
 * leaves no entry and no lost space.
 */
import { ALLOC_UNIT, FM_ALL_HOSTS_RW, MAX_SIMPLE_EXTENTS } from '../format/constants.js';
import type { Extent, SimpleMap } from '../format/types.js';
import { Famfs } from '../api/famfs.js';
import { FamfsError } from '../api/errors.js';
import type { AllocBitmap } from '../alloc/bitmap.js';
import { normalizeRelpath, relpathProblem } from '../meta/paths.js';
import type { DirNode } from '../meta/tree.js';
import { resolveRange } from '../map/resolve.js';

/** Node ids of files not yet in the log; far above any log-derived id. */
export const NEW_FILE_ID_BASE = 2 ** 40;

export function isNewFileId(id: number): boolean {
  return id >= NEW_FILE_ID_BASE;
}

export interface NewFileAttr {
  id: number;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  /** Set once logged: the node id its log entry gives it. */
  committedId?: number;
  map: SimpleMap;
}

interface NewFile extends NewFileAttr {
  parentId: number;
  name: string;
  path: string;
  opens: number;
  allocated: number;
  /** Why it can no longer be committed (e.g. ENOSPC during a write). */
  failed?: string;
}

export class MasterService {
  readonly famfs: Famfs;
  private bitmap?: AllocBitmap;
  private locked = false;
  private nextId = NEW_FILE_ID_BASE;
  private readonly files = new Map<number, NewFile>();
  /** Committed new files: their temporary id → log-derived id, for as long as the kernel may use it. */
  private readonly committed = new Map<number, number>();

  /** `pendingCount` (shared with the workers) holds the number of uncommitted files. */
  constructor(device: string, private readonly log: (msg: string) => void, private readonly pendingCount?: Int32Array) {
    this.famfs = Famfs.open(device, { writable: true });
  }

  private published(): void {
    if (this.pendingCount) Atomics.store(this.pendingCount, 0, this.files.size);
  }

  /** Number of uncommitted files (workers skip their calls here when it is 0). */
  get pending(): number {
    return this.files.size;
  }

  close(): void {
    for (const f of this.files.values()) if (f.opens === 0) this.tryCommit(f);
    this.unlockIfIdle();
    this.famfs.close();
  }

  // ---- locking and allocation ----

  private lock(): void {
    if (this.locked) return;
    this.famfs.device.lock({ onWait: () => this.log('waiting for the log lock held by another famfs writer') });
    this.locked = true;
    this.famfs.refresh();
    this.bitmap = this.famfs.buildBitmap().bitmap;
  }

  private unlockIfIdle(): void {
    if (!this.locked || this.files.size > 0) return;
    this.famfs.device.unlock();
    this.locked = false;
    this.bitmap = undefined;
  }

  private dir(parentId: number): DirNode {
    this.famfs.refresh();
    const d = this.famfs.tree.byId.get(parentId);
    if (!d) throw new FamfsError('no such directory', 'ENOENT');
    if (d.kind !== 'dir') throw new FamfsError('not a directory', 'ENOTDIR');
    return d;
  }

  private childPath(parent: DirNode, name: string): string {
    const path = parent.path === '' ? name : `${parent.path}/${name}`;
    const problem = relpathProblem(path);
    if (problem) throw new FamfsError(`${path}: ${problem}`, problem.startsWith('path longer') ? 'ENAMETOOLONG' : 'EINVAL');
    return normalizeRelpath(path);
  }

  private exists(parent: DirNode, name: string): boolean {
    if (parent.children.has(name)) return true;
    for (const f of this.files.values()) if (f.parentId === parent.id && f.name === name) return true;
    return false;
  }

  /** Make room for `end` bytes: grow in place, else add an extent at least as large as what the file has. */
  private ensureCapacity(f: NewFile, end: number): void {
    if (end <= f.allocated) return;
    const bm = this.bitmap!;
    const au = ALLOC_UNIT;
    const need = Math.ceil((end - f.allocated) / au) * au;
    const want = Math.max(need, Math.min(f.allocated, 1024 * 1024 * 1024), au);
    const last = f.map.extents[f.map.extents.length - 1];
    for (const size of want === need ? [need] : [want, need]) {
      if (last && last.offset + last.length + size <= bm.capacity && bm.isFree(last.offset + last.length, size)) {
        bm.mark(last.offset + last.length, size);
        last.length += size;
        f.allocated += size;
        return;
      }
    }
    if (f.map.extents.length >= MAX_SIMPLE_EXTENTS) throw new FamfsError(`${f.path}: out of space (a file may have at most ${MAX_SIMPLE_EXTENTS} extents)`, 'ENOSPC');
    for (const size of want === need ? [need] : [want, need]) {
      const u = bm.findAndMark(size / au);
      if (u >= 0) {
        f.map.extents.push({ devindex: 0, offset: u * au, length: size });
        f.allocated += size;
        return;
      }
    }
    throw new FamfsError(`${f.path}: out of space`, 'ENOSPC');
  }

  /** Give back whole units past what the file needs (at least one unit stays, as creat does). */
  private trim(f: NewFile): Extent[] {
    const keep = Math.max(1, Math.ceil(f.size / ALLOC_UNIT)) * ALLOC_UNIT;
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

  private release(f: NewFile, freeAll: boolean): void {
    if (freeAll) for (const e of f.map.extents) this.bitmap!.free(e.offset, e.length);
    this.files.delete(f.id);
    this.published();
    this.unlockIfIdle();
  }

  /** Log the file; on failure it is dropped and its space freed. Returns the errno name on failure. */
  private tryCommit(f: NewFile): string | undefined {
    if (f.failed) {
      this.log(`${f.path}: not committed (${f.failed}); dropped`);
      this.release(f, true);
      return f.failed;
    }
    const extents = this.trim(f);
    try {
      this.famfs.log.append({ type: 'file', path: f.path, size: f.size, flags: FM_ALL_HOSTS_RW, mode: f.mode, uid: f.uid, gid: f.gid, map: { kind: 'simple', extents } });
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'EIO';
      this.log(`${f.path}: commit failed: ${(e as Error).message}; dropped`);
      for (const x of extents) this.bitmap!.free(x.offset, x.length);
      this.release(f, false);
      return code;
    }
    this.famfs.refresh();
    const node = this.famfs.tree.lookup(f.path);
    if (node) {
      f.committedId = node.id;
      this.committed.set(f.id, node.id);
    } else this.log(`${f.path}: logged but refused by replay`);
    f.map = { kind: 'simple', extents };
    this.release(f, false);
    return undefined;
  }

  private attr(f: NewFile): NewFileAttr {
    return { id: f.id, size: f.size, mode: f.mode, uid: f.uid, gid: f.gid, map: f.map, committedId: f.committedId };
  }

  private file(id: number): NewFile | undefined {
    return this.files.get(id);
  }

  // ---- the calls workers make ----

  handle(op: string, a: Record<string, number | string>): unknown {
    switch (op) {
      case 'mkdir': return this.mkdir(a.parent as number, a.name as string, a.mode as number, a.uid as number, a.gid as number);
      case 'create': return this.create(a.parent as number, a.name as string, a.mode as number, a.uid as number, a.gid as number);
      case 'lookup': return this.lookup(a.parent as number, a.name as string);
      case 'get': return this.get(a.id as number);
      case 'open': return this.open(a.id as number);
      case 'extend': return this.extend(a.id as number, a.offset as number, a.length as number);
      case 'flush': return this.close1(a.id as number, false);
      case 'release': return this.close1(a.id as number, true);
      case 'fsync': return this.fsync(a.id as number);
      case 'setattr': return this.setattr(a.id as number, a);
      case 'list': return this.list(a.parent as number);
      default: throw new FamfsError(`unknown call ${op}`, 'ENOSYS');
    }
  }

  mkdir(parentId: number, name: string, mode: number, uid: number, gid: number): { id: number } {
    const parent = this.dir(parentId);
    if (this.exists(parent, name)) throw new FamfsError(`${name}: exists`, 'EEXIST');
    const path = this.childPath(parent, name);
    const wasLocked = this.locked;
    this.lock();
    try {
      this.famfs.log.append({ type: 'mkdir', path, mode: mode & 0o7777, uid, gid });
    } finally {
      if (!wasLocked) this.unlockIfIdle();
    }
    this.famfs.refresh();
    const node = this.famfs.tree.lookup(path);
    if (!node) throw new FamfsError(`${path}: logged but refused by replay`, 'EIO');
    return { id: node.id };
  }

  create(parentId: number, name: string, mode: number, uid: number, gid: number): NewFileAttr {
    const parent = this.dir(parentId);
    if (this.exists(parent, name)) throw new FamfsError(`${name}: exists`, 'EEXIST');
    const path = this.childPath(parent, name);
    const h = this.famfs.log.readHeader();
    if (h.nextIndex + this.files.size > h.lastIndex) throw new FamfsError('the famfs log is full', 'ENOSPC');
    this.lock();
    const f: NewFile = { id: this.nextId++, parentId, name, path, mode: mode & 0o7777, uid, gid, size: 0, map: { kind: 'simple', extents: [] }, allocated: 0, opens: 1 };
    this.files.set(f.id, f);
    this.published();
    return this.attr(f);
  }

  lookup(parentId: number, name: string): NewFileAttr | null {
    for (const f of this.files.values()) if (f.parentId === parentId && f.name === name) return this.attr(f);
    return null;
  }

  /** A new file's state; after commit, only its log-derived id. */
  get(id: number): NewFileAttr | { committedId: number } {
    const f = this.file(id);
    if (f) return this.attr(f);
    const c = this.committed.get(id);
    if (c !== undefined) return { committedId: c };
    throw new FamfsError('stale file', 'ESTALE');
  }

  open(id: number): NewFileAttr | { committedId: number } {
    const f = this.file(id);
    if (f) f.opens++;
    return this.get(id);
  }

  extend(id: number, offset: number, length: number): NewFileAttr | { committedId: number } {
    const f = this.file(id);
    if (!f) return this.get(id);
    const end = offset + length;
    try {
      this.ensureCapacity(f, end);
    } catch (e) {
      f.failed = (e as { code?: string }).code ?? 'EIO';
      throw e;
    }
    // Bytes skipped over by a write past EOF read as zeros, as in any file system.
    if (offset > f.size) resolveRange(f.map, offset, f.size, offset - f.size, (_d, off, len) => {
      for (const s of this.famfs.device.slices(off, len)) s.fill(0);
    });
    f.size = Math.max(f.size, end);
    return this.attr(f);
  }

  /**
   * FLUSH is sent at every close(2) of a descriptor, including dup'ed ones
   * (a shell redirect closes one right after opening), so it never commits; it
   * only reports a failed file, so close() returns the error. RELEASE comes
   * when the last reference to the open file goes: the last one commits.
   */
  private close1(id: number, release: boolean): null {
    const f = this.file(id);
    if (!f) return null;
    if (!release) {
      if (f.failed) throw new FamfsError(`${f.path}: cannot be committed`, f.failed);
      return null;
    }
    if (--f.opens > 0) return null;
    this.tryCommit(f);
    return null;
  }

  private fsync(id: number): null {
    const f = this.file(id);
    if (!f) return null;
    const err = this.tryCommit(f);
    if (err) throw new FamfsError(`${f.path}: not committed`, err);
    return null;
  }

  private setattr(id: number, a: Record<string, number | string>): NewFileAttr | { committedId: number } {
    const f = this.file(id);
    if (!f) return this.get(id);
    if (typeof a.mode === 'number') f.mode = a.mode & 0o7777;
    if (typeof a.uid === 'number') f.uid = a.uid;
    if (typeof a.gid === 'number') f.gid = a.gid;
    if (typeof a.size === 'number') {
      if (a.size > f.size) this.extend(id, a.size, 0);
      else f.size = a.size;
    }
    return this.attr(f);
  }

  list(parentId: number): (NewFileAttr & { name: string })[] {
    const out: (NewFileAttr & { name: string })[] = [];
    for (const f of this.files.values()) if (f.parentId === parentId) out.push({ ...this.attr(f), name: f.name });
    return out;
  }
}
