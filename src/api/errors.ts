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
