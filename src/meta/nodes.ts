/**
 * The tree's node objects, shaped for million-entry logs (issue 15): a file costs one object.
 * What a node can derive it does not store: its id (from its slot), its path (from its
 * directory's), its kind (on the prototype), and the neutral map of the common file — one
 * extent on device 0, page-aligned — which is kept as two small integers and built when asked.
 */
import type { FileMap, SimpleMap } from '../format/types.js';

export const ROOT_ID = 1;
export const FIRST_ENTRY_ID = 16;

export function idForEntry(index: number): number {
  return FIRST_ENTRY_ID + index;
}

export interface NodeBase {
  /** Derived from entryIndex: every host and every daemon thread gets the same one. */
  readonly id: number;
  name: string;
  /** Relative path ('' = root). A removed node keeps the path it had when it was removed. */
  readonly path: string;
  mode: number;
  uid: number;
  gid: number;
  parent: DirNode | undefined;
  /** Log slot that created it (-1 for the root). */
  entryIndex: number;
  /** Its position in its parent's `order` (readdir cookies). */
  pos?: number;
  /** Deleted, or replaced by a rename (issue 14): no longer in any directory, still reachable by id. */
  removed?: boolean;
}

export interface DirNode extends NodeBase {
  readonly kind: 'dir';
  /** Directories store their path: they are few, and replay looks parents up by it. */
  path: string;
  children: Map<string, TreeNode>;
  /**
   * Children in log order; append-only, so a directory listing's positions stay stable as it
   * grows. A child that was removed or moved away leaves a null (its position is never reused).
   */
  order: (TreeNode | null)[];
  subdirs: number;
}

export interface FileNode extends NodeBase {
  readonly kind: 'file';
  size: number;
  flags: number;
  /** The file's neutral map. May be built when asked and shared with later asks: never change the object you get (assign a new map instead). */
  map: FileMap;
}

/** A symbolic link (extension): its target exactly as given, resolved by whoever follows it. */
export interface SymlinkNode extends NodeBase {
  readonly kind: 'symlink';
  target: string;
}

export type TreeNode = DirNode | FileNode | SymlinkNode;

/** Inline extents are counted in 4 KiB pages: page numbers below 2^31 are V8 small integers (8 TiB). */
const PAGE = 4096;
const MAX_PAGES = 0x7fffffff;

/**
 * Mode, owner and flags (flags: files only, 0 for the rest). A log holds few distinct
 * combinations, so nodes share one frozen object per combination (AttrsTable): one field
 * per node instead of four.
 */
export interface NodeAttrs {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly flags: number;
}

/** Distinct combinations kept for sharing; past that (a log of odd owners), each node gets its own. */
const MAX_SHARED_ATTRS = 4096;

export class AttrsTable {
  private last: NodeAttrs | undefined;
  private readonly shared = new Map<string, NodeAttrs>();

  get(mode: number, uid: number, gid: number, flags: number): NodeAttrs {
    const l = this.last;
    if (l && l.mode === mode && l.uid === uid && l.gid === gid && l.flags === flags) return l;
    const key = `${mode}:${uid}:${gid}:${flags}`;
    let a = this.shared.get(key);
    if (!a) {
      a = Object.freeze({ mode, uid, gid, flags });
      if (this.shared.size < MAX_SHARED_ATTRS) this.shared.set(key, a);
    }
    return (this.last = a);
  }
}

/**
 * A whole number below 2^31 as a V8 small integer: optimised code may hold a computed one
 * (a u64 field read as hi * 2^32 + lo) as a double, which a field would store boxed.
 */
function smallInt(n: number): number {
  return n >= 0 && n <= 0x7fffffff && n % 1 === 0 ? n | 0 : n;
}

/** Attributes every node is made with. */
export interface NodeInit {
  name: string;
  parent: DirNode | undefined;
  entryIndex: number;
  attrs: NodeAttrs;
}

abstract class Node {
  pos = 0;
  declare removed?: boolean;
  name: string;
  parent: DirNode | undefined;
  entryIndex: number;
  /** Shared with other nodes: replaced, never changed. */
  protected attrs: NodeAttrs;
  constructor(init: NodeInit) {
    this.name = init.name;
    this.parent = init.parent;
    this.entryIndex = init.entryIndex;
    this.attrs = init.attrs;
  }

  get id(): number {
    return this.entryIndex < 0 ? ROOT_ID : FIRST_ENTRY_ID + this.entryIndex;
  }

  get mode(): number {
    return this.attrs.mode;
  }
  set mode(mode: number) {
    this.attrs = Object.freeze({ ...this.attrs, mode });
  }
  get uid(): number {
    return this.attrs.uid;
  }
  set uid(uid: number) {
    this.attrs = Object.freeze({ ...this.attrs, uid });
  }
  get gid(): number {
    return this.attrs.gid;
  }
  set gid(gid: number) {
    this.attrs = Object.freeze({ ...this.attrs, gid });
  }
}

