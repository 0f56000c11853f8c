/**
 * A reader that stops early (`famfs ls -lR M | head -1`) closes our stdout. Coreutils then
 * end quietly; here the first EPIPE turns stdout into a sink (Node drops writes to a
 * destroyed stream) and the verb finishes with its own exit status, without a stack trace.
 */
let installed = false;

export function quietOnClosedStdout(): void {
  if (installed) return;
  installed = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') return;
    process.stderr.write(`famfs: stdout: ${e.message}\n`);
    process.exitCode = 1;
  });
}
