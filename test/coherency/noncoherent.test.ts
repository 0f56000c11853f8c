/**
 * famfs on memory whose hosts do not keep their caches coherent, on the
 * simulated device (src/device/simcache.ts) with random eviction off, so each
 * check is deterministic: a host sees another's stores only after the writer
 * wrote them back and the reader invalidated its copy. Each test names the
 * write-back / invalidate call sites it depends on (`// fcc-site:` comments in
 * src/); scripts/fcc-mutation.sh removes each site in turn and expects a failure here.
 */
process.env.FAMFS_SIM_NONCOHERENT = '17,0';
delete process.env.FAMFS_COHERENT;

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Famfs } from '../../src/api/famfs.js';
import { mkfs } from '../../src/api/mkfs.js';
import { copyIn } from '../../src/api/copy.js';
import { hardFlush, randomize, verify } from '../../src/api/data.js';
import { addDevice, readDevHeader } from '../../src/api/devices.js';
import { entryOffset, LOG_ENTRY_SIZE } from '../../src/format/constants.js';
import type { ReadArgs } from '../../src/fuse/decode.js';
import { FuseError, type Request } from '../../src/fuse/handler.js';
import { asHost, famfs, GiB, makeHost, MiB, readRange, removeAllShm, removeHost, sparseFile, writeRange, type Host } from '../core/helpers.js';
import { clientHandler } from '../../torture/lib/follow.js';
import { HAVE_FUSE, mount, NO_FUSE_REASON, umountAll, waitFor } from '../fs/mounted.js';

const REQ: Request = { unique: 1n, opcode: 15, nodeid: 1, uid: 0, gid: 0, pid: 1 };
const readArgs = (offset: number, size: number): ReadArgs => ({ fh: 0, offset, size, readFlags: 0, lockOwner: 0n, flags: 0 });

const hosts: Host[] = [];
function host(name: string): Host {
  const h = makeHost(name);
  hosts.push(h);
  return h;
}

after(() => {
  for (const h of hosts) umountAll(h);
  removeAllShm();
  for (const h of hosts) removeHost(h);
});

/** A device formatted by `a`, with directory d and a 64 KiB file d/f (seed 1). */
function formatted(a: Host, tag: string): string {
  const dev = sparseFile(tag, 4 * GiB);
  asHost(a, () => mkfs(dev));
  const fa = asHost(a, () => Famfs.open(dev, { writable: true }));
  try {
    fa.writer((w) => {
      w.mkdir('d');
      w.creat('d/f', 64 * 1024, {}, (f) => randomize(fa, f, 1));
    });
  } finally {
    fa.close();
  }
  return dev;
}

