/**
 * Replay: turn committed log entries into the in-memory tree, validating each
 * one. Incremental, so a follower applies only what is new. A bad entry is
 * reported and skipped; it never stops the entries after it from replaying.
 */
import { contSlots, decodeLogEntry, entryCrcOk, entrySeqnum, joinContSlots, type FileEntry, type LogEntry } from '../format/logentry.js';
import { EXT_PATH_MAX, MAX_RECORD_SLOTS } from '../format/constants.js';
import { DELETE, hasFeature, LONG_NAMES, NO_FEATURES, RENAME, SYMLINKS, type Features } from '../format/features.js';
import type { RemoveEntry, RenameEntry } from '../format/removal.js';
import type { FileMap } from '../format/types.js';
import type { PendingFree } from '../alloc/reclaim.js';
import { basename, dirname, relpathProblem, reservedProblem } from './paths.js';
import { daxdevProblem, type DaxdevInfo } from './daxdevs.js';
import { idForEntry, Tree, type DirNode, type FileNode, type TreeNode } from './tree.js';
import { AttrsTable, makeDir, makeFile, makeSymlink, type NodeInit } from './nodes.js';
import { mapProblem, type Geometry } from './validate.js';
import type { LogView } from './log.js';
import { LOG_ENTRY_SIZE, logSlots } from '../format/constants.js';

export type ProblemKind = 'bad-entry' | 'bad-path' | 'bad-map' | 'no-parent' | 'exists' | 'bad-daxdev' | 'bad-removal';

export { MAX_DAXDEVS, type DaxdevInfo } from './daxdevs.js';

/** Directories replay remembers by path at most (see parentFor). */
const MAX_CACHED_PARENTS = 4096;

/** Slots copied out of shared memory at a time (2 MiB): one copy per batch, bounded memory. */
const REPLAY_BATCH = 4096;

export interface ReplayProblem {
  index: number;
  kind: ProblemKind;
  path?: string;
  message: string;
}

export interface ReplayStats {
  /** Slots looked at (an extension record takes several). */
  entries: number;
  files: number;
  dirs: number;
  symlinks: number;
  daxdevs: number;
  /** DELETE and RENAME entries applied. */
  removals: number;
  renames: number;
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

/** Seqnum and CRC right: anything else may be a stale cached copy, worth one re-read. */
function slotIntact(buf: Buffer, index: number): boolean {
  try {
    return entrySeqnum(buf) === index && entryCrcOk(buf);
  } catch {
    return false;
  }
}

export class Replayer {
  readonly tree: Tree;
  readonly problems: ReplayProblem[] = [];
  /**
   * Slots of the entries applied, in log order. The entries themselves are not kept (a
   * million-entry log would hold a million decoded copies of what the tree already has):
   * `appliedAt` decodes one again from the log, whose committed slots never change.
   */
  private appliedSlots = new Int32Array(1024);
  /** How many entries were applied so far. */
  appliedCount = 0;
  /**
   * Every valid-CRC file entry whose map is sound, applied or not, holds space. The applied
   * ones are the tree's file nodes (removed ones included); these are the ones replay refused.
   */
  private readonly strayHolders: { index: number; map: FileMap }[] = [];
  readonly stats: ReplayStats = { entries: 0, files: 0, dirs: 0, symlinks: 0, daxdevs: 0, removals: 0, renames: 0, badEntries: 0, rejected: 0 };
  /**
   * Deleted or replaced files whose space no later FILE entry has taken yet, by fileId (their
   * creation slot). Whether a pending free may be reused now is a ReleaseOracle's call.
   */
  readonly pending = new Map<number, PendingFree>();
  /** Creation slots of every file removed so far (their spaceHolders entries hold no space of their own). */
  readonly removedFiles = new Set<number>();
  /** Devices added by ADD_DAXDEV entries (index ≥ 1), dense and in order; device 0 is the superblock's. */
  readonly daxdevs: DaxdevInfo[] = [];
  /**
   * The batch buffer, reused: fresh 2 MiB buffers would each be faulted in page by page.
   * Nothing keeps a slot's bytes past its batch (entries are decoded into new values).
   */
  private scratch: Buffer | undefined;
  /** Next slot to look at. */
  position = 0;

