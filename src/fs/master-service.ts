/**
 * The master's metadata service (master.ts) with unlink, rmdir and rename: of new nodes
 * (the table alone), of logged nodes (DELETE / RENAME entries, features delete/rename), and
 * of a new node over a logged one (`mv tmpfile model`: the new entry and the DELETE of the
 * node it replaces land in one commit, so every host sees the old file or the new one).
 */
import { DELETE, hasFeature } from '../format/features.js';
import type { NewLogEntry } from '../format/logentry.js';
import { removeEntry, requireFeature } from '../api/removal.js';
import { FamfsError } from '../api/errors.js';
import type { Famfs } from '../api/famfs.js';
import { Tree, type TreeNode } from '../meta/tree.js';
import type { RpcCall } from './rpc.js';
import type { NewNode } from './newtable.js';
import { MasterPool } from './master-pool.js';

export { DEFAULT_LOCK_WAIT_MS, MAX_AGE_MS, NEW_NODE_ID_BASE, isNewNodeId, type MasterOptions, type NewNodeAttr, type Committed } from './master.js';

export class MasterService extends MasterPool {
  override handle(call: RpcCall): unknown {
    const a = call.args as Record<string, number | string>;
    // Before any call: every file a worker made is in the table (newpool.ts, point 2).
    this.drainCreated();
    if (call.op === 'unlink' || call.op === 'rename') this.touch();
    if (call.op === 'unlink') return this.unlinkCall(call, a.parent as number, a.name as string, a.dir === 1);
    if (call.op === 'rename') return this.renameCall(call, a.parent as number, a.name as string, a.newParent as number, a.newName as string, a.noReplace === 1);
    return super.handle(call);
  }

  /** Run `fn` with the log lock (waiting for a CLI writer without blocking this thread), tree caught up. */
  private withLock<T>(call: RpcCall, fn: () => T): T | Promise<T> {
    const run = (): T => {
      if (!call.claim()) {
        this.unlockIfIdle();
        throw new FamfsError('cancelled', 'EINTR');
      }
      try {
        this.lockedSession();
        this.famfs.refresh();
        this.drainCreated();
        const r = fn();
        this.schedule();
        return r;
      } finally {
        this.unlockIfIdle();
      }
    };
    if (this.loglock.tryTake()) return run();
    return this.loglock.take().then(run);
  }

  /** Append removal/rename entries and bring this thread's tree (and kernel mode's image) up to date. */
  private logNow(entries: NewLogEntry[]): void {
    this.famfs.log.appendMany(entries);
    this.opts.afterAppend?.();
    this.famfs.refresh();
  }

  private unlinkCall(call: RpcCall, parentId: number, name: string, dir: boolean): null | Promise<null> {
    const n = this.newChild(parentId, name);
    if (n) {
      if (!call.claim()) return null;
      this.unlinkNew(n, name, dir);
      this.schedule();
      return null;
    }
    const first = this.loggedChild(parentId, name);
    checkUnlink(this.famfs, first, name, dir, this.list(first.id).length);
    return this.withLock(call, () => {
      const node = this.loggedChild(parentId, name);
      checkUnlink(this.famfs, node, name, dir, this.list(node.id).length);
      this.logNow([removeEntry(node)]);
      return null;
    });
  }

  private unlinkNew(n: NewNode, name: string, dir: boolean): void {
    if (dir !== (n.kind === 'dir')) throw new FamfsError(name, dir ? 'ENOTDIR' : 'EISDIR');
    if (n.kind === 'dir' && this.list(n.id).length) throw new FamfsError(name, 'ENOTEMPTY');
    if (n.opens > 0) n.unlinked = true;
    else this.drop(n);
  }

  /** The logged node `name` in directory `parentId` (ENOENT if there is none). */
  private loggedChild(parentId: number, name: string): TreeNode {
    this.famfs.refresh();
    const p = this.famfs.tree.byId.get(this.canon(parentId));
    const c = p?.kind === 'dir' && !p.removed ? p.children.get(name) : undefined;
    if (!c) throw new FamfsError(`${name}: no such file or directory`, 'ENOENT');
    return c;
  }

  private renameCall(call: RpcCall, parentId: number, name: string, newParentId: number, newName: string, noReplace: boolean): null | Promise<null> {
    const n = this.newChild(parentId, name);
    const logged = n ? undefined : this.loggedChild(parentId, name);
    const over = (): TreeNode | undefined => {
      const p = this.famfs.tree.byId.get(this.canon(newParentId));
      return p?.kind === 'dir' ? p.children.get(newName) : undefined;
    };
    // Only new nodes involved: the table alone changes (rsync's temporary files), no lock.
    if (n && !over()) {
      if (!call.claim()) return null;
      this.renameNew(n, name, newParentId, newName, noReplace);
      return null;
    }
    return this.withLock(call, () => {
      const target = over();
      if (n) this.publishOver(n, name, newParentId, newName, target!, noReplace);
      else this.renameLogged(logged!, newParentId, newName, target, noReplace);
      return null;
    });
  }

