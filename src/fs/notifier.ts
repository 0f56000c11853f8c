/**
 * Kernel cache invalidations sent from a thread of their own. The kernel may
 * hold such a write until a request on the same directory finishes, and that
 * request may be waiting for the main thread (a metadata call); writing from
 * the main thread could therefore deadlock. This thread only ever waits for
 * the kernel.
 */
import fs from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { encodeNotifyDelete, encodeNotifyIncEpoch, encodeNotifyInvalEntry, encodeNotifyInvalInode } from '../fuse/encode.js';

export type Notice =
  | { kind: 'entry'; parent: number; name: string }
  /** pages: drop the inode's cached pages too (a directory's cached listing, FOPEN_CACHE_DIR). */
  | { kind: 'inode'; nodeid: number; pages?: boolean }
  /** A removed file: unhash its name and clear its nlink, so the inode goes at its last close/munmap. */
  | { kind: 'delete'; parent: number; child: number; name: string }
  | { kind: 'epoch' };

/** Main-thread handle on the notifier thread. */
export class Notifier {
  private readonly worker: Worker;

  /** Settles once the thread listens (its start-up would otherwise delay the first invalidations). */
  readonly ready: Promise<void>;

  constructor(fuseFd: number) {
    // This file by name, not import.meta.url: inside the CLI bundle that is the bundle (scripts/bundle-cli.mjs).
    this.worker = new Worker(new URL('../fs/notifier.js', import.meta.url), { workerData: { fd: fuseFd } });
    this.worker.unref();
    this.ready = new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 5000);
      t.unref();
      this.worker.once('message', () => {
        clearTimeout(t);
        resolve();
      });
      this.worker.once('error', () => resolve());
    });
  }

  send(n: Notice): void {
    this.worker.postMessage(n);
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

if (!isMainThread && (workerData as { fd?: number })?.fd !== undefined) {
  const fd = (workerData as { fd: number }).fd;
  parentPort!.on('message', (n: Notice) => {
    const msg = n.kind === 'entry' ? encodeNotifyInvalEntry(n.parent, n.name)
      : n.kind === 'inode' ? encodeNotifyInvalInode(n.nodeid, n.pages ? 0 : -1, 0)
      : n.kind === 'delete' ? encodeNotifyDelete(n.parent, n.child, n.name)
      : encodeNotifyIncEpoch();
    try {
      fs.writeSync(fd, msg);
    } catch {
      // ENOENT: the kernel had nothing cached; EBADF/ENODEV: unmounted. Nothing to do either way.
    }
  });
  parentPort!.postMessage('ready');
}
