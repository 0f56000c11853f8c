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
