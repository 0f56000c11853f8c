/**
 * A tiny read-only in-memory file system used by the mount tests (a handler
 * module for FuseServer: it exports createHandler).
 *
 *   /hello.txt     "Hello, world!\n" with xattr user.greeting = "hi"
 *   /big.bin       BIG_SIZE bytes of a position-dependent pattern (page cache reads)
 *   /direct.bin    the same bytes, opened with FOPEN_DIRECT_IO
 *   /boom          reading it throws a plain Error (→ EIO)
 *   /sub/          directory with nested.txt
 *   /scratch.bin   writable (WRITE, truncate via SETATTR), stored in a SharedArrayBuffer
 *                  so every worker sees the same bytes
 *
 * mkdir is not implemented (→ ENOSYS); rmdir returns EPERM.
 * Statistics go to a SharedArrayBuffer passed in the init data, so the test
 * (main thread) can see what every worker served.
 */
import { threadId } from 'node:worker_threads';
import {
  Errno,
  FOPEN_DIRECT_IO,
  FOPEN_KEEP_CACHE,
  FATTR_SIZE,
  FUSE_ROOT_ID,
  S_IFDIR,
  S_IFREG,
  type DirEntry,
  type DirEntryPlus,
  type EntryReply,
  type FuseAttr,
  type FuseConnection,
  type ReadArgs,
  type SetattrArgs,
  type WriteArgs,
} from '../../src/fuse/codec.js';
import { FuseError, type FuseHandler } from '../../src/fuse/handler.js';

export const BIG_SIZE = 3 * 1024 * 1024 + 12345;

/** Int32 slots in the stats SharedArrayBuffer. */
export const Stat = {
  READS_CACHED: 0,
  MAX_READ_CACHED: 1,
  READS_DIRECT: 2,
  MAX_READ_DIRECT: 3,
  LOOKUPS: 4,
  FORGETS: 5,
  INITS: 6, // handler.init calls (one per worker)
  KFLAGS_LO: 7,
  KFLAGS_HI: 8,
  FLAGS_LO: 9,
  FLAGS_HI: 10,
  MINOR: 11,
  MAX_WRITE: 12,
  READDIRPLUS: 13,
  READDIR: 14,
  MIN_READ_DIRECT: 15,
  SCRATCH_SIZE: 16,
  WRITES: 17,
  MAX_WRITE_SEEN: 18,
  /** Requests per worker thread, 16 slots from here (indexed by threadId % 16). */
  PER_THREAD: 32,
} as const;
export const STATS_INTS = 48;
export const SCRATCH_MAX = 4 * 1024 * 1024;

export interface HelloData {
  stats: SharedArrayBuffer;
  /** Backing store of /scratch.bin, shared by all workers (SCRATCH_MAX bytes). */
  scratch?: SharedArrayBuffer;
}

/** The pattern byte at file position i (also used by the test to verify). */
export function patternByte(i: number): number {
  return (i * 131 + (i >>> 10) * 7 + 13) & 0xff;
}

export function makePattern(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = patternByte(i);
  return b;
}

interface Node {
  ino: number;
  name: string;
  parent: number;
  mode: number;
  data?: Buffer;
  children?: number[];
  direct?: boolean;
  xattrs?: Map<string, Buffer>;
}

const T0 = Date.UTC(2024, 0, 2, 3, 4, 5) + 0.678;

class HelloFs implements FuseHandler {
  private readonly nodes = new Map<number, Node>();
  private readonly stats: Int32Array;
  private readonly scratch: Buffer;

