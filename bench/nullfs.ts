/**
 * The cheapest possible FUSE file system, to measure the FUSE layer and its
 * transport alone (bench/uring.ts): /data is a 1 GiB file opened with
 * FOPEN_DIRECT_IO whose READs return views of one static 1 MiB buffer.
 * A handler module for FuseServer (it exports createHandler).
 */
import { Errno, FOPEN_DIRECT_IO, FUSE_ROOT_ID, S_IFDIR, S_IFREG } from '../src/fuse/protocol.js';
import { FuseError, type FuseHandler } from '../src/fuse/handler.js';

export const NULLFS_SIZE = 1024 * 1024 * 1024;
const DATA_ID = 2;

export function createHandler(): FuseHandler {
  const block = Buffer.alloc(1024 * 1024, 0x5a);
  const attr = (id: number) =>
    id === FUSE_ROOT_ID ? { ino: id, mode: S_IFDIR | 0o755, nlink: 2 } : { ino: id, mode: S_IFREG | 0o444, size: NULLFS_SIZE };
  return {
    initWishes: () => ({ entryTimeout: 3600, attrTimeout: 3600 }),
    lookup: (_r, parent, name) =>
      parent === FUSE_ROOT_ID && name === 'data' ? { nodeid: DATA_ID, attr: attr(DATA_ID) } : new FuseError(Errno.ENOENT),
    getattr: (_r, id) => (id === FUSE_ROOT_ID || id === DATA_ID ? { attr: attr(id) } : new FuseError(Errno.ENOENT)),
    open: () => ({ fh: 0, openFlags: FOPEN_DIRECT_IO }),
    read: (_r, _id, a) => {
      const n = Math.max(0, Math.min(a.size, NULLFS_SIZE - a.offset, block.length));
      return block.subarray(0, n);
    },
  };
}