  constructor(readonly log: LogView, readonly geometry: Geometry, opts: { rootUid?: number; rootGid?: number; primaryUuid?: string; features?: Features } = {}) {
    this.tree = new Tree(0o755, opts.rootUid ?? 0, opts.rootGid ?? 0);
    this.primaryUuid = opts.primaryUuid;
    const f = opts.features ?? NO_FEATURES;
    this.longNames = hasFeature(f, LONG_NAMES);
    this.symlinks = hasFeature(f, SYMLINKS);
    this.deletes = hasFeature(f, DELETE);
    this.renames = hasFeature(f, RENAME);
  }

  private readonly deletes: boolean;
  private readonly renames: boolean;

  private readonly primaryUuid?: string;
  /** Extensions the superblock declares: entries of any other extension are refused. */
  private readonly longNames: boolean;
  private readonly symlinks: boolean;

  /**
   * Why the log header cannot be believed right now (next_index beyond the log, or below
   * what was already replayed), or undefined. While set, the view stays as it was.
   */
  headerProblem?: string;
  /** Bad slots at the end of the last catch-up: maybe just not written yet, so looked at again. */
  private tentative = 0;
  /** The slot where that bad tail begins (a bad multi-slot record counts once but spans several). */
  private tentativeFrom = 0;

  /**
   * Every slot below this one is settled: applied, or refused for good. A bad tail is not
   * settled (it may be a DELETE not visible yet), so a host must not claim to have replayed it.
   */
  get settled(): number {
    return this.tentative ? this.tentativeFrom : this.position;
  }

  /**
   * Apply every committed entry not yet seen. Returns the entries applied by this call.
   * An impossible next_index means "not valid right now": nothing changes and the next
   * call looks again. Bad slots at the tail are reported but re-examined when next_index
   * moves, so no slot is written off for good because of a header value. `upTo`: stop at
   * that slot for now.
   */
  catchUp(onApplied?: (a: AppliedEntry) => void, upTo?: number): number {
    // upTo: a committed next_index seen before (records never straddle one).
    const raw = upTo === undefined ? this.log.nextIndex() : Math.min(upTo, this.log.nextIndex());
    const slots = logSlots(this.log.logLen);
    if (raw === this.position && this.headerProblem === undefined) return 0;
    if (raw > slots) {
      this.headerProblem = `next_index ${raw} is beyond the log's ${slots} slots`;
      return 0;
    }
    if (this.tentative) {
      this.problems.splice(this.problems.length - this.tentative);
      this.stats.badEntries -= this.tentative;
      this.position = this.tentativeFrom;
      this.tentative = 0;
    }
    if (raw < this.position) {
      this.headerProblem = `next_index ${raw} is below the ${this.position} entries already replayed`;
      return 0;
    }
    this.headerProblem = undefined;
    let n = 0;
    this.tree.byId.reserve(idForEntry(raw));
    this.log.invalidateSlots(this.position, raw);
    while (this.position < raw) {
      const first = this.position;
      const count = Math.min(raw - first, REPLAY_BATCH);
      const batch = this.log.copySlots(first, count, this.scratch);
      if (count === REPLAY_BATCH) this.scratch = batch;
      this.log.releaseSlots(first, count);
      // An extension record moves position past its CONT slots (maybe past this batch).
      while (this.position < first + count) {
        const index = this.position++;
        const k = index - first;
        const before = this.stats.badEntries;
        const a = this.applySlot(index, raw, batch.subarray(k * LOG_ENTRY_SIZE, (k + 1) * LOG_ENTRY_SIZE));
        // A bad record counts once however many slots it spans: remember where the bad tail began.
        if (this.stats.badEntries > before) {
          if (this.tentative === 0) this.tentativeFrom = index;
          this.tentative++;
        } else this.tentative = 0;
        if (a) {
          n++;
          this.noteApplied(a.index);
          onApplied?.(a);
        }
      }
    }
    this.stats.entries = this.position;
    return n;
  }

