/**
 * Holds in famfs kernel mode, with the test playing a famfs V10 kernel over a scripted
 * transport (the real kernel runs in test/vm/kernel.test.ts): every OPEN of a logged file is
 * counted until its RELEASE (which a famfs kernel sends after the last close AND munmap),
 * GET_FMAP never hands a deleted file's map to an open this host does not hold, a reopen
 * (/proc/self/fd) while the file is still held is counted, a removed file reports nlink 0,
 * the superblock unit (presence area) may be opened for writing only by the daemon's own
 * threads, and nothing but metadata is served while the host is still joining.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Famfs } from '../../src/api/famfs.js';
import { FamfsFs } from '../../src/fs/famfs-fs.js';
import type { FamfsMountConfig } from '../../src/fs/config.js';
import { Errno, Opcode } from '../../src/fuse/codec.js';
import { PresenceControl } from '../../src/presence/control.js';
import { OpenTable } from '../../src/presence/holds.js';
import { logSlots } from '../../src/format/constants.js';
import { asHost, makeHost, MiB, removeAllShm, removeHost, type Host } from '../core/helpers.js';
import { FAMFS_INIT, GET_FMAP, scriptedKernel } from '../fs/scripted-kernel.js';
import { presenceDevice } from './fixtures.js';

const O_RDWR = 2;

describe('kernel-mode holds (scripted famfs kernel)', () => {
  let master: Host, client: Host, dev: string;
  let ids: Record<'a' | 'b' | 'c', number>, fileIds: Record<'a' | 'b' | 'c', number>, logLen: number;

  before(() => {
    master = makeHost('kh-m');
    client = makeHost('kh-c');
    dev = presenceDevice(master, 'kholds', 60_000);
    const f = asHost(master, () => Famfs.open(dev, { writable: true }));
    try {
      asHost(master, () => f.writer((w) => {
        for (const n of ['a', 'b', 'c']) w.creat(n, 2 * MiB);
      }));
      f.refresh();
      ids = { a: f.file('a').id, b: f.file('b').id, c: f.file('c').id };
      fileIds = { a: f.file('a').entryIndex, b: f.file('b').entryIndex, c: f.file('c').entryIndex };
      logLen = f.sb.logLen;
    } finally {
      f.close();
    }
  });
  after(() => {
    removeAllShm();
    removeHost(master);
    removeHost(client);
  });

  function session(joined = true) {
    const table = OpenTable.create(logSlots(logLen));
    const control = new PresenceControl();
    control.leaseMs = 60_000;
    if (joined) {
      control.setIncarnation(0, 1n);
      control.serveAgain();
    } else control.joining = true;
    const config = {
      device: dev, mountpoint: '/nonexistent', timeout: 1, forceClient: true, verbose: false, mountTimeMs: 0,
      state: new SharedArrayBuffer(64), dataPath: 'kernel', famfsKernel: true,
      presence: { control: control.sab, table: table.sab },
    } as FamfsMountConfig;
    const handler = asHost(client, () => new FamfsFs(config));
    const kernel = scriptedKernel(handler, { uid: 0, gid: 0 });
    /** `pid`: the caller's thread id in the FUSE header. */
    const send = (opcode: number, nodeid: number, body = Buffer.alloc(0), pid = 4242) => kernel.send(opcode, nodeid, body, { pid });
    kernel.init(FAMFS_INIT());
    const open = (nodeid: number, flags = 0) => {
      const body = Buffer.alloc(8);
      body.writeUInt32LE(flags, 0);
      const r = send(Opcode.OPEN, nodeid, body);
      return { error: r.error, fh: r.error ? 0n : r.payload.readBigUInt64LE(0) };
    };
    const release = (nodeid: number, fh: bigint) => {
      const body = Buffer.alloc(24);
      body.writeBigUInt64LE(fh, 0);
      assert.equal(send(Opcode.RELEASE, nodeid, body).error, 0);
    };
    const nlink = (nodeid: number) => {
      const r = send(Opcode.GETATTR, nodeid, Buffer.alloc(16));
      assert.equal(r.error, 0);
      return r.payload.readUInt32LE(16 + 48 + 12 + 4);
    };
    /** What the daemon's main thread does on every poll (PresenceService.publish). */
    const publish = (removed: number[]) => {
      for (const id of removed) table.markRemoved(id);
      return removed.filter((id) => table.stillHeld(id));
    };
    const remove = (name: string) => asHost(master, () => {
      const f = Famfs.open(dev, { writable: true });
      try {
        f.writer((w) => w.remove(name));
      } finally {
        f.close();
      }
    });
    return { send, open, release, nlink, publish, remove, ids, fileIds, table, control };
  }

  it('an open file stays held after the delete until its RELEASE; its map goes to no new open after that', () => {
    const k = session();
    const o = k.open(k.ids.a);
    assert.equal(o.error, 0);
    assert.equal(Number(o.fh) % 2, 1, 'a counted handle');
    assert.equal(k.table.count(k.fileIds.a), 1);
    k.remove('a');
    assert.equal(k.send(Opcode.LOOKUP, 1, Buffer.from('a\0')).error, -Errno.ENOENT, 'the name is gone');
    // GET_FMAP after the OPEN it belongs to (the kernel asks once per inode): the file is held, so served.
    assert.equal(k.send(GET_FMAP, k.ids.a).error, 0);
    assert.deepEqual(k.publish([k.fileIds.a]), [k.fileIds.a], 'published as held');
    assert.equal(k.nlink(k.ids.a), 0, 'a removed file has no link left');
    // A reopen through /proc/self/fd while still held is counted.
    const again = k.open(k.ids.a);
    assert.equal(again.error, 0);
    assert.equal(k.table.count(k.fileIds.a), 2);
    k.release(k.ids.a, o.fh);
    assert.deepEqual(k.publish([k.fileIds.a]), [k.fileIds.a], 'still held by the reopened handle');
    k.release(k.ids.a, again.fh);
    assert.deepEqual(k.publish([k.fileIds.a]), [], 'released after the last RELEASE');
    assert.equal(k.open(k.ids.a).error, -Errno.ENOENT, 'no new open after the release');
    assert.equal(k.send(GET_FMAP, k.ids.a).error, -Errno.ENOENT, 'and no map for one');
  });

  it('a file deleted while not open here: OPEN and GET_FMAP are refused even before the main thread marks it', () => {
    const k = session();
    assert.equal(k.nlink(k.ids.b), 1);
    k.remove('b');
    assert.equal(k.open(k.ids.b).error, -Errno.ENOENT, "the worker's own replay marks it removed");
    assert.equal(k.send(GET_FMAP, k.ids.b).error, -Errno.ENOENT);
    assert.deepEqual(k.publish([k.fileIds.b]), []);
  });

  it('while joining: metadata and the meta files are served, logged files are not opened (ESTALE); while stale the meta files still are', () => {
    const k = session(false);
    assert.equal(k.send(Opcode.LOOKUP, 1, Buffer.from('c\0')).error, 0);
    assert.equal(k.open(k.ids.c).error, -Errno.ESTALE);
    assert.equal(k.send(GET_FMAP, k.ids.c).error, -Errno.ENOENT, 'no map before the join');
    assert.equal(k.send(GET_FMAP, 3).error, 0, '.meta/.superblock');
    k.control.setIncarnation(0, 1n);
    k.control.serveAgain();
    assert.equal(k.open(k.ids.c).error, 0, 'served once joined');
    // Stale (lease lapsed): files are refused, the meta files still open (the daemon rejoins through them).
    k.control.markStale();
    assert.equal(k.open(k.ids.c).error, -Errno.ESTALE);
    assert.equal(k.send(Opcode.LOOKUP, 2, Buffer.from('.log\0')).error, 0);
    assert.equal(k.open(3).error, 0, '.meta/.superblock while stale');
    assert.equal(k.send(GET_FMAP, 4).error, 0, '.meta/.log while stale');
  });

  it('.meta/.superblock opens for writing only from the daemon itself (its presence slot is in there)', () => {
    const k = session();
    const body = Buffer.alloc(8);
    body.writeUInt32LE(O_RDWR, 0);
    assert.equal(k.send(Opcode.OPEN, 3, body, process.pid).error, 0, "the daemon's own thread");
    assert.equal(k.send(Opcode.OPEN, 3, body, 1).error, -Errno.EACCES, 'pid 1 is never one of our threads');
  });
});
