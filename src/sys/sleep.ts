/** Block this thread for `ms` milliseconds: for synchronous paths that have no event loop to yield to. */
const cell = new Int32Array(new SharedArrayBuffer(4));

export function sleepSync(ms: number): void {
  Atomics.wait(cell, 0, 0, ms);
}
