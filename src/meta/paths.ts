/** Rules for the relative paths stored in log entries (stricter than upstream, which forgets `..`). */
import { MAX_RELPATH_BYTES } from '../format/constants.js';

/** Why a relpath is unacceptable, or undefined when it is fine. */
export function relpathProblem(path: string): string | undefined {
  if (path.length === 0) return 'empty path';
  if (path.startsWith('/')) return 'absolute path';
  if (Buffer.byteLength(path, 'utf8') > MAX_RELPATH_BYTES) return `path longer than ${MAX_RELPATH_BYTES} bytes`;
  if (path.includes('\0')) return 'NUL in path';
  // Component by component without split(): replay checks every entry's path.
  for (let start = 0; ;) {
    const slash = path.indexOf('/', start);
    const end = slash < 0 ? path.length : slash;
    if (end === start) return 'empty path component';
    if (path.charCodeAt(start) === 0x2e && (end - start === 1 || (end - start === 2 && path.charCodeAt(start + 1) === 0x2e))) return `"${path.slice(start, end)}" path component`;
    if (slash < 0) return undefined;
    start = slash + 1;
  }
}

/** The root name under which every mount shows the meta files; no entry may use it. */
export const META_NAME = '.meta';

/** Why a relpath names the reserved root `.meta` (or something below it), or undefined. */
export function reservedProblem(path: string): string | undefined {
  const first = path.split('/', 1)[0];
  return first === META_NAME ? `"${META_NAME}" at the root is reserved for the famfs meta files` : undefined;
}

/**
 * Normalise a user-supplied path (relative to the file system root; a leading
 * '/' and '.' components are accepted and dropped). Throws on '..' or bad length.
 */
export function normalizeRelpath(input: string): string {
  const parts = input.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw new PathError(`${input}: ".." is not allowed in famfs paths`);
  const p = parts.join('/');
  if (p === '') return '';
  const problem = relpathProblem(p);
  if (problem) throw new PathError(`${input}: ${problem}`);
  return p;
}

export class PathError extends Error {
  readonly code = 'EINVAL';
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

/** Kinds famfs stores today; the others are skipped by copies (not an error). */
const STORED_KINDS: ReadonlySet<HostKind> = new Set<HostKind>(['file', 'dir']);

/**
 * Can famfs hold a node of `kind` at `relpath`? The one place copy planning asks (so new
 * node kinds and longer paths only change this): `skip` names a kind famfs has no entry for,
 * `problem` says why the path cannot be stored; neither means yes.
 */
export function representable(relpath: string, kind: HostKind): { skip?: HostKind; problem?: string } {
  if (!STORED_KINDS.has(kind)) return { skip: kind };
  const problem = relpathProblem(relpath);
  return problem ? { problem } : {};
}
