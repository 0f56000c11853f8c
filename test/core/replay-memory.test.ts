/**
 * What replay no longer keeps (issue 15): applied entries and space holders are decoded
 * again from the log on demand and must equal what replay saw; the log's pages leave the
 * resident set once replay has copied them.
 */
import { HOLD_ALL } from '../../src/alloc/reclaim.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { mkfs } from '../../src/api/mkfs.js';
import { Famfs } from '../../src/api/famfs.js';
import { Device } from '../../src/device/device.js';
import { decodeLogEntry, type LogEntry } from '../../src/format/logentry.js';
import { entryOffset, LOG_ENTRY_SIZE } from '../../src/format/constants.js';
import type { AppliedEntry } from '../../src/meta/replay.js';
import { asHost, GiB, makeHost, MiB, removeAllShm, removeHost, sparseFile, type Host } from './helpers.js';

function rssShmem(): number {
  const m = /^RssShmem:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return Number(m![1]) * 1024;
}

describe('replay keeps slots, not entries', () => {
  let host: Host;
  let dev: string;
  before(() => {
    host = makeHost('replay-mem');
    dev = sparseFile('replay-mem', 4 * GiB);
    asHost(host, () => {
      mkfs(dev, { features: ['long-names', 'symlinks', 'delete', 'rename'] });
      const f = Famfs.open(dev, { writable: true });
      try {
        f.writer((w) => {
          w.mkdir('d');
          for (let i = 0; i < 40; i++) w.creat(`d/f${i}`, 100 + i);
          w.creat(`d/${'long-name-'.repeat(12)}`, 7); // a multi-slot record
          w.symlink('link', 'd/f0');
        });
        f.writer((w) => {
          w.remove('d/f3');
          w.rename('d/f4', 'd/f5');
        });
      } finally {
        f.close();
      }
    });
  });
  after(() => {
    removeAllShm();
    removeHost(host);
  });

  it('appliedAt, appliedEntries and spaceHolders equal the entries as decoded from their slots', () => {
    const f = asHost(host, () => Famfs.open(dev));
    // Nobody mounts this file system, so the presence oracle would release the deleted file at once.
    f.releaseOracle = HOLD_ALL;
    try {
      const slot = (i: number): Buffer => Buffer.from(f.log.slot(i));
      const fresh = (index: number): LogEntry => {
        const head = slot(index);
        const ncont = head.readUInt32LE(8) >= 0x74730000 ? head.readUInt32LE(12) : 0;
        const strings = ncont ? Buffer.concat(Array.from({ length: ncont }, (_, k) => slot(index + 1 + k).subarray(16, 536))) : undefined;
        return decodeLogEntry(head, strings);
      };
      const all: readonly AppliedEntry[] = f.appliedEntries;
      assert.equal(all.length, f.appliedCount);
      assert.ok(f.appliedCount >= 44, `applied ${f.appliedCount}`);
      const types = new Set(all.map((a) => a.entry.type));
      for (const t of ['mkdir', 'file', 'symlink', 'remove', 'rename']) assert.ok(types.has(t as LogEntry['type']), `no ${t} entry applied`);
      for (let i = 0; i < f.appliedCount; i++) {
        const a = f.appliedAt(i);
        assert.deepEqual(a, all[i]);
        assert.deepEqual(a.entry, fresh(a.index));
      }
      assert.throws(() => f.appliedAt(f.appliedCount), RangeError);
      // Space holders: every file entry, the deleted and the replaced one too, with its map.
      const holders = f.spaceHolders;
      assert.equal(holders.length, 41);
      for (const h of holders) {
        assert.equal(h.entry.type, 'file');
        assert.deepEqual(h.entry, fresh(h.index));
      }
      // heldSpace reads the tree's nodes instead of decoding: the live holders' sizes and maps,
      // a renamed file under its current name; deleted and replaced files only as pending.
      const held = f.heldSpace();
      const live = holders.filter((h) => !f.isRemovedEntry(h.index));
      assert.deepEqual(held.filter((h) => !h.pending).map((h) => h.index), live.map((h) => h.index));
      assert.equal(held.filter((h) => h.pending).length, holders.length - live.length);
      for (const [i, h] of live.entries()) {
        assert.ok(h.entry.type === 'file');
        assert.deepEqual([held[i]!.size, held[i]!.map], [h.entry.size, h.entry.map]);
        assert.equal(held[i]!.path, f.tree.byId.get(f.nodeIdOf(h.index))!.path);
      }
      assert.ok(held.some((h) => h.path === 'd/f5' && !h.pending), 'the renamed file under its new name');
      // The bitmap (built from slot numbers and the nodes' maps) holds every holder's extents,
      // the deleted and the replaced file's too (HOLD_ALL releases nothing).
      const { bitmap, collisions } = f.buildBitmap();
      assert.equal(collisions, 0);
      let end = 0;
      for (const h of holders) {
        if (h.entry.type !== 'file') continue;
        for (const e of h.entry.map.kind === 'simple' ? h.entry.map.extents : h.entry.map.strips) {
          assert.equal(bitmap.isFree(e.offset, e.length), false, `${h.entry.path}: extent not held`);
          end = Math.max(end, e.offset + e.length);
        }
      }
      assert.equal(bitmap.isFree(end, f.geometry.allocUnit), true, 'space past every holder is free');
    } finally {
      f.close();
    }
  });

  it('Device.dropPages takes pages read through the mapping out of the resident set, bytes unchanged', () => {
    const d = Device.open(dev);
    try {
      d.mapHead(entryOffset(0) + 16 * MiB);
      const first = entryOffset(0);
      const len = 8 * MiB;
      const copy = Buffer.from(d.view(first, len)); // touches every page
      const before = rssShmem();
      d.dropPages(first, len);
      const dropped = before - rssShmem();
      assert.ok(dropped >= len / 2, `RssShmem fell by ${dropped} bytes, expected most of ${len}`);
      assert.ok(copy.equals(d.view(first, len)), 'bytes changed');
      d.dropPages(first + 1, LOG_ENTRY_SIZE); // no whole page inside: nothing to do, no error
    } finally {
      d.close();
    }
  });
});
