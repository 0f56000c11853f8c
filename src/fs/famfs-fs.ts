/**
 * The famfs file system served over the generic FUSE layer: one handler per
 * operation, answering from the replayed tree. Each daemon thread owns one
 * instance with its own mapping of the device; they agree on node ids because
 * ids derive from log slots. Data is served straight from the mapping.
 *
 * Errnos (documented in docs/fuse.md): link → EPERM; unlink/rmdir/rename of logged
 * nodes → EPERM unless the file system has the delete/rename features; symlink → EPERM without the symlinks extension; mknod/create → EOPNOTSUPP; size changes
 * and chmod/chown/utimes of logged nodes → EPERM; writes starting at or past
 * EOF → EFBIG (a write crossing EOF is cut short); metadata changes on a
 * client → EROFS; anything after the device was re-formatted → ESTALE.
 */
import fs from 'node:fs';
import { ALLOC_UNIT } from '../format/constants.js';
import type { FileMap } from '../format/types.js';
import { Famfs, type Role } from '../api/famfs.js';
import { Device, DeviceError, probeDevice } from '../device/device.js';
import type { DirNode, FileNode, TreeNode } from '../meta/tree.js';
import { ROOT_ID } from '../meta/tree.js';
import { basename } from '../meta/paths.js';
import { FuseError, type FuseHandler, type InitWishes, type Request } from '../fuse/handler.js';
import type { ReadArgs, SetattrArgs, WriteArgs } from '../fuse/decode.js';
import type { AttrReply, CreateReply, DirEntry, DirEntryPlus, EntryReply, FuseAttr, FuseConnection, KernelInit, OpenReply, StatfsReply } from '../fuse/types.js';
import { Errno, FOPEN_CACHE_DIR, FOPEN_DIRECT_IO, FOPEN_KEEP_CACHE, FOPEN_PARALLEL_DIRECT_WRITES, InitFlag, FATTR_SIZE, FATTR_MODE, FATTR_UID, FATTR_GID } from '../fuse/protocol.js';
import { StateFlag, type FamfsMountConfig } from './config.js';
import { DELETE, hasFeature } from '../format/features.js';
import { RpcClient } from './rpc.js';
import { NewNodes, type AnyNode, type Served } from './newnodes.js';
import { NEW_NODE_ID_BASE, type NewNodeAttr } from './master.js';
import { trySystemUuid } from '../api/sysuuid.js';
import { mapProblem } from '../meta/validate.js';
import { encodeDaxdevReply, encodeGetFmapReply, fmapKernelProblem, FAMFS_MAX_DAXDEVS, FMAP_REPLY_MAX } from '../map/export/index.js';
import { daemonStatus, STATUS_XATTR, type DaemonStatus } from './status.js';
import { FUSE_DAX_FMAP, FUSE_GET_DAXDEV, FUSE_GET_FMAP, wantKernelMode, type DataPath } from './kernel.js';
import { LOG_FILE_ID, META_DIR_ID, META_NAME, metaFileType, metaNodes, SUPERBLOCK_FILE_ID } from './metafiles.js';
import { PresenceGate } from './presence-gate.js';
import type { ReleaseArgs } from '../fuse/decode.js';
import { nodeXattrs } from './xattrs.js';
import { DirListings, type ListedEntry } from './dirlisting.js';

/** FAMFS_READ_FD=0: every READ through the mapping (to compare). */
const READ_FD = process.env.FAMFS_READ_FD !== '0';
const READ_FD_BELOW = 1 << 20;


const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
export { META_DIR_ID, SUPERBLOCK_FILE_ID, LOG_FILE_ID, metaFileType };

/**
 * The V10 kernel verified in reference §7 fails open(2) with EINVAL for any se_devindex ≠ 0,
 * so such maps are refused here (EIO, logged) rather than sent. Files on devices > 0 are
 * served by the daemon data path.
 */
export const KERNEL_DEVINDEX_ZERO_ONLY = true;

const O_ACCMODE = 3;
/** Opcode 50; this FUSE layer passes it on undecoded. */
const FUSE_SYNCFS = 50;
const O_WRONLY = 1;
const O_RDWR = 2;
const RENAME_NOREPLACE = 1;

/** `.meta` at the root is the meta directory: nothing else may take the name (EEXIST, as it exists). */
function reservedName(parent: number, name: string): void {
  if (parent === ROOT_ID && name === META_NAME) throw new FuseError(Errno.EEXIST, `${META_NAME} at the root is reserved`);
}

