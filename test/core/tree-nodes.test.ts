/**
 * The compact tree nodes (issue 15): what a node derives instead of storing (id, path, kind,
 * the common map) must read exactly as the stored fields did, through renames, removals and
 * map assignments; NodeIndex answers as the Map it replaced.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AttrsTable, makeDir, makeFile, makeSymlink } from '../../src/meta/nodes.js';
import { NodeIndex } from '../../src/meta/nodeindex.js';
import { idForEntry, ROOT_ID, Tree, type DirNode } from '../../src/meta/tree.js';
import type { FileMap } from '../../src/format/types.js';

const attrs = new AttrsTable();
const a = attrs.get(0o644, 1000, 100, 2);

function dir(tree: Tree, parent: DirNode, name: string, slot: number): DirNode {
  const d = makeDir({ name, parent, entryIndex: slot, attrs: a }, parent.path === '' ? name : `${parent.path}/${name}`);
  tree.add(parent, d);
  return d;
}

describe('compact tree nodes', () => {
  it('maps read back exactly: inline (one aligned extent on device 0) and kept (everything else)', () => {
    const t = new Tree();
    const maps: FileMap[] = [
      { kind: 'simple', extents: [{ devindex: 0, offset: 5 * 2 ** 40, length: 2 * 2 ** 20 }] },
      { kind: 'simple', extents: [{ devindex: 0, offset: 4096 * 0x7fffffff, length: 4096 }] },
      { kind: 'simple', extents: [{ devindex: 0, offset: 4096 * 0x80000000, length: 4096 }] },
      { kind: 'simple', extents: [{ devindex: 0, offset: 6144, length: 4096 }] },
      { kind: 'simple', extents: [{ devindex: 1, offset: 8192, length: 4096 }] },
      { kind: 'simple', extents: [{ devindex: 0, offset: 8192, length: 4096 }, { devindex: 0, offset: 16384, length: 4096 }] },
      { kind: 'simple', extents: [] },
      { kind: 'interleave', chunkSize: 2 ** 21, strips: [{ devindex: 0, offset: 2 ** 30, length: 2 ** 22 }, { devindex: 1, offset: 2 ** 30, length: 2 ** 22 }] },
    ];
    maps.forEach((m, i) => {
      const f = makeFile({ name: `f${i}`, parent: t.root, entryIndex: i, attrs: a }, 3 * 2 ** 31 + i, m);
      assert.deepEqual(f.map, m);
      assert.equal(f.size, 3 * 2 ** 31 + i);
      assert.equal(f.kind, 'file');
      f.map = maps[(i + 1) % maps.length]!;
      assert.deepEqual(f.map, maps[(i + 1) % maps.length]);
    });
  });

  it('an inline map is built once for repeated asks, and never answers for another node or an old map', () => {
    const t = new Tree();
    const inline = (pages: number): FileMap => ({ kind: 'simple', extents: [{ devindex: 0, offset: pages * 4096, length: 4096 }] });
    // Slots 0 and 16 share a cache entry: asks that alternate between them must each get their own map.
    const f = makeFile({ name: 'f', parent: t.root, entryIndex: 0, attrs: a }, 4096, inline(10));
    const g = makeFile({ name: 'g', parent: t.root, entryIndex: 16, attrs: a }, 4096, inline(20));
    const first = f.map;
    assert.equal(f.map, first, 'the same object for the next ask (a READ asks several times)');
    assert.deepEqual(g.map, inline(20));
    assert.deepEqual(f.map, inline(10));
    f.map = inline(30);
    assert.deepEqual(f.map, inline(30), 'an assigned map replaces the built one');
    assert.notEqual(f.map, first);
  });

  it('id, path and attributes are derived; a rename moves paths below; a removed node keeps its path', () => {
    const t = new Tree(0o700, 5, 6);
    assert.equal(t.root.id, ROOT_ID);
    assert.deepEqual([t.root.mode, t.root.uid, t.root.gid], [0o700, 5, 6]);
    const d = dir(t, t.root, 'd', 0);
    const e = dir(t, d, 'e', 1);
    const f = makeFile({ name: 'f', parent: e, entryIndex: 2, attrs: a }, 1, { kind: 'simple', extents: [{ devindex: 0, offset: 4096, length: 4096 }] });
    t.add(e, f);
    const l = makeSymlink({ name: 'l', parent: d, entryIndex: 3, attrs: attrs.get(0o777, 1000, 100, 0) }, '../x');
    t.add(d, l);
    assert.deepEqual([f.id, f.path, f.mode, f.uid, f.gid, f.flags], [idForEntry(2), 'd/e/f', 0o644, 1000, 100, 2]);
    assert.deepEqual([l.kind, l.path, l.target, l.mode], ['symlink', 'd/l', '../x', 0o777]);
    f.mode = 0o600;
    assert.deepEqual([f.mode, f.uid, f.flags], [0o600, 1000, 2]);
    assert.equal(l.uid, 1000, 'a change to one node leaves the shared attributes of others alone');
    const g = dir(t, t.root, 'g', 4);
    t.move(e, g, 'e2');
    assert.deepEqual([e.path, f.path, t.lookup('g/e2/f')], ['g/e2', 'g/e2/f', f]);
    t.remove(f);
    t.move(e, t.root, 'e3');
    assert.equal(f.path, 'g/e2/f', 'the path it had when removed');
    assert.equal(f.removed, true);
    assert.equal(t.byId.get(f.id), f);
    assert.deepEqual([t.files, t.dirs, t.symlinks], [0, 3, 1]);
  });

  it('AttrsTable shares one frozen object per combination', () => {
    const t = new AttrsTable();
    const x = t.get(0o644, 1, 2, 0);
    assert.equal(t.get(0o755, 1, 2, 0).mode, 0o755);
    assert.equal(t.get(0o644, 1, 2, 0), x);
    assert.ok(Object.isFrozen(x));
  });

  it('NodeIndex answers as a Map of the same nodes', () => {
    const ix = new NodeIndex();
    const m = new Map<number, DirNode>();
    const t = new Tree();
    for (const id of [1, 16, 17, 20, 5000, 18]) {
      const n = makeDir({ name: `n${id}`, parent: t.root, entryIndex: id - 16, attrs: a }, `n${id}`);
      ix.set(id, n);
      m.set(id, n);
    }
    ix.reserve(10_000);
    for (const id of [-1, 0, 1, 2, 16, 17, 19, 20, 5000, 9999, 10_000, 2 ** 40, 1.5]) assert.equal(ix.get(id), m.get(id), `id ${id}`);
    assert.equal(ix.size, m.size);
    assert.deepEqual([...ix.keys()], [...m.keys()].sort((x, y) => x - y));
    assert.deepEqual([...ix.values()].map((n) => n.name), [...ix.keys()].map((k) => m.get(k)!.name));
    assert.throws(() => ix.set(-1, t.root), RangeError);
  });
});
