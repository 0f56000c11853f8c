/**
 * The library surface: open a famfs on a device, look at its replayed tree,
 * reach file bytes in shared memory, and (on the master, under the writer
 * lock) create directories and files.
 */
import { LOG_OFFSET } from '../format/constants.js';
import type { Superblock } from '../format/superblock.js';
import type { FileMap } from '../format/types.js';
import { Device } from '../device/device.js';
import { AllocBitmap } from '../alloc/bitmap.js';
import { HOLD_ALL, type PendingFree, type ReleaseOracle } from '../alloc/reclaim.js';
import { DEFAULT_PLACEMENT, DeviceSpace, type DeviceUse, type Placement } from '../alloc/space.js';
import { SECONDARY_DATA_START } from '../format/devheader.js';
import type { Committed, LogView } from '../meta/log.js';
import type { NewLogEntry } from '../format/logentry.js';
import { asDecoded } from '../meta/ownentry.js';
import { Replayer, type AppliedEntry, type DaxdevInfo, type ReplayProblem, type ReplayStats } from '../meta/replay.js';
import { normalizeRelpath } from '../meta/paths.js';
import { idForEntry, type FileNode, type Tree, type TreeNode } from '../meta/tree.js';
import { mapCapacity, type Geometry } from '../meta/validate.js';

import { resolveRange } from '../map/resolve.js';
import { hasFeature, leaseMsOf, LONG_NAMES, PRESENCE, type Features } from '../format/features.js';
import { presenceOracle } from '../presence/oracle.js';
import { openHead, openLog, readFeatures, readSuperblock } from './openhead.js';
import { FamfsError, asFamfsError } from './errors.js';
import { Writer } from './writer.js';
import { trySystemUuid } from './sysuuid.js';
import { listedDevices, resolveDaxdev } from './devices.js';
import { MountedFiles, mountIsKernelMode, openMountedDevice } from './mounted.js';
import { findMounted, realish } from './locate.js';
import { deviceThroughMount } from './mountview.js';
import { fileChunks, fileStream, listDir, statOf, writeThroughMount, type FamfsStat, type RangeOptions } from './files.js';
import { followLog, type FollowOptions, type LogEvent } from './follow.js';
import type { Readable } from 'node:stream';
import nodePath from 'node:path';

export type Role = 'master' | 'client';

export { readFeatures, readSuperblock } from './openhead.js';
// The writer session lives in writer.ts; these names stay importable from here too.
export { Writer, type Owner, type CreateOptions } from './writer.js';

export interface OpenOptions {
  /** Map the device writable (needed to append or to write file data). */
  writable?: boolean;
  /**
   * openPath only: how to reach a mounted famfs. 'device' opens the mount's device (fails
   * without access to it), 'mount' reads the metadata through the mount's .meta files and
   * file data through its files, 'auto' (default) tries the device and falls back to the
   * mount when the device cannot be opened (EACCES/EPERM/ENOENT) and `writable` is not set.
   */
  via?: 'auto' | 'device' | 'mount';
  /** Extra candidate paths for devices 1.. (besides this host's device list, see devices.ts). */
  devices?: string[];
  /**
   * open only: replay the slots below this index (a committed next_index seen earlier); the
   * rest comes with the first refresh(), whose listener hears about each entry.
   */
  upTo?: number;
}

/** Space one file holds: a live file's, or a deleted one's not released yet (`pending`). */
export interface HeldSpace {
  /** The log slot that created the file. */
  index: number;
  path: string;
  size: number;
  map: FileMap;
  pending: boolean;
}

export class Famfs {
  readonly device: Device;
  readonly sb: Superblock;
  readonly role: Role;
  readonly log: LogView;
  readonly geometry: Geometry;
  /** Format extensions in use (docs/format.md); none for an upstream file system. */
  readonly features: Features;
  private replayer: Replayer;
  /** Devices 1.. once opened (null: not found on this host). */
  private readonly extra = new Map<number, Device | null>();
  private readonly candidates: string[];
  /** Kernel mode: file bytes are the mount's files, not device offsets. */
  private readonly mounted?: MountedFiles;
  /** Set when opened through a mount (openPath): host paths under it map to paths in the file system. */
  mountpoint?: string;

