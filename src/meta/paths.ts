/** Rules for the relative paths stored in log entries (stricter than upstream, which forgets `..`). */
import { EXT_NAME_MAX, EXT_PATH_MAX, MAX_RELPATH_BYTES } from '../format/constants.js';

/**
 * Why a relpath is unacceptable, or undefined when it is fine. `long`: the file system has
 * the long-names extension (names ≤ 255 bytes, paths ≤ 4,095 bytes) instead of upstream's 79 bytes.
 */
export function relpathProblem(path: string, long = false): string | undefined {
  if (path.length === 0) return 'empty path';
  if (path.startsWith('/')) return 'absolute path';
  const max = long ? EXT_PATH_MAX : MAX_RELPATH_BYTES;
  if (Buffer.byteLength(path, 'utf8') > max) return `path longer than ${max} bytes${long ? '' : ' (famfs mkfs --features long-names lifts this)'}`;
  if (path.includes('\0')) return 'NUL in path';
  // Component by component without split(): replay checks every entry's path.
  for (let start = 0; ;) {
    const slash = path.indexOf('/', start);
    const end = slash < 0 ? path.length : slash;
    if (end === start) return 'empty path component';
    if (path.charCodeAt(start) === 0x2e && (end - start === 1 || (end - start === 2 && path.charCodeAt(start + 1) === 0x2e))) return `"${path.slice(start, end)}" path component`;
    if (long && Buffer.byteLength(path.slice(start, end), 'utf8') > EXT_NAME_MAX) return `name longer than ${EXT_NAME_MAX} bytes`;
    if (slash < 0) return undefined;
    start = slash + 1;
  }
}

/** The root name under which every mount shows the meta files; no entry may use it. */
export const META_NAME = '.meta';

/** Why a relpath names the reserved root `.meta` (or something below it), or undefined. */
export function reservedProblem(path: string): string | undefined {
  // No split(): replay checks every entry's path.
  const reserved = path.startsWith(META_NAME) && (path.length === META_NAME.length || path.charCodeAt(META_NAME.length) === 0x2f);
  return reserved ? `"${META_NAME}" at the root is reserved for the famfs meta files` : undefined;
}

/**
 * Normalise a user-supplied path (relative to the file system root; a leading
 * '/' and '.' components are accepted and dropped). Throws on '..' or bad length.
 */
export function normalizeRelpath(input: string, long = false): string {
  const parts = input.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw new PathError(`${input}: ".." is not allowed in famfs paths`);
  const p = parts.join('/');
  if (p === '') return '';
  const problem = relpathProblem(p, long);
  if (problem) throw new PathError(`${input}: ${problem}`, problem.includes('longer than') ? 'ENAMETOOLONG' : 'EINVAL');
  return p;
}

export class PathError extends Error {
  constructor(message: string, readonly code: 'EINVAL' | 'ENAMETOOLONG' = 'EINVAL') {
    super(message);
  }
}

export function dirname(relpath: string): string {
  const i = relpath.lastIndexOf('/');
  return i < 0 ? '' : relpath.slice(0, i);
}

export function basename(relpath: string): string {
  return relpath.slice(relpath.lastIndexOf('/') + 1);
}

/** Kinds of host nodes a copy meets. */
export type HostKind = 'file' | 'dir' | 'symlink' | 'block device' | 'character device' | 'fifo' | 'socket';

/** Kinds famfs stores in every file system; symbolic links need the symlinks extension. */
const STORED_KINDS: ReadonlySet<HostKind> = new Set<HostKind>(['file', 'dir']);

/** What the file system at hand can hold beyond upstream's format (its extensions). */
export interface FormatCaps {
  /** long-names: names ≤ 255 bytes, paths ≤ 4,095 bytes. */
  longNames?: boolean;
  /** symlinks: symbolic links are entries. */
  symlinks?: boolean;
}

/**
 * Can famfs hold a node of `kind` at `relpath` (a symlink pointing to `target`)? The one
 * place copy planning asks (so new node kinds and longer paths only change this): `skip`
 * names a kind this file system has no entry for, `problem` says why the path (or link
 * target) cannot be stored; neither means yes.
 */
export function representable(relpath: string, kind: HostKind, caps: FormatCaps = {}, target?: string): { skip?: HostKind; problem?: string } {
  if (!STORED_KINDS.has(kind) && !(kind === 'symlink' && caps.symlinks)) return { skip: kind };
  const problem = relpathProblem(relpath, !!caps.longNames) ?? reservedProblem(relpath);
  if (problem) return { problem };
  if (kind === 'symlink' && target !== undefined) {
    const tlen = Buffer.byteLength(target, 'utf8');
    if (tlen === 0 || tlen > EXT_PATH_MAX || target.includes('\0')) return { problem: `symbolic link target of ${tlen} bytes (1 to ${EXT_PATH_MAX}, no NUL)` };
  }
  return {};
}
