/**
 * Replay: turn committed log entries into the in-memory tree, validating each
 * one. Incremental, so a follower applies only what is new. A bad entry is
 * reported and skipped; it never stops the entries after it from replaying.
 */
import { decodeLogEntry, entryCrcOk, entrySeqnum, type LogEntry } from '../format/logentry.js';
import { basename, dirname, relpathProblem } from './paths.js';
import { idForEntry, Tree, type DirNode } from './tree.js';
import { mapProblem, type Geometry } from './validate.js';
import type { LogView } from './log.js';
import { LOG_ENTRY_SIZE } from '../format/constants.js';

export type ProblemKind = 'bad-entry' | 'bad-path' | 'bad-map' | 'no-parent' | 'exists' | 'bad-daxdev';

/** One device of a multi-device file system (index 0 = the superblock's). */
export interface DaxdevInfo {
  index: number;
  uuid: string;
  size: number;
}

/** Device table slots (the famfs V10 kernel's per-connection table holds 24). */
export const MAX_DAXDEVS = 24;

/** Slots copied out of shared memory at a time (2 MiB): one copy per batch, bounded memory. */
const REPLAY_BATCH = 4096;

export interface ReplayProblem {
  index: number;
  kind: ProblemKind;
  path?: string;
  message: string;
}

export interface ReplayStats {
  entries: number;
  files: number;
  dirs: number;
  daxdevs: number;
  /** Entries whose seqnum or CRC is wrong, or whose bytes can't be decoded. */
  badEntries: number;
  /** Entries that decode but were refused (paths, maps, duplicates, missing parents). */
  rejected: number;
}

/** A validated entry that was applied, with its slot; fed to listeners (the daemon, fsck, the bitmap). */
export interface AppliedEntry {
  index: number;
  entry: LogEntry;
}

export class Replayer {
  readonly tree: Tree;
  readonly problems: ReplayProblem[] = [];
  readonly applied: AppliedEntry[] = [];
  /** Every valid-CRC file entry whose map is sound, applied or not: the space they hold is in use. */
  readonly spaceHolders: AppliedEntry[] = [];
  readonly stats: ReplayStats = { entries: 0, files: 0, dirs: 0, daxdevs: 0, badEntries: 0, rejected: 0 };
  /** Devices added by ADD_DAXDEV entries (index ≥ 1), dense and in order; device 0 is the superblock's. */
  readonly daxdevs: DaxdevInfo[] = [];
  /** Next slot to look at. */
  position = 0;

  constructor(readonly log: LogView, readonly geometry: Geometry, opts: { rootUid?: number; rootGid?: number; primaryUuid?: string } = {}) {
    this.tree = new Tree(0o755, opts.rootUid ?? 0, opts.rootGid ?? 0);
    this.primaryUuid = opts.primaryUuid;
  }

  private readonly primaryUuid?: string;

  /** Apply every committed entry not yet seen. Returns the entries applied by this call. */
  catchUp(onApplied?: (a: AppliedEntry) => void): number {
    const end = Math.min(this.log.nextIndex(), this.log.readHeader().lastIndex + 1);
    let n = 0;
    while (this.position < end) {
      const first = this.position;
      const count = Math.min(end - first, REPLAY_BATCH);
      const batch = this.log.copySlots(first, count);
      for (let k = 0; k < count; k++) {
        const index = this.position++;
        const a = this.applySlot(index, batch.subarray(k * LOG_ENTRY_SIZE, (k + 1) * LOG_ENTRY_SIZE));
        if (a) {
          n++;
          this.applied.push(a);
          onApplied?.(a);
        }
      }
    }
    this.stats.entries = this.position;
    return n;
  }

  private problem(index: number, kind: ProblemKind, message: string, path?: string): undefined {
    this.problems.push({ index, kind, message, path });
    if (kind === 'bad-entry') this.stats.badEntries++;
    else this.stats.rejected++;
    return undefined;
  }