export class FamfsFs implements FuseHandler {
  readonly famfs: Famfs;
  readonly role: Role;
  private readonly state: Int32Array;
  private readonly metaDir: DirNode;
  private readonly metaFiles: Map<number, Served>;
  private readonly timeout: number;
  private statfsCache?: { at: number; reply: StatfsReply };
  private readonly listings = new DirListings();
  /** READ replies read with pread (readThroughFd); grown to the largest read. */
  private readBuf = Buffer.alloc(0);
  /** This host's system UUID ('' if unreadable): tells simulated hosts on one machine apart. */
  private readonly localUuid: string;
  /** The master's new nodes, through calls to the main thread (master mounts only). */
  private readonly fresh?: NewNodes;
  /** 'kernel' once INIT negotiated FUSE_DAX_FMAP (GET_FMAP / GET_DAXDEV served, data via DAX). */
  dataPath: DataPath = 'daemon';
  private readonly log: (msg: string) => void;
  /** File systems with the presence area: lease, holds and write intents (presence-gate.ts). */
  private readonly gate?: PresenceGate;

  constructor(readonly config: FamfsMountConfig) {
    // Every host may write file data, so the mapping is writable on clients too.
    const devices = config.devices?.slice(1).filter(Boolean);
    this.famfs = config.metaImage
      ? Famfs.fromDevice(Device.fromRegions(probeDevice(config.device), -1, false, [{ offset: 0, buf: Buffer.from(config.metaImage) }], 'kernel mode: the daemon holds only the superblock and log'), { devices })
      : Famfs.open(config.device, { writable: true, devices });
    this.role = config.forceClient ? 'client' : this.famfs.role;
    this.localUuid = trySystemUuid() ?? '';
    this.state = new Int32Array(config.state);
    if (this.role === 'master') this.fresh = new NewNodes(this.famfs, new RpcClient(config.rpc), () => Atomics.load(this.state, StateFlag.PENDING));
    this.timeout = config.timeout;
    this.log = (m) => process.stderr.write(`famfs: ${m}\n`);
    const meta = metaNodes(this.famfs.tree.root, this.famfs.sb.logLen, this.role === 'master', config.metaGroup);
    this.metaDir = meta.dir;
    this.metaFiles = meta.files;
    if (config.presence) this.gate = new PresenceGate(config.presence, this.famfs.device);
  }

  /**
   * A request from one of this daemon's own threads (kernel mode with presence): the FUSE
   * header carries the caller's thread id.
   */
  private ownPresenceWriter(req: Request): boolean {
    return this.dataPath === 'kernel' && !!this.gate && req.pid > 0 && fs.existsSync(`/proc/self/task/${req.pid}`);
  }

  /** The log slot that created a logged file (its id for holds), or undefined for .meta and new files. */
  private fileId(f: Served | FileNode): number | undefined {
    return 'meta' in f || this.isNew(f.id) ? undefined : f.entryIndex;
  }

  // ---- helpers ----

  /**
   * Refuse everything once the device changed under us; pick up new log entries. `meta`: a
   * request about `.meta` itself, which the lease does not gate (a kernel-mode daemon reaches
   * its presence slot and the log through them, also to rejoin after going stale).
   */
  private sync(meta = false): void {
    if (Atomics.load(this.state, StateFlag.STALE)) throw new FuseError(Errno.ESTALE, 'device was re-formatted');
    if (!meta) this.gate?.check(() => this.famfs.replayFromScratch());
    // A truncated device file would SIGBUS the header read below: one fstat first.
    const live = this.famfs.device.liveSize();
    if (live < this.famfs.device.size) {
      this.goStale(`${this.famfs.device.path}: the device shrank from ${this.famfs.device.size} to ${live} bytes`);
      throw new FuseError(Errno.ESTALE, 'the device shrank');
    }
    if (this.famfs.log.nextIndex() !== this.famfs.stats.entries) this.famfs.refresh();
  }

  /** The new-node view, on the master; clients get EROFS for anything that would change metadata. */
  private master(): NewNodes {
    if (!this.fresh) throw new FuseError(Errno.EROFS, 'clients cannot change a famfs');
    return this.fresh;
  }

  private isMeta(id: number): boolean {
    return id === META_DIR_ID || this.metaFiles.has(id);
  }

  private isNew(id: number): boolean {
    return !!this.fresh?.isNew(id);
  }

  private node(id: number): AnyNode | undefined {
    if (this.fresh && id >= NEW_NODE_ID_BASE) return this.fresh.get(id);
    if (id === META_DIR_ID) return this.metaDir;
    const meta = this.metaFiles.get(id);
    if (meta) return meta;
    return this.famfs.tree.byId.get(id);
  }

  private nodeOrThrow(id: number): AnyNode {
    const n = this.node(id);
    if (!n) throw new FuseError(Errno.ENOENT);
    return n;
  }