  constructor(data: HelloData) {
    this.stats = new Int32Array(data.stats);
    this.scratch = Buffer.from(data.scratch ?? new SharedArrayBuffer(SCRATCH_MAX));
    const big = makePattern(BIG_SIZE);
    const add = (n: Node) => {
      this.nodes.set(n.ino, n);
      if (n.ino !== FUSE_ROOT_ID) this.nodes.get(n.parent)!.children!.push(n.ino);
    };
    add({ ino: FUSE_ROOT_ID, name: '', parent: FUSE_ROOT_ID, mode: S_IFDIR | 0o755, children: [] });
    add({
      ino: 2,
      name: 'hello.txt',
      parent: 1,
      mode: S_IFREG | 0o644,
      data: Buffer.from('Hello, world!\n'),
      xattrs: new Map([['user.greeting', Buffer.from('hi')]]),
    });
    add({ ino: 3, name: 'big.bin', parent: 1, mode: S_IFREG | 0o444, data: big });
    add({ ino: 4, name: 'direct.bin', parent: 1, mode: S_IFREG | 0o444, data: big, direct: true });
    add({ ino: 5, name: 'boom', parent: 1, mode: S_IFREG | 0o444, data: Buffer.alloc(100) });
    add({ ino: 6, name: 'sub', parent: 1, mode: S_IFDIR | 0o755, children: [] });
    add({ ino: 7, name: 'nested.txt', parent: 6, mode: S_IFREG | 0o600, data: Buffer.from('nested\n') });
    add({ ino: 8, name: 'scratch.bin', parent: 1, mode: S_IFREG | 0o644 });
  }

  /** Current bytes of a file (scratch.bin lives in shared memory). */
  private dataOf(n: Node): Buffer {
    if (n.ino === 8) return this.scratch.subarray(0, Atomics.load(this.stats, Stat.SCRATCH_SIZE));
    return n.data ?? Buffer.alloc(0);
  }

  private count(): void {
    Atomics.add(this.stats, Stat.PER_THREAD + (threadId % 16), 1);
  }

  private attr(n: Node): FuseAttr {
    return {
      ino: n.ino,
      mode: n.mode,
      size: n.children ? 4096 : this.dataOf(n).length,
      nlink: n.children ? 2 : 1,
      uid: 0,
      gid: 0,
      atimeMs: T0,
      mtimeMs: T0,
      ctimeMs: T0,
      blksize: 4096,
    };
  }

  private entry(n: Node): EntryReply {
    return { nodeid: n.ino, attr: this.attr(n), entryTimeout: 1, attrTimeout: 1 };
  }

  private node(ino: number): Node {
    const n = this.nodes.get(ino);
    if (!n) throw new FuseError(Errno.ENOENT);
    return n;
  }

  init(conn: FuseConnection): void {
    const s = this.stats;
    Atomics.add(s, Stat.INITS, 1);
    s[Stat.KFLAGS_LO] = Number(conn.kernelFlags & 0xffffffffn) | 0;
    s[Stat.KFLAGS_HI] = Number(conn.kernelFlags >> 32n) | 0;
    s[Stat.FLAGS_LO] = Number(conn.flags & 0xffffffffn) | 0;
    s[Stat.FLAGS_HI] = Number(conn.flags >> 32n) | 0;
    s[Stat.MINOR] = conn.minor;
    s[Stat.MAX_WRITE] = conn.maxWrite;
  }

  lookup(_req: unknown, parent: number, name: string): EntryReply | FuseError {
    this.count();
    const p = this.node(parent);
    for (const c of p.children ?? []) {
      const n = this.nodes.get(c)!;
      if (n.name === name) {
        Atomics.add(this.stats, Stat.LOOKUPS, 1);
        return this.entry(n);
      }
    }
    return new FuseError(Errno.ENOENT);
  }

  forget(_req: unknown, _nodeid: number, nlookup: number): void {
    Atomics.add(this.stats, Stat.FORGETS, nlookup);
  }

  getattr(_req: unknown, nodeid: number) {
    this.count();
    return { attr: this.attr(this.node(nodeid)), attrTimeout: 1 };
  }

  open(_req: unknown, nodeid: number) {
    this.count();
    const n = this.node(nodeid);
    if (n.children) return new FuseError(Errno.EISDIR);
    if (nodeid === 8) return { fh: nodeid };
    return { fh: nodeid, openFlags: n.direct ? FOPEN_DIRECT_IO : FOPEN_KEEP_CACHE };
  }