describe('non-coherent hosts (simulated device)', () => {
  it('the simulator is in force: an unflushed store stays in the writer’s cache', () => {
    const a = host('nc-a');
    const dev = sparseFile('nc-sim', 4 * GiB);
    asHost(a, () => mkfs(dev));
    const fa = asHost(a, () => Famfs.open(dev, { writable: true }));
    try {
      assert.equal(fa.device.coherence, 'simulated');
      const at = entryOffset(100);
      fa.device.view(at, 8).write('unflushd');
      assert.equal(readRange(dev, at, 8).toString('latin1'), '\0'.repeat(8));
      fa.device.flush(at, 8);
      assert.equal(readRange(dev, at, 8).toString(), 'unflushd');
    } finally {
      fa.close();
    }
  });

  // fcc-sites: mkfs-log-flush, mkfs-superblock-flush, log-entry-flush, log-header-flush, creat-random-flush, superblock-invalidate
  it('a client sees what mkfs and the master wrote, bytes included', () => {
    const a = host('nc-a'), b = host('nc-b');
    const dev = formatted(a, 'nc-basic');
    const fb = asHost(b, () => Famfs.open(dev));
    try {
      assert.equal(fb.role, 'client');
      assert.deepEqual([fb.stats.files, fb.stats.dirs, fb.stats.badEntries], [1, 1, 0]);
      assert.equal(verify(fb, fb.file('d/f'), 1), -1);
    } finally {
      fb.close();
    }
  });

  // fcc-sites: log-header-invalidate, log-header-flush, log-entry-flush
  it('a long-lived client replays entries appended after it opened', () => {
    const a = host('nc-a'), b = host('nc-b');
    const dev = formatted(a, 'nc-follow');
    const fb = asHost(b, () => Famfs.open(dev));
    const fa = asHost(a, () => Famfs.open(dev, { writable: true }));
    try {
      for (let i = 0; i < 5; i++) {
        fa.writer((w) => w.creat(`d/n${i}`, 4096));
        assert.equal(fb.refresh(), 1, `entry ${i}`);
        assert.equal(fb.lookup(`d/n${i}`).kind, 'file');
      }
      assert.equal(fb.stats.badEntries, 0);
    } finally {
      fa.close();
      fb.close();
    }
  });

  // fcc-sites: replay-new-slots-invalidate, superblock-invalidate
  it('a client that cached an old log replays the new one after mkfs --force (stale slots hold valid old entries)', () => {
    const a = host('nc-a'), b = host('nc-b');
    const dev = formatted(a, 'nc-reformat');
    // b reads the old file system: its cache now holds the old superblock and log slots 0..1 (d, d/f).
    asHost(b, () => Famfs.open(dev)).close();
    asHost(a, () => mkfs(dev, { force: true }));
    const fa = asHost(a, () => Famfs.open(dev, { writable: true }));
    try {
      fa.writer((w) => { w.mkdir('x'); w.mkdir('x/y'); });
    } finally {
      fa.close();
    }
    const fb = asHost(b, () => Famfs.open(dev));
    try {
      assert.deepEqual([...fb.tree.walk()].map((n) => n.path).sort(), ['', 'x', 'x/y']);
      assert.equal(fb.problems.length, 0);
    } finally {
      fb.close();
    }
  });

  // fcc-sites: bad-slot-retry-invalidate
  it('a slot that fails its CRC is invalidated and read again before it counts as bad', () => {
    const a = host('nc-a'), b = host('nc-b');
    const dev = formatted(a, 'nc-retry');
    const fb = asHost(b, () => Famfs.open(dev));
    const fa = asHost(a, () => Famfs.open(dev, { writable: true }));
    try {
      fb.log.slot(2); // b caches the (still empty) slot 2, as a prefetch might
      fa.writer((w) => w.mkdir('late'));
      const ok = (s: Buffer): boolean => s.readUInt32LE(0) !== 0 || s.readUInt32LE(4) !== 0;
      assert.ok(!ok(Buffer.from(fb.log.slot(2))), 'b still sees its stale copy');
      assert.ok(ok(fb.log.readSlot(2, ok)), 'the retry reads the committed entry');
    } finally {
      fa.close();
      fb.close();
    }
  });

  // fcc-sites: mkfs-superblock-invalidate
  it('mkfs on a host that cached the blank device still refuses to overwrite a file system made since', () => {
    const a = host('nc-a'), b = host('nc-b');
    const dev = sparseFile('nc-mkfs', 4 * GiB);
    assert.throws(() => asHost(b, () => Famfs.open(dev)), /superblock|magic|famfs/i);
    asHost(a, () => mkfs(dev));
    assert.throws(() => asHost(b, () => mkfs(dev)), /holds a famfs file system owned by another host/);
  });

  // fcc-sites: mkfs-kill-flush, superblock-invalidate
  it('mkfs --kill is seen by a host that had the file system open before', () => {
    const a = host('nc-a'), b = host('nc-b');
    const dev = formatted(a, 'nc-kill');
    asHost(b, () => Famfs.open(dev)).close();
    asHost(a, () => mkfs(dev, { force: true, kill: true }));
    assert.throws(() => asHost(b, () => Famfs.open(dev)), /superblock|magic/i);
  });

  // fcc-sites: cp-data-flush, read-invalidate
  it('famfs cp data reaches a client, and a rewrite reaches it too', () => {
    const a = host('nc-a'), b = host('nc-b');
    const dev = formatted(a, 'nc-cp');
    const src = path.join(a.dir, 'src.bin');
    fs.writeFileSync(src, Buffer.alloc(300_000, 0x41));
    const fa = asHost(a, () => Famfs.open(dev, { writable: true }));
    const fb = asHost(b, () => Famfs.open(dev));
    try {
      copyIn(fa, [src], 'copied');
      fb.refresh();
      assert.equal(verify(fb, fb.file('d/f'), 1), -1);
      const read = (): Buffer => Buffer.concat(fb.freshSlices(fb.file('copied'), 0, 300_000));
      assert.ok(read().equals(fs.readFileSync(src)));
      fs.writeFileSync(src, Buffer.alloc(300_000, 0x42));
      copyIn(fa, [src], 'copied'); // same size: rewritten in place
      assert.ok(read().equals(fs.readFileSync(src)), 'the client saw the old bytes');
    } finally {
      fa.close();
      fb.close();
    }
  });

  // fcc-sites: data-write-flush, read-invalidate
  it('a client daemon READ serves bytes another host wrote after the client last read them', () => {
    const a = host('nc-a'), b = host('nc-b');
    const dev = formatted(a, 'nc-read');
    const handler = clientHandler(dev, { ...b, name: 'nc-b' });
    const fa = asHost(a, () => Famfs.open(dev, { writable: true }));
    try {
      const id = fa.file('d/f').id;
      const before = handler.read(REQ, id, readArgs(0, 4096));
      assert.ok(!(before instanceof FuseError));
      fa.write(fa.file('d/f'), 100, Buffer.from('written by the master'));
      const got = Buffer.concat(handler.read(REQ, id, readArgs(100, 21)) as Buffer[]);
      assert.equal(got.toString(), 'written by the master');
    } finally {
      fa.close();
      handler.famfs.close();
    }
  });

  // fcc-sites: famfs-flush-file, famfs-flush-meta
  it('famfs flush writes back what a host stored without flushing: a file, and the log', () => {
    const a = host('nc-a'), b = host('nc-b');
    const dev = formatted(a, 'nc-hard');
    const fa = asHost(a, () => Famfs.open(dev, { writable: true }));
    try {
      const f = fa.file('d/f');
      fa.slices(f, 0, 5)[0]!.write('dirty');
      const spare = entryOffset(500);
      fa.device.view(spare, 5).write('spare');
      assert.notEqual(readRange(dev, spare, 5).toString(), 'spare');
      assert.deepEqual(hardFlush(fa, 'd/f'), { files: 1, bytes: 64 * 1024 });
      const fb = asHost(b, () => Famfs.open(dev));
      try {
        assert.equal(Buffer.concat(fb.freshSlices(fb.file('d/f'), 0, 5)).toString(), 'dirty');
      } finally {
        fb.close();
      }
      assert.notEqual(readRange(dev, spare, 5).toString(), 'spare');
      hardFlush(fa, '/');
      assert.equal(readRange(dev, spare, 5).toString(), 'spare');
      assert.equal(readRange(dev, spare - LOG_ENTRY_SIZE, 5).toString('latin1'), '\0'.repeat(5));
    } finally {
      fa.close();
    }
  });

  it('famfs flush: a file, the whole file system, and a missing path (one line, exit 1)', () => {
    const a = host('nc-a');
    const dev = formatted(a, 'nc-cli');
    const one = famfs(a, ['flush', '-d', dev, 'd/f']);
    assert.equal(one.status, 0, one.stderr);
    assert.equal(one.stdout, 'famfs flush: 1 files, 65536 bytes written back (simulated)\n');
    const all = famfs(a, ['flush', '-d', dev]);
    assert.equal(all.status, 0, all.stderr);
    assert.match(all.stdout, /^famfs flush: 1 files, \d+ bytes written back \(simulated\)\n$/);
    const bad = famfs(a, ['flush', '-d', dev, 'nope']);
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr, 'famfs flush: nope: no such file or directory in famfs\n');
  });

  // fcc-sites: devadd-header-flush, devheader-invalidate, devadd-check-invalidate
  it('devices added by the master are recognised by a host that looked at them before', () => {
    const a = host('nc-a'), b = host('nc-b');
    const dev = formatted(a, 'nc-dev0');
    const dev1 = sparseFile('nc-dev1', 4 * GiB), dev2 = sparseFile('nc-dev2', 4 * GiB);
    for (const d of [dev1, dev2]) assert.equal(typeof asHost(b, () => readDevHeader(d)), 'string');
    // Device lists in the hosts' temp dirs, never /etc/famfs/devices.
    const withList = <T>(h: Host, fn: () => T): T => {
      process.env.FAMFS_DEVICE_LIST = path.join(h.dir, 'devices');
      try {
        return asHost(h, fn);
      } finally {
        delete process.env.FAMFS_DEVICE_LIST;
      }
    };
    const fa = asHost(a, () => Famfs.open(dev, { writable: true }));
    try {
      withList(a, () => { addDevice(fa, dev1); addDevice(fa, dev2); });
    } finally {
      fa.close();
    }
    const h = asHost(b, () => readDevHeader(dev1));
    assert.ok(typeof h !== 'string' && h.index === 1, `b sees ${JSON.stringify(h)}`);
    // b, master of its own file system, may not take a device that now belongs to a's.
    const other = sparseFile('nc-other', 4 * GiB);
    asHost(b, () => mkfs(other));
    const fb = asHost(b, () => Famfs.open(other, { writable: true }));
    try {
      assert.throws(() => withList(b, () => addDevice(fb, dev2)), /already device 2 of famfs/);
    } finally {
      fb.close();
    }
  });
});

