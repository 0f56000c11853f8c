/**
 * Delete and rename as the master (features `delete`/`rename`, issue 14): the checks that
 * refuse bad input before anything is logged, and the DELETE/RENAME records they log.
 * The space of a removed file is a pending free until a ReleaseOracle lets it go.
 */
import { DELETE, hasFeature, RENAME } from '../format/features.js';
import { entrySlots, type NewLogEntry } from '../format/logentry.js';
import type { RemovedKind } from '../format/removal.js';
import { basename, dirname, reservedProblem } from '../meta/paths.js';
import { Tree, type DirNode, type TreeNode } from '../meta/tree.js';
import { FamfsError, asFamfsError } from './errors.js';
import type { Famfs } from './famfs.js';

export interface RemoveOptions {
  /** Remove a directory and everything below it (else a directory must be empty and `dir` set, or it is EISDIR). */
  recursive?: boolean;
  /** rmdir: the node must be a directory (ENOTDIR otherwise), and empty. */
  dir?: boolean;
}

export interface RenameOptions {
  /** RENAME_NOREPLACE: an existing `dst` is EEXIST instead of being replaced. */
  noReplace?: boolean;
}

export function requireFeature(fs: Famfs, what: 'delete' | 'rename', path: string): void {
  const bit = what === 'delete' ? DELETE : RENAME;
  if (!hasFeature(fs.features, bit)) throw new FamfsError(`${path}: this famfs cannot ${what} (a file system made with famfs mkfs --features delete can)`, 'EPERM');
}

/** The entry that removes `node`. */
export function removeEntry(node: TreeNode): NewLogEntry {
  return { type: 'remove', path: node.path, fileId: node.entryIndex, kind: node.kind as RemovedKind };
}

function kindName(n: TreeNode): string {
  return n.kind === 'dir' ? 'a directory' : n.kind === 'file' ? 'a file' : 'a symbolic link';
}

/** The logged node at a user path, checked to be something that may be removed or moved. */
function victim(fs: Famfs, path: string): TreeNode {
  const rel = fs.relpath(path);
  if (rel === '') throw new FamfsError(`${path}: the root directory cannot be removed or moved`, 'EBUSY');
  const reserved = reservedProblem(rel);
  if (reserved) throw new FamfsError(`${path}: ${reserved}`, 'EINVAL');
  const node = fs.tree.lookup(rel);
  if (!node) throw new FamfsError(`${path}: no such file or directory in famfs`, 'ENOENT');
  return node;
}

/** Children before their directory, so every DELETE finds its directory empty. */
function postOrder(node: TreeNode, out: TreeNode[] = []): TreeNode[] {
  if (node.kind === 'dir') for (const c of node.children.values()) postOrder(c, out);
  out.push(node);
  return out;
}

/** The log must hold every record of an operation, or nothing is logged (one clear ENOSPC). */
function checkRoom(fs: Famfs, entries: readonly NewLogEntry[]): void {
  const need = entries.reduce((n, e) => n + entrySlots(e), 0);
  const free = fs.log.freeSlots();
  if (need > free) throw new FamfsError(`the famfs log is full: this needs ${need} entries and ${free} are free (famfs compact reclaims the entries of deleted files)`, 'ENOSPC');
}

/** The nodes removing `path` takes (post-order), after every check; nothing is logged. */
export function planRemove(fs: Famfs, path: string, opts: RemoveOptions = {}): TreeNode[] {
  requireFeature(fs, 'delete', path);
  const node = victim(fs, path);
  if (opts.dir && node.kind !== 'dir') throw new FamfsError(`${path}: not a directory`, 'ENOTDIR');
  if (node.kind === 'dir' && !opts.recursive && !opts.dir) throw new FamfsError(`${path}: is a directory (use -r to remove it and everything below it)`, 'EISDIR');
  if (node.kind === 'dir' && !opts.recursive && node.children.size) throw new FamfsError(`${path}: directory not empty`, 'ENOTEMPTY');
  return postOrder(node);
}

