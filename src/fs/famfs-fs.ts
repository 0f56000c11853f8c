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
import { Famfs, type Role } from '../api/famfs.js';
import { Device, probeDevice } from '../device/device.js';
import type { FileNode } from '../meta/tree.js';
import { ROOT_ID } from '../meta/tree.js';
import { basename } from '../meta/paths.js';
import { FuseError, type FuseHandler, type InitWishes, type Request } from '../fuse/handler.js';
import { FdReply } from '../fuse/splice.js';
import type { ReadArgs, ReleaseArgs, SetattrArgs, WriteArgs } from '../fuse/decode.js';
import type { AttrReply, CreateReply, DirEntry, DirEntryPlus, EntryReply, FuseAttr, FuseConnection, KernelInit, OpenReply, StatfsReply } from '../fuse/types.js';
import { Errno, FOPEN_CACHE_DIR, FOPEN_DIRECT_IO, FOPEN_KEEP_CACHE, FOPEN_PARALLEL_DIRECT_WRITES } from '../fuse/protocol.js';
import { StateFlag, type FamfsMountConfig } from './config.js';
import { RpcClient } from './rpc.js';
import { NewNodes, type AnyNode, type Served } from './newnodes.js';
import { NEW_NODE_ID_BASE } from './master.js';
import { trySystemUuid } from '../api/sysuuid.js';
import { daemonStatus, STATUS_XATTR, type DaemonStatus } from './status.js';
import { FUSE_GET_DAXDEV, FUSE_GET_FMAP, type DataPath } from './kernel.js';
import { LOG_FILE_ID, META_DIR_ID, META_NAME, metaFileType, metaNodes, SUPERBLOCK_FILE_ID } from './metafiles.js';
import { PresenceGate } from './presence-gate.js';
import { FAMFS_XATTR_PREFIX, nodeXattr, nodeXattrNames, type MountFacts } from './xattrs.js';
import { daxdevReply, fmapReply, KERNEL_DEVINDEX_ZERO_ONLY } from './kernel-replies.js';
import { nodeAttr, spaceOf, statfsReply } from './attrs.js';
import { createSharedStatfs, SharedStatfs } from './shared-statfs.js';
import { listDir, type DirListEntry } from './dirlist.js';
import { NodeView } from './nodeview.js';
import { DirListings } from './dirlisting.js';
import { FdReads } from './fdreads.js';
import { Freshness } from './freshness.js';
import { initWishes, negotiatedDataPath } from './init-wishes.js';
import { MetadataChanges } from './metadata-changes.js';

export { META_DIR_ID, SUPERBLOCK_FILE_ID, LOG_FILE_ID, metaFileType, KERNEL_DEVINDEX_ZERO_ONLY };

const O_ACCMODE = 3;
/** Opcode 50; this FUSE layer passes it on undecoded. */
const FUSE_SYNCFS = 50;
const O_WRONLY = 1;
const O_RDWR = 2;
/** The most frequent answer of all (two per file in `ls -l`): one shared instance. */
const NO_SUCH_XATTR = new FuseError(Errno.ENODATA);

export class FamfsFs implements FuseHandler {
  readonly famfs: Famfs;
  readonly role: Role;
  private readonly state: Int32Array;
  /** What each node id names (logged, .meta, new). */
  private readonly nodes: NodeView;
  private readonly timeout: number;
  /** The statfs figure every thread of this daemon answers from (shared-statfs.ts). */
  private readonly space: SharedStatfs;
  private readonly listings = new DirListings();
  private readonly fdReads: FdReads;
  /** This host's system UUID ('' if unreadable): tells simulated hosts on one machine apart. */
  private readonly localUuid: string;
  /** The master's new nodes, through calls to the main thread (master mounts only). */
  private readonly fresh?: NewNodes;
  /** 'kernel' once INIT negotiated FUSE_DAX_FMAP (GET_FMAP / GET_DAXDEV served, data via DAX). */
  dataPath: DataPath = 'daemon';
  private readonly log: (msg: string) => void;
  /** File systems with the presence area: lease, holds and write intents (presence-gate.ts). */
  private readonly gate?: PresenceGate;
  /** Stale or not, caught up with the log (freshness.ts). */
  private readonly live: Freshness;
  /** setattr and the namespace changes (metadata-changes.ts). */
  private readonly changes: MetadataChanges;