describe('non-coherent hosts on real mounts (simulated device)', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  // fcc-sites: new-space-zero-flush, data-write-flush
  it('a file written through the master mount reaches a client: written bytes, and zeros in the hole before them', async () => {
    const a = host('nc-ma'), b = host('nc-mb');
    const dev = sparseFile('nc-mount', 4 * GiB);
    asHost(a, () => mkfs(dev));
    const dataStart = asHost(a, () => { const f = Famfs.open(dev); try { return f.geometry.dataStart; } finally { f.close(); } });
    writeRange(dev, dataStart, Buffer.alloc(8 * MiB, 0xaa)); // old bytes where the new file will be allocated
    const mp = mount(a, dev, 'nc-master');
    const fd = fs.openSync(path.join(mp, 'holey'), 'w');
    fs.writeSync(fd, Buffer.alloc(4096, 0x58), 0, 4096, 1 * MiB);
    fs.closeSync(fd);
    const fb = asHost(b, () => Famfs.open(dev));
    try {
      await waitFor(() => (fb.refresh(), !!fb.tree.lookup('holey')), 10_000, 20);
      const f = fb.file('holey');
      assert.equal(f.size, 1 * MiB + 4096);
      const bytes = Buffer.concat(fb.freshSlices(f, 0, f.size));
      assert.equal(bytes.subarray(0, MiB).indexOf(0xaa), -1, 'the hole shows old device bytes');
      assert.ok(bytes.subarray(MiB).equals(Buffer.alloc(4096, 0x58)), 'the written bytes are not there');
    } finally {
      fb.close();
    }
  });
});
