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
import { FM_ALL_HOSTS_RW } from '../format/constants.js';
import { MAX_GROUP } from '../meta/log.js';
import type { NewLogEntry } from '../format/logentry.js';
import type { Extent } from '../format/types.js';
import { removeEntry } from '../api/removal.js';
import type { TreeNode } from '../meta/tree.js';
import { alignLargeFile } from './align.js';
import { Famfs } from '../api/famfs.js';
import { FamfsError } from '../api/errors.js';
import type { DeviceSpace, Placement } from '../alloc/space.js';
import { ensureCapacity, freeAll, PAGE, trim, zeroRange } from './newspace.js';
import { LogLock } from './loglock.js';
import { NewFileSlots } from './newslots.js';
import { NewNameCounts } from './newnames.js';
import { NewNodeTable, type NewNode } from './newtable.js';

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
  /** Shared with the workers: new files' sizes, so writes need no call (newslots.ts). */
  newFiles?: SharedArrayBuffer;
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

/** New nodes and their commits; master-calls.ts adds the calls workers make, master-service.ts unlink and rename. */
export class MasterBase extends NewNodeTable {
  /** Free space of every device while the lock is held; new files are placed by `opts.placement`. */
  protected bitmap?: DeviceSpace;
  protected readonly loglock: LogLock;
  private ticker?: NodeJS.Timeout;
  private lastActivity = 0;
  private lastWaiterCheck = 0;
  private checkingWaiters = false;
  private readonly maxAgeMs: number;
  /** When the bitmap last took in released deleted files (lockedSession). */
  private spaceAt = 0;
  /** Handles opened while new on nodes logged since: new-node id → logged id and handles left. */
  protected readonly carried = new Map<number, { id: number; left: number }>();

  constructor(device: string, protected readonly opts: MasterOptions) {
    super(opts.famfs ?? Famfs.open(device, { writable: true }), opts.newFiles ? new NewFileSlots(opts.newFiles) : undefined, opts.newFiles ? new NewNameCounts(opts.newFiles) : undefined);
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
    this.givePoolBack();
    for (const n of this.nodes.values()) this.opts.log(`${n.path}: still open at unmount; not committed`);
    for (const n of [...this.nodes.values()]) {
      if (n.kind === 'file' && this.bitmap) freeAll(this.bitmap, n);
      this.removeNode(n);
    }
    this.published();
    this.unlockIfIdle();
    this.famfs.close();
  }

  // ---- bookkeeping ----

  /** The table's size as last added to the shared pending count (workers add their own creates to it: newpool.ts). */
  private shownPending = 0;

  protected published(): void {
    if (!this.opts.pendingCount) return;
    Atomics.add(this.opts.pendingCount, 0, this.nodes.size - this.shownPending);
    this.shownPending = this.nodes.size;
  }

  // ---- the pool of ready new files (master-pool.ts); nothing without one ----

  /** Take every file the workers made from the pool into the table (before any call or commit). */
  protected drainCreated(): void {}

  /** Fill the pool while the log lock is held. */
  protected refillPool(): void {}

  /** Give the pool's space back (umount, lock release, `forSpace`: an ENOSPC): true if any was freed. */
  protected givePoolBack(_forSpace = false): boolean {
    return false;
  }

