/**
 * worker_threads entry point of FuseServer: clone the connection's fd, load the
 * handler module, serve until unmount. Messages to the parent are WorkerMessage.
 * fds are process-wide, so the master fd number is valid here as is.
 */
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { FuseHandler, FuseHandlerModule } from './handler.js';
import { cloneFuseFd } from './mount.js';
import { FuseSession, type SessionEnd } from './session.js';
import { OpStatsRecorder } from './opstats.js';
import type { FuseConnection } from './types.js';
import { UringTransport, type UringShared } from './uring.js';

export interface WorkerInit {
  index: number;
  masterFd: number;
  /** file: URL (href) of the handler module. */
  handlerModule: string;
  handlerData: unknown;
  sharedInit: SharedArrayBuffer;
  debug: boolean;
  maxWrite: number;
  /** Serve over io_uring (with /dev/fuse for what stays there); absent = /dev/fuse only. */
  uring?: UringShared;
  /** Shared per-opcode statistics (createOpStats), if the server keeps them. */
  opStats?: SharedArrayBuffer;
}

export type WorkerMessage =
  | { type: 'ready'; index: number }
  | { type: 'init'; index: number; conn: FuseConnection; received: boolean }
  | { type: 'end'; index: number; reason: SessionEnd; stats: FuseSession['stats'] }
  | { type: 'error'; index: number; message: string };

const d = workerData as WorkerInit;
const post = (m: WorkerMessage) => parentPort!.postMessage(m);

let fd = -1;
let ring: UringTransport | null = null;
try {
  fd = cloneFuseFd(d.masterFd, { nonBlocking: !!d.uring });
  const log = (m: string) => writeErr(`fuse[worker ${d.index}]: ${m}\n`);
  if (d.uring) ring = new UringTransport(fd, d.uring, log);
  const mod = (await import(d.handlerModule)) as Partial<FuseHandlerModule>;
  if (typeof mod.createHandler !== 'function') {
    throw new Error(`handler module ${d.handlerModule} does not export createHandler(data)`);
  }
  const handler: FuseHandler = await mod.createHandler(d.handlerData);
  post({ type: 'ready', index: d.index });
  const session = new FuseSession(ring ?? fd, handler, {
    name: `worker ${d.index}`,
    debug: d.debug,
    maxWrite: d.maxWrite,
    sharedInit: d.sharedInit,
    onInit: (conn, received) => post({ type: 'init', index: d.index, conn, received }),
    opStats: d.opStats ? new OpStatsRecorder(d.opStats, d.index) : undefined,
  });
  const reason = session.loop();
  post({ type: 'end', index: d.index, reason, stats: session.stats });
} catch (e) {
  post({ type: 'error', index: d.index, message: (e as Error)?.stack ?? String(e) });
  process.exitCode = 1;
} finally {
  // The ring first: its entries reference the /dev/fuse file.
  ring?.close();
  if (fd >= 0) fs.closeSync(fd);
}

function writeErr(s: string): void {
  try {
    fs.writeSync(2, s);
  } catch {
    /* stderr gone */
  }
}
