/**
 * A mounted famfs seen as an ordinary user sees it: every answer comes from the
 * mount itself — names from readdir, type/mode/owner/size/links/inode from
 * lstat, a file's map and log slot from the read-only xattrs the daemon serves
 * (src/fs/xattrs.ts), bytes from read(2) of the file. No device, no `.meta`
 * files: the kernel checks every step against the logged modes, so a user
 * learns exactly what they could learn with ls, stat and cat, and a file they
 * may not read (or one behind a directory they may not search) is a clear
 * EACCES.
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import type { Readable } from 'node:stream';
import { stream } from '../sys/builtin.js';
import type { FileMap } from '../format/types.js';
import { FIRST_ENTRY_ID, ROOT_ID } from '../meta/tree.js';
import { META_NAME } from '../meta/paths.js';
import { getxattr } from '../sys/libc.js';
import { FamfsError } from './errors.js';
import { findMounted, realish } from './locate.js';
import type { FamfsStat, RangeOptions } from './files.js';

/** A file's map as JSON (the FileMap of the library: extents, or an interleave). */
export const MAP_XATTR = 'user.famfs.map';
/** The log slot that created a logged node (absent on nodes not yet logged and on the meta files). */
export const INDEX_XATTR = 'user.famfs.index';
/** Nodes made through the master's mount and not yet logged have ids from here up (NEW_NODE_ID_BASE, src/fs/newtable.ts). */
const NEW_NODE_IDS = 2 ** 40;

/** One clear line for an error the mount gave about `host`. */
function mountError(host: string, e: unknown, what: string): FamfsError {
  if (e instanceof FamfsError) return e;
  const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
  const why = code === 'EACCES' || code === 'EPERM' ? `permission denied (${what})`
    : code === 'ENOENT' ? 'no such file or directory in famfs'
    : code === 'ENOTDIR' ? 'a component of the path is not a directory'
    : (e as Error).message;
  return new FamfsError(`${host}: ${why}`, code);
}

export interface StatOptions {
  /** Read the map and log slot from the node's xattrs (default true). */
  xattrs?: boolean;
}

export class MountReader {
  private constructor(readonly mountpoint: string, readonly device: string) {}

  /** The famfs mount holding `path` (any path inside it). */
  static open(path: string): MountReader {
    const m = findMounted(path);
    if (!m) throw new FamfsError(`${path}: not inside a mounted famfs`, 'EINVAL');
    return new MountReader(m.mountpoint, m.device);
  }

  /** The file-system path of a host path inside the mount. */
  relative(hostPath: string): string {
    const rel = nodePath.relative(this.mountpoint, realish(hostPath));
    if (rel.startsWith('..') || nodePath.isAbsolute(rel)) throw new FamfsError(`${hostPath}: not inside ${this.mountpoint}`, 'EINVAL');
    return rel;
  }

  /** The host path of a file-system path ('' = the mount point). */
  hostPath(rel: string): string {
    const parts = rel.split('/').filter((c) => c !== '' && c !== '.');
    if (parts.includes('..')) throw new FamfsError(`${rel}: ".." is not allowed in famfs paths`, 'EINVAL');
    // `.meta` at the root is the daemon's, not a file of the file system (as Famfs.lookup).
    if (parts[0] === META_NAME) throw new FamfsError(`${rel}: no such file or directory in famfs`, 'ENOENT');
    return nodePath.join(this.mountpoint, ...parts);
  }

