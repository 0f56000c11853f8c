/**
 * The master's metadata service, on the daemon's main thread: every file and
 * directory created through the mount starts as a *new node*, visible only in
 * this mount, and is logged later (parents first). This thread is the one
 * owner of a new node's size, capacity and map: workers ask it before every
 * write of a new file and never act on a cached size.
 *
 * When a new node is logged:
 * - a file, once no one has it open and either the mount has been idle for
 *   `commitDelayMs` or `maxAgeMs` have passed since its last close (so
 *   continuous activity cannot keep it unlogged, while tar/rsync/cp -p, which
 *   set modes right after closing, still shape the entry); a directory the
 *   same way, counted from its last change, or at once with its first file;
 * - at once on fsync (the file and its new parents), fsync of a directory
 *   (it, its parents, and everything closed below it) and FUSE_SYNCFS
 *   (everything closed);
 * - when a famfs CLI writer waits for the log lock: everything closed, and
 *   files that users other than root hold open, at their current size (later
 *   writes past it fail with EFBIG) — so no user can keep root's `famfs creat`
 *   waiting longer than `maxAgeMs` and a poll.
 *
 * While new nodes exist the service holds the host's single-writer lock, so
 * its allocations, not in the log yet, cannot collide with a CLI writer's; it
 * is released as soon as nothing is pending. A create that needs the lock
 * waits for it without blocking this thread (loglock.ts). Nothing is logged
 * before commit: a crash leaves no entry and no lost space.
 */
import { EXT_PATH_MAX, FM_ALL_HOSTS_RW } from '../format/constants.js';
import { hasFeature, SYMLINKS } from '../format/features.js';
import type { NewLogEntry } from '../format/logentry.js';
import { removeEntry } from '../api/removal.js';
import type { TreeNode } from '../meta/tree.js';
import { alignLargeFile } from './align.js';
import { Famfs } from '../api/famfs.js';
import { FamfsError } from '../api/errors.js';
import type { DeviceSpace, Placement } from '../alloc/space.js';
import { ensureCapacity, freeAll, PAGE, trim, zeroRange } from './newspace.js';
import { LogLock } from './loglock.js';
import type { RpcCall } from './rpc.js';
import { NewNodeTable, NEW_NODE_ID_BASE, type NewNode, type NewNodeAttr, type Committed } from './newtable.js';

export { NEW_NODE_ID_BASE, isNewNodeId, type NewNodeAttr, type Committed } from './newtable.js';

/** Longest a closed new file stays unlogged, whatever the activity (the documented bound is 1 s). */
export const MAX_AGE_MS = 700;
/** Idle time before a directory still at its mkdir mode 0700 is logged (see underPlaceholder). */
const PLACEHOLDER_IDLE_MS = 1500;
/** How often due nodes and lock waiters are looked for while new nodes exist. */
const TICK_MS = 50;
/** Longest a create waits for a log lock held by a CLI writer (below the workers' 60 s call timeout). */
export const DEFAULT_LOCK_WAIT_MS = 50_000;

export interface MasterOptions {
  commitDelayMs: number;
  /** Where new files' extents go on a multi-device file system (src/alloc/space.ts). */
  placement?: Placement;
  log: (msg: string) => void;
  /** Shared with the workers: number of new nodes (0 lets them skip calls here). */
  pendingCount?: Int32Array;
  /** The file system to write (default: open `device`); kernel mode passes one reached through the mount. */
  famfs?: Famfs;
  /** Called after each entry is appended (kernel mode: the workers' copy of the log is refreshed). */
  afterAppend?: () => void;
  maxAgeMs?: number;
  lockWaitMs?: number;
  /**
   * The daemon's open-count table (file systems with the presence area): a new file logged
   * while open carries its open handles into it, so a later delete finds it held.
   */
  openTable?: () => CountTable | undefined;
}

/** The part of the presence OpenTable a commit needs. */
export interface CountTable {
  open(id: number): boolean;
  close(id: number): void;
}

/** How often, at most, a create asks again which deleted files' space came back (ms). */
const RECLAIM_LOOK_MS = 200;

