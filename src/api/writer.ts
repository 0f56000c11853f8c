/**
 * The master's writer session (Famfs.writer()): with the writer lock held and the tree caught
 * up, create directories, files and symbolic links, remove, rename and clone, each one log
 * append applied at once to this host's view.
 */
import type { FileMap } from '../format/types.js';
import type { InterleaveParams } from '../alloc/allocator.js';
import { DEFAULT_PLACEMENT, DeviceSpace, type Placement } from '../alloc/space.js';
import type { Committed } from '../meta/log.js';
import type { NewLogEntry } from '../format/logentry.js';
import { dirname, reservedProblem } from '../meta/paths.js';
import type { DirNode, FileNode, TreeNode } from '../meta/tree.js';
import { EXT_PATH_MAX, FM_ALL_HOSTS_RW } from '../format/constants.js';
import { hasFeature, SYMLINKS } from '../format/features.js';
import { FamfsError, asFamfsError } from './errors.js';
import { creatGroup, type NewFile } from './creatgroup.js';
import { removePaths, renamePath, type RemoveOptions, type RenameOptions } from './removal.js';
import type { Famfs } from './famfs.js';

/** The page size a famfs kernel and mmap map files with. */
const PAGE = 4096;

export interface Owner {
  mode?: number;
  uid?: number;
  gid?: number;
}

export interface CreateOptions extends Owner {
  interleave?: InterleaveParams;
  /** Multi-device file systems: interleave with one strip per device (chunk size in bytes). */
  acrossDevices?: { chunkSize: number };
}

/** What the master may do while holding the writer lock. */
export class Writer {
  /** Free space of every device in this writer session; new files are placed here. */
  readonly space: DeviceSpace;

  constructor(readonly fs: Famfs, placement: Placement = DEFAULT_PLACEMENT) {
    this.space = fs.space(placement);
  }

  /** The caller's ids, asked once per writer session (a system call each, per file before). */
  private readonly euid = process.geteuid?.() ?? 0;
  private readonly egid = process.getegid?.() ?? 0;

  /** A new node's mode and owner (for creatGroup too). */
  owner(o: Owner, defMode: number): Required<Owner> {
    return {
      mode: (o.mode ?? defMode) & 0o7777,
      uid: o.uid ?? this.euid,
      gid: o.gid ?? this.egid,
    };
  }

  /** The existing parent directory of a new node at `rel` (for creatGroup too). */
  parentOf(rel: string, path: string): DirNode {
    const reserved = reservedProblem(rel);
    if (reserved) throw new FamfsError(`${path}: ${reserved}`, 'EINVAL');
    const parent = this.fs.tree.lookup(dirname(rel));
    if (!parent) throw new FamfsError(`${path}: parent directory does not exist`, 'ENOENT');
    if (parent.kind !== 'dir') throw new FamfsError(`${path}: parent is not a directory`, 'ENOTDIR');
    return parent;
  }

  /** Append one record and apply it; the node it made (EIO when replay refused it). */
  private logged(entry: NewLogEntry, rel: string): TreeNode {
    this.fs.applyOwn(this.fs.log.commit([entry]), [entry]);
    return this.applied(rel);
  }

  private applied(rel: string): TreeNode {
    const node = this.fs.tree.lookup(rel);
    if (!node) throw new FamfsError(`${rel}: the log entry was written but replay refused it`, 'EIO');
    return node;
  }

  /** mkdir; with `parents`, missing ancestors are created and an existing directory is fine. */
  mkdir(path: string, opts: Owner & { parents?: boolean } = {}): DirNode {
    const rel = this.fs.relpath(path);
    if (rel === '') {
      if (opts.parents) return this.fs.tree.root;
      throw new FamfsError(`${path}: the root directory already exists`, 'EEXIST');
    }
    const existing = this.fs.tree.lookup(rel);
    if (existing) {
      if (opts.parents && existing.kind === 'dir') return existing;
      throw new FamfsError(`${path}: already exists`, 'EEXIST');
    }
    if (opts.parents && dirname(rel) !== '') this.mkdir(dirname(rel), { ...opts, mode: undefined });
    this.parentOf(rel, path);
    const o = this.owner(opts, 0o755);
    const node = this.logged({ type: 'mkdir', path: rel, ...o }, rel);
    if (node.kind !== 'dir') throw new FamfsError(`${path}: replay disagreed`, 'EIO');
    return node;
  }