  /** `ino`: the node id the kernel asked with (a committed new node keeps its inode number on this mount). */
  private attr(n: AnyNode, ino = n.id): FuseAttr {
    const t = this.config.mountTimeMs;
    if ('kind' in n && n.kind === 'dir') {
      const extra = n.id === ROOT_ID ? 1 : 0; // .meta
      return { ino, mode: S_IFDIR | n.mode, size: 4096, blocks: 8, nlink: 2 + n.subdirs + extra, uid: n.uid, gid: n.gid, atimeMs: t, mtimeMs: t, ctimeMs: t, blksize: 4096 };
    }
    if ('kind' in n && n.kind === 'symlink') {
      return { ino: n.id, mode: S_IFLNK | 0o777, size: Buffer.byteLength(n.target), blocks: 0, nlink: 1, uid: n.uid, gid: n.gid, atimeMs: t, mtimeMs: t, ctimeMs: t, blksize: 4096 };
    }
    const f = n as FileNode | Served;
    // A removed file (still open somewhere) has no name left: nlink 0 lets the kernel evict its
    // inode, and a famfs kernel its cached map, after the last close and munmap.
    return { ino, mode: S_IFREG | f.mode, size: f.size, nlink: 'removed' in f && f.removed ? 0 : 1, uid: f.uid, gid: f.gid, atimeMs: t, mtimeMs: t, ctimeMs: t, blksize: 1 << 20 };
  }

  private entry(n: AnyNode): EntryReply {
    return { nodeid: n.id, attr: this.attr(n), entryTimeout: this.timeout, attrTimeout: this.timeout };
  }

  private served(id: number): Served | FileNode {
    return this.servedNode(this.nodeOrThrow(id));
  }

  private servedNode(n: AnyNode | undefined): Served | FileNode {
    if (!n) throw new FuseError(Errno.ENOENT);
    if ('kind' in n && n.kind === 'dir') throw new FuseError(Errno.EISDIR);
    if ('kind' in n && n.kind === 'symlink') throw new FuseError(Errno.EINVAL);
    return n as Served | FileNode;
  }

  private children(dir: DirNode): (AnyNode | null)[] {
    if (dir.id === META_DIR_ID) return [...this.metaFiles.values()];
    if (dir.id === ROOT_ID) return [this.metaDir, ...dir.order];
    return dir.order;
  }

  // ---- INIT ----

  initWishes(kernel: KernelInit): InitWishes {
    // Direct I/O for every file (coherent with other hosts, large READs); still allow mmap.
    // Symlinks never change once logged, so the kernel may cache their targets.
    let add = InitFlag.DIRECT_IO_ALLOW_MMAP | InitFlag.PARALLEL_DIROPS | InitFlag.DO_READDIRPLUS | InitFlag.READDIRPLUS_AUTO | InitFlag.ASYNC_READ | InitFlag.MAX_PAGES | InitFlag.BIG_WRITES | InitFlag.CACHE_SYMLINKS;
    // famfs kernel mode: accept bit 43 only from a kernel known to be famfs-enabled (the bit is ambiguous),
    // and never for small allocation units (a famfs kernel maps only 2 MiB-aligned extents).
    if (this.famfs.sb.allocUnit >= ALLOC_UNIT && wantKernelMode(this.config.dataPath ?? 'auto', !!this.config.famfsKernel, kernel.flags)) add |= FUSE_DAX_FMAP | InitFlag.INIT_EXT;
    // flock stays in the kernel (per host, exactly POSIX semantics); no writeback cache.
    return { addFlags: add, removeFlags: InitFlag.FLOCK_LOCKS | InitFlag.WRITEBACK_CACHE | InitFlag.POSIX_LOCKS, entryTimeout: this.timeout, attrTimeout: this.timeout, maxPages: this.config.maxPages };
  }

  init(conn: FuseConnection): void {
    this.dataPath = (conn.flags & FUSE_DAX_FMAP) !== 0n ? 'kernel' : 'daemon';
    if (this.config.dataPath === 'kernel' && this.famfs.sb.allocUnit < ALLOC_UNIT) {
      throw new Error(`--data-path kernel: this famfs uses ${this.famfs.sb.allocUnit}-byte allocation units; a famfs kernel maps only 2 MiB-aligned extents`);
    }
    if (this.config.dataPath === 'kernel' && this.dataPath !== 'kernel') {
      throw new Error('--data-path kernel: the kernel did not offer the famfs FUSE extension (INIT bit 43)');
    }
  }

  // ---- famfs kernel extensions (GET_FMAP, GET_DAXDEV) ----