/** New nodes and their commits; master-service.ts adds unlink and rename (MasterService). */
export class MasterBase extends NewNodeTable {
  /** Free space of every device while the lock is held; new files are placed by `opts.placement`. */
  protected bitmap?: DeviceSpace;
  protected readonly loglock: LogLock;
  private nextId = NEW_NODE_ID_BASE;
  private ticker?: NodeJS.Timeout;
  private lastActivity = 0;
  private lastWaiterCheck = 0;
  private readonly maxAgeMs: number;
  /** When the bitmap last took in released deleted files (lockedSession). */
  private spaceAt = 0;
  /** Handles opened while new on nodes logged since: new-node id → logged id and handles left. */
  private readonly carried = new Map<number, { id: number; left: number }>();

  constructor(device: string, protected readonly opts: MasterOptions) {
    super(opts.famfs ?? Famfs.open(device, { writable: true }));
    this.loglock = new LogLock(this.famfs.device, opts.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, opts.log);
    this.maxAgeMs = opts.maxAgeMs ?? MAX_AGE_MS;
  }

  /** True while this service holds the host's log lock. */
  get locked(): boolean {
    return this.loglock.held;
  }

  /** Commit what can be (unmount); anything still open is lost, as after a crash. */
  close(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.commitWhere(() => true);
    for (const n of this.nodes.values()) this.opts.log(`${n.path}: still open at unmount; not committed`);
    for (const n of this.nodes.values()) if (n.kind === 'file' && this.bitmap) freeAll(this.bitmap, n);
    this.nodes.clear();
    this.published();
    this.unlockIfIdle();
    this.famfs.close();
  }

  // ---- bookkeeping ----

  private published(): void {
    if (this.opts.pendingCount) Atomics.store(this.opts.pendingCount, 0, this.nodes.size);
  }

  /** While new nodes exist, look for due nodes and lock waiters every tick. */
  protected schedule(): void {
    if (this.nodes.size === 0) {
      if (this.ticker) clearInterval(this.ticker);
      this.ticker = undefined;
    } else this.ticker ??= setInterval(() => this.tick(), TICK_MS);
  }

  /** One look: commit what is due; hand the lock over to a waiting CLI writer. */
  tick(): void {
    try {
      this.look(Date.now());
    } catch (e) {
      this.opts.log(`commit: ${(e as Error).message}`);
    }
    this.schedule();
  }

  private look(now: number): void {
    const quiet = now - this.lastActivity;
    const idle = quiet >= this.opts.commitDelayMs;
    this.commitWhere((n) => {
      if (this.underPlaceholder(n)) return quiet >= Math.max(this.opts.commitDelayMs, PLACEHOLDER_IDLE_MS);
      return idle || now - n.since >= this.maxAgeMs;
    });
    if (this.loglock.held && now - this.lastWaiterCheck >= 2 * TICK_MS) {
      this.lastWaiterCheck = now;
      const waiters = this.loglock.waiters();
      if (waiters.length) this.handOver(waiters, now);
    }
  }

  /** A CLI writer waits: log everything closed and whatever non-root users hold open, then release the lock. */
  private handOver(waiters: number[], now: number): void {
    this.commitWhere(() => true);
    for (const n of [...this.nodes.values()]) {
      if (n.kind !== 'file' || n.opens === 0 || n.uid === 0 || now - n.since < this.maxAgeMs || n.unlinked) continue;
      this.opts.log(`${n.path}: held open by uid ${n.uid} while famfs writer pid ${waiters.join(',')} waits for the log lock; logged at its current size (${n.size} bytes)`);
      try {
        this.commitChain(n);
      } catch {
        // logged by commitNode; the node was dropped
      }
    }
    this.unlockIfIdle(true);
  }

  protected unlockIfIdle(handover = false): void {
    if (!this.loglock.held || this.nodes.size > 0) return;
    this.loglock.release(handover);
    this.bitmap = undefined;
  }

