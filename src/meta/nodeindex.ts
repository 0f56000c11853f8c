/**
 * Nodes by id, for the tree. Ids are dense (the root's, then 16 + the creating slot), so a
 * plain array indexed by id holds them in 8 bytes each, where a Map of a million entries
 * takes about 40 and rehashes as it grows. Map's reading methods, so callers read it as one.
 */
import type { TreeNode } from './nodes.js';

export class NodeIndex {
  /** Every id below its length; ids without a node hold undefined (no holes: fast elements). */
  private slots: (TreeNode | undefined)[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /**
   * Room for ids below `n`: replay reserves what the log holds before it adds, so a big
   * log's index is one array of its exact size. Later growth is by half at least.
   */
  reserve(n: number): void {
    const len = this.slots.length;
    if (n <= len) return;
    const cap = len < 1024 ? n : Math.max(n, Math.ceil(len * 1.5));
    const bigger = new Array<TreeNode | undefined>(cap).fill(undefined);
    for (let i = 0; i < len; i++) bigger[i] = this.slots[i];
    this.slots = bigger;
  }

  get(id: number): TreeNode | undefined {
    return id >= 0 && id < this.slots.length ? this.slots[id] : undefined;
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  set(id: number, node: TreeNode): this {
    if (!Number.isSafeInteger(id) || id < 0) throw new RangeError(`node id ${id}`);
    if (id >= this.slots.length) this.reserve(id + 1);
    if (this.slots[id] === undefined) this.count++;
    this.slots[id] = node;
    return this;
  }

  *values(): IterableIterator<TreeNode> {
    for (const n of this.slots) if (n) yield n;
  }

  *keys(): IterableIterator<number> {
    for (let id = 0; id < this.slots.length; id++) if (this.slots[id]) yield id;
  }

  *entries(): IterableIterator<[number, TreeNode]> {
    for (let id = 0; id < this.slots.length; id++) {
      const n = this.slots[id];
      if (n) yield [id, n];
    }
  }

  [Symbol.iterator](): IterableIterator<[number, TreeNode]> {
    return this.entries();
  }

  forEach(fn: (node: TreeNode, id: number) => void): void {
    for (let id = 0; id < this.slots.length; id++) {
      const n = this.slots[id];
      if (n) fn(n, id);
    }
  }
}