  /**
   * Apply records this process has just committed at [first, end) as the writer (lock held),
   * from the values it encoded: the same checks and tree changes as catchUp, without reading
   * the slots back, checking their CRCs or decoding them (test/core/own-apply compares the
   * two). Returns false, changing nothing, unless replay stands exactly at `first` with
   * nothing pending and the records tile [first, end); the caller then catches up instead.
   */
  applyCommitted(first: number, end: number, records: readonly { index: number; slots: number; entry: LogEntry }[]): boolean {
    if (this.position !== first || this.tentative || this.headerProblem !== undefined || end > logSlots(this.log.logLen)) return false;
    let at = first;
    for (const r of records) {
      if (r.index !== at || r.slots < 1) return false;
      at += r.slots;
    }
    if (at !== end) return false;
    this.tree.byId.reserve(idForEntry(end));
    for (const { index, slots, entry } of records) {
      this.position = index + slots;
      if (this.applyEntry(index, entry)) this.noteApplied(index);
    }
    this.stats.entries = this.position;
    return true;
  }

  private noteApplied(index: number): void {
    if (this.appliedCount === this.appliedSlots.length) {
      const bigger = new Int32Array(this.appliedSlots.length * 2);
      bigger.set(this.appliedSlots);
      this.appliedSlots = bigger;
    }
    this.appliedSlots[this.appliedCount++] = index;
  }

  /** The `i`-th entry applied (0 = the first), decoded again from its slots. */
  appliedAt(i: number): AppliedEntry {
    if (!(i >= 0 && i < this.appliedCount)) throw new RangeError(`applied entry ${i} of ${this.appliedCount}`);
    const index = this.appliedSlots[i]!;
    return { index, entry: this.entryAt(index) };
  }

  /** Every entry applied so far, in log order (decoded again: O(entries), for tests; others use appliedAt). */
  get applied(): AppliedEntry[] {
    return Array.from({ length: this.appliedCount }, (_, i) => this.appliedAt(i));
  }

  /** Every sound file entry holding space, applied or not, decoded again (O(entries), for tests; others use forEachHolder). */
  get spaceHolders(): AppliedEntry[] {
    const out: AppliedEntry[] = [];
    this.forEachHolder((index) => out.push({ index, entry: this.entryAt(index) }));
    return out;
  }

  /**
   * Slot and map of every sound file entry, applied or not, in log order, without decoding
   * the log again: `node` is the tree's node of an applied entry (undefined for one replay refused).
   */
  forEachHolder(fn: (index: number, map: FileMap, node?: FileNode) => void): void {
    const strays = this.strayHolders;
    let k = 0;
    for (const n of this.tree.byId.values()) {
      if (n.kind !== 'file') continue;
      for (; k < strays.length && strays[k]!.index < n.entryIndex; k++) fn(strays[k]!.index, strays[k]!.map);
      fn(n.entryIndex, n.map, n);
    }
    for (; k < strays.length; k++) fn(strays[k]!.index, strays[k]!.map);
  }

  /**
   * The entry a slot replay already accepted, decoded from the log once more. Committed
   * slots are immutable, so this is the entry replay saw.
   */
  entryAt(index: number): LogEntry {
    const head = this.log.slot(index);
    const ncont = contSlots(head);
    const strings = ncont > 0 ? joinContSlots(Array.from({ length: ncont }, (_, k) => this.log.slot(index + 1 + k))) : undefined;
    return decodeLogEntry(head, strings);
  }

  private problem(index: number, kind: ProblemKind, message: string, path?: string): undefined {
    this.problems.push({ index, kind, message, path });
    if (kind === 'bad-entry') this.stats.badEntries++;
    else this.stats.rejected++;
    return undefined;
  }

