/**
 * A "null master": the requests `cp -r` of new small files sends into a famfs master
 * mount (LOOKUP → ENOENT, MKDIR, CREATE, GETATTR, WRITE, FLUSH, RELEASE, SETATTR),
 * answered with no work at all, through our FUSE layer (src/fuse). What `cp -r`
 * achieves into it is the best any daemon built on this transport can do
 * (bench/ceiling.ts). A handler module for FuseServer (it exports createHandler).
 *
 * Same INIT wishes as famfs's master (direct I/O, long timeouts; the mount uses
 * default_permissions). Nodes are numbered from one shared counter and their sizes
 * live in a SharedArrayBuffer, because each worker builds its own handler.
 * Nothing is remembered by name: the kernel's dentry cache answers names it made.
 */
import { Errno, FOPEN_DIRECT_IO, FUSE_ROOT_ID, InitFlag, S_IFDIR, S_IFREG } from '../src/fuse/protocol.js';
import { FuseError, type FuseHandler } from '../src/fuse/handler.js';
import type { FuseAttr } from '../src/fuse/types.js';

/** Nodes a null master can hand out (sizes kept per node id). */
export const NULLMASTER_NODES = 1 << 20;
const YEAR = 31_536_000;
/** Int32 [0] = next node id; then one Int32 per node: size (-1 = directory). */
export interface NullMasterData {
  shared: SharedArrayBuffer;
}

export function nullMasterData(): NullMasterData {
  const shared = new SharedArrayBuffer(4 * (NULLMASTER_NODES + 1));
  Atomics.store(new Int32Array(shared), 0, FUSE_ROOT_ID + 1);
  return { shared };
}

export function createHandler(data: NullMasterData): FuseHandler {
  const words = new Int32Array(data.shared);
  const enoent = new FuseError(Errno.ENOENT);
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const attr = (id: number): FuseAttr => {
    if (id === FUSE_ROOT_ID) return { ino: id, mode: S_IFDIR | 0o755, nlink: 2, uid, gid };
    const size = id < NULLMASTER_NODES ? Atomics.load(words, id) : 0;
    return size < 0 ? { ino: id, mode: S_IFDIR | 0o755, nlink: 2, uid, gid } : { ino: id, mode: S_IFREG | 0o644, size, uid, gid };
  };
  const fresh = (size: number): number => {
    const id = Atomics.add(words, 0, 1);
    if (id >= NULLMASTER_NODES) throw new FuseError(Errno.ENOSPC);
    Atomics.store(words, id, size);
    return id;
  };
  return {
    initWishes: () => ({
      addFlags: InitFlag.DIRECT_IO_ALLOW_MMAP | InitFlag.PARALLEL_DIROPS | InitFlag.ASYNC_READ | InitFlag.MAX_PAGES | InitFlag.BIG_WRITES,
      removeFlags: InitFlag.FLOCK_LOCKS | InitFlag.WRITEBACK_CACHE | InitFlag.POSIX_LOCKS,
      entryTimeout: YEAR,
      attrTimeout: YEAR,
    }),
    lookup: () => enoent,
    getattr: (_r, id) => ({ attr: attr(id) }),
    setattr: (_r, id) => ({ attr: attr(id) }),
    mkdir: () => {
      const id = fresh(-1);
      return { nodeid: id, attr: attr(id) };
    },
    create: () => {
      const id = fresh(0);
      return { nodeid: id, attr: attr(id), fh: 0, openFlags: FOPEN_DIRECT_IO };
    },
    open: () => ({ fh: 0, openFlags: FOPEN_DIRECT_IO }),
    write: (_r, id, a, d) => {
      const end = a.offset + d.length;
      if (id < NULLMASTER_NODES && end > Atomics.load(words, id)) Atomics.store(words, id, end);
      return d.length;
    },
    flush: () => undefined,
    release: () => undefined,
    opendir: () => ({ fh: 0 }),
    readdir: () => [],
  };
}