  private constructor(device: Device, sb: Superblock, candidates: string[] = [], mounted?: MountedFiles, upTo?: number) {
    this.candidates = candidates;
    this.mounted = mounted;
    this.device = device;
    this.sb = sb;
    this.role = trySystemUuid() === sb.systemUuid ? 'master' : 'client';
    this.features = readFeatures(device, sb, { forWrite: this.role === 'master' && device.writable });
    // Deleted space is reused only when every host has let go (the presence area, issue 14).
    if (hasFeature(this.features, PRESENCE)) this.releaseOracle = presenceOracle(device, leaseMsOf(this.features));
    this.log = openLog(device, sb);
    this.geometry = {
      deviceSize: Math.min(sb.daxdev.size || device.size, device.size),
      allocUnit: sb.allocUnit,
      dataStart: LOG_OFFSET + sb.logLen,
      ndevices: 1,
    };
    this.replayer = new Replayer(this.log, this.geometry, { primaryUuid: sb.daxdev.uuid, features: this.features });
    this.replayer.catchUp(undefined, upTo);
  }

  static open(devicePath: string, opts: OpenOptions = {}): Famfs {
    const { device, sb } = openHead(devicePath, opts);
    try {
      return new Famfs(device, sb, opts.devices, undefined, opts.upTo);
    } catch (e) {
      device.close();
      throw asFamfsError(e);
    }
  }

  /** A famfs over an already open device (or a view of one, e.g. a copy of its superblock and log). */
  static fromDevice(device: Device, opts: OpenOptions = {}): Famfs {
    try {
      return new Famfs(device, readSuperblock(device), opts.devices);
    } catch (e) {
      device.close();
      throw asFamfsError(e);
    }
  }

  /**
   * Open the famfs a host path names: a device or image file, or any path inside a mounted
   * famfs (its mount's device, or the mount itself for users who cannot open the device:
   * see OpenOptions.via). `relative(hostPath)` turns host paths into file-system paths.
   */
  static openPath(path: string, opts: OpenOptions = {}): Famfs {
    const m = findMounted(path);
    if (!m) {
      if (opts.via === 'mount') throw new FamfsError(`${path}: not inside a mounted famfs`, 'EINVAL');
      return Famfs.open(path, opts);
    }
    // famfs kernel mode: the device cannot be mapped at all, everything goes through the mount.
    const kernel = mountIsKernelMode(m.mountpoint);
    // A stopped daemon would hold every call into its mount until it runs again: use the device, or say why not.
    if (m.unreachable && (kernel || opts.via === 'mount')) throw new FamfsError(`${m.mountpoint}: ${m.unreachable}; ${kernel ? 'a kernel-mode mount is reached only through its daemon' : 'cannot read through it'} (SIGCONT it, or famfs umount it)`, 'EAGAIN');
    if (kernel) {
      const f = Famfs.openMounted(m.mountpoint, m.device, opts);
      f.mountpoint = m.mountpoint;
      return f;
    }
    const via = opts.via ?? 'auto';
    if (via !== 'mount') {
      try {
        const f = Famfs.open(m.device, opts);
        f.mountpoint = m.mountpoint;
        return f;
      } catch (e) {
        const code = (e as FamfsError).code;
        if (via === 'device' || opts.writable || m.unreachable || !['EACCES', 'EPERM', 'ENOENT'].includes(code)) throw e;
      }
    }
    if (opts.writable) throw new FamfsError(`${path}: a famfs opened through its mount is read-only here (write file data with write(), which goes through the mount)`, 'EINVAL');
    const device = deviceThroughMount(m.mountpoint, m.device);
    try {
      const f = new Famfs(device, readSuperblock(device), opts.devices);
      f.mountpoint = m.mountpoint;
      return f;
    } catch (e) {
      throw asFamfsError(e);
    }
  }