  extension(req: Request, opcode: number): Buffer {
    // FUSE_SYNCFS (kernels that send it to /dev/fuse servers): log everything closed.
    if (opcode === FUSE_SYNCFS) {
      if (this.fresh?.active) this.fresh.call('syncfs', {});
      return Buffer.alloc(0);
    }
    if (this.dataPath !== 'kernel' || (opcode !== FUSE_GET_FMAP && opcode !== FUSE_GET_DAXDEV)) throw new FuseError(Errno.ENOSYS);
    if (Atomics.load(this.state, StateFlag.STALE)) throw new FuseError(Errno.ESTALE, 'device was re-formatted');
    return opcode === FUSE_GET_FMAP ? this.getFmap(req.nodeid) : this.getDaxdev(req.nodeid);
  }

  /**
   * The GET_FMAP reply for a regular file. Unknown inode → EINVAL, no fmap (directory,
   * file still being written on the master) → ENOENT, a map the kernel must not see
   * (outside the device or data area, unaligned, beyond the kernel's limits) → EIO.
   */
  getFmapReply(nodeid: number): Buffer | FuseError {
    const n = this.node(nodeid);
    if (!n) return new FuseError(Errno.EINVAL, `GET_FMAP: unknown node ${nodeid}`);
    if (('kind' in n && n.kind !== 'file') || this.isNew(nodeid)) return new FuseError(Errno.ENOENT, `GET_FMAP: node ${nodeid} has no fmap`);
    const f = n as FileNode | Served;
    const meta = 'meta' in f && f.meta;
    const id = this.gate && this.fileId(f);
    if (id !== undefined && this.gate && !this.gate.mayMap(id, !meta && !!(f as FileNode).removed)) return new FuseError(Errno.ENOENT, `GET_FMAP ${f.path}: deleted, and not held by an open on this host`);
    const problem = (meta ? undefined : mapProblem(f.map, f.size, this.famfs.geometry)) ?? fmapKernelProblem(f.map, f.size, { devindexZeroOnly: KERNEL_DEVINDEX_ZERO_ONLY });
    if (problem) return new FuseError(Errno.EIO, `GET_FMAP ${f.path}: ${problem}`);
    const type = metaFileType(f.id);
    const bytes = encodeGetFmapReply(f.map, f.size, type);
    if (bytes.length > FMAP_REPLY_MAX) return new FuseError(Errno.EIO, `GET_FMAP ${f.path}: reply of ${bytes.length} bytes`);
    return bytes;
  }

  private getFmap(nodeid: number): Buffer {
    this.sync(this.isMeta(nodeid));
    const r = this.getFmapReply(nodeid);
    if (r instanceof FuseError) {
      if (r.errno === Errno.EIO) this.log(`refused to send a map: ${r.message}`);
      throw r;
    }
    return r;
  }

  /** Path of device `index` on this host, or undefined. */
  devicePath(index: number): string | undefined {
    return index === 0 ? this.config.device : this.config.devices?.[index] || this.famfs.devicePath(index);
  }

  /** The 280-byte GET_DAXDEV reply; index out of range → EINVAL. */
  getDaxdevReply(index: number): Buffer | FuseError {
    const path = index < FAMFS_MAX_DAXDEVS && index < this.famfs.geometry.ndevices ? this.devicePath(index) : undefined;
    if (path === undefined) return new FuseError(Errno.EINVAL, `GET_DAXDEV: no device ${index}`);
    try {
      return encodeDaxdevReply(index, path);
    } catch (e) {
      return new FuseError(Errno.EINVAL, `GET_DAXDEV ${index}: ${(e as Error).message}`);
    }
  }

  private getDaxdev(index: number): Buffer {
    const r = this.getDaxdevReply(index);
    if (r instanceof FuseError) throw r;
    return r;
  }

  // ---- namespace ----

  lookup(_req: Request, parent: number, name: string): EntryReply | FuseError {
    this.sync(parent === META_DIR_ID || (parent === ROOT_ID && name === META_NAME));
    const p = this.node(parent);
    if (!p || !('kind' in p) || p.kind !== 'dir') return new FuseError(Errno.ENOENT);
    if (parent === ROOT_ID && name === META_NAME) return this.entry(this.metaDir);
    if (parent === META_DIR_ID) {
      for (const f of this.metaFiles.values()) if (basename(f.path) === name) return this.entry(f);
      return new FuseError(Errno.ENOENT);
    }
    const c = p.children.get(name) ?? this.fresh?.lookup(parent, name);
    return c ? this.entry(c) : new FuseError(Errno.ENOENT);
  }

