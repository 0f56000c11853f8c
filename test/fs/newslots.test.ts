/**
 * New files' sizes in shared memory (src/fs/newslots.ts, issue 15): a worker may raise a new
 * file's size only into bytes the main thread zeroed and only while the slot is that file's;
 * whatever the main thread changes (truncate, commit, drop) takes the shortcut away. In-process
 * against the real master service on a sparse device (the FUSE path is test/fs/create.test.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { asHost, formattedHost } from '../core/helpers.js';
import { Famfs } from '../../src/api/famfs.js';
import { MasterService, NEW_NODE_ID_BASE, type NewNodeAttr } from '../../src/fs/master-service.js';
import { createNewFileSlots, NewFileSlots, NewFileSlotsView } from '../../src/fs/newslots.js';
import { NewNameCounts } from '../../src/fs/newnames.js';
import type { RpcCall } from '../../src/fs/rpc.js';

const call = (op: string, args: Record<string, unknown>): RpcCall => ({ op, args, claim: () => true });
const MiB = 1024 * 1024;

describe('new files in shared memory: the protocol', () => {
  const ext = { devindex: 0, offset: 8 * MiB, length: 2 * MiB };

  test('a worker raises the size only below the limit, and only while the slot is the file\'s', () => {
    const sab = createNewFileSlots(16);
    const main = new NewFileSlots(sab);
    const view = new NewFileSlotsView(sab);
    const id = NEW_NODE_ID_BASE + 3;
    const slot = main.take(id, 64 * 1024, ext);
    assert.equal(slot, view.slotOf(id));
    assert.deepEqual(view.firstExtent(slot, id), ext);
    assert.equal(view.reserve(slot, id, 4096), 4096);
    assert.equal(view.reserve(slot, id, 100), 4096, 'an overwrite below the size leaves it');
    assert.equal(view.reserve(slot, id, 64 * 1024 + 1), undefined, 'past the zeroed limit: ask');
    assert.equal(main.current(slot), 4096);
    assert.equal(view.reserve(slot, id + 16, 10), undefined, 'another id on the same slot');
    assert.equal(main.take(id + 16, 4096, ext), -1, 'the slot is taken: that file has none');
    // A truncate lowers the limit: the bytes after the new size are not known to be zero.
    assert.equal(main.setSize(slot, 1000, false), 1000);
    assert.equal(view.reserve(slot, id, 2000), undefined);
    // The main thread zeroes and raises the limit: writes there need no call again.
    main.raiseLimit(slot, 8192);
    assert.equal(view.reserve(slot, id, 8192), 8192);
    main.markFailed(slot);
    assert.equal(view.failed(slot), true);
    assert.equal(main.retire(slot), 8192, 'retire returns the final size');
    assert.equal(view.live(slot, id), false);
    assert.equal(view.reserve(slot, id, 100), undefined, 'after retire every write asks');
    assert.equal(view.firstExtent(slot, id), undefined);
    const again = main.take(id + 16, 4096, ext);
    assert.equal(again, slot, 'a retired slot is taken again');
    assert.equal(view.failed(again), false);
    assert.equal(view.reserve(slot, id, 100), undefined, 'the old id does not match the new one');
  });
});

describe('new files in shared memory: the master service', () => {
  const { host, dev } = formattedHost('nslot');

  test('a dropped file\'s bytes never show through a fast write; the size workers set is the size logged', () => {
    const sab = createNewFileSlots();
    const view = new NewFileSlotsView(sab);
    const m = asHost(host, () => new MasterService(dev, { commitDelayMs: 60_000, log: () => {}, newFiles: sab }));
    try {
      const a = m.handle(call('create', { parent: 1, name: 'a', mode: 0o644, uid: 0, gid: 0 })) as NewNodeAttr;
      const grown = m.handle(call('extend', { id: a.id, offset: 0, length: MiB })) as NewNodeAttr;
      for (const s of m.famfs.slices({ map: grown.map, size: MiB }, 0, MiB)) s.fill(0xa5);
      const aAt = grown.map.extents[0]!.offset; // (in-process replies share the node's map, which the drop empties)
      m.handle(call('release', { id: a.id }));
      m.handle(call('unlink', { parent: 1, name: 'a', dir: 0 }));
      const b = m.handle(call('create', { parent: 1, name: 'b', mode: 0o644, uid: 0, gid: 0 })) as NewNodeAttr;
      const e = view.firstExtent(view.slotOf(b.id), b.id);
      assert.ok(e, 'b has a slot');
      assert.equal(e.offset, aAt, 'b got the space a had');
      // Everything a worker may expose unasked reads as zero.
      let limit = 0;
      while (view.reserve(view.slotOf(b.id), b.id, limit + 4096) !== undefined) limit += 4096;
      assert.ok(limit >= 4096, `b may grow to ${limit} without a call`);
      const bytes = Buffer.concat(m.famfs.slices({ map: { kind: 'simple', extents: [e] }, size: limit }, 0, limit));
      assert.equal(bytes.indexOf(0xa5), -1, 'no byte of the dropped file');
      assert.equal((m.handle(call('get', { id: b.id })) as NewNodeAttr).size, limit, 'the main thread sees the size the worker set');
      // The main thread grows it past the limit, then a truncate: the worker's shortcut follows.
      m.handle(call('extend', { id: b.id, offset: 0, length: limit + 1 }));
      assert.ok(view.reserve(view.slotOf(b.id), b.id, limit + 4096) !== undefined, 'zeroed ahead of the new size');
      m.handle(call('setattr', { id: b.id, size: 10 }));
      assert.equal(view.reserve(view.slotOf(b.id), b.id, 20), undefined, 'after a truncate: ask');
      assert.equal(view.reserve(view.slotOf(b.id), b.id, 5), 10);
      assert.equal(view.reserve(view.slotOf(b.id), b.id, 10), 10);
      m.handle(call('release', { id: b.id }));
      m.handle(call('syncfs', {}));
      assert.equal(view.live(view.slotOf(b.id), b.id), false, 'logged: the slot is retired');
      const logged = asHost(host, () => Famfs.open(dev));
      try {
        const f = logged.tree.lookup('b');
        assert.ok(f && f.kind === 'file');
        assert.equal(f.size, 10);
      } finally {
        logged.close();
      }
    } finally {
      m.close();
    }
  });

  test('name counts and directory slots: what lets a worker answer LOOKUP and GETATTR without a call', () => {
    const sab = createNewFileSlots();
    const view = new NewFileSlotsView(sab);
    const names = new NewNameCounts(sab);
    const m = asHost(host, () => new MasterService(dev, { commitDelayMs: 60_000, log: () => {}, newFiles: sab }));
    try {
      assert.equal(names.mayExist('d'), false);
      const d = m.handle(call('mkdir', { parent: 1, name: 'd', mode: 0o750, uid: 7, gid: 8 })) as NewNodeAttr;
      assert.equal(names.mayExist('d'), true, 'a new node has the name');
      assert.equal(view.live(view.slotOf(d.id), d.id), true, 'an unlogged directory has a live slot');
      assert.deepEqual(view.dirAttr(view.slotOf(d.id), d.id), { mode: 0o750, uid: 7, gid: 8 });
      assert.equal(view.firstExtent(view.slotOf(d.id), d.id), undefined, 'nothing is written through a directory slot');
      m.handle(call('setattr', { id: d.id, mode: 0o755, uid: 9 }));
      assert.deepEqual(view.dirAttr(view.slotOf(d.id), d.id), { mode: 0o755, uid: 9, gid: 8 }, 'chmod/chown reach the slot');
      const f = m.handle(call('create', { parent: d.id, name: 'f', mode: 0o644, uid: 0, gid: 0 })) as NewNodeAttr;
      assert.equal(names.mayExist('f'), true);
      assert.equal(view.dirAttr(view.slotOf(f.id), f.id), undefined, 'a file slot holds no directory attributes');
      // A rename moves the count; an unlink of a closed node drops it.
      m.handle(call('rename', { parent: d.id, name: 'f', newParent: d.id, newName: 'g', noReplace: 0 }));
      assert.equal(names.mayExist('f'), false);
      assert.equal(names.mayExist('g'), true);
      m.handle(call('release', { id: f.id }));
      const h = m.handle(call('create', { parent: 1, name: 'h', mode: 0o644, uid: 0, gid: 0 })) as NewNodeAttr;
      m.handle(call('release', { id: h.id }));
      m.handle(call('unlink', { parent: 1, name: 'h', dir: 0 }));
      assert.equal(names.mayExist('h'), false);
      // Logged: the counts are gone only once the entries are in the log, and the directory slot is retired.
      m.handle(call('syncfs', {}));
      assert.equal(names.mayExist('d'), false);
      assert.equal(names.mayExist('g'), false);
      assert.equal(view.live(view.slotOf(d.id), d.id), false);
      assert.equal(view.dirAttr(view.slotOf(d.id), d.id), undefined);
      const logged = asHost(host, () => Famfs.open(dev));
      try {
        assert.equal(logged.tree.lookup('d')?.kind, 'dir');
        assert.equal(logged.tree.lookup('d/g')?.kind, 'file');
        assert.equal(logged.tree.lookup('d')?.mode, 0o755);
      } finally {
        logged.close();
      }
    } finally {
      m.close();
    }
  });

  test('closed files are logged in groups: every file at its size, in one catch-up', () => {
    const sab = createNewFileSlots();
    const logs: string[] = [];
    const m = asHost(host, () => new MasterService(dev, { commitDelayMs: 60_000, log: (s) => logs.push(s), newFiles: sab }));
    const N = 37; // more than two groups of MAX_GROUP
    const before = asHost(host, () => Famfs.open(dev));
    const entries0 = before.log.nextIndex();
    before.close();
    try {
      const dir = m.handle(call('mkdir', { parent: 1, name: 'grp', mode: 0o755, uid: 0, gid: 0 })) as NewNodeAttr;
      for (let i = 0; i < N; i++) {
        const a = m.handle(call('create', { parent: dir.id, name: `f${i}`, mode: 0o644, uid: 0, gid: 0 })) as NewNodeAttr;
        const g = m.handle(call('extend', { id: a.id, offset: 0, length: 100 + i })) as NewNodeAttr;
        m.famfs.write({ map: g.map, size: 100 + i, path: `grp/f${i}` }, 0, Buffer.alloc(100 + i, i + 1));
        m.handle(call('release', { id: a.id }));
      }
      m.handle(call('syncfs', {}));
      assert.equal(m.pending, 0);
      assert.deepEqual(logs, []);
    } finally {
      m.close();
    }
    const f = asHost(host, () => Famfs.open(dev));
    try {
      assert.equal(f.log.nextIndex() - entries0, N + 1, 'the directory and every file');
      for (let i = 0; i < N; i++) {
        const n = f.tree.lookup(`grp/f${i}`);
        assert.ok(n && n.kind === 'file', `grp/f${i}`);
        assert.equal(n.size, 100 + i);
        assert.ok(Buffer.concat(f.slices(n, 0, n.size)).equals(Buffer.alloc(100 + i, i + 1)), `grp/f${i} bytes`);
      }
    } finally {
      f.close();
    }
  });

  test('requests the workers serve without a call keep the idle window open', async () => {
    const sab = createNewFileSlots();
    const names = new NewNameCounts(sab);
    const m = asHost(host, () => new MasterService(dev, { commitDelayMs: 150, maxAgeMs: 60_000, log: () => {}, newFiles: sab }));
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    try {
      const a = m.handle(call('create', { parent: 1, name: 'busy', mode: 0o644, uid: 0, gid: 0 })) as NewNodeAttr;
      m.handle(call('release', { id: a.id }));
      // 600 ms of worker-side activity (fast writes, lookups) and no call: the file waits.
      for (const t0 = Date.now(); Date.now() - t0 < 600; ) {
        names.served();
        await sleep(20);
        m.tick();
      }
      assert.equal(m.pending, 1, 'not logged while workers are busy');
      await sleep(400); // quiet now
      m.tick();
      assert.equal(m.pending, 0, 'logged once the mount is idle');
    } finally {
      m.close();
    }
  });
});
