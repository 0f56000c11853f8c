/**
 * Which node an id names on one mount: logged nodes (ids are log slots), the `.meta`
 * directory and files, and — on the master — new nodes not logged yet.
 */
import type { Famfs } from '../api/famfs.js';
import type { DirNode, FileNode } from '../meta/tree.js';
import { ROOT_ID } from '../meta/tree.js';
import { FuseError } from '../fuse/handler.js';
import { Errno } from '../fuse/protocol.js';
import { NEW_NODE_ID_BASE } from './master.js';
import { META_DIR_ID, type MetaNodes } from './metafiles.js';
import type { AnyNode, NewNodes, Served } from './newnodes.js';

export class NodeView {
  readonly metaDir: DirNode;
  readonly metaFiles: Map<number, Served>;

  constructor(private readonly famfs: Famfs, private readonly fresh: NewNodes | undefined, meta: MetaNodes) {
    this.metaDir = meta.dir;
    this.metaFiles = meta.files;
  }

  isMeta(id: number): boolean {
    return id === META_DIR_ID || this.metaFiles.has(id);
  }

  isNew(id: number): boolean {
    return !!this.fresh?.isNew(id);
  }

  get(id: number): AnyNode | undefined {
    if (this.fresh && id >= NEW_NODE_ID_BASE) return this.fresh.get(id);
    if (id === META_DIR_ID) return this.metaDir;
    const meta = this.metaFiles.get(id);
    if (meta) return meta;
    return this.famfs.tree.byId.get(id);
  }

  orThrow(id: number): AnyNode {
    const n = this.get(id);
    if (!n) throw new FuseError(Errno.ENOENT);
    return n;
  }

  /** A node whose bytes are served: directories EISDIR, symlinks EINVAL. */
  served(id: number): Served | FileNode {
    return this.servedNode(this.orThrow(id));
  }

  servedNode(n: AnyNode | undefined): Served | FileNode {
    if (!n) throw new FuseError(Errno.ENOENT);
    if ('kind' in n && n.kind === 'dir') throw new FuseError(Errno.EISDIR);
    if ('kind' in n && n.kind === 'symlink') throw new FuseError(Errno.EINVAL);
    return n as Served | FileNode;
  }

  /** The log slot that created a logged file (its id for holds), or undefined for .meta and new files. */
  fileId(f: Served | FileNode): number | undefined {
    return 'meta' in f || this.isNew(f.id) ? undefined : f.entryIndex;
  }

  /** A logged file this host's tree shows as removed (still served to the opens that hold it). */
  removedHere(f: Served | FileNode): boolean {
    return !('meta' in f) && !!(f as FileNode).removed;
  }

  /** A directory's logged children in cookie order (nulls are holes); `.meta` first at the root. */
  children(dir: DirNode): (AnyNode | null)[] {
    if (dir.id === META_DIR_ID) return [...this.metaFiles.values()];
    if (dir.id === ROOT_ID) return [this.metaDir, ...dir.order];
    return dir.order;
  }
}
