/**
 * Format extensions (docs/format.md) through the library: the feature mark and
 * what readers do with it, long names and paths, symlinks, multi-slot records,
 * small allocation units and a log sized for a number of files.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkfs, logLenForEntries, type MkfsOptions } from '../../src/api/mkfs.js';
import { Famfs } from '../../src/api/famfs.js';
import { dataAmplification, fsck } from '../../src/api/fsck.js';
import { copyIn } from '../../src/api/copy.js';
import { docTree } from '../fs/treegen.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FamfsError } from '../../src/api/errors.js';
import { CURRENT_VERSION, LOG_OFFSET, entryOffset, logSlots, MAX_RELPATH_BYTES } from '../../src/format/constants.js';
import { checkSuperblock, decodeSuperblock } from '../../src/format/superblock.js';
import { encodeFeatureBlock, EXT_VERSION, FEATURE_BLOCK_OFFSET, FEATURES } from '../../src/format/features.js';
import { encodeRecord } from '../../src/format/logentry.js';
import { asHost, crc32Ref, GiB, makeHost, MiB, readRange, removeAllShm, removeHost, sparseFile, writeRange, type Host } from './helpers.js';

let host: Host;
let other: Host;

/** Upstream's famfs_check_super gate (reference §1d): exact version equality comes before anything else. */
const upstreamAccepts = (sb: Buffer): boolean => sb.readUInt32LE(0) === 0x87b282ff && sb.readBigUInt64LE(8) === BigInt(CURRENT_VERSION);

function fresh(tag: string, opts: Parameters<typeof mkfs>[1] = {}): string {
  const dev = sparseFile(tag, 4 * GiB);
  asHost(host, () => mkfs(dev, opts));
  return dev;
}

const name = (c: string, n: number): string => c.repeat(n);