abstract class Leaf extends Node {
  /** Files and symlinks compute their path from their directory's (one string each saved). */
  get path(): string {
    const dir = this.parent!.path;
    return dir === '' ? this.name : `${dir}/${this.name}`;
  }
}

/** Take a node's path as it is now, for good (a removed node is no longer in a directory). */
export function freezePath(node: TreeNode): void {
  if (node.kind !== 'dir') Object.defineProperty(node, 'path', { value: node.path, writable: true, enumerable: true, configurable: true });
}

class Dir extends Node implements DirNode {
  declare readonly kind: 'dir';
  children = new Map<string, TreeNode>();
  order: (TreeNode | null)[] = [];
  subdirs = 0;
  constructor(init: NodeInit, public path: string) {
    super(init);
  }
}

/** Inline maps built lately, by entry slot modulo their count (per thread: each has its module). */
const BUILT_MAPS = 16;
const builtMaps: (SimpleMap | undefined)[] = new Array(BUILT_MAPS).fill(undefined);
const builtFor: (File | undefined)[] = new Array(BUILT_MAPS).fill(undefined);

class File extends Leaf implements FileNode {
  declare readonly kind: 'file';
  size: number;
  /** First page of the inline extent (0 when `ext` is a map). */
  private pg: number;
  /** The inline extent's page count, or the whole map when it is not the inline kind. */
  private ext: number | FileMap;
  constructor(init: NodeInit, size: number, map: FileMap) {
    super(init);
    this.size = smallInt(size);
    this.pg = 0;
    this.ext = map;
    this.map = map;
  }

  get map(): FileMap {
    const x = this.ext;
    if (typeof x !== 'number') return x;
    // A READ asks for the map several times (fd or mapping, invalidate, view), and sequential
    // READs ask for the same file's: recently built maps are kept, checked against pg/ext.
    const slot = this.entryIndex & (BUILT_MAPS - 1);
    const m = builtMaps[slot];
    if (m && builtFor[slot] === this && m.extents[0]!.offset === this.pg * PAGE && m.extents[0]!.length === x * PAGE) return m;
    const built: SimpleMap = { kind: 'simple', extents: [{ devindex: 0, offset: this.pg * PAGE, length: x * PAGE }] };
    builtMaps[slot] = built;
    builtFor[slot] = this;
    return built;
  }
  set map(map: FileMap) {
    const e = map.kind === 'simple' && map.extents.length === 1 ? map.extents[0]! : undefined;
    if (e && e.devindex === 0 && e.offset >= 0 && e.offset % PAGE === 0 && e.length % PAGE === 0 && e.offset / PAGE <= MAX_PAGES && e.length / PAGE <= MAX_PAGES) {
      // `| 0`: a quotient computed as a double would be stored boxed, 16 bytes more.
      this.pg = (e.offset / PAGE) | 0;
      this.ext = (e.length / PAGE) | 0;
    } else {
      this.pg = 0;
      this.ext = map;
    }
  }

  get flags(): number {
    return this.attrs.flags;
  }
  set flags(flags: number) {
    this.attrs = Object.freeze({ ...this.attrs, flags });
  }
}

class Symlink extends Leaf implements SymlinkNode {
  declare readonly kind: 'symlink';
  constructor(init: NodeInit, public target: string) {
    super(init);
  }
}

// The kind lives on the prototype: one field less in each of a million nodes.
Object.defineProperty(Dir.prototype, 'kind', { value: 'dir' });
Object.defineProperty(File.prototype, 'kind', { value: 'file' });
Object.defineProperty(Symlink.prototype, 'kind', { value: 'symlink' });

/*
 * V8 keeps a number field of a shape unboxed (a small integer) until one object stores a
 * value that is not one (a size of 2 GiB or more); from then on every object of that shape
 * holds its value in a separate 16-byte box. A field that once held a non-number is "tagged"
 * instead: small integers stay unboxed, only the rare large value is boxed. One throwaway
 * file node makes the size field tagged before replay makes a million.
 */
new File({ name: '', parent: undefined, entryIndex: -1, attrs: Object.freeze({ mode: 0, uid: 0, gid: 0, flags: 0 }) }, 0, { kind: 'simple', extents: [] }).size = null as unknown as number;

export function makeDir(init: NodeInit, path: string): DirNode {
  return new Dir(init, path);
}

export function makeFile(init: NodeInit, size: number, map: FileMap): FileNode {
  return new File(init, size, map);
}

export function makeSymlink(init: NodeInit, target: string): SymlinkNode {
  return new Symlink(init, target);
}