  /**
   * A slot, seqnum and CRC checked. `copy` is a private copy of it (see copySlots), so the
   * checks and the decode see the same bytes. A slot that fails its checks is invalidated and
   * read once more before it counts as bad (our cached copy may predate the master's write-back).
   */
  private readSlot(index: number, copy?: Buffer): Buffer | string {
    const ok = (b: Buffer): boolean => slotIntact(b, index);
    const buf = copy && ok(copy) ? copy : this.log.readSlot(index, ok);
    let seq: number;
    try {
      seq = entrySeqnum(buf);
    } catch {
      return 'seqnum out of range';
    }
    if (seq !== index) return `seqnum ${seq} in slot ${index}`;
    if (!entryCrcOk(buf)) return 'bad CRC';
    return buf;
  }

  private applySlot(index: number, end: number, copy: Buffer): AppliedEntry | undefined {
    const buf = this.readSlot(index, copy);
    if (typeof buf === 'string') return this.problem(index, 'bad-entry', buf);
    // An extension record: its CONT slots were committed with it, in the same next_index store.
    let strings: Buffer | undefined;
    const ncont = contSlots(buf);
    if (ncont > 0) {
      const last = index + ncont;
      this.position = Math.min(last + 1, end);
      if (ncont >= MAX_RECORD_SLOTS) return this.problem(index, 'bad-entry', `record claims ${ncont} continuation slots`);
      if (last >= end) return this.problem(index, 'bad-entry', 'record runs past the committed log');
      const conts: Buffer[] = [];
      for (let i = index + 1; i <= last; i++) {
        const c = this.readSlot(i);
        if (typeof c === 'string') return this.problem(index, 'bad-entry', `continuation slot ${i}: ${c}`);
        conts.push(c);
      }
      try {
        strings = joinContSlots(conts);
      } catch (e) {
        return this.problem(index, 'bad-entry', (e as Error).message);
      }
    }
    let entry: LogEntry;
    try {
      entry = decodeLogEntry(buf, strings);
    } catch (e) {
      return this.problem(index, 'bad-entry', (e as Error).message);
    }
    return this.applyEntry(index, entry) ? { index, entry } : undefined;
  }

  /**
   * Directories found so far, by path (logs create files in a few directories, often in turn):
   * one hash lookup instead of a walk from the root. Emptied whenever a node is removed or moved.
   */
  private readonly parents = new Map<string, DirNode>();

  private forgetParents(): void {
    this.parents.clear();
  }

  private parentFor(index: number, path: string): DirNode | undefined {
    const dir = dirname(path);
    const cached = this.parents.get(dir);
    const parent = cached ?? this.tree.lookup(dir);
    if (!parent) return this.problem(index, 'no-parent', `parent directory of ${path} does not exist`, path);
    if (parent.kind !== 'dir') return this.problem(index, 'no-parent', `parent of ${path} is a ${parent.kind === 'file' ? 'file' : 'symlink'}`, path);
    if (!cached) {
      if (this.parents.size >= MAX_CACHED_PARENTS) this.parents.clear();
      this.parents.set(parent.path, parent);
    }
    const existing = parent.children.get(basename(path));
    if (existing) return this.problem(index, 'exists', `${path} already exists as ${{ dir: 'a directory', file: 'a file', symlink: 'a symlink' }[existing.kind]}`, path);
    return parent;
  }