  /**
   * stat of a node. `o.xattrs` false skips the map and log slot (two xattr reads per node;
   * `map` is then null and `index` derived from the inode number).
   */
  stat(rel: string, o: StatOptions = {}): FamfsStat {
    const host = this.hostPath(rel);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(host);
    } catch (e) {
      throw mountError(host, e, 'a directory on the way may not be searched by this user');
    }
    const path = nodePath.relative(this.mountpoint, host);
    const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
    const ino = Number(st.ino);
    const s: FamfsStat = {
      path, name: path === '' ? '' : nodePath.basename(path), type,
      size: type === 'dir' ? 0 : st.size,
      mode: st.mode & 0o7777, uid: st.uid, gid: st.gid,
      nlink: st.nlink - (ino === ROOT_ID ? 1 : 0), // the root counts `.meta` among its subdirectories
      ino, index: -1, map: null,
    };
    const slotOfIno = ino >= FIRST_ENTRY_ID && ino < NEW_NODE_IDS ? ino - FIRST_ENTRY_ID : -1;
    if (type === 'symlink') {
      s.target = fs.readlinkSync(host);
      s.index = slotOfIno; // user.* xattrs do not exist on symlinks
      return s;
    }
    if (o.xattrs === false) {
      s.index = slotOfIno;
      return s;
    }
    // Readable nodes carry their log slot and (files) their map; others show what stat shows.
    try {
      const index = getxattr(host, INDEX_XATTR);
      if (index !== undefined) s.index = Number(index);
      if (type === 'file') s.map = this.parseMap(host, getxattr(host, MAP_XATTR));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EACCES' && code !== 'EPERM') throw mountError(host, e, '');
      s.index = slotOfIno;
    }
    return s;
  }

  /** A file, with its map: fails (EACCES) unless this user may read it. */
  file(rel: string): FamfsStat & { map: FileMap } {
    const s = this.stat(rel);
    if (s.type === 'dir') throw new FamfsError(`${rel}: is a directory`, 'EISDIR');
    if (s.type === 'symlink') throw new FamfsError(`${rel}: is a symbolic link to ${s.target}`, 'EINVAL');
    if (!s.map) {
      // Distinguish "may not read" (the xattr was refused) from a daemon that serves no map.
      const host = this.hostPath(rel);
      try {
        fs.accessSync(host, fs.constants.R_OK);
      } catch (e) {
        throw mountError(host, e, 'this user may not read it');
      }
      throw new FamfsError(`${host}: the mount serves no map for it (an older famfs daemon?)`, 'EIO');
    }
    return s as FamfsStat & { map: FileMap };
  }

  /** A directory's entries in name order (a file or symlink: itself). */
  readdir(rel = '', o: StatOptions = {}): FamfsStat[] {
    const top = this.stat(rel, o);
    if (top.type !== 'dir') return [top];
    const host = this.hostPath(rel);
    let names: string[];
    try {
      names = fs.readdirSync(host);
    } catch (e) {
      throw mountError(host, e, 'this user may not list it');
    }
    if (top.path === '') names = names.filter((n) => n !== META_NAME);
    return names.sort().map((n) => this.stat(top.path === '' ? n : `${top.path}/${n}`, o));
  }

  /**
   * Everything below `rel`, depth first in name order (as Tree.walk, without `rel` itself).
   * A directory this user may not list or search is passed to `onError` and skipped.
   */
  *walk(rel = '', onError: (e: FamfsError) => void = (e) => { throw e; }, o: StatOptions = {}): Generator<FamfsStat> {
    const top = this.stat(rel, o);
    if (top.type === 'dir') yield* this.below(top.path, onError, o);
  }

  private *below(rel: string, onError: (e: FamfsError) => void, o: StatOptions): Generator<FamfsStat> {
    let kids: FamfsStat[];
    try {
      kids = this.readdir(rel, o);
    } catch (e) {
      onError(e instanceof FamfsError ? e : mountError(this.hostPath(rel), e, ''));
      return;
    }
    for (const k of kids) {
      yield k;
      if (k.type === 'dir') yield* this.below(k.path, onError, o);
    }
  }

  /** The bytes of [start, end) of a file, read through the mount (fresh Buffers). */
  *chunks(rel: string, o: RangeOptions = {}): Generator<Buffer> {
    const host = this.hostPath(rel);
    let fd: number;
    try {
      fd = fs.openSync(host, 'r');
    } catch (e) {
      throw mountError(host, e, 'this user may not read it');
    }
    try {
      const size = fs.fstatSync(fd).size;
      const start = o.start ?? 0, end = Math.min(o.end ?? size, size);
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) throw new FamfsError(`${rel}: invalid range [${o.start}, ${o.end})`, 'EINVAL');
      const chunk = o.chunkSize ?? 1 << 20;
      for (let pos = start; pos < end; ) {
        const buf = Buffer.allocUnsafe(Math.min(chunk, end - pos));
        const n = fs.readSync(fd, buf, 0, buf.length, pos);
        if (n === 0) throw new FamfsError(`${host}: ended at ${pos} of ${end} bytes`, 'EIO');
        pos += n;
        yield n === buf.length ? buf : buf.subarray(0, n);
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** A Readable of the file's bytes. */
  createReadStream(rel: string, o: RangeOptions = {}): Readable {
    return stream().Readable.from(this.chunks(rel, o), { objectMode: false });
  }

  /** Nothing is held open between calls; here for symmetry with Famfs. */
  close(): void {}

  private parseMap(host: string, text: string | undefined): FileMap | null {
    if (text === undefined) return null;
    try {
      return JSON.parse(text) as FileMap;
    } catch {
      throw new FamfsError(`${host}: the mount's ${MAP_XATTR} is not JSON`, 'EIO');
    }
  }
}
