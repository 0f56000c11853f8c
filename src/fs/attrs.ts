/**
 * What STAT and STATFS report: a node's attributes (famfs keeps no time stamps, so every
 * time is the mount's) and the file system's space and slot counts.
 */
import type { Famfs, Role } from '../api/famfs.js';
import type { FileNode } from '../meta/tree.js';
import { ROOT_ID } from '../meta/tree.js';
import type { FuseAttr, StatfsReply } from '../fuse/types.js';
import type { AnyNode, Served } from './newnodes.js';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/** `ino`: the node id the kernel asked with (a committed new node keeps its inode number on a mount). */
export function nodeAttr(n: AnyNode, ino: number, mountTimeMs: number): FuseAttr {
  const t = mountTimeMs;
  if ('kind' in n && n.kind === 'dir') {
    const extra = n.id === ROOT_ID ? 1 : 0; // .meta
    return { ino, mode: S_IFDIR | n.mode, size: 4096, blocks: 8, nlink: 2 + n.subdirs + extra, uid: n.uid, gid: n.gid, atimeMs: t, mtimeMs: t, ctimeMs: t, blksize: 4096 };
  }
  if ('kind' in n && n.kind === 'symlink') {
    return { ino: n.id, mode: S_IFLNK | 0o777, size: Buffer.byteLength(n.target), blocks: 0, nlink: 1, uid: n.uid, gid: n.gid, atimeMs: t, mtimeMs: t, ctimeMs: t, blksize: 4096 };
  }
  const f = n as FileNode | Served;
  // A removed file (still open somewhere) has no name left: nlink 0 lets the kernel evict its
  // inode, and a famfs kernel its cached map, after the last close and munmap.
  return { ino, mode: S_IFREG | f.mode, size: f.size, nlink: 'removed' in f && f.removed ? 0 : 1, uid: f.uid, gid: f.gid, atimeMs: t, mtimeMs: t, ctimeMs: t, blksize: 1 << 20 };
}

/** Every device counts (a multi-device famfs is one pool of space); only the master may allocate. */
export function statfsReply(famfs: Famfs, role: Role): StatfsReply {
  const use = famfs.usage();
  const capacity = use.reduce((n, d) => n + d.capacity, 0);
  const free = use.reduce((n, d) => n + d.free, 0);
  const h = famfs.log.readHeader();
  const bsize = 4096;
  return {
    bsize, frsize: bsize, namelen: famfs.longNames ? 255 : 79,
    blocks: Math.floor(capacity / bsize),
    bfree: Math.floor(free / bsize),
    bavail: role === 'master' ? Math.floor(free / bsize) : 0,
    files: h.lastIndex + 1,
    ffree: h.lastIndex + 1 - h.nextIndex,
  };
}