  private applyEntry(index: number, entry: LogEntry): boolean {
    switch (entry.type) {
      case 'file': {
        const mp = mapProblem(entry.map, entry.size, this.geometry);
        // The writer of this entry found that space releasable: a pending free it reuses is free for good.
        if (!mp && this.pending.size) this.releaseReused(entry.map);
        const applied = this.applyFile(index, entry, mp);
        if (!mp && !applied) this.strayHolders.push({ index, map: entry.map });
        return applied;
      }
      case 'mkdir': {
        const bad = relpathProblem(entry.path, this.longNames) ?? reservedProblem(entry.path);
        if (bad) return !!this.problem(index, 'bad-path', `${JSON.stringify(entry.path)}: ${bad}`, entry.path);
        const parent = this.parentFor(index, entry.path);
        if (!parent) return false;
        this.tree.add(parent, makeDir(this.nodeInit(parent, index, entry.path, entry.mode & 0o7777, entry.uid, entry.gid, 0), entry.path));
        this.stats.dirs++;
        return true;
      }
      case 'symlink': {
        if (!this.symlinks) return !!this.problem(index, 'bad-entry', `${entry.path}: SYMLINK entry in a file system without the symlinks feature`, entry.path);
        const bad = relpathProblem(entry.path, this.longNames) ?? reservedProblem(entry.path);
        if (bad) return !!this.problem(index, 'bad-path', `${JSON.stringify(entry.path)}: ${bad}`, entry.path);
        if (entry.target === '' || Buffer.byteLength(entry.target) > EXT_PATH_MAX) return !!this.problem(index, 'bad-path', `${entry.path}: symlink target of ${Buffer.byteLength(entry.target)} bytes`, entry.path);
        const parent = this.parentFor(index, entry.path);
        if (!parent) return false;
        this.tree.add(parent, makeSymlink(this.nodeInit(parent, index, entry.path, 0o777, entry.uid, entry.gid, 0), entry.target));
        this.stats.symlinks++;
        return true;
      }
      case 'add_daxdev': {
        // Upstream's accumulation rules (famfs_daxdev_table_add): dense and in order, unique uuid, bounded.
        const bad = daxdevProblem(this.daxdevs, entry, this.primaryUuid);
        if (bad) return !!this.problem(index, 'bad-daxdev', bad);
        const want = this.daxdevs.length + 1;
        this.daxdevs.push({ index: entry.index, uuid: entry.uuid, size: entry.size });
        this.geometry.ndevices = want + 1;
        (this.geometry.deviceSizes ??= [])[entry.index] = entry.size;
        this.stats.daxdevs++;
        return true;
      }
      case 'remove':
        return this.applyRemove(index, entry);
      case 'rename':
        return this.applyRename(index, entry);
      default:
        // DELETE and INVALID are recognised and, as upstream, ignored.
        return true;
    }
  }

  private applyFile(index: number, entry: FileEntry, mp: string | undefined): boolean {
    const bad = relpathProblem(entry.path, this.longNames) ?? reservedProblem(entry.path);
    if (bad) return !!this.problem(index, 'bad-path', `${JSON.stringify(entry.path)}: ${bad}`, entry.path);
    if (mp) return !!this.problem(index, 'bad-map', `${entry.path}: ${mp}`, entry.path);
    const parent = this.parentFor(index, entry.path);
    if (!parent) return false;
    this.tree.add(parent, makeFile(this.nodeInit(parent, index, entry.path, entry.mode & 0o7777, entry.uid, entry.gid, entry.flags), entry.size, entry.map));
    this.stats.files++;
    return true;
  }

  private readonly attrs = new AttrsTable();

  /**
   * A new node's attributes. Its name is a string of its own: a slice of the entry's path
   * (what V8 makes of a slice of 13 characters or more) would keep the whole path alive.
   */
  private nodeInit(parent: DirNode, entryIndex: number, path: string, mode: number, uid: number, gid: number, flags: number): NodeInit {
    let name = basename(path);
    if (name.length >= 13) name = Buffer.from(name, 'utf8').toString('utf8');
    return { name, parent, entryIndex, attrs: this.attrs.get(mode, uid, gid, flags) };
  }

  /** Pending frees that overlap a new file's map were released by its writer. */
  private releaseReused(map: FileMap): void {
    for (const [id, p] of this.pending) if (mapsOverlap(p.map, map)) this.pending.delete(id);
  }