  /** After taking the lock: catch up with the log and rebuild the bitmap (CLI writers may have appended). */
  protected lockedSession(): void {
    if (this.bitmap) {
      if (Date.now() - this.spaceAt >= RECLAIM_LOOK_MS) this.reclaimSpace();
      return;
    }
    this.famfs.refresh();
    this.bitmap = this.famfs.space(this.opts.placement);
    this.spaceAt = Date.now();
  }

  /**
   * The lock stays held as long as new nodes exist (on a busy master: for good), so the
   * bitmap built when it was taken would never see deleted files whose holders let go since.
   * Rebuild it from the log and the release oracle, and mark what new files hold (their space
   * is not logged yet). Returns whether any space came back.
   */
  protected reclaimSpace(): boolean {
    this.spaceAt = Date.now();
    if (!this.bitmap) return false;
    this.famfs.refresh();
    if (this.famfs.pendingFrees.length === 0) return false;
    const before = this.bitmap.freeBytes;
    const space = this.famfs.space(this.opts.placement);
    for (const n of this.nodes.values()) {
      if (n.kind === 'file') for (const e of n.map.extents) space.bitmaps[e.devindex]?.mark(e.offset, e.length);
    }
    this.bitmap = space;
    return space.freeBytes > before;
  }

  /** Room for a new file's bytes; when out of space, once more after taking in released deleted files. */
  protected room(f: NewNode, end: number): void {
    try {
      ensureCapacity(this.bitmap!, f, end);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOSPC' || !this.reclaimSpace()) throw e;
      ensureCapacity(this.bitmap!, f, end);
    }
  }

  protected drop(n: NewNode): void {
    if (n.kind === 'file' && this.bitmap) freeAll(this.bitmap, n);
    this.nodes.delete(n.id);
    this.published();
    this.unlockIfIdle();
  }

  // ---- commit ----

  /**
   * Log one node whose parent is logged. Returns false when it was dropped instead.
   * `replaces`: a logged node at the same name that goes in the same commit (rename of a new
   * node over a logged one: DELETE and the new entry become visible to every host at once).
   */
  protected commitNode(n: NewNode, replaces?: TreeNode): boolean {
    const parentId = this.canon(n.parentId);
    if (n.failed) {
      this.opts.log(`${n.path}: not committed (${n.failed}); dropped`);
      this.drop(n);
      return false;
    }
    const before: NewLogEntry[] = replaces ? [removeEntry(replaces)] : [];
    try {
      // Its logged parent may have been renamed since the node was made.
      n.path = this.childPath(this.dir(parentId), n.name);
      if (n.kind === 'dir') this.famfs.log.appendMany([...before, { type: 'mkdir', path: n.path, mode: n.mode, uid: n.uid, gid: n.gid }]);
      else if (n.kind === 'symlink') this.famfs.log.appendMany([...before, { type: 'symlink', path: n.path, target: n.target!, uid: n.uid, gid: n.gid }]);
      else {
        // small-units: a closed file of 2 MiB or more moves once into one aligned extent (align.ts).
        const moved = n.opens === 0 ? alignLargeFile(this.famfs, this.bitmap!, n.map, n.size) : undefined;
        if (moved) {
          n.map = moved;
          n.allocated = moved.extents[0]!.length;
        }
        const extents = trim(this.bitmap!, n);
        n.map = { kind: 'simple', extents };
        // A famfs kernel maps whole pages: the bytes after EOF in the last one read as zero too.
        zeroRange(this.famfs, n, n.size, Math.ceil(Math.max(n.size, 1) / PAGE) * PAGE);
        this.famfs.log.appendMany([...before, { type: 'file', path: n.path, size: n.size, flags: FM_ALL_HOSTS_RW, mode: n.mode, uid: n.uid, gid: n.gid, map: n.map }]);
      }
    } catch (e) {
      n.failed = (e as { code?: string }).code ?? 'EIO';
      this.opts.log(`${n.path}: commit failed: ${(e as Error).message}; dropped`);
      this.drop(n);
      return false;
    }
    this.opts.afterAppend?.();
    this.famfs.refresh();
    const logged = this.famfs.tree.lookup(n.path);
    if (logged && logged.parent?.id === parentId && !logged.removed && logged !== replaces) {
      this.committed.set(n.id, logged.id);
      this.loggedHere.add(logged.id);
    }
    else this.opts.log(`${n.path}: logged but refused by replay`);
    if (n.kind === 'file' && n.opens > 0 && logged && this.committed.has(n.id)) this.carry(n, logged.entryIndex);
    this.nodes.delete(n.id);
    this.published();
    return true;
  }

