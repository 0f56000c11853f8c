/**
 * The daemon's main-thread follower: polls the shared log (one 32-bit load per
 * tick), tells the kernel about new names so its caches never hide them, and
 * notices when the device is re-formatted or its superblock destroyed, after
 * which every thread refuses to serve the old maps.
 */
import { SUPERBLOCK_STRUCT_SIZE } from '../format/superblock.js';
import { Famfs } from '../api/famfs.js';
import type { Notifier } from './notifier.js';
import { idForEntry, ROOT_ID } from '../meta/tree.js';
import { StateFlag } from './config.js';

export interface WatcherOptions {
  intervalMs?: number;
  log: (msg: string) => void;
  verbose?: boolean;
  /** Nodes this mount created and logged itself: the kernel already knows them under their first id. */
  madeHere?: (id: number) => boolean;
}

export class LogWatcher {
  private readonly famfs: Famfs;
  private readonly sbCopy: Buffer;
  private readonly sbLive: Buffer;
  private readonly state: Int32Array;
  private timer?: NodeJS.Timeout;
  stale = false;

  constructor(device: string, private readonly notifier: Notifier, state: SharedArrayBuffer, private readonly opts: WatcherOptions) {
    this.famfs = Famfs.open(device);
    this.sbLive = this.famfs.device.view(0, SUPERBLOCK_STRUCT_SIZE);
    this.sbCopy = Buffer.from(this.sbLive);
    this.state = new Int32Array(state);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs ?? 10);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.famfs.close();
  }

  /** One look at the device; also what `famfs logplay MOUNTPOINT` triggers (SIGUSR1). */
  tick(force = false): void {
    try {
      this.look(force);
    } catch (e) {
      this.opts.log(`log watcher: ${(e as Error).message}`);
    }
  }

  private look(force: boolean): void {
    if (this.stale) return;
    if (!this.sbLive.equals(this.sbCopy)) {
      this.stale = true;
      Atomics.store(this.state, StateFlag.STALE, 1);
      this.opts.log(`${this.famfs.device.path}: the superblock changed (re-formatted or destroyed by another host); refusing to serve stale maps. Unmount and mount again.`);
      this.notifier.send({ kind: 'epoch' });
      return;
    }
    if (!force && this.famfs.log.nextIndex() === this.famfs.stats.entries) return;
    const before = this.famfs.stats.entries;
    this.famfs.refresh();
    const fresh = this.famfs.stats.entries - before;
    if (fresh && this.opts.verbose) this.opts.log(`log: ${fresh} new entries`);
    // New names: drop any cached negative dentry, and the parent's cached attributes (nlink, listing).
    for (let i = before; i < this.famfs.stats.entries; i++) {
      const node = this.famfs.tree.byId.get(idForEntry(i));
      if (!node) continue;
      const parent = node.parent?.id ?? ROOT_ID;
      // Re-looking up a name made here would give it a new inode number (tar checks them).
      if (!this.opts.madeHere?.(node.id)) this.notifier.send({ kind: 'entry', parent, name: node.name });
      this.notifier.send({ kind: 'inode', nodeid: parent });
    }
  }
}