  forget(_req: Request, nodeid: number): void {
    // Ids are log slots, never reused: a removed node stays in the tree (by id) for handles opened
    // before. A deleted file's FORGET says the kernel evicted its inode (and a famfs kernel its
    // cached map): worth one log line.
    const n = this.famfs.tree.byId.get(nodeid);
    if (n?.removed && n.kind === 'file') this.log(`presence: the kernel dropped deleted file ${n.path} (node ${nodeid}): inode and cached map gone`);
  }

  getattr(_req: Request, nodeid: number): AttrReply {
    this.sync(this.isMeta(nodeid));
    return { attr: this.attr(this.nodeOrThrow(nodeid), nodeid), attrTimeout: this.timeout };
  }

  setattr(_req: Request, nodeid: number, set: SetattrArgs): AttrReply {
    this.sync();
    if (this.isNew(nodeid)) {
      // A new node's mode and owner shape the entry it will be logged with.
      const args: Record<string, number> = {};
      if (set.valid & FATTR_MODE) args.mode = set.mode & 0o7777;
      if (set.valid & FATTR_UID) args.uid = set.uid;
      if (set.valid & FATTR_GID) args.gid = set.gid;
      if (set.valid & FATTR_SIZE) args.size = set.size;
      const n = this.master().update('setattr', nodeid, args);
      if (n && n.id === nodeid) return { attr: this.attr(n), attrTimeout: this.timeout };
    }
    const n = this.nodeOrThrow(nodeid);
    const a = this.attr(n, nodeid);
    if (set.valid & FATTR_SIZE && set.size !== a.size) throw new FuseError(Errno.EPERM, 'famfs files have a fixed size');
    if (set.valid & FATTR_MODE && (set.mode & 0o7777) !== (a.mode & 0o7777)) throw new FuseError(Errno.EPERM, 'the famfs log cannot change a mode');
    if (set.valid & FATTR_UID && set.uid !== a.uid) throw new FuseError(Errno.EPERM);
    if (set.valid & FATTR_GID && set.gid !== a.gid) throw new FuseError(Errno.EPERM);
    // Time stamps are not kept by famfs: accepted and ignored (touch of an existing file works).
    return { attr: a, attrTimeout: this.timeout };
  }

  mkdir(_req: Request, parent: number, name: string, mode: number, umask: number): EntryReply {
    this.sync();
    if (this.role !== 'master') throw new FuseError(Errno.EROFS, 'clients cannot change a famfs');
    const p = this.nodeOrThrow(parent);
    if (!('kind' in p) || p.kind !== 'dir' || p.id === META_DIR_ID) throw new FuseError(Errno.EPERM);
    reservedName(parent, name);
    const n = this.master().adopt(this.master().call<NewNodeAttr>('mkdir', { parent, name, mode: mode & ~umask & 0o7777, uid: _req.uid, gid: _req.gid }));
    return this.entry(n!);
  }

  /** A new file on the master: it may grow while open and is logged once closed (see master.ts). */
  create(req: Request, parent: number, name: string, mode: number, _flags: number, umask: number): CreateReply {
    this.sync();
    if (this.role !== 'master') throw new FuseError(Errno.EROFS, 'clients cannot change a famfs');
    // Kernel mode maps each file once at open; a file that grows while open has no fixed map.
    if (this.dataPath === 'kernel') throw new FuseError(Errno.EOPNOTSUPP, 'kernel mode: make files with famfs creat / famfs cp');
    const p = this.nodeOrThrow(parent);
    if (!('kind' in p) || p.kind !== 'dir' || p.id === META_DIR_ID) throw new FuseError(Errno.EPERM);
    reservedName(parent, name);
    const n = this.master().adopt(this.master().call<NewNodeAttr>('create', { parent, name, mode: mode & ~umask & 0o7777, uid: req.uid, gid: req.gid }))!;
    return { ...this.entry(n), fh: 0, openFlags: FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES };
  }

  mknod(): FuseError { return new FuseError(Errno.EOPNOTSUPP); }

  /**
   * unlink/rmdir/rename go to the master's main thread (master.ts): new nodes always, logged
   * nodes with the delete/rename features. Without them: EPERM (the log cannot say it); on a
   * client of a file system that has them: EROFS.
   */
  private changer(): NewNodes {
    this.sync();
    if (this.fresh) return this.fresh;
    throw new FuseError(hasFeature(this.famfs.features, DELETE) ? Errno.EROFS : Errno.EPERM, 'clients cannot change a famfs');
  }

  unlink(_req: Request, parent: number, name: string): void {
    this.changer().call('unlink', { parent, name, dir: 0 });
  }

  rmdir(_req: Request, parent: number, name: string): void {
    this.changer().call('unlink', { parent, name, dir: 1 });
  }