/**
 * Remove files, symlinks or directories (caller: the writer, lock held, tree caught up).
 * Every path is checked, and the log's room for all of them, before anything is logged: a bad
 * path, or a tree too big for the log's free space, changes nothing. All the DELETE records
 * are one commit (LogView.commitAll): other hosts, and a crash or kill at any moment, see the
 * whole removal or none of it. Returns the removed nodes.
 */
export function removePaths(fs: Famfs, paths: readonly string[], opts: RemoveOptions = {}): TreeNode[] {
  const seen = new Set<number>();
  const nodes: TreeNode[] = [];
  for (const p of paths) for (const n of planRemove(fs, p, opts)) if (!seen.has(n.id)) nodes.push(n), seen.add(n.id);
  // A path below another one given: its directory's DELETE must come after it (post-order overall).
  nodes.sort((a, b) => depth(b) - depth(a));
  const entries = nodes.map(removeEntry);
  checkRoom(fs, entries);
  try {
    fs.log.commitAll(entries);
  } catch (e) {
    throw asFamfsError(e);
  } finally {
    fs.refresh();
  }
  const refused = nodes.find((n) => !n.removed);
  if (refused) throw new FamfsError(`${refused.path}: the DELETE entry was written but replay refused it`, 'EIO');
  return nodes;
}

function depth(n: TreeNode): number {
  let d = 0;
  for (let p = n.parent; p; p = p.parent) d++;
  return d;
}

/** What a rename of `node` to `dst` does to the node there, after every POSIX check. */
function renameTarget(fs: Famfs, node: TreeNode, src: string, dst: string, opts: RenameOptions): { parent: DirNode; to: string; replaced?: TreeNode } {
  const to = fs.relpath(dst);
  if (to === '') throw new FamfsError(`${dst}: the root directory cannot be replaced`, 'EBUSY');
  const reserved = reservedProblem(to);
  if (reserved) throw new FamfsError(`${dst}: ${reserved}`, 'EINVAL');
  const parent = fs.tree.lookup(dirname(to));
  if (!parent) throw new FamfsError(`${dst}: parent directory does not exist`, 'ENOENT');
  if (parent.kind !== 'dir') throw new FamfsError(`${dst}: parent is not a directory`, 'ENOTDIR');
  if (Tree.within(parent, node)) throw new FamfsError(`${src}: cannot move a directory into itself (${dst})`, 'EINVAL');
  const existing = parent.children.get(basename(to));
  if (!existing || existing === node) return { parent, to };
  if (opts.noReplace) throw new FamfsError(`${dst}: already exists`, 'EEXIST');
  if (existing.kind === 'dir' && node.kind !== 'dir') throw new FamfsError(`${dst}: is a directory; ${src} is ${kindName(node)}`, 'EISDIR');
  if (existing.kind !== 'dir' && node.kind === 'dir') throw new FamfsError(`${dst}: is not a directory; ${src} is a directory`, 'ENOTDIR');
  if (existing.kind === 'dir' && existing.children.size) throw new FamfsError(`${dst}: directory not empty`, 'ENOTEMPTY');
  requireFeature(fs, 'delete', dst);
  return { parent, to, replaced: existing };
}

/**
 * Rename `src` to exactly `dst` (POSIX rename: a file or symlink there is replaced, an empty
 * directory by a directory). The node keeps its id. Renaming a node onto itself changes nothing.
 */
export function renamePath(fs: Famfs, src: string, dst: string, opts: RenameOptions = {}): TreeNode {
  requireFeature(fs, 'rename', src);
  const node = victim(fs, src);
  const { to, replaced } = renameTarget(fs, node, src, dst, opts);
  if (to === node.path) return node;
  const entry: NewLogEntry = { type: 'rename', from: node.path, to, fileId: node.entryIndex, kind: node.kind as RemovedKind, ...(replaced ? { replacedId: replaced.entryIndex } : {}) };
  checkRoom(fs, [entry]);
  try {
    fs.log.append(entry);
  } catch (e) {
    throw asFamfsError(e);
  } finally {
    fs.refresh();
  }
  if (node.path !== to || node.removed) throw new FamfsError(`${src}: the RENAME entry was written but replay refused it`, 'EIO');
  return node;
}