  /**
   * A famfs through its kernel-mode mount (device bound to fsdev_dax): superblock and log
   * are the mount's .meta files, file bytes its files. Data is written after the entry is
   * logged (the file exists only then), as upstream does on a famfs kernel.
   */
  static openMounted(mountpoint: string, devicePath: string, opts: OpenOptions = {}): Famfs {
    const device = openMountedDevice(mountpoint, devicePath, !!opts.writable);
    try {
      return new Famfs(device, readSuperblock(device), opts.devices, new MountedFiles(mountpoint, !!opts.writable));
    } catch (e) {
      device.close();
      throw asFamfsError(e);
    }
  }

  /** Whether file bytes go through a kernel-mode mount (then a file can be filled only once logged). */
  get throughMount(): boolean {
    return !!this.mounted;
  }

  /** The file-system path of a host path inside the mount this famfs was opened through. */
  relative(hostPath: string): string {
    if (!this.mountpoint) throw new FamfsError(`${hostPath}: this famfs was not opened through a mount`, 'EINVAL');
    const rel = nodePath.relative(this.mountpoint, realish(hostPath));
    if (rel.startsWith('..') || nodePath.isAbsolute(rel)) throw new FamfsError(`${hostPath}: not inside ${this.mountpoint}`, 'EINVAL');
    return rel;
  }

  /** stat of a file or directory. */
  stat(path: string): FamfsStat {
    return statOf(this.lookup(path));
  }

  /** A directory's entries in name order. */
  readdir(path = ''): FamfsStat[] {
    return listDir(this, path);
  }

  /**
   * The whole file as zero-copy Buffer views on the shared mapping, one per piece
   * (extent, or chunk of a strip for interleaved files). Valid until close().
   */
  views(path: string | FileNode): Buffer[] {
    const f = typeof path === 'string' ? this.file(path) : path;
    if (this.device.metadataOnly) throw new FamfsError(`${f.path}: the device is not open here (opened through the mount); use chunks() or createReadStream()`, 'EACCES');
    return this.slices(f, 0, f.size);
  }

  /** The file's bytes in order: views on the mapping, or reads through the mount (see files.ts). */
  chunks(path: string | FileNode, opts: RangeOptions = {}): Generator<Buffer> {
    return fileChunks(this, typeof path === 'string' ? this.file(path) : path, opts);
  }

  /** A Readable of the file's bytes (zero-copy chunks when the device is open). */
  createReadStream(path: string | FileNode, opts: RangeOptions = {}): Readable {
    return fileStream(this, typeof path === 'string' ? this.file(path) : path, opts);
  }

  /** New log entries as events, polled every `intervalMs`; stop with `signal` or `break`. */
  follow(opts: FollowOptions = {}): AsyncGenerator<LogEvent, void, undefined> {
    return followLog(this, opts);
  }

  /** Entries applied so far, in log order (each decoded again: O(entries); appliedAt/appliedCount walk them one by one). */
  get appliedEntries(): readonly AppliedEntry[] {
    return this.replayer.applied;
  }

  /** How many entries were applied so far (appliedEntries().length without decoding them). */
  get appliedCount(): number {
    return this.replayer.appliedCount;
  }

  /** The `i`-th applied entry (0 = first), decoded again from the log. */
  appliedAt(i: number): AppliedEntry {
    return this.replayer.appliedAt(i);
  }

  /** The node id (inode number) of the node created by log slot `index`. */
  nodeIdOf(index: number): number {
    return idForEntry(index);
  }

  get tree(): Tree {
    return this.replayer.tree;
  }

  /** Devices 1.. of a multi-device file system (from ADD_DAXDEV entries). */
  get daxdevs(): readonly DaxdevInfo[] {
    return this.replayer.daxdevs;
  }

  /** This host's path of device `index`, or undefined if it cannot be found here. */
  devicePath(index: number): string | undefined {
    if (index === 0) return this.device.path;
    const d = this.replayer.daxdevs[index - 1];
    if (!d) return undefined;
    return resolveDaxdev(this.sb.uuid, d, [...this.candidates, ...listedDevices()]);
  }