  /** RENAME_NOREPLACE is honoured; RENAME_EXCHANGE (and WHITEOUT) are EINVAL: the log has no swap. */
  rename(_req: Request, parent: number, name: string, newParent: number, newName: string, flags: number): void {
    const m = this.changer();
    if (flags & ~RENAME_NOREPLACE) throw new FuseError(Errno.EINVAL, 'famfs has no RENAME_EXCHANGE or RENAME_WHITEOUT');
    reservedName(newParent, newName);
    if (parent === ROOT_ID && name === META_NAME) throw new FuseError(Errno.EPERM, `${META_NAME} cannot be renamed`);
    m.call('rename', { parent, name, newParent, newName, noReplace: flags & RENAME_NOREPLACE ? 1 : 0 });
  }
  link(): FuseError { return new FuseError(Errno.EPERM); }

  /** A new symbolic link on the master (the symlinks extension), logged like a new directory. */
  symlink(req: Request, parent: number, name: string, target: string): EntryReply {
    this.sync();
    if (this.role !== 'master') throw new FuseError(Errno.EROFS, 'clients cannot change a famfs');
    const p = this.nodeOrThrow(parent);
    if (!('kind' in p) || p.kind !== 'dir' || p.id === META_DIR_ID) throw new FuseError(Errno.EPERM);
    reservedName(parent, name);
    const n = this.master().adopt(this.master().call<NewNodeAttr>('symlink', { parent, name, target, uid: req.uid, gid: req.gid }));
    return this.entry(n!);
  }

  readlink(_req: Request, nodeid: number): string {
    this.sync();
    const n = this.nodeOrThrow(nodeid);
    if (!('kind' in n) || n.kind !== 'symlink') throw new FuseError(Errno.EINVAL);
    return n.target;
  }
  // famfs stores no extended attributes or ACLs: EOPNOTSUPP lets cp -p, tar and rsync carry on.
  setxattr(): FuseError { return new FuseError(Errno.EOPNOTSUPP); }
  removexattr(): FuseError { return new FuseError(Errno.EOPNOTSUPP); }

  // ---- data ----

  open(req: Request, nodeid: number, flags: number): OpenReply {
    this.sync(this.isMeta(nodeid));
    if (this.isNew(nodeid)) {
      if (!this.master().update('open', nodeid)) throw new FuseError(Errno.ESTALE);
      return { fh: 0, openFlags: FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES };
    }
    const f = this.served(nodeid);
    const acc = flags & O_ACCMODE;
    if ((acc === O_WRONLY || acc === O_RDWR) && f.id === LOG_FILE_ID && this.role !== 'master') {
      throw new FuseError(Errno.EACCES, 'only the master may write the log');
    }
    // Root ignores the 0444 mode; nobody may write the superblock through a mount, except this
    // daemon's own threads in kernel mode: their presence slot is in its second MiB.
    if ((acc === O_WRONLY || acc === O_RDWR) && f.id === SUPERBLOCK_FILE_ID && !this.ownPresenceWriter(req)) throw new FuseError(Errno.EACCES, 'the superblock is read-only');
    // Every open of a logged file is counted (file systems with presence): in kernel mode the
    // count lasts until RELEASE, which comes after the last close AND the last munmap.
    const id = this.gate && this.fileId(f);
    const removedHere = !('meta' in f) && !!(f as FileNode).removed;
    const fh = id !== undefined && this.gate ? this.gate.open(id, removedHere) : 0;
    // Kernel mode: the kernel maps the file from the GET_FMAP reply and serves it through DAX.
    if (this.dataPath === 'kernel') return { fh };
    // -o cache: a logged file never changes size, so its pages may stay cached across opens
    // (the coherence rule is in docs/fuse.md). The .meta files change: always direct.
    if (this.config.cache && !this.metaFiles.has(nodeid)) return { fh, openFlags: FOPEN_KEEP_CACHE };
    return { fh, openFlags: FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES };
  }