  /** The node a DELETE/RENAME names, if its path and creation slot agree; else a problem. */
  private named(index: number, path: string, fileId: number, kind: TreeNode['kind']): TreeNode | undefined {
    const bad = relpathProblem(path, this.longNames);
    if (bad) return this.problem(index, 'bad-path', `${JSON.stringify(path)}: ${bad}`, path);
    const node = this.tree.lookup(path);
    if (!node) return this.problem(index, 'bad-removal', `${path} does not exist`, path);
    if (node.entryIndex !== fileId || node.kind !== kind) return this.problem(index, 'bad-removal', `${path} is not the ${kind} created by slot ${fileId}`, path);
    return node;
  }

  /** Take a node out of the tree; a file's space becomes a pending free. */
  private takeOut(index: number, node: TreeNode): void {
    this.tree.remove(node);
    this.forgetParents();
    if (node.kind !== 'file') return;
    this.removedFiles.add(node.entryIndex);
    this.pending.set(node.entryIndex, { fileId: node.entryIndex, deleteIndex: index, map: node.map, size: node.size, path: node.path });
  }

  private applyRemove(index: number, e: RemoveEntry): boolean {
    if (!this.deletes) return !!this.problem(index, 'bad-entry', `${e.path}: DELETE entry in a file system without the delete feature`, e.path);
    const node = this.named(index, e.path, e.fileId, e.kind);
    if (!node) return false;
    if (node.kind === 'dir' && node.children.size) return !!this.problem(index, 'bad-removal', `${e.path}: directory not empty`, e.path);
    this.takeOut(index, node);
    this.stats.removals++;
    return true;
  }

  private applyRename(index: number, e: RenameEntry): boolean {
    if (!this.renames) return !!this.problem(index, 'bad-entry', `${e.from}: RENAME entry in a file system without the rename feature`, e.from);
    const node = this.named(index, e.from, e.fileId, e.kind);
    if (!node) return false;
    const bad = relpathProblem(e.to, this.longNames) ?? reservedProblem(e.to);
    if (bad) return !!this.problem(index, 'bad-path', `${JSON.stringify(e.to)}: ${bad}`, e.to);
    const parent = this.tree.lookup(dirname(e.to));
    if (!parent || parent.kind !== 'dir') return !!this.problem(index, 'no-parent', `parent directory of ${e.to} does not exist`, e.to);
    if (Tree.within(parent, node)) return !!this.problem(index, 'bad-removal', `${e.from} cannot move into itself (${e.to})`, e.to);
    const existing = parent.children.get(basename(e.to));
    if (existing === node) return !!this.problem(index, 'bad-removal', `${e.from}: renamed onto itself`, e.to);
    if (existing) {
      if (e.replacedId !== existing.entryIndex) return !!this.problem(index, 'exists', `${e.to} exists and is not the node slot ${e.replacedId ?? '(none)'} replaces`, e.to);
      if ((existing.kind === 'dir') !== (node.kind === 'dir')) return !!this.problem(index, 'bad-removal', `${e.to}: a directory and a non-directory cannot replace each other`, e.to);
      if (existing.kind === 'dir' && existing.children.size) return !!this.problem(index, 'bad-removal', `${e.to}: directory not empty`, e.to);
    } else if (e.replacedId !== undefined) return !!this.problem(index, 'bad-removal', `${e.to} does not exist to be replaced`, e.to);
    if (existing) this.takeOut(index, existing);
    this.tree.move(node, parent, basename(e.to));
    this.forgetParents();
    this.stats.renames++;
    return true;
  }
}

/** Do two maps share any byte of any device? */
export function mapsOverlap(a: FileMap, b: FileMap): boolean {
  const pa = a.kind === 'simple' ? a.extents : a.strips;
  const pb = b.kind === 'simple' ? b.extents : b.strips;
  for (const x of pa) for (const y of pb) if (x.devindex === y.devindex && x.offset < y.offset + y.length && y.offset < x.offset + x.length) return true;
  return false;
}