  /** The open device `index` (opened on first use, with this device's access mode). */
  deviceAt(index: number): Device {
    if (index === 0) return this.device;
    let dev = this.extra.get(index);
    if (dev === undefined) {
      const p = this.devicePath(index);
      dev = p ? Device.open(p, { writable: this.device.writable }) : null;
      this.extra.set(index, dev);
    }
    if (!dev) {
      const d = this.replayer.daxdevs[index - 1];
      throw new FamfsError(`device ${index}${d ? ` (uuid ${d.uuid})` : ''} of this file system is not found on this host; list its path in ${process.env.FAMFS_DEVICE_LIST || '/etc/famfs/devices'}`, 'ENXIO');
    }
    return dev;
  }

  get problems(): readonly ReplayProblem[] {
    return this.replayer.problems;
  }

  get stats(): Readonly<ReplayStats> {
    return this.replayer.stats;
  }

  /** Slots replayed for good (a bad tail that may still become valid is not counted). */
  get settledEntries(): number {
    return this.replayer.settled;
  }

  /** Decodes every holding entry again (O(entries)): tests and tools; forEachHolder is the cheap walk. */
  get spaceHolders(): Replayer['spaceHolders'] {
    return this.replayer.spaceHolders;
  }

  /** Slot and map of every sound file entry holding space (removed files' included), in log order, without decoding. */
  forEachHolder(fn: (index: number, map: FileMap) => void): void {
    this.replayer.forEachHolder(fn);
  }

  /** Apply entries the master committed since the last look; returns how many were new. */
  refresh(onApplied?: (a: AppliedEntry) => void): number {
    this.device.reload();
    this.device.checkLive(0, this.geometry.dataStart); // the log must still be there (EIO, not SIGBUS)
    return this.replayer.catchUp(onApplied);
  }

  /** refresh() only when the log's header shows entries this view has not applied (a cheap look on hot paths). */
  refreshIfMoved(): void {
    if (this.log.nextIndex() !== this.stats.entries) this.refresh();
  }

  /**
   * After this writer committed `entries` (c = log.commit(entries), lock held): apply them from
   * the values encoded, without reading them back (Replayer.applyCommitted), or replay them
   * with refresh() when that cannot be done exactly.
   */
  applyOwn(c: Committed, entries: readonly NewLogEntry[]): void {
    const records = [];
    for (const [i, e] of entries.entries()) {
      const index = c.starts[i]!;
      const entry = asDecoded(e, index);
      if (!entry) return void this.refresh();
      records.push({ index, slots: (c.starts[i + 1] ?? c.end) - index, entry });
    }
    if (!this.replayer.applyCommitted(c.starts[0]!, c.end, records)) this.refresh();
  }

  /** Why the log header is not believed right now (the view is kept; the next refresh looks again). */
  get headerProblem(): string | undefined {
    return this.replayer.headerProblem;
  }

  /** Names ≤ 255 bytes and paths ≤ 4,095 bytes (the long-names extension), else upstream's 79 bytes. */
  get longNames(): boolean {
    return hasFeature(this.features, LONG_NAMES);
  }

  /** A user path normalised under this file system's limits (PathError otherwise). */
  relpath(path: string): string {
    return normalizeRelpath(path, this.longNames);
  }

  /** The node at a path relative to the root ('' or '/' = root). */
  lookup(path: string): TreeNode {
    const rel = this.relpath(path);
    const node = this.tree.lookup(rel);
    if (!node) throw new FamfsError(`${path}: no such file or directory in famfs`, 'ENOENT');
    return node;
  }

  file(path: string): FileNode {
    const node = this.lookup(path);
    if (node.kind === 'dir') throw new FamfsError(`${path}: is a directory`, 'EISDIR');
    if (node.kind === 'symlink') throw new FamfsError(`${path}: is a symbolic link to ${node.target}`, 'EINVAL');
    return node;
  }