  /**
   * A file logged while open (fsync, mv over a logged file, a lock hand-over): its handles,
   * opened while it was new, become holds of the logged file in the open-count table, given
   * back at their RELEASE (release()). Else a delete would find it unheld and its space could
   * be reused under them.
   */
  private carry(n: NewNode, loggedId: number): void {
    const table = this.opts.openTable?.();
    if (!table) return;
    let left = 0;
    while (left < n.opens && table.open(loggedId)) left++;
    if (left) this.carried.set(n.id, { id: loggedId, left });
  }

  /** Commit a node now, with its new ancestors first. */
  protected commitChain(n: NewNode): void {
    const chain: NewNode[] = [];
    for (let cur: NewNode | undefined = n; cur; cur = this.nodes.get(this.canon(cur.parentId))) chain.unshift(cur);
    for (const c of chain) {
      if (!this.commitNode(c)) throw new FamfsError(`${n.path}: not committed`, c.failed ?? 'EIO');
    }
  }

  /** Commit every node nobody has open that `due` picks (with the new directories above it). */
  private commitWhere(due: (n: NewNode) => boolean): void {
    for (const n of [...this.nodes.values()]) {
      if (!this.nodes.has(n.id) || n.opens > 0 || n.unlinked || !due(n)) continue;
      try {
        this.commitChain(n);
      } catch {
        // logged by commitNode; the node was dropped
      }
    }
    this.unlockIfIdle();
  }

  // ---- the calls workers make ----

  /** A worker's call arrived (the idle window restarts). */
  protected touch(): void {
    this.lastActivity = Date.now();
  }

  handle(call: RpcCall): unknown {
    const op = call.op;
    const a = call.args as Record<string, number | string>;
    this.lastActivity = Date.now();
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
        return r;
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
    const parent = this.dir(parentId);
    if (this.exists(parent, name)) throw new FamfsError(`${name}: exists`, 'EEXIST');
    const path = this.childPath(parent, name);
    const h = this.famfs.log.readHeader();
    if (h.nextIndex + this.nodes.size > h.lastIndex) throw new FamfsError('the famfs log is full', 'ENOSPC');
    const n: NewNode = {
      id: this.nextId++, kind, parentId: parent.id, name, path, mode: mode & 0o7777, uid, gid,
      size: kind === 'symlink' ? Buffer.byteLength(target!) : 0, map: { kind: 'simple', extents: [] }, allocated: 0, opens: kind === 'file' ? 1 : 0, since: Date.now(),
      ...(kind === 'symlink' ? { target } : {}),
    };
    // A file takes its first unit now: a full file system fails the create, not a later commit.
    if (kind === 'file') this.room(n, 1);
    this.nodes.set(n.id, n);
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
    this.resize(f, Math.max(f.size, offset + length));
    return this.attr(f);
  }

  /** Set a new file's size; bytes that come into it are zeroed first (holes, grown tails). */
  private resize(f: NewNode, size: number): void {
    if (size > f.size) {
      try {
        this.room(f, size);
      } catch (e) {
        f.failed = (e as { code?: string }).code ?? 'EIO';
        throw e;
      }
      zeroRange(this.famfs, f, f.size, size);
    }
    f.size = size;
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
      const c = this.carried.get(id);
      if (c) {
        this.opts.openTable?.()?.close(c.id);
        if (--c.left === 0) this.carried.delete(id);
      }
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
    if (n.kind === 'dir') n.since = Date.now();
    return this.attr(n);
  }
}