  /** `buf` is a private copy of the slot (see copySlots), so the checks and the decode see the same bytes. */
  private applySlot(index: number, buf: Buffer): AppliedEntry | undefined {
    let seq: number;
    try {
      seq = entrySeqnum(buf);
    } catch {
      return this.problem(index, 'bad-entry', 'seqnum out of range');
    }
    if (seq !== index) return this.problem(index, 'bad-entry', `seqnum ${seq} in slot ${index}`);
    if (!entryCrcOk(buf)) return this.problem(index, 'bad-entry', 'bad CRC');
    let entry: LogEntry;
    try {
      entry = decodeLogEntry(buf);
    } catch (e) {
      return this.problem(index, 'bad-entry', (e as Error).message);
    }
    return this.applyEntry(index, entry) ? { index, entry } : undefined;
  }

  /** The last parent found: logs usually create many files in one directory in a row. */
  private lastParent: DirNode | undefined;

  private parentFor(index: number, path: string): DirNode | undefined {
    const dir = dirname(path);
    const cached = this.lastParent;
    const parent = cached && cached.path === dir ? cached : this.tree.lookup(dir);
    if (!parent) return this.problem(index, 'no-parent', `parent directory of ${path} does not exist`, path);
    if (parent.kind !== 'dir') return this.problem(index, 'no-parent', `parent of ${path} is a file`, path);
    this.lastParent = parent;
    const existing = parent.children.get(basename(path));
    if (existing) return this.problem(index, 'exists', `${path} already exists as ${existing.kind === 'dir' ? 'a directory' : 'a file'}`, path);
    return parent;
  }

  private applyEntry(index: number, entry: LogEntry): boolean {
    switch (entry.type) {
      case 'file': {
        const mp = mapProblem(entry.map, entry.size, this.geometry);
        if (!mp) this.spaceHolders.push({ index, entry });
        const bad = relpathProblem(entry.path);
        if (bad) return !!this.problem(index, 'bad-path', `${JSON.stringify(entry.path)}: ${bad}`, entry.path);
        if (mp) return !!this.problem(index, 'bad-map', `${entry.path}: ${mp}`, entry.path);
        const parent = this.parentFor(index, entry.path);
        if (!parent) return false;
        this.tree.add(parent, {
          kind: 'file', id: idForEntry(index), name: basename(entry.path), path: entry.path, parent, entryIndex: index,
          mode: entry.mode & 0o7777, uid: entry.uid, gid: entry.gid, size: entry.size, flags: entry.flags, map: entry.map,
        });
        this.stats.files++;
        return true;
      }
      case 'mkdir': {
        const bad = relpathProblem(entry.path);
        if (bad) return !!this.problem(index, 'bad-path', `${JSON.stringify(entry.path)}: ${bad}`, entry.path);
        const parent = this.parentFor(index, entry.path);
        if (!parent) return false;
        this.tree.add(parent, {
          kind: 'dir', id: idForEntry(index), name: basename(entry.path), path: entry.path, parent, entryIndex: index,
          mode: entry.mode & 0o7777, uid: entry.uid, gid: entry.gid, children: new Map(), order: [], subdirs: 0,
        });
        this.stats.dirs++;
        return true;
      }
      case 'add_daxdev': {
        // Upstream's accumulation rules (famfs_daxdev_table_add): dense and in order, unique uuid, bounded.
        const want = this.daxdevs.length + 1;
        if (entry.index !== want) return !!this.problem(index, 'bad-daxdev', `ADD_DAXDEV index ${entry.index}, expected ${want}`);
        if (want >= MAX_DAXDEVS) return !!this.problem(index, 'bad-daxdev', `more than ${MAX_DAXDEVS} devices`);
        if (entry.uuid === this.primaryUuid || this.daxdevs.some((d) => d.uuid === entry.uuid)) return !!this.problem(index, 'bad-daxdev', `device uuid ${entry.uuid} is already in the table`);
        if (!Number.isSafeInteger(entry.size) || entry.size <= 0) return !!this.problem(index, 'bad-daxdev', `device size ${entry.size}`);
        this.daxdevs.push({ index: entry.index, uuid: entry.uuid, size: entry.size });
        this.geometry.ndevices = want + 1;
        (this.geometry.deviceSizes ??= [])[entry.index] = entry.size;
        this.stats.daxdevs++;
        return true;
      }
      default:
        // DELETE and INVALID are recognised and, as upstream, ignored.
        return true;
    }
  }
}