describe('format extensions', () => {
  before(() => {
    host = makeHost('ext-master');
    other = makeHost('ext-client');
  });
  after(() => {
    removeAllShm();
    removeHost(host);
    removeHost(other);
  });

  describe('the feature mark', () => {
    it('no extension: version 48, 2 MiB unit, no feature block written, upstream accepts it', () => {
      const dev = fresh('plain');
      const sb = readRange(dev, 0, 200);
      assert.equal(decodeSuperblock(sb).version, CURRENT_VERSION);
      assert.equal(decodeSuperblock(sb).allocUnit, 2 * MiB);
      assert.ok(upstreamAccepts(sb));
      assert.ok(readRange(dev, FEATURE_BLOCK_OFFSET, 128).equals(Buffer.alloc(128)), 'nothing written past the 200-byte superblock');
    });

    it('any extension: EXT_VERSION (upstream and our older readers refuse it), feature block with the bits', () => {
      const dev = fresh('all', { features: ['long-names', 'symlinks'] });
      const sb = readRange(dev, 0, 200);
      assert.equal(decodeSuperblock(sb).version, EXT_VERSION);
      assert.equal(checkSuperblock(sb), 'ok');
      assert.ok(!upstreamAccepts(sb));
      assert.ok(![47, 48].includes(sb.readUInt32LE(8)), 'readers before the extensions accept only 47 and 48');
      const fs = asHost(host, () => Famfs.open(dev));
      try {
        assert.equal(fs.features.incompat, 3n);
        assert.ok(fs.longNames);
      } finally {
        fs.close();
      }
    });

    it('an unknown incompat bit: open refuses with the feature named; nothing changes', () => {
      const dev = fresh('unknown', { features: ['symlinks'] });
      writeRange(dev, FEATURE_BLOCK_OFFSET, encodeFeatureBlock({ incompat: (1n << 1n) | (1n << 7n) | (1n << 40n), rocompat: 0n }));
      const before = readRange(dev, 0, 4 * MiB);
      for (const h of [host, other]) {
        assert.throws(() => asHost(h, () => Famfs.open(dev)), (e: unknown) => e instanceof FamfsError && /does not know: bit 7, bit 40/.test((e as Error).message));
      }
      assert.ok(readRange(dev, 0, 4 * MiB).equals(before));
    });

    it('an unknown rocompat bit: readable, but the master may not write', () => {
      const dev = fresh('rocompat', { features: ['symlinks'] });
      writeRange(dev, FEATURE_BLOCK_OFFSET, encodeFeatureBlock({ incompat: 2n, rocompat: 1n << 7n }));
      asHost(other, () => Famfs.open(dev)).close();
      asHost(host, () => Famfs.open(dev)).close();
      assert.throws(() => asHost(host, () => Famfs.open(dev, { writable: true })), /can read but not change: bit 7/);
    });

    it('a damaged feature block is refused', () => {
      const dev = fresh('badfb', { features: ['symlinks'] });
      const b = readRange(dev, FEATURE_BLOCK_OFFSET, 128);
      b[8] ^= 4;
      writeRange(dev, FEATURE_BLOCK_OFFSET, b);
      assert.throws(() => asHost(host, () => Famfs.open(dev)), /feature block with a bad CRC/);
    });

    it('mkfs refuses unknown or reserved features and bad units with one clear error', () => {
      const dev = sparseFile('badopt', 4 * GiB);
      const cases: [MkfsOptions, RegExp][] = [
        [{ features: ['bogus'] }, /unknown feature "bogus"/],
        [{ features: ['delete'], leaseMs: 10 }, /lease 10 ms must be/],
        [{ leaseMs: 5000 }, /--lease applies only with --features delete/],
        [{ allocUnit: 3000 }, /power of two from 4096/],
        [{ files: 10, logLen: 8 * MiB }, /either a log length or a number of files/],
      ];
      for (const [opts, re] of cases) {
        assert.throws(() => asHost(host, () => mkfs(dev, opts)), re);
      }
      assert.ok(readRange(dev, 0, 4096).equals(Buffer.alloc(4096)), 'nothing written');
    });

    it('feature block and record bytes sit at the documented offsets, CRCs checked independently', () => {
      const fb = encodeFeatureBlock({ incompat: 7n, rocompat: 0n });
      assert.equal(fb.subarray(0, 8).toString('latin1'), 'famfsFEA');
      assert.equal(fb.readBigUInt64LE(8), 7n);
      assert.equal(fb.readUInt32LE(120), crc32Ref(fb, 0, 120));
      const rec = encodeRecord({ type: 'symlink', path: 'a/b', target: 'x'.repeat(600), uid: 5, gid: 6 }, 10);
      assert.equal(rec.length, 3);
      const head = rec[0]!;
      assert.deepEqual([head.readUInt32LE(8), head.readUInt32LE(12), head.readUInt32LE(16), head.readUInt32LE(20), head.readUInt32LE(24), head.readUInt32LE(28), head.readUInt32LE(32)], [0x74730003, 2, 5, 6, 0o777, 3, 600]);
      for (const [i, slot] of rec.entries()) {
        assert.equal(slot.readBigUInt64LE(0), BigInt(10 + i));
        assert.equal(slot.readUInt32LE(536), crc32Ref(slot, 0, 536));
      }
      assert.deepEqual([rec[1]!.readUInt32LE(8), rec[1]!.readUInt32LE(12)], [0x74730004, 1]);
      assert.equal(Buffer.concat([rec[1]!.subarray(16, 536), rec[2]!.subarray(16, 536)]).subarray(0, 603).toString(), `a/b${'x'.repeat(600)}`);
      const short = encodeRecord({ type: 'mkdir', path: 'd'.repeat(79), uid: 0, gid: 0, mode: 0o755 }, 0);
      assert.equal(short.length, 1, 'a path upstream can hold stays an upstream MKDIR');
      assert.equal(short[0]!.readUInt32LE(8), 1);
      const long = encodeRecord({ type: 'file', path: 'f'.repeat(80), size: 1, flags: 2, uid: 0, gid: 0, mode: 0o644, map: { kind: 'simple', extents: [{ devindex: 0, offset: 0xa00000, length: 4096 }] } }, 0);
      assert.deepEqual([long[0]!.readUInt32LE(8), long[0]!.readUInt32LE(12), long[0]!.readUInt32LE(40), long[0]!.readUInt32LE(128)], [0x74730001, 1, 80, 1]);
      assert.ok(long[0]!.subarray(44, 120).equals(Buffer.alloc(76)));
    });

    it('every bit of the table is used once, all known but compacting; issue 14 bits are delete 3, rename 4 (incompat), presence 5 (rocompat)', () => {
      // compacting (bit 6) only marks a compact in progress: every version refuses it.
      assert.deepEqual(FEATURES.filter((f) => !f.known).map((f) => [f.name, f.bit, f.class]), [['compacting', 6, 'incompat']]);
      assert.deepEqual(FEATURES.slice(3, 6).map((f) => [f.name, f.bit, f.class]), [['delete', 3, 'incompat'], ['rename', 4, 'incompat'], ['presence', 5, 'rocompat']]);
      assert.equal(new Set(FEATURES.map((f) => f.bit)).size, FEATURES.length);
    });
  });

  describe('long names and paths', () => {
    it('without the extension: a path over 79 bytes fails with ENAMETOOLONG and a hint', () => {
      const dev = fresh('short');
      const fs = asHost(host, () => Famfs.open(dev, { writable: true }));
      try {
        assert.throws(() => asHost(host, () => fs.writer((w) => w.creat(name('a', MAX_RELPATH_BYTES + 1), 10))), (e: unknown) => (e as FamfsError).code === 'ENAMETOOLONG' && /--features long-names/.test((e as Error).message));
        assert.equal(fs.log.nextIndex(), 0);
      } finally {
        fs.close();
      }
    });

    it('255-byte names, a 4,095-byte path, multi-byte UTF-8: created, replayed on another host, fsck clean', () => {
      const dev = fresh('long', { features: ['long-names'] });
      const fs = asHost(host, () => Famfs.open(dev, { writable: true }));
      const dirs: string[] = [];
      let p = '';
      // 15 directories of 255 bytes plus a file: 16 × 256 - 1 = 4,095 bytes.
      for (let i = 0; i < 15; i++) {
        p = p ? `${p}/${name(String.fromCharCode(97 + i), 255)}` : name('a', 255);
        dirs.push(p);
      }
      const deepest = `${p}/${name('z', 255)}`;
      assert.equal(Buffer.byteLength(deepest), 4095);
      const utf = `${'é'.repeat(127)}x`; // 255 bytes
      try {
        asHost(host, () => fs.writer((w) => {
          for (const d of dirs) w.mkdir(d);
          w.creat(deepest, 5000);
          w.creat(utf, 1);
          w.creat('short', 1);
          assert.throws(() => w.creat(`${name('q', 256)}`, 1), /name longer than 255 bytes/);
          assert.throws(() => w.creat(`${p}/${name('z', 256)}`, 1), /longer than 4095 bytes/);
        }));
      } finally {
        fs.close();
      }
      const c = asHost(other, () => Famfs.open(dev));
      try {
        assert.equal(c.role, 'client');
        assert.deepEqual(c.problems, []);
        assert.equal(c.file(deepest).size, 5000);
        assert.equal(c.file(utf).size, 1);
        assert.equal(c.file('short').size, 1);
        assert.equal(c.stats.dirs, 15);
        const r = fsck(c);
        assert.equal(r.collisions, 0);
        assert.equal(r.badEntries, 0);
      } finally {
        c.close();
      }
    });
  });

  describe('symbolic links and multi-slot records', () => {
    it('relative and absolute targets kept as given, long targets across slots; replayed elsewhere', () => {
      const dev = fresh('links', { features: ['long-names', 'symlinks'] });
      const longTarget = `../${'t'.repeat(200)}/`.repeat(20).slice(0, 4095);
      const fs = asHost(host, () => Famfs.open(dev, { writable: true }));
      try {
        asHost(host, () => fs.writer((w) => {
          w.mkdir('blobs');
          w.creat('blobs/abc', 10);
          w.mkdir('snap');
          w.symlink('snap/model.bin', '../blobs/abc', { uid: 7, gid: 8 });
          w.symlink('abs', '/etc/hostname');
          w.symlink('long', longTarget);
          assert.equal(w.symlink('abs', '/etc/hostname').kind, 'symlink', 'same link again is fine');
          assert.throws(() => w.symlink('abs', '/other'), /already exists/);
          assert.throws(() => w.symlink('x', ''), /invalid symlink target/);
          assert.throws(() => w.symlink('nodir/x', 'y'), /parent directory does not exist/);
        }));
      } finally {
        fs.close();
      }
      const c = asHost(other, () => Famfs.open(dev));
      try {
        assert.deepEqual(c.problems, []);
        const l = c.lookup('snap/model.bin');
        assert.ok(l.kind === 'symlink' && l.target === '../blobs/abc' && l.uid === 7 && l.gid === 8);
        const a = c.lookup('abs');
        assert.ok(a.kind === 'symlink' && a.target === '/etc/hostname');
        const lt = c.lookup('long');
        assert.ok(lt.kind === 'symlink' && lt.target === longTarget);
        assert.equal(c.stats.symlinks, 3);
        assert.throws(() => c.file('abs'), /is a symbolic link/);
        // blobs, abc, snap: one slot each; the short links 2 slots each; 4 + 4,095 string bytes: 1 + 8.
        assert.equal(c.stats.entries, 3 + 2 + 2 + 9);
      } finally {
        c.close();
      }
    });

    it('symlinks need their feature; a SYMLINK entry in a file system without it is refused on replay', () => {
      const dev = fresh('nolinks', { features: ['long-names'] });
      const fs = asHost(host, () => Famfs.open(dev, { writable: true }));
      try {
        assert.throws(() => asHost(host, () => fs.writer((w) => w.symlink('l', 't'))), /no symbolic links/);
      } finally {
        fs.close();
      }
      const slots = encodeRecord({ type: 'symlink', path: 'l', target: 't', uid: 0, gid: 0 }, 0);
      slots.forEach((b, i) => writeRange(dev, entryOffset(i), b));
      writeHeader(dev, slots.length);
      const c = asHost(other, () => Famfs.open(dev));
      try {
        assert.equal(c.problems.length, 1);
        assert.match(c.problems[0]!.message, /without the symlinks feature/);
        assert.equal(c.tree.lookup('l'), undefined);
      } finally {
        c.close();
      }
    });

    it('a record is committed whole: slots past next_index are invisible; a broken continuation rejects only its record', () => {
      const dev = fresh('torn', { features: ['long-names', 'symlinks'] });
      const rec = encodeRecord({ type: 'mkdir', path: name('d', 600), uid: 0, gid: 0, mode: 0o755 }, 0);
      assert.equal(rec.length, 3);
      rec.forEach((b, i) => writeRange(dev, entryOffset(i), b));
      // A writer killed after writing the slots and next_seqnum: nothing is visible, and the next append reuses the slots.
      writeHeader(dev, 0, 3);
      const fs = asHost(host, () => Famfs.open(dev, { writable: true }));
      try {
        assert.equal(fs.tree.root.children.size, 0);
        asHost(host, () => fs.writer((w) => w.mkdir('after')));
        assert.equal(fs.log.nextIndex(), 1);
      } finally {
        fs.close();
      }
      // A continuation with a bad CRC: its record is refused, the entry after it replays.
      const rec2 = encodeRecord({ type: 'symlink', path: 'l', target: 'x'.repeat(700), uid: 0, gid: 0 }, 1);
      rec2[2]![100] ^= 1;
      const next = encodeRecord({ type: 'mkdir', path: 'ok', uid: 0, gid: 0, mode: 0o755 }, 4);
      [...rec2, ...next].forEach((b, i) => writeRange(dev, entryOffset(1 + i), b));
      writeHeader(dev, 5);
      const c = asHost(other, () => Famfs.open(dev));
      try {
        assert.deepEqual(c.problems.map((p) => [p.index, p.kind]), [[1, 'bad-entry']]);
        assert.match(c.problems[0]!.message, /continuation slot 3: bad CRC/);
        assert.equal(c.lookup('ok').kind, 'dir');
        assert.equal(c.lookup('after').kind, 'dir');
      } finally {
        c.close();
      }
    });
  });

  describe('records and the header retry', () => {
    it('a record whose continuation is bad at the tail is read again, whole, once next_index moves', () => {
      const dev = fresh('tail', { features: ['long-names', 'symlinks'] });
      const rec = encodeRecord({ type: 'symlink', path: 'l', target: 'x'.repeat(700), uid: 0, gid: 0 }, 0);
      assert.equal(rec.length, 3);
      const broken = rec.map((b) => Buffer.from(b));
      broken[2]![100] ^= 1; // e.g. a stale cached copy of the last slot
      broken.forEach((b, i) => writeRange(dev, entryOffset(i), b));
      writeHeader(dev, 3);
      const c = asHost(other, () => Famfs.open(dev));
      try {
        assert.deepEqual(c.problems.map((p) => [p.index, p.kind]), [[0, 'bad-entry']]);
        // The slot is right now, and one more entry moves next_index: the whole record is replayed again.
        writeRange(dev, entryOffset(2), rec[2]!);
        writeRange(dev, entryOffset(3), encodeRecord({ type: 'mkdir', path: 'ok', uid: 0, gid: 0, mode: 0o755 }, 3)[0]!);
        writeHeader(dev, 4);
        c.refresh();
        assert.deepEqual(c.problems, []);
        const l = c.lookup('l');
        assert.equal(l.kind === 'symlink' && l.target, 'x'.repeat(700));
        assert.equal(c.lookup('ok').kind, 'dir');
      } finally {
        c.close();
      }
    });
  });

  describe('small allocation units', () => {
    it('small files take what they hold (4 KiB units); 2 MiB and larger files keep 2 MiB-aligned whole units', () => {
      const dev = fresh('small', { allocUnit: 4096 });
      const fs = asHost(host, () => Famfs.open(dev, { writable: true }));
      try {
        assert.equal(fs.sb.allocUnit, 4096);
        assert.equal(fs.features.incompat, 4n);
        const sizes = [1, 4096, 4097, 100, 3 * MiB, 10, 2 * MiB, 70000];
        const maps = asHost(host, () => fs.writer((w) => sizes.map((s, i) => w.creat(`f${i}`, s).map)));
        for (const [i, m] of maps.entries()) {
          assert.equal(m.kind, 'simple');
          const e = m.kind === 'simple' ? m.extents : [];
          assert.equal(e.length, 1);
          const s = sizes[i]!;
          if (s >= 2 * MiB) {
            assert.equal(e[0]!.offset % (2 * MiB), 0, `file ${i} aligned`);
            assert.equal(e[0]!.length, Math.ceil(s / (2 * MiB)) * 2 * MiB);
          } else assert.equal(e[0]!.length, Math.ceil(s / 4096) * 4096);
        }
        const small = maps.filter((_, i) => sizes[i]! < 2 * MiB).map((m) => (m.kind === 'simple' ? m.extents[0]!.offset : 0));
        assert.deepEqual(small, [...small].sort((a, b) => a - b), 'small files pack in order');
        assert.equal(Math.max(...small) - Math.min(...small), (1 + 1 + 2 + 1 + 1) * 4096, 'and densely');
        const r = fsck(fs);
        assert.equal(r.collisions, 0);
      } finally {
        fs.close();
      }
    });
  });

  describe('a /usr/share/doc-like tree', () => {
    it('famfs cp -r of 2,000 small files with deep long names: space amplification ≤ 1.5; big files stay 2 MiB-aligned', () => {
      const work = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-doc-'));
      try {
        const tree = path.join(work, 'doc');
        const st = docTree(tree, { seed: 5, files: 2000 });
        fs.writeFileSync(path.join(tree, 'big-one'), Buffer.alloc(5 * MiB + 1, 7));
        const dev = fresh('doc', { features: ['long-names', 'symlinks', 'small-units'] });
        const fs1 = asHost(host, () => Famfs.open(dev, { writable: true }));
        try {
          const r = asHost(host, () => copyIn(fs1, [tree], 'doc', { recursive: true }));
          assert.equal(r.errors, 0);
          assert.equal(r.files, st.files + 1);
          assert.ok([...fs1.tree.walk()].some((n) => Buffer.byteLength(n.path) > 79), 'paths past upstream\'s 79 bytes');
          const big = fs1.file('doc/big-one');
          const e = big.map.kind === 'simple' ? big.map.extents : [];
          assert.ok(e.length === 1 && e[0]!.offset % (2 * MiB) === 0 && e[0]!.length === 6 * MiB);
          // The big file alone is 1.2× its size; measure the small ones.
          const amp = dataAmplification(fs1);
          const small = (amp.allocated - 6 * MiB) / (amp.held - (5 * MiB + 1));
          assert.ok(small <= 1.5, `space amplification ${small.toFixed(3)}`);
          assert.ok(small >= 1, 'allocation holds at least the data');
        } finally {
          fs1.close();
        }
      } finally {
        fs.rmSync(work, { recursive: true, force: true });
      }
    });
  });

  describe('log sized for a number of files', () => {
    it('logLenForEntries: the smallest power of two ≥ 8 MiB with enough slots', () => {
      assert.equal(logLenForEntries(1), 8 * MiB);
      assert.equal(logLenForEntries(15420), 8 * MiB);
      assert.equal(logLenForEntries(15421), 16 * MiB);
      const l = logLenForEntries(1_000_000);
      assert.equal(l, 1024 * MiB);
      assert.ok(logSlots(l) >= 1_000_000 && logSlots(l / 2) < 1_000_000);
    });
  });
});

function writeHeader(dev: string, nextIndex: number, nextSeqnum = nextIndex): void {
  const h = readRange(dev, LOG_OFFSET, 48);
  h.writeBigUInt64LE(BigInt(nextSeqnum), 32);
  h.writeBigUInt64LE(BigInt(nextIndex), 40);
  writeRange(dev, LOG_OFFSET, h);
}
