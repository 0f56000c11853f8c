/** The one error type the CLI turns into a single stderr line and an exit status. */
export class FamfsError extends Error {
  constructor(message: string, readonly code: string = 'EINVAL', readonly exitCode = 1) {
    super(message);
  }
}

/** Wrap lower-layer errors (device, allocation, log, path) into FamfsError, keeping their message and code. */
export function asFamfsError(e: unknown): FamfsError {
  if (e instanceof FamfsError) return e;
  if (e instanceof Error) return new FamfsError(e.message, (e as { code?: string }).code ?? 'EIO');
  return new FamfsError(String(e), 'EIO');
}

/**
 * The codes FamfsError carries: errno names, stable across versions, so callers can
 * branch on `err.code` rather than on message text (docs/api.md says when each occurs).
 * Errors from the operating system keep their own errno code (e.g. EAGAIN) when wrapped.
 */
export const FAMFS_ERROR_CODES = [
  'ENOENT', 'EEXIST', 'EISDIR', 'ENOTDIR', 'EINVAL', 'EPERM', 'EACCES', 'EROFS', 'EFBIG',
  'ENOSPC', 'EBUSY', 'ENXIO', 'ENODEV', 'EIO', 'ERANGE', 'EOPNOTSUPP', 'ENOSYS', 'ENOTEMPTY',
  'ESTALE', 'EBADF',
] as const;
export type FamfsErrorCode = (typeof FAMFS_ERROR_CODES)[number];

/** True for a FamfsError (with `code`, when given). */
export function isFamfsError(e: unknown, code?: FamfsErrorCode): e is FamfsError {
  return e instanceof FamfsError && (code === undefined || e.code === code);
}