  constructor(readonly config: FamfsMountConfig) {
    // Every host may write file data, so the mapping is writable on clients too.
    const devices = config.devices?.slice(1).filter(Boolean);
    this.famfs = config.metaImage
      ? Famfs.fromDevice(Device.fromRegions(probeDevice(config.device), -1, false, [{ offset: 0, buf: Buffer.from(config.metaImage) }], 'kernel mode: the daemon holds only the superblock and log'), { devices })
      : Famfs.open(config.device, { writable: true, devices });
    this.role = config.forceClient ? 'client' : this.famfs.role;
    this.fdReads = new FdReads(this.famfs);
    this.localUuid = trySystemUuid() ?? '';
    this.state = new Int32Array(config.state);
    if (this.role === 'master') this.fresh = new NewNodes(this.famfs, new RpcClient(config.rpc, (op, e) => this.log(`${op}: ${e.message}`)), () => Atomics.load(this.state, StateFlag.PENDING), config.newFiles, (by) => Atomics.add(this.state, StateFlag.PENDING, by));
    this.timeout = config.timeout;
    this.log = (m) => process.stderr.write(`famfs: ${m}\n`);
    const meta = metaNodes(this.famfs.tree.root, this.famfs.sb.logLen, this.role === 'master', config.metaGroup);
    this.nodes = new NodeView(this.famfs, this.fresh, meta);
    if (config.presence) this.gate = new PresenceGate(config.presence, this.famfs.device);
    this.space = new SharedStatfs(config.statfs ?? createSharedStatfs());
    this.live = new Freshness(this.famfs, this.state, this.gate, this.log);
    this.changes = new MetadataChanges({
      famfs: this.famfs, role: this.role, nodes: this.nodes, live: this.live, fresh: this.fresh, timeout: this.timeout,
      dataPath: () => this.dataPath, attr: (n, ino) => this.attr(n, ino), entry: (n) => this.entry(n),
    });
  }

  /**
   * A request from one of this daemon's own threads (kernel mode with presence): the FUSE
   * header carries the caller's thread id.
   */
  private ownPresenceWriter(req: Request): boolean {
    return this.dataPath === 'kernel' && !!this.gate && req.pid > 0 && fs.existsSync(`/proc/self/task/${req.pid}`);
  }

  // ---- helpers ----

  /** The new-node view, on the master; clients get EROFS for anything that would change metadata. */
  private master(): NewNodes {
    if (!this.fresh) throw new FuseError(Errno.EROFS, 'clients cannot change a famfs');
    return this.fresh;
  }

  /** `ino`: the node id the kernel asked with (a committed new node keeps its inode number on this mount). */
  private attr(n: AnyNode, ino = n.id): FuseAttr {
    return nodeAttr(n, ino, this.config.mountTimeMs);
  }

  private entry(n: AnyNode): EntryReply {
    return { nodeid: n.id, attr: this.attr(n), entryTimeout: this.timeout, attrTimeout: this.timeout };
  }

  /**
   * The file a READ/WRITE/FSYNC names. Each worker replays on its own and only sync() catches
   * it up: a file logged since this worker's last catch-up (opened through another worker) is
   * unknown here until it does — without this, ENOENT, and SIGBUS for a mapping's page fault.
   */
  private served(id: number): Served | FileNode {
    if (!this.nodes.get(id)) this.live.sync(this.nodes.isMeta(id));
    return this.nodes.served(id);
  }

  // ---- INIT ----

  initWishes(kernel: KernelInit): InitWishes {
    return initWishes(kernel, this.famfs.sb.allocUnit, this.config);
  }

  init(conn: FuseConnection): void {
    this.dataPath = negotiatedDataPath(conn, this.famfs.sb.allocUnit, this.config);
  }

  // ---- famfs kernel extensions (GET_FMAP, GET_DAXDEV) ----

  extension(req: Request, opcode: number): Buffer {
    // FUSE_SYNCFS (kernels that send it to /dev/fuse servers): log everything closed.
    if (opcode === FUSE_SYNCFS) {
      if (this.fresh?.active) this.fresh.call('syncfs', {});
      return Buffer.alloc(0);
    }
    if (this.dataPath !== 'kernel' || (opcode !== FUSE_GET_FMAP && opcode !== FUSE_GET_DAXDEV)) throw new FuseError(Errno.ENOSYS);
    if (this.live.stale) throw new FuseError(Errno.ESTALE, 'device was re-formatted');
    return opcode === FUSE_GET_FMAP ? this.getFmap(req.nodeid) : this.getDaxdev(req.nodeid);
  }

