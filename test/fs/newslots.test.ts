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
});