  /** Buffers over the shared bytes of [offset, offset+length) of a file (clamped to its size); no copy. */
  slices(file: { map: FileMap; size: number; path?: string }, offset: number, length: number, out: Buffer[] = []): Buffer[] {
    if (this.mounted) {
      if (file.path === undefined) throw new FamfsError('kernel mode: a file is reachable only once it is logged', 'EINVAL');
      const end = Math.min(file.size, offset + length);
      if (end > offset) out.push(this.mounted.file(file.path, file.size).subarray(offset, end));
      return out;
    }
    resolveRange(file.map, file.size, offset, length, (dev, off, len) => {
      this.deviceAt(dev).slices(off, len, out);
    });
    return out;
  }

  /** True when every byte of `file` can be stored through its devices' fds (Device.writesThroughFd). */
  throughFd(file: { map: FileMap; size: number }): boolean {
    if (this.mounted) return false;
    let ok = true;
    resolveRange(file.map, file.size, 0, file.size, (d) => { ok &&= this.deviceAt(d).writesThroughFd; });
    return ok;
  }

  /** True when bytes [offset, offset+length) of `file` can be stored through their devices' fds. */
  rangeThroughFd(file: { map: FileMap; size: number }, offset: number, length: number): boolean {
    if (this.mounted) return false;
    let ok = true;
    resolveRange(file.map, file.size, offset, length, (d) => { ok &&= this.deviceAt(d).writesThroughFd; });
    return ok;
  }

  /** The device pieces of [offset, offset+length) of a file, in file order. */
  pieces(file: { map: FileMap; size: number }, offset: number, length: number, fn: (dev: Device, offset: number, length: number) => void): void {
    resolveRange(file.map, file.size, offset, length, (d, off, len) => fn(this.deviceAt(d), off, len));
  }

  /** Copy `data` into a file at `offset` and write it back; refuses to write past the file's size. Returns bytes written. */
  write(path: string | { map: FileMap; size: number; path: string }, offset: number, data: Buffer): number {
    const file = typeof path === 'string' ? this.file(path) : path;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new FamfsError(`${file.path}: invalid offset ${offset}`, 'EINVAL');
    if (this.device.metadataOnly && this.mountpoint) {
      if (offset + data.length > file.size) throw new FamfsError(`${file.path}: write past the end of the file (size ${file.size})`, 'EFBIG');
      return writeThroughMount(this, file, offset, data);
    }
    if (!this.device.writable) throw new FamfsError(`${this.device.path}: opened read-only`, 'EROFS');
    if (offset + data.length > file.size) throw new FamfsError(`${file.path}: write past the end of the file (size ${file.size})`, 'EFBIG');
    let done = 0;
    if (this.rangeThroughFd(file, offset, data.length)) {
      // Device files in this kernel's page cache: pwrite (no page fault per 4 KiB of a mapping).
      // writeAt has just checked the piece against the device's live size: its flush skips that fstat.
      this.pieces(file, offset, Math.min(data.length, file.size - offset), (dev, off, len) => {
        dev.writeAt(off, data.subarray(done, done + len));
        dev.flush(off, len, true); // fcc-site: data-write-flush
        done += len;
      });
      return done;
    }
    for (const s of this.slices(file, offset, data.length)) {
      data.copy(s, 0, done, done + s.length);
      done += s.length;
    }
    this.flushFile(file, offset, done); // fcc-site: data-write-flush
    return done;
  }

  /** Write a file's bytes back from this host's cache to shared memory (and msync a file device). */
  flushFile(file: { map: FileMap; size: number }, offset = 0, length = file.size): void {
    if (this.mounted) return; // DAX-mapped famfs files: stores reach the memory, no page cache
    resolveRange(file.map, file.size, offset, length, (d, off, len) => this.deviceAt(d).flush(off, len));
  }

  /** Drop this host's cached copy of a file's bytes (written back first if dirty). */
  invalidateFile(file: { map: FileMap; size: number }, offset = 0, length = file.size): void {
    resolveRange(file.map, file.size, offset, length, (d, off, len) => this.deviceAt(d).invalidate(off, len));
  }

  /**
   * slices() for reading bytes any host may have written since we last looked
   * (every famfs file is writable by every host): invalidate, then view.
   */
  freshSlices(file: { map: FileMap; size: number }, offset: number, length: number, out: Buffer[] = []): Buffer[] {
    this.invalidateFile(file, offset, length); // fcc-site: read-invalidate
    return this.slices(file, offset, length, out);
  }