  read(_req: unknown, nodeid: number, a: ReadArgs): Buffer[] {
    this.count();
    const n = this.node(nodeid);
    if (n.name === 'boom') throw new Error('boom: deliberate handler failure');
    const s = this.stats;
    if (n.direct) {
      Atomics.add(s, Stat.READS_DIRECT, 1);
      if (a.size > s[Stat.MAX_READ_DIRECT]!) Atomics.store(s, Stat.MAX_READ_DIRECT, a.size);
      const min = s[Stat.MIN_READ_DIRECT]!;
      if (min === 0 || a.size < min) Atomics.store(s, Stat.MIN_READ_DIRECT, a.size);
    } else {
      Atomics.add(s, Stat.READS_CACHED, 1);
      if (a.size > s[Stat.MAX_READ_CACHED]!) Atomics.store(s, Stat.MAX_READ_CACHED, a.size);
    }
    const d = this.dataOf(n);
    const start = Math.min(a.offset, d.length);
    const end = Math.min(a.offset + a.size, d.length);
    // Two views instead of one, to exercise the writev path (still no copies).
    const mid = start + ((end - start) >> 1);
    return [d.subarray(start, mid), d.subarray(mid, end)];
  }

  write(_req: unknown, nodeid: number, a: WriteArgs, data: Buffer): number | FuseError {
    this.count();
    if (nodeid !== 8) return new FuseError(Errno.EACCES);
    if (a.offset + data.length > SCRATCH_MAX) return new FuseError(Errno.EFBIG);
    Atomics.add(this.stats, Stat.WRITES, 1);
    if (data.length > this.stats[Stat.MAX_WRITE_SEEN]!) Atomics.store(this.stats, Stat.MAX_WRITE_SEEN, data.length);
    data.copy(this.scratch, a.offset);
    const end = a.offset + data.length;
    if (end > Atomics.load(this.stats, Stat.SCRATCH_SIZE)) Atomics.store(this.stats, Stat.SCRATCH_SIZE, end);
    return data.length;
  }

  setattr(_req: unknown, nodeid: number, set: SetattrArgs) {
    this.count();
    const n = this.node(nodeid);
    if (set.valid & FATTR_SIZE) {
      if (nodeid !== 8) return new FuseError(Errno.EACCES);
      if (set.size > SCRATCH_MAX) return new FuseError(Errno.EFBIG);
      const old = Atomics.load(this.stats, Stat.SCRATCH_SIZE);
      if (set.size > old) this.scratch.fill(0, old, set.size);
      Atomics.store(this.stats, Stat.SCRATCH_SIZE, set.size);
    }
    return { attr: this.attr(n), attrTimeout: 1 };
  }

  statfs() {
    this.count();
    return { blocks: 1000, bfree: 100, bavail: 50, files: 10, ffree: 3, bsize: 4096, namelen: 200 };
  }

  getxattr(_req: unknown, nodeid: number, name: string): Buffer | FuseError {
    this.count();
    return this.node(nodeid).xattrs?.get(name) ?? new FuseError(Errno.ENODATA);
  }

  listxattr(_req: unknown, nodeid: number): string[] {
    this.count();
    return [...(this.node(nodeid).xattrs?.keys() ?? [])];
  }

  rmdir(): FuseError {
    this.count();
    return new FuseError(Errno.EPERM);
  }

  opendir(_req: unknown, nodeid: number) {
    this.count();
    if (!this.node(nodeid).children) return new FuseError(Errno.ENOTDIR);
    return { fh: 0 };
  }

  private listing(nodeid: number): Node[] {
    const n = this.node(nodeid);
    const self = { ...n, name: '.' };
    const parent = { ...this.nodes.get(n.parent)!, name: '..' };
    return [self, parent, ...n.children!.map((c) => this.nodes.get(c)!)];
  }

  readdir(_req: unknown, nodeid: number, a: ReadArgs): DirEntry[] {
    this.count();
    Atomics.add(this.stats, Stat.READDIR, 1);
    return this.listing(nodeid)
      .slice(a.offset)
      .map((n, i) => ({ name: n.name, ino: n.ino, mode: n.mode, off: a.offset + i + 1 }));
  }

  readdirplus(_req: unknown, nodeid: number, a: ReadArgs): DirEntryPlus[] {
    this.count();
    Atomics.add(this.stats, Stat.READDIRPLUS, 1);
    return this.listing(nodeid)
      .slice(a.offset)
      .map((n, i) => ({ name: n.name, off: a.offset + i + 1, entry: this.entry(n) }));
  }
}

export function createHandler(data: unknown): FuseHandler {
  return new HelloFs(data as HelloData);
}
