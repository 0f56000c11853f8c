/**
 * Delete and rename (issue 14, part A) through the library and the CLI: the DELETE/RENAME
 * codec, replay (tree, ids, pending frees, stable listing positions), space reuse through a
 * ReleaseOracle, and every refused input changing nothing.
 */
import { after, before, describe, it } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkfs } from '../../src/api/mkfs.js';
import { Famfs } from '../../src/api/famfs.js';
import { formatFsck, fsck } from '../../src/api/fsck.js';
import { FamfsError } from '../../src/api/errors.js';
import { ExtEntryType, LOG_OFFSET, PRESENCE_OFFSET, PRESENCE_SIZE, DEFAULT_LEASE_MS, CONT_PAYLOAD } from '../../src/format/constants.js';
import { FEATURE_BLOCK_OFFSET, checkFeatureBlock, leaseMsOf } from '../../src/format/features.js';
import { NEXT_INDEX_OFFSET } from '../../src/format/logheader.js';
import { decodeLogEntry, encodeRecord, joinContSlots } from '../../src/format/logentry.js';
import { RELEASE_ALL } from '../../src/alloc/release-all.js';
import { HOLD_ALL } from '../../src/alloc/reclaim.js';
import type { FileNode, TreeNode } from '../../src/meta/tree.js';
import { asHost, crc32Ref, famfs, famfsOk, GiB, makeHost, MiB, readRange, removeAllShm, REPO, removeHost, sparseFile, writeRange, type Host } from './helpers.js';

let host: Host;
let other: Host;

function fresh(tag: string, opts: Parameters<typeof mkfs>[1] = { features: ['delete'] }): string {
  const dev = sparseFile(tag, 4 * GiB);
  asHost(host, () => mkfs(dev, opts));
  return dev;
}

/** Nodes in the subtree at n (0 when absent). */
function count(n: TreeNode | undefined): number {
  if (!n) return 0;
  let c = 1;
  if (n.kind === 'dir') for (const ch of n.children.values()) c += count(ch);
  return c;
}

function master<T>(dev: string, fn: (fs: Famfs) => T): T {
  const fs = asHost(host, () => Famfs.open(dev, { writable: true }));
  try {
    return fn(fs);
  } finally {
    fs.close();
  }
}

/** The superblock region and the log: what a refused operation must leave exactly as it was. */
const meta = (dev: string): Buffer => readRange(dev, 0, LOG_OFFSET + 8 * MiB);