  /**
   * freshSlices as one copy: file bytes [offset, offset+length) read with pread through the
   * devices' fds into `buf` (which must hold them), for devices shared through this kernel's
   * page cache (Device.readsThroughFd: coherent, nothing to invalidate). Returns the bytes
   * read (a view of `buf`), or undefined when a device must be read through its mapping.
   */
  readThroughFd(file: { map: FileMap; size: number }, offset: number, length: number, buf: Buffer): Buffer | undefined {
    const pieces = this.fdPieces(file, offset, length);
    if (!pieces) return undefined;
    let at = 0;
    for (const p of pieces) {
      p.dev.readInto(p.offset, p.length, buf, at);
      at += p.length;
    }
    return buf.subarray(0, at);
  }

  /**
   * The device pieces of file bytes [offset, offset+length) when every one can be read through
   * its device's fd (as readThroughFd), else undefined: read them through the mapping.
   */
  fdPieces(file: { map: FileMap; size: number }, offset: number, length: number): { dev: Device; offset: number; length: number }[] | undefined {
    if (this.mounted) return undefined;
    const out: { dev: Device; offset: number; length: number }[] = [];
    let ok = true;
    resolveRange(file.map, file.size, offset, length, (d, off, len) => {
      const dev = this.deviceAt(d);
      ok &&= dev.readsThroughFd && off + len <= dev.size; // else the mapping path says what is wrong
      out.push({ dev, offset: off, length: len });
    });
    return ok ? out : undefined;
  }

  /** Kernel mode: zero [from, end of the last page) of a logged file through the mount. */
  zeroThroughMount(file: { size: number; path: string }, from: number): void {
    this.mounted?.zero(file.path, file.size, from);
  }

  /** Zero bytes [from, to) of a map (clamped to what it allocates) and write them back. */
  zeroRange(map: FileMap, from: number, to: number): void {
    const cap = mapCapacity(map);
    const end = Math.min(to, cap);
    if (end <= from) return;
    resolveRange(map, cap, from, end - from, (d, off, len) => this.deviceAt(d).zero(off, len));
  }

  /** Zero every byte a map allocates (whole extents, past the file's size too). */
  zeroMap(map: FileMap): void {
    const pieces = map.kind === 'simple' ? map.extents : map.strips;
    for (const p of pieces) this.deviceAt(p.devindex).zero(p.offset, p.length);
  }

  /** Run `fn` as the single writer: master only, lock held, tree caught up, fresh bitmaps; new files go where `placement` says. */
  writer<T>(fn: (w: Writer) => T, opts: { onWait?: () => void; placement?: Placement } = {}): T {
    if (this.role !== 'master') {
      throw new FamfsError(`${this.device.path}: this host is a client of this file system (master system UUID ${this.sb.systemUuid}); only the master may change it`, 'EPERM');
    }
    if (!this.device.writable) throw new FamfsError(`${this.device.path}: opened read-only`, 'EROFS');
    this.device.lock({ onWait: opts.onWait });
    try {
      this.refresh();
      return fn(new Writer(this, opts.placement));
    } finally {
      this.device.unlock();
    }
  }

  /**
   * Decides which pending frees (deleted files' space) may be reused now: the presence area's
   * PresenceOracle on a file system that has one (HOLD_ALL if its area cannot be read from
   * here); a writer may set its own (tests, compact).
   */
  releaseOracle: ReleaseOracle = HOLD_ALL;

  /** Deleted or replaced files whose space is not free yet (as far as the log tells). */
  get pendingFrees(): PendingFree[] {
    return [...this.replayer.pending.values()];
  }

  /** Was the file created by log slot `index` deleted or replaced since? */
  isRemovedEntry(index: number): boolean {
    return this.replayer.removedFiles.has(index);
  }

