/**
 * The master's metadata service in-process (no FUSE): FUSE_SYNCFS logs every
 * closed new node, a create that finds the log lock held waits without
 * blocking the thread and then changes nothing, and a full device fails the
 * create itself (issue 11, items 3, 4, 13).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { asHost, famfsOk, formattedHost, GiB, sparseFile } from '../core/helpers.js';
import { Famfs } from '../../src/api/famfs.js';
import { MasterService, type NewNodeAttr } from '../../src/fs/master-service.js';
import type { RpcCall } from '../../src/fs/rpc.js';

const call = (op: string, args: Record<string, unknown>, claim = (): boolean => true): RpcCall => ({ op, args, claim });

describe('master service', () => {
  const { host, dev } = formattedHost('msvc');
  const inLog = (rel: string): boolean => asHost(host, () => {
    const f = Famfs.open(dev);
    try {
      return f.tree.lookup(rel) !== undefined;
    } finally {
      f.close();
    }
  });

  test('SYNCFS logs every closed new node at once; an open file stays new', () => {
    const m = asHost(host, () => new MasterService(dev, { commitDelayMs: 60_000, log: () => {} }));
    try {
      const d = m.handle(call('mkdir', { parent: 1, name: 'sd', mode: 0o755, uid: 0, gid: 0 })) as NewNodeAttr;
      const a = m.handle(call('create', { parent: d.id, name: 'a', mode: 0o644, uid: 0, gid: 0 })) as NewNodeAttr;
      const b = m.handle(call('create', { parent: d.id, name: 'b', mode: 0o644, uid: 0, gid: 0 })) as NewNodeAttr;
      m.handle(call('extend', { id: a.id, offset: 0, length: 10 }));
      m.handle(call('release', { id: a.id }));
      assert.equal(inLog('sd/a'), false);
      m.handle(call('syncfs', {}));
      assert.ok(inLog('sd') && inLog('sd/a'));
      assert.equal(inLog('sd/b'), false, 'still open');
      assert.equal(m.pending, 1);
      assert.equal(m.locked, true);
      m.handle(call('release', { id: b.id }));
      m.handle(call('syncfs', {}));
      assert.ok(inLog('sd/b'));
      assert.equal(m.locked, false, 'nothing pending: the lock is released');
    } finally {
      m.close();
    }
  });

  test('a create that waits past the lock deadline fails with EAGAIN and leaves nothing; a cancelled one changes nothing', async () => {
    const m = asHost(host, () => new MasterService(dev, { commitDelayMs: 50, log: () => {}, lockWaitMs: 300 }));
    const other = asHost(host, () => Famfs.open(dev, { writable: true }));
    try {
      other.device.lock();
      const r = m.handle(call('create', { parent: 1, name: 'late', mode: 0o644, uid: 0, gid: 0 }));
      assert.ok(r instanceof Promise, 'the create waits without blocking');
      await assert.rejects(r as Promise<unknown>, { code: 'EAGAIN' });
      assert.equal(m.pending, 0);
      assert.equal(m.locked, false);
      // The lock comes free while a create waits, but its worker has given up: nothing is made.
      const r2 = m.handle(call('create', { parent: 1, name: 'gaveup', mode: 0o644, uid: 0, gid: 0 }, () => false));
      setTimeout(() => other.device.unlock(), 50);
      await assert.rejects(r2 as Promise<unknown>, { code: 'EINTR' });
      assert.equal(m.pending, 0);
      assert.equal(m.locked, false, 'the lock taken for it is given back');
    } finally {
      other.close();
      m.close();
    }
  });

  test('a create on a full device fails with ENOSPC; mkdir still works', () => {
    const full = sparseFile('msvc-full', 4 * GiB);
    famfsOk(host, ['mkfs', full]);
    asHost(host, () => {
      const f = Famfs.open(full, { writable: true });
      f.device.lock();
      const { bitmap } = f.buildBitmap();
      const units = bitmap.freeBytes / (2 * 1024 * 1024);
      const u = bitmap.findAndMark(units);
      f.log.append({ type: 'file', path: 'filler', size: units * 2 * 1024 * 1024, flags: 3, mode: 0o644, uid: 0, gid: 0, map: { kind: 'simple', extents: [{ devindex: 0, offset: u * 2 * 1024 * 1024, length: units * 2 * 1024 * 1024 }] } });
      f.device.unlock();
      f.close();
    });
    const m = asHost(host, () => new MasterService(full, { commitDelayMs: 60_000, log: () => {} }));
    try {
      assert.throws(() => m.handle(call('create', { parent: 1, name: 't', mode: 0o644, uid: 0, gid: 0 })), { code: 'ENOSPC' });
      assert.equal(m.pending, 0);
      assert.equal(m.locked, false);
      m.handle(call('mkdir', { parent: 1, name: 'd', mode: 0o755, uid: 0, gid: 0 }));
      assert.equal(m.pending, 1);
    } finally {
      m.close();
    }
  });
});