  read(_req: Request, nodeid: number, args: ReadArgs): Buffer[] {
    if (Atomics.load(this.state, StateFlag.STALE)) throw new FuseError(Errno.ESTALE);
    if (this.gate) {
      this.gate.check(() => this.famfs.replayFromScratch());
      this.gate.checkHandle(args.fh);
    }
    const f = this.served(nodeid);
    if (args.offset >= f.size) return [];
    // Reads below 1 MiB from a device file on this kernel's page cache: pread into this
    // worker's reply buffer (written out before the next request is read). That costs a
    // second copy but no first-touch page faults of the worker's mapping and no 1 GiB window;
    // 1 MiB reads stay on the mapping, whose single copy wins once its pages are mapped
    // (docs/performance.md, "Reads").
    if (READ_FD && args.size < READ_FD_BELOW) {
      const want = Math.min(args.size, f.size - args.offset);
      if (this.readBuf.length < want) this.readBuf = Buffer.allocUnsafe(Math.max(want, 128 << 10));
      const got = this.shrinkGuard(() => this.famfs.readThroughFd(f, args.offset, want, this.readBuf));
      if (got) {
        if (this.gate) this.gate.checkFresh();
        return [got];
      }
    }
    // Any host may have written these bytes since we last read them (docs/coherency.md: the READ rule).
    const slices = this.shrinkGuard(() => this.famfs.freshSlices(f, args.offset, args.size));
    return this.gate ? this.gate.copyOut(slices) : slices;
  }

