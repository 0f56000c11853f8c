/**
 * The calls FUSE workers make to the master's metadata service (master.ts has the new-node
 * bookkeeping and the commits): create, open, extend, close, fsync, chmod/chown/truncate.
 * A new file's size lives in shared memory (newslots.ts) so that most writes need no call:
 * the main thread zeroes ahead of the size, and workers raise the size into those bytes.
 */
import { EXT_PATH_MAX } from '../format/constants.js';
import { hasFeature, SYMLINKS } from '../format/features.js';
import { FamfsError } from '../api/errors.js';
import { ensureCapacity, zeroRange } from './newspace.js';
import type { RpcCall } from './rpc.js';
import { NEW_NODE_ID_BASE, type NewNode, type NewNodeAttr, type Committed } from './newtable.js';
import { MasterBase } from './master.js';

/** Bytes of a new file zeroed ahead of its size, so workers write there without a call: at create, ... */
export const FIRST_AHEAD = 64 * 1024;
/** ... and when it grows: as much again as it has, within these bounds (and its allocation). */
const MIN_AHEAD = 256 * 1024;
const MAX_AHEAD = 16 * 1024 * 1024;

export class MasterCalls extends MasterBase {
  private nextId = NEW_NODE_ID_BASE;

  /** A new node's id (never reused while the daemon lives: the kernel may still know an old one). */
  protected newId(): number {
    return this.nextId++;
  }

  handle(call: RpcCall): unknown {
    const op = call.op;
    const a = call.args as Record<string, number | string>;
    this.touch();
    if (op === 'mkdir' || op === 'create') {
      return this.create(call, a.parent as number, a.name as string, op === 'mkdir' ? 'dir' : 'file', a.mode as number, a.uid as number, a.gid as number);
    }
    if (op === 'symlink') {
      if (!hasFeature(this.famfs.features, SYMLINKS)) throw new FamfsError('this famfs has no symbolic links (famfs mkfs --features symlinks)', 'EPERM');
      const tlen = Buffer.byteLength(String(a.target ?? ''));
      if (tlen === 0 || tlen > EXT_PATH_MAX) throw new FamfsError(`symlink target of ${tlen} bytes`, tlen ? 'ENAMETOOLONG' : 'ENOENT');
      return this.create(call, a.parent as number, a.name as string, 'symlink', 0o777, a.uid as number, a.gid as number, a.target as string);
    }
    if (!call.claim()) return null; // the worker gave up: change nothing
    const id = a.id as number;
    let r: unknown;
    switch (op) {
      case 'lookup': return this.lookup(a.parent as number, a.name as string);
      case 'list': return this.list(a.parent as number);
      case 'get': return this.get(id);
      case 'open': r = this.open(id); break;
      case 'extend': r = this.extend(id, a.offset as number, a.length as number); break;
      case 'flush': return this.flush(id);
      case 'release': r = this.release(id); break;
      case 'fsync': r = this.fsync(id); break;
      case 'fsyncdir': r = this.fsyncdir(a.dir as number); break;
      case 'syncfs': this.commitWhere(() => true); r = null; break;
      case 'setattr': r = this.setattr(id, a); break;
      default: throw new FamfsError(`unknown call ${op}`, 'ENOSYS');
    }
    this.schedule();
    return r;
  }

  /** A new file or directory; waits (without blocking this thread) while a CLI writer holds the log lock. */
  private create(call: RpcCall, parentId: number, name: string, kind: NewNodeAttr['kind'], mode: number, uid: number, gid: number, target?: string): NewNodeAttr | Promise<NewNodeAttr> {
    const make = (): NewNodeAttr => {
      if (!call.claim()) {
        this.unlockIfIdle();
        throw new FamfsError('cancelled', 'EINTR');
      }
      try {
        this.lockedSession();
        const r = this.createLocked(parentId, name, kind, mode, uid, gid, target);
        this.schedule();
        // A worker that learns its parent's logged id can make files there itself (newpool.ts).
        const logged = this.committed.get(parentId);
        return logged === undefined ? r : { ...r, parentLogged: logged };
      } finally {
        this.unlockIfIdle();
      }
    };
    this.precheck(parentId, name);
    if (this.loglock.tryTake()) return make();
    return this.loglock.take().then(make);
  }

  /** What can be refused before waiting for the lock. */
  private precheck(parentId: number, name: string): void {
    const parent = this.dir(parentId);
    if (this.exists(parent, name)) throw new FamfsError(`${name}: exists`, 'EEXIST');
    this.childPath(parent, name);
  }

  private createLocked(parentId: number, name: string, kind: NewNodeAttr['kind'], mode: number, uid: number, gid: number, target?: string): NewNodeAttr {
    // Hold the name's bucket while checking it, so no worker can make it meanwhile; the drain
    // then has every worker's create that claimed it first (newpool.ts, point 3).
    this.sharedNames?.add(name);
    try {
      this.drainCreated();
      return this.createChecked(parentId, name, kind, mode, uid, gid, target);
    } finally {
      this.sharedNames?.remove(name);
    }
  }