  /**
   * Allocate and log a file. An existing file of the same size is returned as
   * is, after `fill` runs on it (upstream's restartable creat/cp); any other existing node is an error.
   * Empty files still get one allocation unit so every famfs host, including
   * kernels that insist on at least one extent, can open them.
   * `fill`, if given, writes the data into the allocated space *before* the
   * entry is logged: a crash in between leaves no file and no lost space.
   */
  creat(path: string, size: number, opts: CreateOptions = {}, fill?: (file: { map: FileMap; size: number }) => void): FileNode {
    const rel = this.fs.relpath(path);
    if (!Number.isSafeInteger(size) || size < 0) throw new FamfsError(`${path}: invalid size ${size}`, 'EINVAL');
    if (rel === '') throw new FamfsError(`${path}: is the root directory`, 'EISDIR');
    const existing = this.fs.tree.lookup(rel);
    if (existing) {
      if (existing.kind === 'file' && existing.size === size) {
        // Restartable as upstream: the existing file gets the data again (creat -r on a file that exists).
        if (fill) fill(existing);
        return existing;
      }
      throw new FamfsError(`${path}: already exists${existing.kind === 'file' ? ` with size ${existing.size}` : ` as a ${existing.kind === 'dir' ? 'directory' : 'symlink'}`}`, 'EEXIST');
    }
    this.parentOf(rel, path);
    const capacity = this.space.capacity;
    if (size > capacity) throw new FamfsError(`${path}: ${size} bytes exceeds the file system's capacity of ${capacity} bytes`, 'ENOSPC');
    const o = this.owner(opts, 0o644);
    const map = this.space.place(size, opts);
    // Through a kernel-mode mount the file exists only once logged: fill it afterwards (as upstream).
    const late = this.fs.throughMount;
    let entry: NewLogEntry;
    let committed: Committed;
    try {
      // Space may hold bytes of a file dropped before it was logged: a new file shows only zeros.
      if (fill && !late) {
        // A famfs kernel and mmap show whole pages: the rest of the last one must not show a deleted file's bytes.
        this.fs.zeroRange(map, size, Math.ceil(size / PAGE) * PAGE);
        fill({ map, size });
      } else if (!late) this.fs.zeroMap(map);
      entry = { type: 'file', path: rel, size, flags: FM_ALL_HOSTS_RW, map, ...o };
      committed = this.fs.log.commit([entry]);
    } catch (e) {
      this.space.freeMap(map);
      throw asFamfsError(e);
    }
    this.fs.applyOwn(committed, [entry]);
    const node = this.applied(rel);
    if (node.kind !== 'file') throw new FamfsError(`${path}: replay disagreed`, 'EIO');
    if (late) {
      // Through a kernel-mode mount the space is reachable only now: whatever the fill does not
      // write (all of it without one, and the rest of the last page, which a famfs kernel maps
      // too) may hold a deleted file's bytes, so it is zeroed here.
      if (fill) fill(node);
      this.fs.zeroThroughMount(node, fill ? node.size : 0);
    }
    return node;
  }

  /**
   * Many new files, committed up to MAX_GROUP per log append (src/api/creatgroup.ts): each
   * result is the file or its error; with `stop`, the first error it accepts ends the run.
   */
  creatMany(files: readonly NewFile[], stop?: (e: FamfsError) => boolean): (FileNode | FamfsError | undefined)[] {
    return creatGroup(this, files, stop);
  }

  /**
   * A symbolic link (the symlinks extension): `target` is stored exactly as given,
   * relative or absolute, and resolved by whoever follows it. An existing link with
   * the same target is returned as is (restartable copies).
   */
  symlink(path: string, target: string, opts: Owner = {}): TreeNode {
    if (!hasFeature(this.fs.features, SYMLINKS)) throw new FamfsError(`${path}: this famfs has no symbolic links (famfs mkfs --features symlinks)`, 'EPERM');
    const rel = this.fs.relpath(path);
    if (rel === '') throw new FamfsError(`${path}: is the root directory`, 'EEXIST');
    const tlen = Buffer.byteLength(target, 'utf8');
    if (tlen === 0 || tlen > EXT_PATH_MAX || target.includes('\0')) throw new FamfsError(`${path}: invalid symlink target (${tlen} bytes)`, tlen > EXT_PATH_MAX ? 'ENAMETOOLONG' : 'EINVAL');
    const existing = this.fs.tree.lookup(rel);
    if (existing) {
      if (existing.kind === 'symlink' && existing.target === target) return existing;
      throw new FamfsError(`${path}: already exists`, 'EEXIST');
    }
    this.parentOf(rel, path);
    const o = this.owner(opts, 0o777);
    const node = this.logged({ type: 'symlink', path: rel, target, uid: o.uid, gid: o.gid }, rel);
    if (node.kind !== 'symlink') throw new FamfsError(`${path}: replay disagreed`, 'EIO');
    return node;
  }

  /**
   * Delete a file, symbolic link or directory (feature `delete`): `recursive` for a directory
   * and everything below it, `dir` for rmdir. A deleted file's space is reused only once every
   * host has let it go (docs/format.md, "Delete and rename"). Returns the removed nodes.
   */
  remove(path: string | readonly string[], opts: RemoveOptions = {}): TreeNode[] {
    return removePaths(this.fs, typeof path === 'string' ? [path] : path, opts);
  }

  /** Rename `src` to exactly `dst` (feature `rename`); a file there is replaced atomically for every host. */
  rename(src: string, dst: string, opts: RenameOptions = {}): TreeNode {
    return renamePath(this.fs, src, dst, opts);
  }

  /** Testing aid (as upstream): a new name for the same extents. fsck reports the collision. */
  clone(src: string, dst: string): FileNode {
    const from = this.fs.file(src);
    const rel = this.fs.relpath(dst);
    if (this.fs.tree.lookup(rel)) throw new FamfsError(`${dst}: already exists`, 'EEXIST');
    this.parentOf(rel, dst);
    const node = this.logged({ type: 'file', path: rel, size: from.size, flags: from.flags, mode: from.mode, uid: from.uid, gid: from.gid, map: from.map }, rel);
    if (node.kind !== 'file') throw new FamfsError(`${dst}: replay disagreed`, 'EIO');
    return node;
  }
}

