/**
 * The requests that change metadata: setattr, mkdir, create, symlink, unlink, rmdir, rename.
 * New nodes live on the master's main thread (master.ts), so these become calls to it;
 * what the famfs log cannot say about a logged node is refused here (errnos in docs/fuse.md).
 */
import type { Famfs, Role } from '../api/famfs.js';
import { ROOT_ID } from '../meta/tree.js';
import { FuseError, type Request } from '../fuse/handler.js';
import type { SetattrArgs } from '../fuse/decode.js';
import type { AttrReply, CreateReply, EntryReply, FuseAttr } from '../fuse/types.js';
import { Errno, FATTR_GID, FATTR_MODE, FATTR_SIZE, FATTR_UID, FOPEN_DIRECT_IO, FOPEN_PARALLEL_DIRECT_WRITES } from '../fuse/protocol.js';
import { DELETE, hasFeature } from '../format/features.js';
import type { NewNodeAttr } from './master.js';
import { META_DIR_ID, META_NAME } from './metafiles.js';
import type { AnyNode, NewNodes } from './newnodes.js';
import type { NodeView } from './nodeview.js';
import type { Freshness } from './freshness.js';
import type { DataPath } from './kernel.js';

const RENAME_NOREPLACE = 1;

/** What the changes need of the mount that serves them. */
export interface ChangeContext {
  famfs: Famfs;
  role: Role;
  nodes: NodeView;
  live: Freshness;
  /** The master's new nodes (undefined on a client). */
  fresh?: NewNodes;
  timeout: number;
  dataPath(): DataPath;
  attr(n: AnyNode, ino?: number): FuseAttr;
  entry(n: AnyNode): EntryReply;
}

/** `.meta` at the root is the meta directory: nothing else may take the name (EEXIST, as it exists). */
function reservedName(parent: number, name: string): void {
  if (parent === ROOT_ID && name === META_NAME) throw new FuseError(Errno.EEXIST, `${META_NAME} at the root is reserved`);
}

export class MetadataChanges {
  constructor(private readonly m: ChangeContext) {}

  /** The new-node view, on the master; clients get EROFS for anything that would change metadata. */
  private master(): NewNodes {
    if (!this.m.fresh) throw new FuseError(Errno.EROFS, 'clients cannot change a famfs');
    return this.m.fresh;
  }

  setattr(nodeid: number, set: SetattrArgs): AttrReply {
    const { nodes, timeout } = this.m;
    this.m.live.sync();
    if (nodes.isNew(nodeid)) {
      // A new node's mode and owner shape the entry it will be logged with.
      const args: Record<string, number> = {};
      if (set.valid & FATTR_MODE) args.mode = set.mode & 0o7777;
      if (set.valid & FATTR_UID) args.uid = set.uid;
      if (set.valid & FATTR_GID) args.gid = set.gid;
      if (set.valid & FATTR_SIZE) args.size = set.size;
      const n = this.master().update('setattr', nodeid, args);
      if (n && n.id === nodeid) return { attr: this.m.attr(n), attrTimeout: timeout };
    }
    const a = this.m.attr(nodes.orThrow(nodeid), nodeid);
    if (set.valid & FATTR_SIZE && set.size !== a.size) throw new FuseError(Errno.EPERM, 'famfs files have a fixed size');
    if (set.valid & FATTR_MODE && (set.mode & 0o7777) !== (a.mode & 0o7777)) throw new FuseError(Errno.EPERM, 'the famfs log cannot change a mode');
    if (set.valid & FATTR_UID && set.uid !== a.uid) throw new FuseError(Errno.EPERM);
    if (set.valid & FATTR_GID && set.gid !== a.gid) throw new FuseError(Errno.EPERM);
    // Time stamps are not kept by famfs: accepted and ignored (touch of an existing file works).
    return { attr: a, attrTimeout: timeout };
  }