  private createChecked(parentId: number, name: string, kind: NewNodeAttr['kind'], mode: number, uid: number, gid: number, target?: string): NewNodeAttr {
    const parent = this.dir(parentId);
    if (this.exists(parent, name)) throw new FamfsError(`${name}: exists`, 'EEXIST');
    const path = this.childPath(parent, name);
    const h = this.famfs.log.readHeader();
    if (h.nextIndex + this.nodes.size > h.lastIndex) throw new FamfsError('the famfs log is full', 'ENOSPC');
    const n: NewNode = {
      id: this.newId(), kind, parentId: parent.id, name, path, mode: mode & 0o7777, uid, gid,
      size: kind === 'symlink' ? Buffer.byteLength(target!) : 0, map: { kind: 'simple', extents: [] }, allocated: 0, opens: kind === 'file' ? 1 : 0, since: Date.now(),
      ...(kind === 'symlink' ? { target } : {}),
    };
    // A file takes its first unit now: a full file system fails the create, not a later commit.
    if (kind === 'file') {
      this.room(n, 1);
      if (this.slots) {
        const ahead = Math.min(n.allocated, FIRST_AHEAD);
        zeroRange(this.famfs, n, 0, ahead);
        const slot = this.slots.take(n.id, ahead, n.map.extents[0]!);
        if (slot >= 0) n.slot = slot;
      }
    } else if (kind === 'dir' && this.slots) {
      // A live slot tells workers the directory is not logged yet (no logged children: newnames.ts)
      // and its attributes (GETATTR after each create in it needs no call).
      const slot = this.slots.takeDir(n.id, n.mode, n.uid, n.gid, Buffer.byteLength(n.path));
      if (slot >= 0) n.slot = slot;
    }
    this.addNode(n);
    this.published();
    return this.attr(n);
  }

  private open(id: number): NewNodeAttr | Committed {
    const n = this.nodes.get(id);
    if (n) n.opens++;
    return this.get(id);
  }

  /** Room for a write of [offset, offset+length): the file's size covers it when this returns. */
  private extend(id: number, offset: number, length: number): NewNodeAttr | Committed {
    const f = this.nodes.get(id);
    if (!f) return this.get(id);
    this.resize(f, Math.max(this.sizeOf(f), offset + length));
    return this.attr(f);
  }

  /** Set a new file's size; bytes that come into it are zeroed first (holes, grown tails). */
  private resize(f: NewNode, size: number): void {
    const cur = this.sizeOf(f);
    if (size > cur) {
      try {
        this.room(f, size);
      } catch (e) {
        f.failed = (e as { code?: string }).code ?? 'EIO';
        if (f.slot !== undefined) this.slots?.markFailed(f.slot);
        throw e;
      }
      if (f.slot === undefined || !this.slots) {
        zeroRange(this.famfs, f, cur, size);
        f.size = size;
        return;
      }
      // [size, limit) is zero already; zero on past `size` so that the next writes need no call.
      this.slots.setFirstExtent(f.slot, f.map.extents[0]!);
      const from = this.slots.limit(f.slot);
      const to = Math.min(f.allocated, Math.max(from, size + Math.min(MAX_AHEAD, Math.max(MIN_AHEAD, size))));
      zeroRange(this.famfs, f, from, to);
      this.slots.raiseLimit(f.slot, to);
      f.size = this.slots.setSize(f.slot, size, true);
    } else if (size < cur) {
      f.size = f.slot !== undefined && this.slots ? this.slots.setSize(f.slot, size, false) : size;
    }
  }

  /** close(2) of one descriptor: report a file that can no longer be committed. */
  private flush(id: number): null {
    const f = this.nodes.get(id);
    if (f?.failed) throw new FamfsError(`${f.path}: cannot be committed`, f.failed);
    return null;
  }

  /** The last reference to an open file went away; it is logged after the idle window, or within the max age. */
  private release(id: number): null {
    const f = this.nodes.get(id);
    if (!f) {
      this.releaseCarried(id);
      return null;
    }
    f.opens = Math.max(0, f.opens - 1);
    if (f.opens > 0) return null;
    f.since = Date.now();
    if (f.unlinked) this.drop(f);
    else if (this.opts.commitDelayMs === 0) this.commitWhere((n) => n === f);
    return null;
  }

  private fsync(id: number): null {
    const f = this.nodes.get(id);
    // Removed while new and still held (rm, or mv over it): its bytes are on the device already and
    // it is never logged (it is dropped at its last release). Logging it here would bring it back
    // under a name that is gone, or that another file holds now (replay refuses that; its space stays taken).
    if (f?.unlinked) return null;
    if (f) {
      try {
        this.commitChain(f);
      } finally {
        this.unlockIfIdle();
      }
    }
    return null;
  }

  /** fsync of a directory: it (with its new parents) and everything closed below it. */
  private fsyncdir(dirId: number): null {
    const d = this.nodes.get(dirId);
    if (d) this.fsync(dirId);
    const target = this.canon(dirId);
    this.commitWhere((n) => this.below(n, target));
    return null;
  }

  private setattr(id: number, a: Record<string, number | string>): NewNodeAttr | Committed {
    const n = this.nodes.get(id);
    if (!n) return this.get(id);
    if (typeof a.mode === 'number' && n.kind !== 'symlink') {
      n.mode = a.mode & 0o7777;
      n.modeSet = true;
    }
    if (typeof a.uid === 'number') n.uid = a.uid;
    if (typeof a.gid === 'number') n.gid = a.gid;
    if (typeof a.size === 'number' && n.kind === 'file') this.resize(n, a.size);
    if (n.kind === 'dir') {
      n.since = Date.now();
      if (n.slot !== undefined) this.slots?.setDirAttr(n.slot, n.mode, n.uid, n.gid);
    }
    return this.attr(n);
  }
}