  /** Pieces past a truncated device's end: EIO for this request, ESTALE for the mount from now on. */
  private shrinkGuard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof DeviceError && e.code === 'EIO') this.goStale(e.message);
      throw e;
    }
  }

  private goStale(why: string): void {
    if (Atomics.compareExchange(this.state, StateFlag.STALE, 0, 1) === 0) this.log(`${why}; refusing to serve (EIO, then ESTALE). Unmount and mount again.`);
  }

  write(_req: Request, nodeid: number, args: WriteArgs, data: Buffer): number {
    if (Atomics.load(this.state, StateFlag.STALE)) throw new FuseError(Errno.ESTALE);
    let f: Served | FileNode;
    // A new file's size has one owner, the main thread: every write asks it (a size cached here
    // would miss another thread's truncate).
    if (this.isNew(nodeid)) f = this.servedNode(this.master().update('extend', nodeid, { offset: args.offset, length: data.length }));
    else f = this.served(nodeid);
    if ((f.id === LOG_FILE_ID && this.role !== 'master') || f.id === SUPERBLOCK_FILE_ID) throw new FuseError(Errno.EACCES);
    const room = f.size - args.offset;
    if (room <= 0) throw new FuseError(Errno.EFBIG, 'famfs files cannot grow');
    const copy = (): number => this.shrinkGuard(() => this.famfs.write(f, args.offset, room < data.length ? data.subarray(0, room) : data));
    const id = this.gate && this.fileId(f);
    if (!this.gate || id === undefined) return copy();
    this.gate.check(() => this.famfs.replayFromScratch());
    this.gate.checkHandle(args.fh);
    return this.gate.withIntent(id, copy);
  }

  flush(_req: Request, nodeid: number): void {
    if (this.isNew(nodeid)) this.master().call('flush', { id: nodeid });
  }

  release(_req: Request, nodeid: number, args?: ReleaseArgs): void {
    if (this.isNew(nodeid)) this.master().call('release', { id: nodeid });
    if (args) this.gate?.release(args.fh);
  }

  fsync(_req: Request, nodeid: number): void {
    if (this.isNew(nodeid)) this.master().call('fsync', { id: nodeid });
    const f = this.served(nodeid);
    this.shrinkGuard(() => this.famfs.flushFile(f));
  }

  /** fsync of a directory (`sync DIR`) logs it and everything closed below it. */
  fsyncdir(_req: Request, nodeid: number): void {
    this.sync();
    if (this.fresh?.active) this.fresh.call('fsyncdir', { dir: nodeid });
  }

  // ---- directories ----

  opendir(_req: Request, nodeid: number): OpenReply {
    this.sync();
    const n = this.nodeOrThrow(nodeid);
    if (!('kind' in n) || n.kind !== 'dir') throw new FuseError(Errno.ENOTDIR);
    // -o cache: the kernel may keep listings across opens. Changes through this mount reset them
    // (the kernel bumps the directory's version); the watcher drops them when entries are logged,
    // which it can only address to logged ids (a directory made through this mount keeps its new id).
    if (this.config.cache && nodeid < NEW_NODE_ID_BASE) return { fh: 0, openFlags: FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE };
    return { fh: 0 };
  }

  /** At most `limit` entries after cookie `offset` (a reply of N bytes holds at most N/24 or N/152 of them). */
  private dirList(nodeid: number, offset: number, limit: number): { name: string; node: AnyNode; off: number }[] {
    this.sync();
    const d = this.nodeOrThrow(nodeid);
    if (!('kind' in d) || d.kind !== 'dir') throw new FuseError(Errno.ENOTDIR);
    const out: { name: string; node: AnyNode; off: number }[] = [];
    // Cookies: 1 = after ".", 2 = after "..", 2+k = after the k-th child. Children only ever
    // append; a removed or moved-away child leaves a hole, so every cookie keeps its meaning.
    if (offset < 1) out.push({ name: '.', node: d, off: 1 });
    if (offset < 2) out.push({ name: '..', node: d.parent ?? d, off: 2 });
    let kids = this.children(d);
    if (this.fresh?.active && d.id !== META_DIR_ID) kids = [...kids, ...this.fresh.list(d.id)];
    for (let i = Math.max(0, offset - 2); i < kids.length && out.length < limit; i++) {
      const k = kids[i];
      if (!k) continue;
      out.push({ name: 'kind' in k ? k.name : basename(k.path), node: k, off: i + 3 });
    }
    return out;
  }

  readdir(_req: Request, nodeid: number, args: ReadArgs): DirEntry[] | Buffer {
    if (!this.fresh?.active) {
      // Only logged nodes: the listing is encoded once per log position (src/fs/dirlisting.ts).
      this.sync();
      const d = this.nodeOrThrow(nodeid);
      if (!('kind' in d) || d.kind !== 'dir') throw new FuseError(Errno.ENOTDIR);
      const kids = this.children(d);
      const at = (j: number): ListedEntry | null => {
        const k = j === 0 ? d : j === 1 ? d.parent ?? d : kids[j - 2];
        return k ? { name: j === 0 ? '.' : j === 1 ? '..' : 'kind' in k ? k.name : basename(k.path), ino: k.id, mode: this.attr(k).mode } : null;
      };
      return this.listings.reply(d, this.famfs.stats.entries, kids.length + 2, at, args.offset, args.size);
    }
    const list = this.dirList(nodeid, args.offset, Math.ceil(args.size / 32));
    return list.map((e) => ({ name: e.name, ino: e.node.id, mode: this.attr(e.node).mode, off: e.off }));
  }

  readdirplus(_req: Request, nodeid: number, args: ReadArgs): DirEntryPlus[] {
    const list = this.dirList(nodeid, args.offset, Math.ceil(args.size / 152));
    return list.map((e) => ({
      name: e.name,
      off: e.off,
      entry: e.name === '.' || e.name === '..' ? { nodeid: 0, attr: this.attr(e.node) } : this.entry(e.node),
    }));
  }

  releasedir(): void {}

  // ---- file system ----

  statfs(): StatfsReply {
    this.sync();
    const now = Date.now();
    if (this.statfsCache && now - this.statfsCache.at < 100) return this.statfsCache.reply;
    // Every device counts (a multi-device famfs is one pool of space).
    const use = this.famfs.usage();
    const capacity = use.reduce((n, d) => n + d.capacity, 0);
    const free = use.reduce((n, d) => n + d.free, 0);
    const h = this.famfs.log.readHeader();
    const bsize = 4096;
    const reply: StatfsReply = {
      bsize, frsize: bsize, namelen: this.famfs.longNames ? 255 : 79,
      blocks: Math.floor(capacity / bsize),
      bfree: Math.floor(free / bsize),
      bavail: this.role === 'master' ? Math.floor(free / bsize) : 0,
      files: h.lastIndex + 1,
      ffree: h.lastIndex + 1 - h.nextIndex,
    };
    this.statfsCache = { at: now, reply };
    return reply;
  }

  private xattrs(n: AnyNode): Record<string, string> {
    return nodeXattrs(n, { device: this.config.device, role: this.role, uuid: this.famfs.sb.uuid, dataPath: this.dataPath, systemUuid: this.localUuid });
  }

  private status(): DaemonStatus {
    return daemonStatus(this.famfs, {
      role: this.role, dataPath: this.dataPath, startedMs: this.config.mountTimeMs,
      pending: Atomics.load(this.state, StateFlag.PENDING), devices: this.config.devices, opStats: this.config.opStats, presence: this.gate?.summary(),
    });
  }

  getxattr(_req: Request, nodeid: number, name: string): string | FuseError {
    this.sync();
    if (name === STATUS_XATTR && nodeid === ROOT_ID) return JSON.stringify(this.status()); // built on demand: it walks the bitmap
    const v = this.xattrs(this.nodeOrThrow(nodeid))[name];
    return v === undefined ? new FuseError(Errno.ENODATA) : v;
  }

  listxattr(_req: Request, nodeid: number): string[] {
    this.sync();
    const names = Object.keys(this.xattrs(this.nodeOrThrow(nodeid)));
    return nodeid === ROOT_ID ? [...names, STATUS_XATTR] : names;
  }

  access(_req: Request, nodeid: number, mask: number): void {
    this.sync();
    const n = this.nodeOrThrow(nodeid);
    if (mask & 2 && n.id === LOG_FILE_ID && this.role !== 'master') throw new FuseError(Errno.EACCES);
  }
}
