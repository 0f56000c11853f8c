/**
 * The daemon's main-thread follower: polls the shared log (one 32-bit load per
 * tick), tells the kernel about new names so its caches never hide them, and
 * notices when the device is re-formatted or its superblock destroyed, after
 * which every thread refuses to serve the old maps.
 */
import { SUPERBLOCK_STRUCT_SIZE } from '../format/superblock.js';
import { entryOffset, LOG_ENTRY_SIZE, LOG_HEADER_SIZE, LOG_OFFSET } from '../format/constants.js';
import { decodeLogHeader } from '../format/logheader.js';
import { Famfs } from '../api/famfs.js';
import type { Notifier } from './notifier.js';
import { idForEntry, ROOT_ID } from '../meta/tree.js';
import { basename, dirname } from '../meta/paths.js';
import type { AppliedEntry } from '../meta/replay.js';
import { StateFlag } from './config.js';

export interface WatcherOptions {
  intervalMs?: number;
  log: (msg: string) => void;
  verbose?: boolean;
  /** The file system to follow (default: open `device`); kernel mode passes one reached through the mount. */
  famfs?: Famfs;
  /** Kernel mode: the workers' copy of the superblock and log, kept up to date here. */
  image?: Buffer;
  /** Nodes this mount created and logged itself: the kernel already knows them under their first id. */
  madeHere?: (id: number) => boolean;
  /**
   * The id the kernel knows a logged node by: a directory made through this mount keeps its
   * new-node id there (an invalidation naming its log id gets ENOENT and changes nothing).
   */
  kernelId?: (id: number) => number;
  /**
   * Open and replay `device` only when replayDeferred() is called, up to this committed
   * next_index (one every worker's replay holds); later entries are told to the kernel as
   * new ones. Lets the mount answer before this thread's replay of a big log.
   */
  deferredFrom?: { nextIndex: number; superblock: Buffer };
}

export class LogWatcher {
  /** Undefined until a deferred open has replayed (WatcherOptions.deferredFrom). */
  private famfs?: Famfs;
  private sbCopy!: Buffer;
  private sbLive!: Buffer;
  private readonly state: Int32Array;
  private timer?: NodeJS.Timeout;
  private opening?: NodeJS.Immediate;
  private stopped = false;
  /** Entries copied into the workers' image so far. */
  private mirrored = 0;
  stale = false;
  /** The current bad-header episode was logged (said once, not on every poll). */
  private headerSaid = false;

  constructor(private readonly device: string, private readonly notifier: Notifier, state: SharedArrayBuffer, private readonly opts: WatcherOptions) {
    this.state = new Int32Array(state);
    if (!opts.deferredFrom) this.attach(opts.famfs ?? Famfs.open(device), undefined);
  }

  private attach(famfs: Famfs, superblock: Buffer | undefined): void {
    this.famfs = famfs;
    // The image holds what was committed when it was taken, which may be older than our replay.
    this.mirrored = this.opts.image ? decodeLogHeader(this.opts.image.subarray(LOG_OFFSET, LOG_OFFSET + LOG_HEADER_SIZE)).nextIndex : famfs.stats.entries;
    this.sbLive = famfs.device.view(0, SUPERBLOCK_STRUCT_SIZE);
    this.sbCopy = superblock ? Buffer.from(superblock) : Buffer.from(this.sbLive);
  }

  /** The deferred open: replay up to the given index, then catch up (telling the kernel) at once. */
  private openDeferred(): void {
    this.opening = undefined;
    const from = this.opts.deferredFrom!;
    if (this.stopped || this.famfs) return;
    let famfs: Famfs;
    try {
      famfs = Famfs.open(this.device, { upTo: from.nextIndex });
    } catch (e) {
      // Not the file system we mounted any more (or no longer readable).
      this.goStale(`${this.device}: cannot follow the log (${(e as Error).message}); refusing to serve stale maps. Unmount and mount again.`);
      return;
    }
    if (this.stopped) return famfs.close();
    this.attach(famfs, from.superblock);
    this.tick(true);
  }

  /** A deferred watcher: replay on the next turn of the event loop (call once the mount answers). */
  replayDeferred(): void {
    if (!this.famfs && !this.stopped && !this.opening) this.opening = setImmediate(() => this.openDeferred());
  }