describe('delete and rename', () => {
  before(() => {
    host = makeHost('rm-master');
    other = makeHost('rm-client');
  });
  after(() => {
    removeAllShm();
    removeHost(host);
    removeHost(other);
  });

  describe('codec', () => {
    it('DELETE and RENAME records: documented offsets, inline strings, CRC', () => {
      const [d] = encodeRecord({ type: 'remove', path: 'a/b', fileId: 7, kind: 'dir' }, 12);
      assert.equal(d!.length, 544);
      assert.deepEqual([d!.readBigUInt64LE(0), d!.readUInt32LE(8), d!.readUInt32LE(12), d!.readBigUInt64LE(16), d!.readUInt32LE(24), d!.readUInt32LE(40), d!.readUInt32LE(44)], [12n, ExtEntryType.DELETE, 0, 7n, 1, 3, 0]);
      assert.equal(d!.subarray(48, 51).toString(), 'a/b');
      assert.equal(d!.readUInt32LE(536), crc32Ref(d!, 0, 536));
      assert.deepEqual(decodeLogEntry(d!), { type: 'remove', seqnum: 12, path: 'a/b', fileId: 7, kind: 'dir' });
      const [r] = encodeRecord({ type: 'rename', from: 'x', to: 'dir/y', fileId: 3, kind: 'file', replacedId: 9 }, 4);
      assert.deepEqual([r!.readUInt32LE(8), r!.readUInt32LE(28), r!.readBigUInt64LE(32), r!.readUInt32LE(40), r!.readUInt32LE(44)], [ExtEntryType.RENAME, 1, 9n, 1, 5]);
      assert.deepEqual(decodeLogEntry(r!), { type: 'rename', seqnum: 4, from: 'x', to: 'dir/y', fileId: 3, kind: 'file', replacedId: 9 });
      const [plain] = encodeRecord({ type: 'rename', from: 'x', to: 'y', fileId: 3, kind: 'symlink' }, 4);
      assert.equal(decodeLogEntry(plain!).type === 'rename' && (decodeLogEntry(plain!) as { replacedId?: number }).replacedId, undefined);
    });

    it('long paths go to CONT slots; a bad kind or flag is a decode error', () => {
      const from = 'f'.repeat(300), to = 't'.repeat(400);
      const rec = encodeRecord({ type: 'rename', from, to, fileId: 1, kind: 'file' }, 20);
      assert.equal(rec.length, 1 + Math.ceil(700 / CONT_PAYLOAD));
      assert.equal(rec[0]!.readUInt32LE(12), rec.length - 1);
      const e = decodeLogEntry(rec[0]!, joinContSlots(rec.slice(1)));
      assert.ok(e.type === 'rename' && e.from === from && e.to === to);
      const bad = Buffer.from(rec[0]!);
      bad.writeUInt32LE(7, 24);
      assert.throws(() => decodeLogEntry(bad, joinContSlots(rec.slice(1))), /unknown node kind 7/);
      const [d] = encodeRecord({ type: 'remove', path: 'p', fileId: 1, kind: 'file' }, 0);
      d!.writeUInt32LE(2, 28);
      assert.throws(() => decodeLogEntry(d!), /unknown flags|RENAME fields/);
    });
  });

  describe('mkfs', () => {
    it('--features delete sets delete, rename and presence, stores the lease and zeroes the presence area', () => {
      const dev = sparseFile('mk', 4 * GiB);
      writeRange(dev, PRESENCE_OFFSET, Buffer.alloc(4096, 0xab));
      writeRange(dev, PRESENCE_OFFSET + PRESENCE_SIZE - 4096, Buffer.alloc(4096, 0xcd));
      asHost(host, () => mkfs(dev, { features: ['rename'], leaseMs: 3000 }));
      const fb = checkFeatureBlock(readRange(dev, FEATURE_BLOCK_OFFSET, 128));
      assert.ok(fb.ok);
      assert.equal(fb.features.incompat, 0b11000n);
      assert.equal(fb.features.rocompat, 0b100000n);
      assert.equal(leaseMsOf(fb.features), 3000);
      assert.ok(readRange(dev, PRESENCE_OFFSET, PRESENCE_SIZE).equals(Buffer.alloc(PRESENCE_SIZE)));
      const d2 = fresh('mk2');
      const fb2 = checkFeatureBlock(readRange(d2, FEATURE_BLOCK_OFFSET, 128));
      assert.ok(fb2.ok && leaseMsOf(fb2.features) === DEFAULT_LEASE_MS && fb2.features.rocompat === 0b100000n);
    });

    it('the CLI takes --lease as a duration', () => {
      const dev = sparseFile('mkcli', 4 * GiB);
      famfsOk(host, ['mkfs', '--features', 'delete', '--lease', '2.5s', dev]);
      const fb = checkFeatureBlock(readRange(dev, FEATURE_BLOCK_OFFSET, 128));
      assert.ok(fb.ok && fb.features.leaseMs === 2500);
    });
  });

  describe('replay', () => {
    it('delete: the node leaves its directory, stays reachable by id, its space is pending; listing positions keep', () => {
      const dev = fresh('del');
      master(dev, (fs) => {
        fs.writer((w) => {
          w.mkdir('d');
          for (const n of ['a', 'b', 'c']) w.creat(`d/${n}`, 3 * MiB);
        });
        const b = fs.lookup('d/b') as FileNode;
        const [bId, bIndex] = [b.id, b.entryIndex];
        fs.writer((w) => w.remove('d/b'));
        assert.equal(fs.tree.lookup('d/b'), undefined);
        assert.equal(fs.tree.byId.get(bId), b);
        assert.ok(b.removed);
        const d = fs.lookup('d');
        assert.ok(d.kind === 'dir');
        assert.deepEqual(d.order.map((n) => n?.name ?? null), ['a', null, 'c']);
        assert.deepEqual(fs.pendingFrees.map((p) => [p.fileId, p.path, p.size]), [[bIndex, 'd/b', 3 * MiB]]);
        assert.equal(fs.tree.files, 2);
      });
      // Another host replays the same thing from the log.
      const c = asHost(other, () => Famfs.open(dev));
      try {
        assert.deepEqual(c.readdir('d').map((s) => s.name), ['a', 'c']);
        assert.equal(c.pendingFrees.length, 1);
        assert.equal(c.stats.removals, 1);
      } finally {
        c.close();
      }
    });

    it('rename keeps the id; a directory rename moves everything below it; a rename over a file replaces it', () => {
      const dev = fresh('ren');
      master(dev, (fs) => {
        fs.writer((w) => {
          w.mkdir('x/y', { parents: true });
          w.creat('x/y/f', 100);
          w.creat('g', 200);
          w.creat('h', 300);
        });
        const f = fs.lookup('x/y/f');
        fs.writer((w) => w.rename('x', 'z'));
        assert.equal(fs.lookup('z/y/f'), f);
        assert.equal(f.path, 'z/y/f');
        assert.equal(fs.tree.lookup('x'), undefined);
        const g = fs.lookup('g'), h = fs.lookup('h');
        fs.writer((w) => w.rename('g', 'h'));
        assert.equal(fs.lookup('h'), g);
        assert.ok(h.removed);
        assert.deepEqual(fs.pendingFrees.map((p) => p.fileId), [h.entryIndex]);
        assert.ok(fsck(fs).clean);
      });
    });

    it('follow() yields removed and renamed events with the creation slots', async () => {
      const dev = fresh('follow');
      const fs = asHost(host, () => Famfs.open(dev, { writable: true }));
      try {
        fs.writer((w) => {
          w.creat('a', 10);
          w.creat('b', 10);
        });
        fs.writer((w) => {
          w.rename('a', 'b');
          w.remove('b');
        });
        const events = [];
        const stop = new AbortController();
        for await (const ev of fs.follow({ fromStart: true, intervalMs: 5, signal: stop.signal })) {
          events.push(ev);
          if (events.length === 4) stop.abort();
        }
        assert.deepEqual(events.map((e) => [e.type, 'path' in e ? e.path : `${(e as { from: string }).from}>${(e as { to: string }).to}`]), [['created', 'a'], ['created', 'b'], ['renamed', 'a>b'], ['removed', 'b']]);
        assert.deepEqual(events[2], { type: 'renamed', index: 2, from: 'a', to: 'b', kind: 'file', id: 0, replaced: 1 });
        assert.deepEqual(events[3], { type: 'removed', index: 3, path: 'b', kind: 'file', id: 0 });
      } finally {
        fs.close();
      }
    });

    it('a DELETE whose creation slot does not match the path is refused by replay (never guessed)', () => {
      const dev = fresh('mismatch');
      master(dev, (fs) => {
        fs.writer((w) => {
          w.creat('a', 10);
          w.creat('b', 10);
        });
        fs.writer(() => fs.log.append({ type: 'remove', path: 'a', fileId: fs.lookup('b').entryIndex, kind: 'file' }));
        fs.refresh();
        assert.ok(fs.tree.lookup('a'));
        assert.match(fs.problems.at(-1)!.message, /a is not the file created by slot 1/);
        assert.equal(fs.pendingFrees.length, 0);
      });
    });

    it('a file system without the feature refuses DELETE entries written into it', () => {
      const dev = fresh('nofeat', {});
      master(dev, (fs) => {
        fs.writer((w) => w.creat('a', 10));
        fs.writer(() => fs.log.append({ type: 'remove', path: 'a', fileId: 0, kind: 'file' }));
        fs.refresh();
        assert.ok(fs.tree.lookup('a'));
        assert.match(fs.problems.at(-1)!.message, /without the delete feature/);
      });
    });

    it('several records committed by one next_index store; a writer killed between the counters leaves them uncommitted', () => {
      const dev = fresh('group');
      master(dev, (fs) => {
        fs.writer((w) => w.creat('old', 10));
        const old = fs.lookup('old');
        fs.writer(() => fs.log.appendMany([{ type: 'remove', path: 'old', fileId: old.entryIndex, kind: 'file' }, { type: 'mkdir', path: 'old', mode: 0o755, uid: 0, gid: 0 }]));
        fs.refresh();
        assert.equal(fs.lookup('old').kind, 'dir');
        // next_seqnum ahead by two records (the kill window): the next append reuses those slots.
        const h = fs.log.readHeader();
        fs.writer(() => fs.log.appendMany([{ type: 'mkdir', path: 'p', mode: 0o755, uid: 0, gid: 0 }, { type: 'mkdir', path: 'q', mode: 0o755, uid: 0, gid: 0 }]));
        const hdr = readRange(dev, LOG_OFFSET, 48);
        hdr.writeUInt32LE(h.nextIndex, NEXT_INDEX_OFFSET); // next_index back, next_seqnum left ahead
        writeRange(dev, LOG_OFFSET, hdr);
        fs.writer(() => fs.log.append({ type: 'mkdir', path: 'r', mode: 0o755, uid: 0, gid: 0 }));
        fs.refresh();
        assert.ok(fs.tree.lookup('r'));
      });
    });

    it('rm -r of a tree is one commit (commitAll): a writer killed between its counters leaves none of it, and the next append goes on', () => {
      const dev = fresh('bigcommit');
      master(dev, (fs) => {
        fs.writer((w) => {
          w.mkdir('t');
          for (let i = 0; i < 40; i++) w.mkdir(`t/d${i}`);
        });
        const h = fs.log.readHeader();
        const removed = fs.writer((w) => w.remove('t', { recursive: true }));
        assert.equal(removed.length, 41);
        assert.equal(fs.log.readHeader().nextIndex, h.nextIndex + 41, 'all 41 DELETEs in one commit');
        assert.equal(fs.tree.lookup('t'), undefined);
        // Killed between next_seqnum and next_index (41 records ahead, past MAX_GROUP): none of them count.
        const hdr = readRange(dev, LOG_OFFSET, 48);
        hdr.writeUInt32LE(h.nextIndex, NEXT_INDEX_OFFSET);
        writeRange(dev, LOG_OFFSET, hdr);
        const again = asHost(host, () => Famfs.open(dev));
        try {
          assert.equal(count(again.tree.lookup('t')), 41, 'a reader sees the whole tree');
        } finally {
          again.close();
        }
        fs.writer(() => fs.log.append({ type: 'mkdir', path: 'r', mode: 0o755, uid: 0, gid: 0 }));
        fs.replayFromScratch();
        assert.ok(fs.tree.lookup('r'));
        assert.equal(count(fs.tree.lookup('t')), 41);
      });
    });
  });

  describe('space', () => {
    it('pending space stays allocated (HOLD_ALL); once released a new file reuses it and shows only zeros', () => {
      const dev = fresh('reuse');
      master(dev, (fs) => {
        // No host is mounted, so the presence area's oracle would release at once: hold instead.
        fs.releaseOracle = HOLD_ALL;
        fs.writer((w) => w.creat('big', 8 * MiB, {}, (f) => fs.write({ ...f, path: 'big' }, 0, Buffer.alloc(8 * MiB, 0x5a))));
        const used = fs.usage()[0]!.used;
        const big = fs.lookup('big') as FileNode;
        fs.writer((w) => w.remove('big'));
        assert.equal(fs.usage()[0]!.used, used, 'held until released');
        const held = fsck(fs);
        assert.deepEqual(held.pending.map((p) => [p.path, p.fileId, p.bytes]), [['big', big.entryIndex, 8 * MiB]]);
        assert.equal(held.devices[0]!.pending, 8 * MiB);
        assert.equal(held.files, 0);
        assert.ok(held.clean);
        assert.match(formatFsck(held), /Pending \(deleted\): +8388608 in 1 files/);
        assert.match(formatFsck(held), /big: 8388608 bytes \(file 0, removed by entry 1\)/);
        fs.releaseOracle = RELEASE_ALL;
        assert.equal(fs.usage()[0]!.used, used - 8 * MiB);
        const n = fs.writer((w) => w.creat('new', 8 * MiB));
        writeRange(dev, (n.map.kind === 'simple' ? n.map.extents[0]!.offset : 0), Buffer.alloc(8192, 0x77)); // old bytes for the next reuse
        assert.deepEqual(n.map, big.map, 'the first fit is the freed space');
        for (const v of fs.views(n)) assert.equal(v.indexOf(0x5a), -1, 'no old byte shows');
        assert.equal(fs.pendingFrees.length, 0, 'reused means released for good');
        // A filled file (cp, creat -r) over reused space: the rest of its last page is zero too.
        fs.writer((w) => w.remove('new'));
        const small = fs.writer((w) => w.creat('small', 100, {}, (f) => fs.write({ ...f, path: 'small' }, 0, Buffer.alloc(100, 0x11))));
        const off = small.map.kind === 'simple' ? small.map.extents[0]!.offset : -1;
        assert.equal(off, (big.map.kind === 'simple' ? big.map.extents[0]!.offset : -2));
        const page = readRange(dev, off, 4096);
        assert.ok(page.subarray(0, 100).equals(Buffer.alloc(100, 0x11)));
        assert.ok(page.subarray(100).equals(Buffer.alloc(3996)), 'no old byte in the last page');
        fs.releaseOracle = { releasable: () => new Set() };
        const r = fsck(fs);
        assert.equal(r.collisions, 0);
        assert.ok(r.clean);
      });
    });
  });

  describe('refusals: one clear error, nothing changes', () => {
    const cases: [string, (fs: Famfs) => unknown, string, RegExp][] = [
      ['non-empty directory', (fs) => fs.writer((w) => w.remove('d', { dir: true })), 'ENOTEMPTY', /d: directory not empty/],
      ['directory without -r', (fs) => fs.writer((w) => w.remove('d')), 'EISDIR', /d: is a directory \(use -r/],
      ['rename into its own subtree', (fs) => fs.writer((w) => w.rename('d', 'd/e/d2')), 'EINVAL', /cannot move a directory into itself/],
      ['missing source', (fs) => fs.writer((w) => w.remove(['d/f', 'nope'])), 'ENOENT', /nope: no such file/],
      ['missing rename source', (fs) => fs.writer((w) => w.rename('nope', 'x')), 'ENOENT', /nope: no such file/],
      ['file over a directory', (fs) => fs.writer((w) => w.rename('d/f', 'd/e')), 'EISDIR', /d\/e: is a directory/],
      ['no-replace over a file', (fs) => fs.writer((w) => w.rename('d/f', 'g', { noReplace: true })), 'EEXIST', /g: already exists/],
      ['the root', (fs) => fs.writer((w) => w.remove('/', { recursive: true })), 'EBUSY', /root directory/],
    ];
    for (const [what, op, code, re] of cases) {
      it(what, () => {
        const dev = fresh(`bad-${what.replace(/\W/g, '')}`);
        master(dev, (fs) => fs.writer((w) => {
          w.mkdir('d/e', { parents: true });
          w.creat('d/f', 10);
          w.creat('g', 10);
        }));
        const before = meta(dev);
        master(dev, (fs) => assert.throws(() => op(fs), (e: unknown) => e instanceof FamfsError && e.code === code && re.test(e.message)));
        assert.ok(meta(dev).equals(before));
      });
    }

    it('a client, a file system without the feature, a full log', () => {
      const dev = fresh('client');
      master(dev, (fs) => fs.writer((w) => w.creat('a', 10)));
      const before = meta(dev);
      const c = asHost(other, () => Famfs.open(dev, { writable: true }));
      try {
        assert.throws(() => c.writer((w) => w.remove('a')), (e: unknown) => e instanceof FamfsError && e.code === 'EPERM' && /client/.test(e.message));
      } finally {
        c.close();
      }
      const plain = fresh('plain', {});
      master(plain, (fs) => fs.writer((w) => w.creat('a', 10)));
      const pb = meta(plain);
      master(plain, (fs) => {
        assert.throws(() => fs.writer((w) => w.remove('a')), (e: unknown) => e instanceof FamfsError && e.code === 'EPERM' && /cannot delete/.test(e.message));
        assert.throws(() => fs.writer((w) => w.rename('a', 'b')), (e: unknown) => e instanceof FamfsError && e.code === 'EPERM' && /cannot rename/.test(e.message));
      });
      assert.ok(meta(plain).equals(pb));
      assert.ok(meta(dev).equals(before));
      // Fill the log to one free slot; rm -r of two nodes needs two.
      const full = fresh('full');
      master(full, (fs) => {
        fs.writer((w) => {
          w.mkdir('d');
          w.creat('d/f', 10);
          const free = fs.log.freeSlots();
          for (let i = 0; i < free - 1; i++) fs.log.append({ type: 'mkdir', path: `m${i}`, mode: 0o755, uid: 0, gid: 0 });
        });
      });
      const fb = meta(full);
      master(full, (fs) => assert.throws(() => fs.writer((w) => w.remove('d', { recursive: true })), (e: unknown) => e instanceof FamfsError && e.code === 'ENOSPC' && /log is full: this needs 2 entries and 1 are free/.test(e.message)));
      assert.ok(meta(full).equals(fb));
    });
  });

  describe('CLI', () => {
    it('famfs rm [-r] and famfs mv on --device; errors are one line and change nothing', () => {
      const dev = fresh('cli');
      famfsOk(host, ['mkdir', '-p', '--device', dev, 'd/e']);
      famfsOk(host, ['creat', '-s', '4096', '--device', dev, 'd/e/f']);
      famfsOk(host, ['creat', '-s', '4096', '--device', dev, 'g']);
      famfsOk(host, ['creat', '-s', '4096', '--device', dev, 'h']);
      const before = meta(dev);
      for (const args of [['rm', 'd'], ['rm', 'nope'], ['mv', 'd', 'd/e'], ['mv', 'nope', 'x'], ['mv', '-n', 'g', 'h']]) {
        const r = famfs(host, [args[0]!, '--device', dev, ...args.slice(1)]);
        assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.match(r.stderr, new RegExp(`^famfs ${args[0]}: `));
      }
      assert.ok(meta(dev).equals(before));
      famfsOk(host, ['mv', '--device', dev, 'g', 'd']); // into the directory
      famfsOk(host, ['mv', '--device', dev, 'h', 'd/g']); // over a file
      famfsOk(host, ['rm', '-r', '--device', dev, 'd/e']);
      const ls = famfsOk(host, ['ls', '-R', '--device', dev]).stdout;
      assert.doesNotMatch(ls, /\bf\b|\bh\b|\be\b/);
      assert.match(ls, /\bg\b/);
      const r = famfs(other, ['rm', '--device', dev, 'd/g']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /only the master may change it/);
    });
  });
});

describe('famfs compact', () => {
  let h: Host;
  before(() => {
    h = makeHost('compact');
  });
  after(() => {
    removeAllShm();
    removeHost(h);
  });

  it('rewrites the log with only the live tree; maps and bytes stay, ids change; refusals change nothing', () => {
    const dev = sparseFile('compact', 4 * GiB);
    famfsOk(h, ['mkfs', '--features', 'delete', dev]);
    famfsOk(h, ['mkdir', '-p', '-d', dev, 'a/b']);
    for (let i = 0; i < 6; i++) famfsOk(h, ['creat', '-d', dev, '-s', String(MiB + i), '-r', '-S', String(i + 1), `a/b/f${i}`]);
    famfsOk(h, ['rm', '-d', dev, 'a/b/f1', 'a/b/f3']);
    famfsOk(h, ['mv', '-d', dev, 'a/b/f5', 'a/top']);
    famfsOk(h, ['mv', '-d', dev, 'a/b/f4', 'a/b/f0']);
    const before = asHost(h, () => Famfs.open(dev));
    const maps = new Map(before.readdir('a/b').map((s) => [s.path, JSON.stringify((before.lookup(s.path) as FileNode).map)]));
    before.close();
    // A host in the presence area: refused, nothing written.
    const slot = readRange(dev, PRESENCE_OFFSET + 3 * 0x4000, 64);
    writeRange(dev, PRESENCE_OFFSET + 3 * 0x4000, Buffer.alloc(64, 1));
    const m0 = meta(dev);
    const busy = famfs(h, ['compact', dev]);
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, /presence slot 3 is in use/);
    assert.ok(meta(dev).equals(m0));
    writeRange(dev, PRESENCE_OFFSET + 3 * 0x4000, slot);
    const backup = `${dev}.backup`;
    const r = famfsOk(h, ['compact', '--backup', backup, dev]);
    assert.match(r.stdout, /log entries: 12 → 5; 3 deleted files' space released/);
    assert.ok(readRange(backup, LOG_OFFSET, 48).equals(m0.subarray(LOG_OFFSET, LOG_OFFSET + 48)), 'the old log header is in the backup');
    const after = asHost(h, () => Famfs.open(dev));
    try {
      assert.deepEqual(after.readdir('a/b').map((s) => s.name).sort(), ['f0', 'f2']);
      for (const [p, m] of maps) assert.equal(JSON.stringify((after.lookup(p) as FileNode).map), m, p);
      assert.equal(after.pendingFrees.length, 0);
      const rep = fsck(after);
      assert.ok(rep.clean);
      assert.equal(rep.files, 3);
    } finally {
      after.close();
    }
    assert.equal(famfs(h, ['verify', '-d', dev, '-S', '5', 'a/b/f0']).status, 0, 'f4 renamed over f0 keeps its bytes');
    assert.equal(famfs(h, ['verify', '-d', dev, '-S', '6', 'a/top']).status, 0);
    assert.match(famfsOk(h, ['compact', dev]).stdout, /nothing to compact: all 5 log entries are live/);
    fs.rmSync(backup, { force: true });
  });

  it('SIGKILLed in the middle: every tool refuses the half-written log (no file lost to a new one) until the backup is restored', () => {
    const dev = sparseFile('compact-kill', 4 * GiB);
    famfsOk(h, ['mkfs', '--features', 'delete', dev]);
    famfsOk(h, ['mkdir', '-p', '-d', dev, 'a/b']);
    for (let i = 0; i < 6; i++) famfsOk(h, ['creat', '-d', dev, '-s', String(2 * MiB), '-r', '-S', String(i + 1), `a/b/f${i}`]);
    famfsOk(h, ['rm', '-d', dev, 'a/b/f1']);
    const tree0 = famfsOk(h, ['ls', '-R', '--device', dev]).stdout;
    const backup = `${dev}.backup`;
    try {
      // 7 live entries (a, a/b, 5 files) to write: killed after the 4th.
      const k = spawnSync(process.execPath, [path.join(REPO, 'dist/test/core/compact-child.js'), dev, backup, '4'], { env: h.env, encoding: 'utf8' });
      assert.equal(k.signal, 'SIGKILL', k.stderr);
      for (const args of [['ls', '-R', '--device', dev], ['creat', '-d', dev, '-s', String(2 * MiB), 'new'], ['fsck', dev], ['compact', dev]]) {
        const r = famfs(h, args);
        assert.equal(r.status, 1, `famfs ${args[0]} on an interrupted compact: ${r.stdout}`);
        assert.match(r.stderr, /famfs compact is rewriting the log, or was interrupted/);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      }
      // The restore it names brings back the whole tree, bytes included; compact then runs through.
      const img = fs.readFileSync(backup);
      writeRange(dev, 0, img);
      assert.equal(famfsOk(h, ['ls', '-R', '--device', dev]).stdout, tree0);
      for (const i of [0, 2, 3, 4, 5]) assert.equal(famfs(h, ['verify', '-d', dev, '-S', String(i + 1), `a/b/f${i}`]).status, 0, `f${i}`);
      fs.rmSync(backup, { force: true });
      assert.match(famfsOk(h, ['compact', '--backup', backup, dev]).stdout, /log entries: 9 → 7; 1 deleted files' space released/);
      assert.equal(famfsOk(h, ['ls', '-R', '--device', dev]).stdout, tree0);
    } finally {
      fs.rmSync(backup, { force: true });
    }
  });
});