  /** GET_FMAP's answer (kernel-replies.ts); presence decides whether a deleted file may still be mapped. */
  getFmapReply(nodeid: number): Buffer | FuseError {
    return fmapReply({
      node: (id) => this.nodes.get(id),
      isNew: (id) => this.nodes.isNew(id),
      mayMap: (f) => {
        const id = this.gate && this.nodes.fileId(f);
        return id === undefined || !this.gate || this.gate.mayMap(id, this.nodes.removedHere(f));
      },
      geometry: this.famfs.geometry,
    }, nodeid);
  }

  private getFmap(nodeid: number): Buffer {
    this.live.sync(this.nodes.isMeta(nodeid));
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

  getDaxdevReply(index: number): Buffer | FuseError {
    return daxdevReply(index, this.famfs.geometry.ndevices, (i) => this.devicePath(i));
  }

  private getDaxdev(index: number): Buffer {
    const r = this.getDaxdevReply(index);
    if (r instanceof FuseError) throw r;
    return r;
  }

  // ---- namespace ----

  lookup(_req: Request, parent: number, name: string): EntryReply | FuseError {
    // Before the catch-up (newnodes.ts): a name no new node has needs no call (a cp -r looks up each name it creates).
    const noNew = this.fresh?.noNewNamed(name) ?? false;
    this.live.sync(parent === META_DIR_ID || (parent === ROOT_ID && name === META_NAME));
    // In a new directory: one call answers (its logged children too, once it is logged).
    if (this.nodes.isNew(parent) && this.fresh!.active) {
      if (noNew && this.fresh!.unloggedDir(parent)) {
        this.fresh!.servedHere();
        return new FuseError(Errno.ENOENT);
      }
      const c = this.fresh!.lookup(parent, name);
      return c ? this.entry(c) : new FuseError(Errno.ENOENT);
    }
    const p = this.nodes.get(parent);
    if (!p || !('kind' in p) || p.kind !== 'dir') return new FuseError(Errno.ENOENT);
    if (parent === ROOT_ID && name === META_NAME) return this.entry(this.nodes.metaDir);
    if (parent === META_DIR_ID) {
      for (const f of this.nodes.metaFiles.values()) if (basename(f.path) === name) return this.entry(f);
      return new FuseError(Errno.ENOENT);
    }
    const c = p.children.get(name) ?? (noNew ? undefined : this.fresh?.lookup(parent, name));
    if (!c && noNew && this.fresh?.active) this.fresh.servedHere();
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
    this.live.sync(this.nodes.isMeta(nodeid));
    // A new directory's attributes are in shared memory (the kernel asks after every create in it).
    const d = this.nodes.isNew(nodeid) ? this.fresh?.unloggedDirNode(nodeid) : undefined;
    return { attr: this.attr(d ?? this.nodes.orThrow(nodeid), nodeid), attrTimeout: this.timeout };
  }

  setattr(_req: Request, nodeid: number, set: SetattrArgs): AttrReply {
    return this.changes.setattr(nodeid, set);
  }

  mkdir(req: Request, parent: number, name: string, mode: number, umask: number): EntryReply {
    return this.changes.mkdir(req, parent, name, mode, umask);
  }

  create(req: Request, parent: number, name: string, mode: number, _flags: number, umask: number): CreateReply {
    return this.changes.create(req, parent, name, mode, umask);
  }

  mknod(): FuseError { return new FuseError(Errno.EOPNOTSUPP); }

  unlink(_req: Request, parent: number, name: string): void {
    this.changes.unlink(parent, name, false);
  }

  rmdir(_req: Request, parent: number, name: string): void {
    this.changes.unlink(parent, name, true);
  }

  rename(_req: Request, parent: number, name: string, newParent: number, newName: string, flags: number): void {
    this.changes.rename(parent, name, newParent, newName, flags);
  }

  link(): FuseError { return new FuseError(Errno.EPERM); }

  symlink(req: Request, parent: number, name: string, target: string): EntryReply {
    return this.changes.symlink(req, parent, name, target);
  }

  readlink(_req: Request, nodeid: number): string {
    this.live.sync();
    const n = this.nodes.orThrow(nodeid);
    if (!('kind' in n) || n.kind !== 'symlink') throw new FuseError(Errno.EINVAL);
    return n.target;
  }
  // famfs stores no extended attributes or ACLs: EOPNOTSUPP lets cp -p, tar and rsync carry on.
  setxattr(): FuseError { return new FuseError(Errno.EOPNOTSUPP); }
  removexattr(): FuseError { return new FuseError(Errno.EOPNOTSUPP); }

  // ---- data ----

  open(req: Request, nodeid: number, flags: number): OpenReply {
    this.live.sync(this.nodes.isMeta(nodeid));
    if (this.nodes.isNew(nodeid)) {
      if (!this.master().update('open', nodeid)) throw new FuseError(Errno.ESTALE);
      // Logged since this thread last looked: open the logged file it became (counted below).
      if (this.nodes.isNew(nodeid)) return { fh: 0, openFlags: FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES };
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
    const id = this.gate && this.nodes.fileId(f);
    const fh = id !== undefined && this.gate ? this.gate.open(id, this.nodes.removedHere(f)) : 0;
    // Kernel mode: the kernel maps the file from the GET_FMAP reply and serves it through DAX.
    if (this.dataPath === 'kernel') return { fh };
    // -o cache: a logged file never changes size, so its pages may stay cached across opens
    // (the coherence rule is in docs/fuse.md). The .meta files change: always direct.
    if (this.config.cache && !this.nodes.metaFiles.has(nodeid)) return { fh, openFlags: FOPEN_KEEP_CACHE };
    return { fh, openFlags: FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES };
  }

  read(_req: Request, nodeid: number, args: ReadArgs): Buffer[] | FdReply {
    if (this.live.stale) throw new FuseError(Errno.ESTALE);
    if (this.gate) {
      this.gate.check(() => this.famfs.replayFromScratch());
      this.gate.checkHandle(args.fh);
    }
    const f = this.served(nodeid);
    if (args.offset >= f.size) return [];
    // A device file: spliced into /dev/fuse (src/fs/fdreads.ts). Presence file systems never
    // splice: their bytes must be copied before the freshness check (copyOut).
    const bytes = (): Buffer[] => this.readBytes(f, args);
    return (!this.gate && this.fdReads.splice(f, args.offset, args.size, (why) => this.live.goStale(why), bytes)) || bytes();
  }

  /** READ bytes as buffers: small reads of a device file with pread (copied while fresh, as copyOut's), others views of the mapping. */
  private readBytes(f: Served | FileNode, args: ReadArgs): Buffer[] {
    const got = this.live.shrinkGuard(() => this.fdReads.read(f, args.offset, args.size));
    if (got) {
      this.gate?.checkFresh();
      return [got];
    }
    // Any host may have written these bytes since we last read them (docs/coherency.md: the READ rule).
    const slices = this.live.shrinkGuard(() => this.famfs.freshSlices(f, args.offset, args.size));
    return this.gate ? this.gate.copyOut(slices) : slices;
  }

  write(_req: Request, nodeid: number, args: WriteArgs, data: Buffer): number {
    if (this.live.stale) throw new FuseError(Errno.ESTALE);
    let f: Served | FileNode;
    // A new file's size has one owner, the main thread: a write asks it unless the file's shared
    // slot lets it raise the size itself (newslots.ts). A size cached here would miss a truncate.
    if (this.nodes.isNew(nodeid)) f = this.master().writeFast(nodeid, args.offset + data.length) ?? this.nodes.servedNode(this.master().update('extend', nodeid, { offset: args.offset, length: data.length }));
    else f = this.served(nodeid);
    if ((f.id === LOG_FILE_ID && this.role !== 'master') || f.id === SUPERBLOCK_FILE_ID) throw new FuseError(Errno.EACCES);
    const room = f.size - args.offset;
    if (room <= 0) throw new FuseError(Errno.EFBIG, 'famfs files cannot grow');
    const copy = (): number => this.live.shrinkGuard(() => this.famfs.write(f, args.offset, room < data.length ? data.subarray(0, room) : data));
    const id = this.gate && this.nodes.fileId(f);
    if (!this.gate || id === undefined) return copy();
    this.gate.check(() => this.famfs.replayFromScratch());
    this.gate.checkHandle(args.fh);
    return this.gate.withIntent(id, copy);
  }

  flush(_req: Request, nodeid: number): void {
    if (this.nodes.isNew(nodeid) && !this.master().flushQuiet(nodeid)) this.master().call('flush', { id: nodeid });
  }

  release(_req: Request, nodeid: number, args?: ReleaseArgs): void {
    // A handle opened while the file was new (fh 0) goes back to the master even once it is
    // logged: the master counted it, and carried it into the open-count table at the commit.
    // Posted: the kernel does not wait for a RELEASE; the main thread applies it before this worker's next call.
    if (this.nodes.isNew(nodeid) || (this.gate && this.fresh && nodeid >= NEW_NODE_ID_BASE && !args?.fh)) this.master().post('release', { id: nodeid });
    if (args) this.gate?.release(args.fh);
  }

  fsync(_req: Request, nodeid: number): void {
    if (this.nodes.isNew(nodeid)) this.master().call('fsync', { id: nodeid });
    const f = this.served(nodeid);
    this.live.shrinkGuard(() => this.famfs.flushFile(f));
  }

  /** fsync of a directory (`sync DIR`) logs it and everything closed below it. */
  fsyncdir(_req: Request, nodeid: number): void {
    this.live.sync();
    if (this.fresh?.active) this.fresh.call('fsyncdir', { dir: nodeid });
  }

  // ---- directories ----

  opendir(_req: Request, nodeid: number): OpenReply {
    this.live.sync();
    const n = this.nodes.orThrow(nodeid);
    if (!('kind' in n) || n.kind !== 'dir') throw new FuseError(Errno.ENOTDIR);
    // -o cache: the kernel may keep listings across opens. Changes through this mount reset them
    // (the kernel bumps the directory's version); the watcher drops them when entries are logged,
    // which it can only address to logged ids (a directory made through this mount keeps its new id).
    if (this.config.cache && nodeid < NEW_NODE_ID_BASE) return { fh: 0, openFlags: FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE };
    return { fh: 0 };
  }

  /** At most `limit` entries after cookie `offset` (a reply of N bytes holds at most N/24 or N/152 of them). */
  private dirList(nodeid: number, offset: number, limit: number): DirListEntry[] {
    this.live.sync();
    const d = this.nodes.orThrow(nodeid);
    if (!('kind' in d) || d.kind !== 'dir') throw new FuseError(Errno.ENOTDIR);
    let kids = this.nodes.children(d);
    if (this.fresh?.active && d.id !== META_DIR_ID) kids = [...kids, ...this.fresh.list(d.id)];
    return listDir(d, kids, offset, limit);
  }

  readdir(_req: Request, nodeid: number, args: ReadArgs): DirEntry[] | Buffer {
    if (!this.fresh?.active) {
      // Only logged nodes: the listing is encoded once per log position (src/fs/dirlisting.ts).
      this.live.sync();
      const d = this.nodes.orThrow(nodeid);
      if (!('kind' in d) || d.kind !== 'dir') throw new FuseError(Errno.ENOTDIR);
      const entry = (k: AnyNode) => ({ name: 'kind' in k ? k.name : basename(k.path), id: k.id, mode: this.attr(k).mode });
      return this.listings.dirReply<AnyNode>(d, this.nodes.children(d), entry, this.famfs.stats.entries, args.offset, args.size);
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
    this.live.sync();
    const now = Date.now();
    const entries = this.famfs.stats.entries;
    let fig = this.space.recent(entries, now, 100);
    if (!fig) {
      fig = { entries, at: now, ...spaceOf(this.famfs) };
      this.space.publish(fig);
    }
    const reply = statfsReply(this.famfs, this.role, fig);
    return reply;
  }

  private facts(): MountFacts {
    return { device: this.config.device, role: this.role, uuid: this.famfs.sb.uuid, dataPath: this.dataPath, systemUuid: this.localUuid };
  }

  private status(): DaemonStatus {
    return daemonStatus(this.famfs, {
      role: this.role, dataPath: this.dataPath, startedMs: this.config.mountTimeMs,
      pending: Atomics.load(this.state, StateFlag.PENDING), workerCreates: this.fresh?.madeHere, devices: this.config.devices, opStats: this.config.opStats, presence: this.gate?.summary(),
    });
  }

  getxattr(_req: Request, nodeid: number, name: string): string | FuseError {
    // `ls -l` asks security.selinux and system.posix_acl_access of every file: names famfs never
    // has, answered without the log check, the device size check or the tree.
    if (!name.startsWith(FAMFS_XATTR_PREFIX)) {
      if (this.live.stale) return new FuseError(Errno.ESTALE, 'device was re-formatted');
      return NO_SUCH_XATTR;
    }
    this.live.sync();
    if (name === STATUS_XATTR && nodeid === ROOT_ID) return JSON.stringify(this.status()); // built on demand: it walks the bitmap
    const v = nodeXattr(this.nodes.orThrow(nodeid), this.facts(), name);
    return v === undefined ? NO_SUCH_XATTR : v;
  }

  listxattr(_req: Request, nodeid: number): string[] {
    this.live.sync();
    const names = nodeXattrNames(this.nodes.orThrow(nodeid));
    return nodeid === ROOT_ID ? [...names, STATUS_XATTR] : names;
  }

  access(_req: Request, nodeid: number, mask: number): void {
    this.live.sync();
    const n = this.nodes.orThrow(nodeid);
    if (mask & 2 && n.id === LOG_FILE_ID && this.role !== 'master') throw new FuseError(Errno.EACCES);
  }
}