  private renameNew(n: NewNode, name: string, newParentId: number, newName: string, noReplace: boolean): void {
    if (n.kind === 'dir' && this.list(n.id).length) throw new FamfsError(`${name}: only empty new directories can be renamed`, 'EPERM');
    const parent = this.dir(newParentId);
    const target = this.newChild(parent.id, newName);
    if (target && target !== n) {
      if (noReplace) throw new FamfsError(newName, 'EEXIST');
      if (target.kind === 'dir' || n.kind === 'dir') throw new FamfsError(newName, 'EEXIST');
      if (target.opens > 0) target.unlinked = true;
      else this.drop(target);
    }
    n.path = this.childPath(parent, newName);
    this.moveNode(n, parent.id, newName);
    if (n.kind === 'dir' && n.slot !== undefined) this.slots?.setDirPath(n.slot, Buffer.byteLength(n.path));
  }

  /**
   * `mv tmpfile model` on the mount: a new node over a logged one is committed now, in one
   * commit with the DELETE of the node it replaces (at its size so far, if still open).
   */
  private publishOver(n: NewNode, name: string, newParentId: number, newName: string, target: TreeNode, noReplace: boolean): void {
    requireFeature(this.famfs, 'delete', target.path);
    if (noReplace) throw new FamfsError(`${newName}: exists`, 'EEXIST');
    checkReplace(target, n.kind === 'dir', newName, this.list(target.id).length);
    if (n.kind === 'dir' && this.list(n.id).length) throw new FamfsError(`${name}: only empty new directories can be renamed`, 'EPERM');
    // The target's directory is logged (it holds a logged node): nothing above n needs logging first.
    const parent = this.dir(newParentId);
    n.path = this.childPath(parent, newName);
    this.moveNode(n, parent.id, newName);
    if (n.opens > 0) this.opts.log(`${n.path}: renamed over a logged file while open; logged at its current size (${this.sizeOf(n)} bytes)`);
    if (!this.commitNode(n, target)) throw new FamfsError(`${n.path}: not committed`, n.failed ?? 'EIO');
  }

  private renameLogged(node: TreeNode, newParentId: number, newName: string, target: TreeNode | undefined, noReplace: boolean): void {
    requireFeature(this.famfs, 'rename', node.path);
    // A new directory as the destination is logged first (with its new ancestors).
    const np = this.nodes.get(this.canon(newParentId));
    if (np) {
      if (np.id === node.id || this.below(np, node.id)) throw new FamfsError(`${node.name}: cannot move a directory into itself`, 'EINVAL');
      this.commitChain(np);
    }
    const parent = this.famfs.tree.byId.get(this.canon(newParentId));
    if (!parent || parent.kind !== 'dir' || parent.removed) throw new FamfsError(`${newName}: no such directory`, 'ENOENT');
    if (Tree.within(parent, node)) throw new FamfsError(`${node.name}: cannot move a directory into itself`, 'EINVAL');
    const to = this.childPath(parent, newName);
    const newOver = this.newChild(parent.id, newName);
    if (target === node || to === node.path) return;
    if (target || newOver) {
      if (noReplace) throw new FamfsError(`${newName}: exists`, 'EEXIST');
    }
    if (target) {
      requireFeature(this.famfs, 'delete', target.path);
      checkReplace(target, node.kind === 'dir', newName, this.list(target.id).length);
    }
    if (newOver) {
      if (newOver.kind === 'dir' || node.kind === 'dir') throw new FamfsError(newName, 'EEXIST');
      if (newOver.opens > 0) newOver.unlinked = true;
      else this.drop(newOver);
    }
    this.logNow([{ type: 'rename', from: node.path, to, fileId: node.entryIndex, kind: node.kind, ...(target ? { replacedId: target.entryIndex } : {}) }]);
    if (node.path !== to) throw new FamfsError(`${to}: the RENAME entry was written but replay refused it`, 'EIO');
  }
}

/** unlink/rmdir of a logged node: the feature, the kind, and (rmdir) emptiness, new children included. */
function checkUnlink(fs: Famfs, node: TreeNode, name: string, dir: boolean, newChildren: number): void {
  if (!hasFeature(fs.features, DELETE)) throw new FamfsError(`${name}: famfs cannot remove logged files or directories (this file system was made without --features delete)`, 'EPERM');
  if (dir && node.kind !== 'dir') throw new FamfsError(name, 'ENOTDIR');
  if (!dir && node.kind === 'dir') throw new FamfsError(name, 'EISDIR');
  if (node.kind === 'dir' && (node.children.size || newChildren)) throw new FamfsError(name, 'ENOTEMPTY');
}

/** May a node (a directory or not) replace `target`? POSIX rename's rules. */
function checkReplace(target: TreeNode, isDir: boolean, name: string, newChildren: number): void {
  if (target.kind === 'dir' && !isDir) throw new FamfsError(name, 'EISDIR');
  if (target.kind !== 'dir' && isDir) throw new FamfsError(name, 'ENOTDIR');
  if (target.kind === 'dir' && (target.children.size || newChildren)) throw new FamfsError(name, 'ENOTEMPTY');
}