  /** A new node made by the master's main thread, after the checks every kind of node shares. */
  private make(op: 'mkdir' | 'create' | 'symlink', parent: number, name: string, args: Record<string, unknown>): AnyNode {
    this.m.live.sync();
    if (this.m.role !== 'master') throw new FuseError(Errno.EROFS, 'clients cannot change a famfs');
    // Kernel mode maps each file once at open; a file that grows while open has no fixed map.
    if (op === 'create' && this.m.dataPath() === 'kernel') throw new FuseError(Errno.EOPNOTSUPP, 'kernel mode: make files with famfs creat / famfs cp');
    this.parentDir(parent, name);
    const r = this.master().call<NewNodeAttr>(op, { parent, name, ...args });
    if (r.parentLogged !== undefined) this.master().learnParent(parent, r.parentLogged);
    return this.master().adopt(r)!;
  }

  /**
   * A new file made in this worker from the main thread's pool (newpool.ts), or undefined:
   * then the call does it (anything unusual, an empty pool, a name in use). No call and no
   * wait: the main thread takes the file into its table before it handles any call (the
   * RELEASE that follows, posted, is one) and on its tick; a low pool rings it to refill.
   */
  private makeHere(req: Request, parent: number, name: string, mode: number): AnyNode | undefined {
    const fresh = this.m.fresh;
    if (!fresh || this.m.role !== 'master' || this.m.dataPath() === 'kernel') return undefined;
    this.m.live.sync();
    const n = fresh.createFast(parent, name, mode, req.uid, req.gid);
    if (n) fresh.afterCreateHere();
    return n;
  }

  /** A directory to make `name` in. A new one is checked by the main thread with the create (no call here). */
  private parentDir(parent: number, name: string): void {
    if (this.m.nodes.isNew(parent)) return;
    const p = this.m.nodes.orThrow(parent);
    if (!('kind' in p) || p.kind !== 'dir' || p.id === META_DIR_ID) throw new FuseError(Errno.EPERM);
    reservedName(parent, name);
  }

  mkdir(req: Request, parent: number, name: string, mode: number, umask: number): EntryReply {
    return this.m.entry(this.make('mkdir', parent, name, { mode: mode & ~umask & 0o7777, uid: req.uid, gid: req.gid }));
  }

  /** A new file on the master: it may grow while open and is logged once closed (see master.ts). */
  create(req: Request, parent: number, name: string, mode: number, umask: number): CreateReply {
    const n = this.makeHere(req, parent, name, mode & ~umask & 0o7777) ?? this.make('create', parent, name, { mode: mode & ~umask & 0o7777, uid: req.uid, gid: req.gid });
    return { ...this.m.entry(n), fh: 0, openFlags: FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES };
  }

  /** A new symbolic link on the master (the symlinks extension), logged like a new directory. */
  symlink(req: Request, parent: number, name: string, target: string): EntryReply {
    return this.m.entry(this.make('symlink', parent, name, { target, uid: req.uid, gid: req.gid }));
  }

  /**
   * unlink/rmdir/rename go to the master's main thread (master.ts): new nodes always, logged
   * nodes with the delete/rename features. Without them: EPERM (the log cannot say it); on a
   * client of a file system that has them: EROFS.
   */
  private changer(): NewNodes {
    this.m.live.sync();
    if (this.m.fresh) return this.m.fresh;
    throw new FuseError(hasFeature(this.m.famfs.features, DELETE) ? Errno.EROFS : Errno.EPERM, 'clients cannot change a famfs');
  }

  unlink(parent: number, name: string, dir: boolean): void {
    this.changer().call('unlink', { parent, name, dir: dir ? 1 : 0 });
  }

  /** RENAME_NOREPLACE is honoured; RENAME_EXCHANGE (and WHITEOUT) are EINVAL: the log has no swap. */
  rename(parent: number, name: string, newParent: number, newName: string, flags: number): void {
    const m = this.changer();
    if (flags & ~RENAME_NOREPLACE) throw new FuseError(Errno.EINVAL, 'famfs has no RENAME_EXCHANGE or RENAME_WHITEOUT');
    reservedName(newParent, newName);
    if (parent === ROOT_ID && name === META_NAME) throw new FuseError(Errno.EPERM, `${META_NAME} cannot be renamed`);
    m.call('rename', { parent, name, newParent, newName, noReplace: flags & RENAME_NOREPLACE ? 1 : 0 });
  }
}