  /** Poll the log (a deferred watcher looks only once replayDeferred() has replayed). */
  start(): void {
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs ?? 10);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.opening) clearImmediate(this.opening);
    this.famfs?.close();
  }

  private goStale(why: string): void {
    this.stale = true;
    Atomics.store(this.state, StateFlag.STALE, 1);
    this.opts.log(why);
    this.notifier.send({ kind: 'epoch' });
  }

  /** One look at the device; also what `famfs logplay MOUNTPOINT` triggers (SIGUSR1). */
  tick(force = false): void {
    try {
      this.look(force);
    } catch (e) {
      this.opts.log(`log watcher: ${(e as Error).message}`);
    }
  }

  /**
   * Copy committed entries into the workers' image, then the header that commits them
   * (a snapshot taken first, so the image never counts an entry it does not hold).
   */
  mirror(): void {
    const image = this.opts.image;
    const famfs = this.famfs;
    if (!image || !famfs) return;
    const header = Buffer.from(famfs.device.view(LOG_OFFSET, LOG_HEADER_SIZE));
    const n = decodeLogHeader(header).nextIndex;
    if (n > this.mirrored) {
      const from = entryOffset(this.mirrored);
      const len = (n - this.mirrored) * LOG_ENTRY_SIZE;
      famfs.device.view(from, len).copy(image, from);
    }
    header.copy(image, LOG_OFFSET);
    this.mirrored = n;
  }

  /**
   * Invalidate `name` in directory `parent` (unless it now names a node this mount made and
   * logged itself). `removed`: the node the name lost (a delete, or a file a rename replaced):
   * NOTIFY_DELETE also clears its nlink, so the kernel evicts the inode (and a famfs kernel
   * its cached map) at the last close and munmap, as after a local unlink.
   */
  private dropName(parent: number, name: string, removed?: number): void {
    const famfs = this.famfs!; // called from look() only
    const now = famfs.tree.byId.get(parent);
    const node = now?.kind === 'dir' ? now.children.get(name) : undefined;
    // Re-looking up a name made here would give it a new inode number (tar checks them).
    if (node && this.opts.madeHere?.(node.id)) return;
    for (const p of this.kernelIds(parent)) this.notifier.send(removed === undefined ? { kind: 'entry', parent: p, name } : { kind: 'delete', parent: p, child: removed, name });
  }

  /**
   * The ids the kernel may know a logged node by: its new-node id first if it was made here
   * (then also its log id, in case the kernel looked it up again since), else its log id.
   */
  private kernelIds(id: number): number[] {
    const k = this.opts.kernelId?.(id) ?? id;
    return k === id ? [id] : [k, id];
  }

  /** What the kernel must forget after one applied entry. */
  private tellKernel({ index, entry }: AppliedEntry): void {
    const famfs = this.famfs!; // called from look() only
    if (entry.type === 'remove' || entry.type === 'rename') {
      const from = entry.type === 'remove' ? entry.path : entry.from;
      const parents = [dirname(from)];
      if (entry.type === 'rename') parents.push(dirname(entry.to));
      const names = [basename(from), ...(entry.type === 'rename' ? [basename(entry.to)] : [])];
      for (const [i, dir] of parents.entries()) {
        const p = famfs.tree.lookup(dir);
        if (!p) continue;
        const removed = entry.type === 'remove' ? (i === 0 ? entry.fileId : undefined) : i === 1 ? entry.replacedId : undefined;
        this.dropName(p.id, names[i]!, removed === undefined ? undefined : idForEntry(removed));
        for (const k of this.kernelIds(p.id)) this.notifier.send({ kind: 'inode', nodeid: k, pages: true });
      }
      // The moved or removed node's own attributes (nlink of a removed file: 0 from now on).
      const node = famfs.tree.byId.get(idForEntry(entry.fileId));
      if (node) for (const k of this.kernelIds(node.id)) this.notifier.send({ kind: 'inode', nodeid: k });
      return;
    }
    const node = famfs.tree.byId.get(idForEntry(index));
    if (!node) return;
    // Made through this mount: the kernel made the name itself, and its CREATE/MKDIR reply already
    // dropped the parent's cached attributes and listing. Nothing to tell it.
    if (this.opts.madeHere?.(node.id)) return;
    const parent = node.parent?.id ?? ROOT_ID;
    for (const p of this.kernelIds(parent)) {
      this.notifier.send({ kind: 'entry', parent: p, name: node.name });
      this.notifier.send({ kind: 'inode', nodeid: p, pages: true });
    }
  }

  private look(force: boolean): void {
    const famfs = this.famfs;
    if (this.stale || !famfs) return; // not replayed yet (deferred): openDeferred looks first
    const dev = famfs.device;
    // Size first: a truncated device file would SIGBUS the superblock compare below (and the invalidate).
    const live = dev.liveSize();
    if (live < dev.size) return this.goStale(`${dev.path}: the device shrank from ${dev.size} to ${live} bytes under the mount; pieces past its end are refused (EIO) and the mount answers ESTALE. Unmount and mount again.`);
    dev.invalidate(0, SUPERBLOCK_STRUCT_SIZE); // fcc-site: watcher-superblock-invalidate
    if (!this.sbLive.equals(this.sbCopy)) return this.goStale(`${dev.path}: the superblock changed (re-formatted or destroyed by another host); refusing to serve stale maps. Unmount and mount again.`);
    if (!force && famfs.log.nextIndex() === famfs.stats.entries) return;
    this.mirror();
    // New names: drop any cached negative dentry, and the parent's cached attributes (nlink) and listing (FOPEN_CACHE_DIR pages).
    // Removed and renamed names: drop the kernel's dentry, so `ls` and lookups see the change now.
    const fresh = famfs.refresh((a) => this.tellKernel(a));
    if (fresh && this.opts.verbose) this.opts.log(`log: ${fresh} new entries`);
    const problem = famfs.headerProblem;
    if (problem && !this.headerSaid) this.opts.log(`log header not valid right now (${problem}); keeping the last good view and looking again on every poll`);
    else if (!problem && this.headerSaid) this.opts.log('log header valid again; following the log');
    this.headerSaid = !!problem;
  }
}