  /** Extents the pool holds (not in the table, not in the log). */
  protected poolExtents(): Extent[] {
    return [];
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
      this.drainCreated();
      this.look(Date.now());
      // Workers' creates do not pass lockedSession: look for released deleted files here too.
      if (this.bitmap && Date.now() - this.spaceAt >= RECLAIM_LOOK_MS) this.reclaimSpace();
      this.refillPool();
    } catch (e) {
      this.opts.log(`commit: ${(e as Error).message}`);
    }
    this.schedule();
  }

  /** The workers' count of requests served without a call, as last seen (newnames.ts). */
  private seenActivity = 0;

  private look(now: number): void {
    // Requests the workers served without a call (writes, lookups) keep the mount busy too.
    const act = this.sharedNames?.activity ?? 0;
    if (act !== this.seenActivity) {
      this.seenActivity = act;
      this.lastActivity = now;
    }
    const quiet = now - this.lastActivity;
    const idle = quiet >= this.opts.commitDelayMs;
    this.commitWhere((n) => {
      if (this.underPlaceholder(n)) return quiet >= Math.max(this.opts.commitDelayMs, PLACEHOLDER_IDLE_MS);
      return idle || now - n.since >= this.maxAgeMs;
    });
    if (this.loglock.held && !this.checkingWaiters && now - this.lastWaiterCheck >= 2 * TICK_MS) {
      this.lastWaiterCheck = now;
      // Off this thread: reading /proc/locks waits for an RCU grace period (milliseconds under
      // load), and every worker's call would wait with it.
      this.checkingWaiters = true;
      this.loglock.waitersAsync().then((waiters) => {
        this.checkingWaiters = false;
        if (!waiters.length || !this.loglock.held) return;
        try {
          this.handOver(waiters, Date.now());
        } catch (e) {
          this.opts.log(`commit: ${(e as Error).message}`);
        }
        this.schedule();
      }, () => (this.checkingWaiters = false));
    }
  }

  /** A CLI writer waits: log everything closed and whatever non-root users hold open, then release the lock. */
  private handOver(waiters: number[], now: number): void {
    this.commitWhere(() => true);
    for (const n of [...this.nodes.values()]) {
      if (n.kind !== 'file' || n.opens === 0 || n.uid === 0 || now - n.since < this.maxAgeMs || n.unlinked) continue;
      this.opts.log(`${n.path}: held open by uid ${n.uid} while famfs writer pid ${waiters.join(',')} waits for the log lock; logged at its current size (${this.sizeOf(n)} bytes)`);
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
    // The pool's space is allocated under the lock: give it back first (files made from it meanwhile keep the lock).
    this.drainCreated();
    this.givePoolBack();
    if (this.nodes.size > 0) return;
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
    for (const e of this.poolExtents()) space.bitmaps[e.devindex]?.mark(e.offset, e.length);
    this.bitmap = space;
    if (space.freeBytes <= before) return false;
    // Space came back: the pool, taken before, gives its units up so new files go on the lowest free ones again.
    this.givePoolBack();
    return true;
  }

  /** Room for a new file's bytes; when out of space, once more after taking in released deleted files. */
  protected room(f: NewNode, end: number): void {
    try {
      ensureCapacity(this.bitmap!, f, end);
    } catch (e) {
      // Out of space: first what the pool holds, then deleted files released since.
      if ((e as { code?: string }).code !== 'ENOSPC' || !(this.givePoolBack(true) || this.reclaimSpace())) throw e;
      try {
        ensureCapacity(this.bitmap!, f, end);
      } catch (e2) {
        if ((e2 as { code?: string }).code !== 'ENOSPC' || !this.reclaimSpace()) throw e2;
        ensureCapacity(this.bitmap!, f, end);
      }
    }
  }

  /**
   * A file logged while open (fsync, mv over a logged file, a lock hand-over): its handles,
   * opened while it was new, become holds of the logged file in the open-count table, given
   * back at their RELEASE (MasterCalls.release). Else a delete would find it unheld and its
   * space could be reused under them.
   */
  private carry(n: NewNode, loggedId: number): void {
    const table = this.opts.openTable?.();
    if (!table) return;
    let left = 0;
    while (left < n.opens && table.open(loggedId)) left++;
    if (left) this.carried.set(n.id, { id: loggedId, left });
  }

  /** RELEASE of a handle carried at commit (the node is no longer new). */
  protected releaseCarried(id: number): void {
    const c = this.carried.get(id);
    if (!c) return;
    this.opts.openTable?.()?.close(c.id);
    if (--c.left === 0) this.carried.delete(id);
  }

  protected drop(n: NewNode): void {
    this.retireSlot(n);
    if (n.kind === 'file' && this.bitmap) freeAll(this.bitmap, n);
    this.removeNode(n);
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
    return this.commitMany([n], replaces).length === 1;
  }

  /**
   * Log nodes whose parents are logged or come earlier in `list`, in groups of appends and one
   * catch-up of the tree (not one of each per node: a `cp -r` closes hundreds of files per tick).
   * Returns the nodes logged; the others were dropped, or (below a dropped one) stay new.
   */
  protected commitMany(list: NewNode[], replaces?: TreeNode): NewNode[] {
    const ready: { n: NewNode; entry: NewLogEntry }[] = [];
    const skipped = new Set<number>();
    for (const n of list) {
      if (skipped.has(this.canon(n.parentId))) {
        skipped.add(n.id);
        continue;
      }
      const entry = this.entryFor(n);
      if (entry) ready.push({ n, entry });
      else skipped.add(n.id);
    }
    let appended = 0;
    try {
      if (replaces) {
        this.famfs.log.appendMany([removeEntry(replaces), ready[0]!.entry]);
        appended = 1;
      } else {
        for (; appended < ready.length; appended += Math.min(MAX_GROUP, ready.length - appended)) {
          this.famfs.log.appendMany(ready.slice(appended, appended + MAX_GROUP).map((r) => r.entry));
        }
      }
    } catch (e) {
      for (const { n } of ready.slice(appended)) {
        n.failed = (e as { code?: string }).code ?? 'EIO';
        this.opts.log(`${n.path}: commit failed: ${(e as Error).message}; dropped`);
        this.drop(n);
      }
    }
    const done = ready.slice(0, appended).map((r) => r.n);
    if (!done.length) return done;
    this.opts.afterAppend?.();
    this.famfs.refresh();
    for (const n of done) {
      // Parents first: a child's parent id already stands for the parent's logged node.
      const parentId = this.canon(n.parentId);
      const logged = this.famfs.tree.lookup(n.path);
      if (logged && logged.parent?.id === parentId && !logged.removed && logged !== replaces) {
        this.committed.set(n.id, logged.id);
        this.loggedHere.set(logged.id, n.id);
        if (n.kind === 'file' && n.opens > 0) this.carry(n, logged.entryIndex);
      } else this.opts.log(`${n.path}: logged but refused by replay`);
      this.removeNode(n);
    }
    this.published();
    return done;
  }

  /** The entry to log for a node (a file's space trimmed to its size), or undefined: dropped. */
  private entryFor(n: NewNode): NewLogEntry | undefined {
    if (n.failed) {
      this.opts.log(`${n.path}: not committed (${n.failed}); dropped`);
      this.drop(n);
      return undefined;
    }
    // From here the size is final (a worker that raised it first has its bytes below it).
    this.retireSlot(n);
    try {
      // Its logged parent may have been renamed since the node was made.
      n.path = this.childPath(this.dir(this.canon(n.parentId)), n.name);
      if (n.kind === 'dir') return { type: 'mkdir', path: n.path, mode: n.mode, uid: n.uid, gid: n.gid };
      if (n.kind === 'symlink') return { type: 'symlink', path: n.path, target: n.target!, uid: n.uid, gid: n.gid };
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
      return { type: 'file', path: n.path, size: n.size, flags: FM_ALL_HOSTS_RW, mode: n.mode, uid: n.uid, gid: n.gid, map: n.map };
    } catch (e) {
      n.failed = (e as { code?: string }).code ?? 'EIO';
      this.opts.log(`${n.path}: commit failed: ${(e as Error).message}; dropped`);
      this.drop(n);
      return undefined;
    }
  }

  /** The node with its new ancestors, outermost first. */
  private chainOf(n: NewNode): NewNode[] {
    const chain: NewNode[] = [];
    for (let cur: NewNode | undefined = n; cur; cur = this.nodes.get(this.canon(cur.parentId))) chain.unshift(cur);
    return chain;
  }

  /** Commit a node now, with its new ancestors first. */
  protected commitChain(n: NewNode): void {
    for (const c of this.chainOf(n)) {
      if (this.commitMany([c]).length !== 1) throw new FamfsError(`${n.path}: not committed`, c.failed ?? 'EIO');
    }
  }

  /** Commit every node nobody has open that `due` picks (with the new directories above it). */
  protected commitWhere(due: (n: NewNode) => boolean): void {
    this.drainCreated();
    const list: NewNode[] = [];
    const seen = new Set<number>();
    for (const n of this.nodes.values()) {
      if (n.opens > 0 || n.unlinked || seen.has(n.id) || !due(n)) continue;
      for (const c of this.chainOf(n)) {
        if (seen.has(c.id)) continue;
        seen.add(c.id);
        list.push(c);
      }
    }
    // In groups: one append per MAX_GROUP entries and one catch-up of the tree for all of them.
    if (list.length) this.commitMany(list);
    this.unlockIfIdle();
  }

  /** A worker's call arrived (the idle window restarts). */
  protected touch(): void {
    this.lastActivity = Date.now();
  }
}
