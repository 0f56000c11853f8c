/**
 * Child process that wedges itself the way a SIGKILLed famfs daemon can: it
 * mounts a fuse.famfs file system on argv[2] whose CREATE never answers (the
 * worker blocks, as a dead worker would), then has the famfs notifier thread
 * send INVAL_ENTRY for the root, which waits in the kernel for the root's lock
 * that the caller's CREATE holds. Prints "ready" once a CREATE has arrived and
 * the notice is sent; SIGKILL then cannot finish the process until the
 * connection is aborted.
 * Also its own handler module (createHandler), loaded by the server's workers.
 */
import { isMainThread } from 'node:worker_threads';
import { Errno, S_IFDIR, type FuseAttr } from '../../src/fuse/codec.js';
import { FuseError, type FuseHandler } from '../../src/fuse/handler.js';

const attr = (ino: number): FuseAttr => ({ ino, mode: S_IFDIR | 0o755, nlink: 2, size: 4096, blksize: 4096 });

export function createHandler(data: unknown): FuseHandler {
  const flag = new Int32Array(data as SharedArrayBuffer);
  return {
    getattr: (_r, nodeid) => (nodeid === 1 ? { attr: attr(1), attrTimeout: 1 } : new FuseError(Errno.ENOENT)),
    lookup: () => new FuseError(Errno.ENOENT),
    getxattr: () => new FuseError(Errno.ENODATA),
    create: () => {
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      Atomics.wait(flag, 1, 0); // never woken: this CREATE is never answered
      return new FuseError(Errno.EIO);
    },
  };
}

if (isMainThread && process.argv[2]) {
  const { FuseServer } = await import('../../src/fuse/server.js');
  const { Notifier } = await import('../../src/fs/notifier.js');
  const flag = new SharedArrayBuffer(8);
  const server = new FuseServer({ mountpoint: process.argv[2], handlerModule: new URL(import.meta.url), handlerData: flag, workers: 1, subtype: 'famfs', source: 'wedge-test', log: () => undefined });
  await server.start();
  process.stdout.write('mounted\n');
  const f = new Int32Array(flag);
  while (Atomics.load(f, 0) === 0) await new Promise((r) => setTimeout(r, 10));
  new Notifier(server.masterFd).send({ kind: 'entry', parent: 1, name: 'x' });
  process.stdout.write('ready\n');
  await server.closed;
}