  /**
   * Every sound file entry that holds space now: live ones (including entries replay refused:
   * their space stays taken), then deleted files the oracle has not released (`pending`).
   */
  heldSpace(): HeldSpace[] {
    const out: HeldSpace[] = [];
    const { removedFiles } = this.replayer;
    // Applied entries from their tree nodes (a renamed file by its current path); only the few
    // entries replay refused are decoded again.
    this.replayer.forEachHolder((index, map, node) => {
      if (removedFiles.has(index)) return;
      if (node) {
        out.push({ index, path: node.path, size: node.size, map, pending: false });
        return;
      }
      const e = this.replayer.entryAt(index);
      if (e.type === 'file') out.push({ index, path: e.path, size: e.size, map, pending: false });
    });
    if (this.replayer.pending.size) {
      const pending = this.pendingFrees;
      const free = this.releaseOracle.releasable(pending);
      for (const p of pending) if (!free.has(p.fileId)) out.push({ index: p.fileId, path: p.path, size: p.size, map: p.map, pending: true });
    }
    return out;
  }

  /** The sound file entries that hold space, live or pending (released ones left out), for `device`. */
  private markHeld(bitmap: AllocBitmap, device: number): number {
    let collisions = 0;
    const { removedFiles } = this.replayer;
    this.replayer.forEachHolder((index, map) => {
      if (!removedFiles.has(index)) collisions += bitmap.markMap(map, device);
    });
    if (this.replayer.pending.size) {
      const pending = this.pendingFrees;
      const free = this.releaseOracle.releasable(pending);
      for (const p of pending) if (!free.has(p.fileId)) collisions += bitmap.markMap(p.map, device);
    }
    return collisions;
  }

  /** A bitmap of the space held by every sound file entry (live, or deleted but not released), and how many units were claimed twice. */
  buildBitmap(): { bitmap: AllocBitmap; collisions: number } {
    const bitmap = new AllocBitmap(this.geometry.deviceSize, this.geometry.allocUnit, this.geometry.dataStart);
    return { bitmap, collisions: this.markHeld(bitmap, 0) };
  }

  /** The free-space bitmap of device `index` ≥ 1 (space held by sound file entries marked). */
  buildDeviceBitmap(index: number): AllocBitmap {
    return this.deviceBitmap(index).bitmap;
  }

  /** As buildBitmap, for device `index` ≥ 1: its bitmap and how many units were claimed twice. */
  deviceBitmap(index: number): { bitmap: AllocBitmap; collisions: number } {
    const size = this.geometry.deviceSizes?.[index];
    if (index < 1 || size === undefined) throw new FamfsError(`no device ${index} in this file system`, 'EINVAL');
    const bitmap = new AllocBitmap(size, this.geometry.allocUnit, SECONDARY_DATA_START);
    return { bitmap, collisions: this.markHeld(bitmap, index) };
  }

  /** Bitmaps of every device (index = device), space held by sound file entries marked. */
  deviceBitmaps(): AllocBitmap[] {
    const out = [this.buildBitmap().bitmap];
    for (let d = 1; d < this.geometry.ndevices; d++) out.push(this.deviceBitmap(d).bitmap);
    return out;
  }

  /** The free space of every device, for allocation by `placement` (devices not found on this host get no new pieces). */
  space(placement: Placement = DEFAULT_PLACEMENT): DeviceSpace {
    const bitmaps = this.deviceBitmaps();
    return new DeviceSpace(bitmaps, placement, bitmaps.map((_, d) => d === 0 || this.devicePath(d) !== undefined));
  }

  /** Capacity and use of each device (what df, fsck and status count). */
  usage(): DeviceUse[] {
    return new DeviceSpace(this.deviceBitmaps()).perDevice();
  }

  /**
   * Forget the replayed tree and replay the log from its first entry (a host that lost its
   * presence lease does this before it serves again: the log may have been rewritten meanwhile).
   */
  replayFromScratch(): void {
    this.device.reload();
    this.replayer = new Replayer(this.log, this.geometry, { primaryUuid: this.sb.daxdev.uuid, features: this.features });
    this.replayer.catchUp();
  }

  close(): void {
    for (const d of this.extra.values()) d?.close();
    this.extra.clear();
    this.mounted?.close();
    this.device.close();
  }
}
