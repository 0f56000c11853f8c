/**
 * Replay of hand-built logs: entries are encoded with the codecs (correct
 * seqnum and CRC unless a test breaks them on purpose) and written straight
 * into a formatted sparse device, so they reach the semantic checks.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeLogEntry, type NewLogEntry } from '../../src/format/logentry.js';
import { encodeLogHeader } from '../../src/format/logheader.js';
import { entryOffset, LOG_OFFSET } from '../../src/format/constants.js';
import type { Extent, FileMap } from '../../src/format/types.js';
import { mkfs } from '../../src/api/mkfs.js';
import { Famfs } from '../../src/api/famfs.js';
import { FamfsError } from '../../src/api/errors.js';
import { fsck } from '../../src/api/fsck.js';
import type { ProblemKind } from '../../src/meta/replay.js';
import { asHost, crc32Ref, GiB, makeHost, MiB, removeAllShm, removeHost, sparseFile, writeRange, readRange, type Host } from './helpers.js';

const AU = 2 * MiB;
const DATA = 10 * MiB;
const DEV_SIZE = 4 * GiB;

type Slot = NewLogEntry | ((index: number) => Buffer);

const ext = (offset: number, length = AU): Extent => ({ devindex: 0, offset, length });
const simple = (...e: Extent[]): FileMap => ({ kind: 'simple', extents: e });
const file = (path: string, over: { size?: number; map?: FileMap; mode?: number; uid?: number; gid?: number } = {}): NewLogEntry => ({
  type: 'file', path, size: over.size ?? 4096, flags: 2, uid: over.uid ?? 0, gid: over.gid ?? 0, mode: over.mode ?? 0o644,
  map: over.map ?? simple(ext(DATA)),
});
const mkdir = (path: string, mode = 0o755): NewLogEntry => ({ type: 'mkdir', path, uid: 0, gid: 0, mode });

/** Encode `e` for its slot, let `mutate` change bytes, then (by default) recompute the CRC so only the mutation is wrong. */
function patched(e: NewLogEntry, mutate: (b: Buffer) => void, opts: { fixCrc?: boolean } = {}): (i: number) => Buffer {
  return (i) => {
    const b = encodeLogEntry(e, i);
    mutate(b);
    if (opts.fixCrc ?? true) b.writeBigUInt64LE(BigInt(crc32Ref(b, 0, 536)), 536);
    return b;
  };
}

let host: Host;
let dev: string;

/** Write `slots` as the whole committed log (header counters = count). */
function writeLog(slots: Slot[], opts: { nextIndex?: number; nextSeqnum?: number } = {}): void {
  slots.forEach((s, i) => writeRange(dev, entryOffset(i), typeof s === 'function' ? s(i) : encodeLogEntry(s, i)));
  writeRange(dev, LOG_OFFSET, encodeLogHeader(0x800000, opts.nextSeqnum ?? opts.nextIndex ?? slots.length, opts.nextIndex ?? slots.length));
}

function replay(slots: Slot[]): Famfs {
  writeLog(slots);
  return asHost(host, () => Famfs.open(dev));
}

/** Replay and return the problem kinds by slot, plus the open fs (closed by the caller). */
function problemsOf(slots: Slot[]): { fs: Famfs; kinds: Map<number, ProblemKind> } {
  const fs = replay(slots);
  return { fs, kinds: new Map(fs.problems.map((p) => [p.index, p.kind])) };
}

function expectOnly(slots: Slot[], expected: Record<number, ProblemKind>, check?: (fs: Famfs) => void): void {
  const { fs, kinds } = problemsOf(slots);
  try {
    assert.deepEqual(Object.fromEntries(kinds), Object.fromEntries(Object.entries(expected).map(([k, v]) => [Number(k), v])), JSON.stringify(fs.problems, null, 1));
    assert.equal(fs.stats.entries, slots.length);
    check?.(fs);
  } finally {
    fs.close();
  }
}

/** A good sentinel that must always replay after whatever came before it. */
const sentinel = (): NewLogEntry => file('sentinel', { map: simple(ext(DEV_SIZE - AU)) });
const hasSentinel = (fs: Famfs): void => assert.equal(fs.tree.lookup('sentinel')?.kind, 'file', 'a bad entry stopped the entries after it');

describe('replay of hand-built logs', () => {
  before(() => {
    host = makeHost('replay');
    dev = sparseFile('replay', DEV_SIZE);
  });
  beforeEach(() => {
    asHost(host, () => mkfs(dev, { force: true }));
  });
  after(() => {
    removeAllShm();
    removeHost(host);
  });

  it('an empty log replays to an empty root', () => {
    expectOnly([], {}, (fs) => {
      assert.equal(fs.tree.root.children.size, 0);
      assert.deepEqual({ ...fs.stats }, { entries: 0, files: 0, dirs: 0, symlinks: 0, daxdevs: 0, removals: 0, renames: 0, badEntries: 0, rejected: 0 });
    });
  });

  it('good entries build the tree with sizes, modes, owners and maps', () => {
    const m = simple(ext(DATA, 4 * AU), ext(DATA + 8 * AU));
    expectOnly([mkdir('d', 0o700), mkdir('d/e'), file('d/e/f', { size: 5 * AU, map: m, mode: 0o600, uid: 12, gid: 34 }), file('top'), { type: 'add_daxdev', size: GiB, uuid: '11111111-2222-3333-4444-555555555555', index: 1 }], {}, (fs) => {
      const f = fs.file('d/e/f');
      assert.deepEqual({ size: f.size, mode: f.mode, uid: f.uid, gid: f.gid, map: f.map, flags: f.flags }, { size: 5 * AU, mode: 0o600, uid: 12, gid: 34, map: m, flags: 2 });
      assert.equal(fs.lookup('d').mode, 0o700);
      assert.equal(fs.stats.files, 2);
      assert.equal(fs.stats.dirs, 2);
      assert.equal(fs.stats.daxdevs, 1);
    });
  });

  describe('corrupt entries (bad-entry) never stop later entries', () => {
    it('bad CRC', () => {
      expectOnly([patched(file('a'), (b) => (b[200] ^= 1), { fixCrc: false }), file('b', { map: simple(ext(DATA + AU)) }), sentinel()], { 0: 'bad-entry' }, (fs) => {
        assert.equal(fs.tree.lookup('a'), undefined);
        assert.equal(fs.tree.lookup('b')?.kind, 'file');
        hasSentinel(fs);
        assert.equal(fs.stats.badEntries, 1);
      });
    });
    it('CRC field with a non-zero high word', () => {
      expectOnly([patched(file('a'), (b) => (b[540] = 1), { fixCrc: false }), sentinel()], { 0: 'bad-entry' }, hasSentinel);
    });
    it('wrong seqnum with a correct CRC', () => {
      expectOnly([mkdir('d'), (i) => encodeLogEntry(mkdir('e'), i + 1), (i) => encodeLogEntry(mkdir('f'), i - 2), sentinel()], { 1: 'bad-entry', 2: 'bad-entry' }, (fs) => {
        assert.ok(fs.problems[0]!.message.includes('seqnum 2 in slot 1'));
        assert.equal(fs.tree.lookup('e'), undefined);
        hasSentinel(fs);
      });
    });
    it('seqnum beyond 2^53', () => {
      expectOnly([patched(mkdir('d'), (b) => b.writeUInt32LE(0xffffffff, 4)), sentinel()], { 0: 'bad-entry' }, hasSentinel);
    });
    it('an all-zero slot below next_index (slot 0 has a good seqnum but a bad CRC; slot 1 a bad seqnum)', () => {
      expectOnly([() => Buffer.alloc(544), () => Buffer.alloc(544), sentinel()], { 0: 'bad-entry', 1: 'bad-entry' }, hasSentinel);
    });
    it('undecodable payloads: nextents 17, nstrips 17, unknown extent type, u64 past 2^53', () => {
      const strip = file('s', { size: AU, map: { kind: 'interleave', chunkSize: AU, strips: [ext(DATA)] } });
      expectOnly([
        patched(file('a'), (b) => b.writeUInt32LE(17, 128)),
        patched(strip, (b) => b.writeUInt32LE(17, 136)),
        patched(file('c'), (b) => b.writeUInt32LE(9, 120)),
        patched(file('d'), (b) => b.writeUInt32LE(0x400000, 20)),
        sentinel(),
      ], { 0: 'bad-entry', 1: 'bad-entry', 2: 'bad-entry', 3: 'bad-entry' }, hasSentinel);
    });
    it('DELETE, INVALID and unknown types are ignored, as upstream', () => {
      const typed = (t: number) => patched(mkdir('x'), (b) => b.writeUInt32LE(t, 8));
      expectOnly([typed(2), typed(4), typed(99), sentinel()], {}, (fs) => {
        assert.equal(fs.tree.lookup('x'), undefined);
        hasSentinel(fs);
      });
    });
    it('slots past next_index are not committed and are never read', () => {
      writeLog([mkdir('a'), mkdir('b'), mkdir('c')], { nextIndex: 2 });
      const fs = asHost(host, () => Famfs.open(dev));
      try {
        assert.equal(fs.tree.lookup('c'), undefined);
        assert.equal(fs.stats.entries, 2);
      } finally {
        fs.close();
      }
    });
  });

  describe('bad paths (bad-path)', () => {
    const bad = ['..', '../x', 'a/..', 'a/../b', '.', './a', 'a/.', 'a//b', 'a/', '/abs', '/', ''];
    for (const p of bad) {
      it(`refuses ${JSON.stringify(p)} for files and directories`, () => {
        expectOnly([mkdir('a'), file(p), mkdir(p), sentinel()], { 1: 'bad-path', 2: 'bad-path' }, (fs) => {
          assert.equal(fs.tree.root.children.size, 2);
          hasSentinel(fs);
        });
      });
    }
    it('79 bytes are fine, 80 bytes (no NUL) are refused', () => {
      const p79 = 'p'.repeat(79);
      const d79 = 'd'.repeat(79);
      expectOnly([
        file(p79), mkdir(d79),
        patched(file('q'.repeat(79), { map: simple(ext(DATA + AU)) }), (b) => (b[40 + 79] = 0x71)),
        patched(mkdir('e'.repeat(79)), (b) => (b[28 + 79] = 0x65)),
        sentinel(),
      ], { 2: 'bad-entry', 3: 'bad-entry' }, (fs) => {
        assert.equal(fs.tree.lookup(p79)?.kind, 'file');
        assert.equal(fs.tree.lookup(d79)?.kind, 'dir');
        hasSentinel(fs);
      });
    });
    it('multi-byte UTF-8 up to 79 bytes is fine; non-UTF-8 is refused', () => {
      const ok = 'é'.repeat(39) + 'x'; // 79 bytes
      expectOnly([
        file(ok),
        patched(file('abc', { map: simple(ext(DATA + AU)) }), (b) => (b[41] = 0xff)),
        patched(mkdir('abc'), (b) => Buffer.from([0xe2, 0x28, 0xa1]).copy(b, 28)),
        patched(mkdir('ab'), (b) => (b[29] = 0x80)),
        sentinel(),
      ], { 1: 'bad-entry', 2: 'bad-entry', 3: 'bad-entry' }, (fs) => {
        assert.equal(fs.tree.lookup(ok)?.kind, 'file');
        hasSentinel(fs);
      });
    });
  });

  describe('bad maps (bad-map)', () => {
    const cases: [string, FileMap, number?][] = [
      ['offset 0: over the superblock', simple(ext(0))],
      ['over the log', simple(ext(LOG_OFFSET))],
      ['straddling the end of the log', simple(ext(DATA - AU, 2 * AU))],
      ['past the device end', simple(ext(DEV_SIZE - AU, 2 * AU))],
      ['starting at the device end', simple(ext(DEV_SIZE))],
      ['far past the end', simple(ext(2 ** 50))],
      ['unaligned offset', simple(ext(DATA + 4096))],
      ['unaligned length', simple(ext(DATA, AU + 4096)), 4096],
      ['zero length', simple(ext(DATA, 0)), 0],
      ['extents overlapping each other', simple(ext(DATA, 2 * AU), ext(DATA + AU))],
      ['the same extent twice', simple(ext(DATA), ext(DATA))],
      ['size larger than the mapped bytes', simple(ext(DATA)), AU + 1],
      ['no extents for a non-empty file', simple(), 1],
      ['device index 1', simple({ devindex: 1, offset: DATA, length: AU })],
      ['interleave with chunk size not a power of two', { kind: 'interleave', chunkSize: 3 * AU, strips: [ext(DATA, 3 * AU), ext(DATA + 3 * AU, 3 * AU)] }],
      ['interleave with chunk size below the allocation unit', { kind: 'interleave', chunkSize: 4096, strips: [ext(DATA)] }],
      ['interleave with strips of different lengths', { kind: 'interleave', chunkSize: AU, strips: [ext(DATA, AU), ext(DATA + AU, 2 * AU)] }],
      ['interleave strip not a whole number of chunks', { kind: 'interleave', chunkSize: 2 * AU, strips: [ext(DATA, 3 * AU), ext(DATA + 3 * AU, 3 * AU)] }],
      ['interleave with zero strips', { kind: 'interleave', chunkSize: AU, strips: [] }],
      ['interleave strips overlapping', { kind: 'interleave', chunkSize: AU, strips: [ext(DATA, 2 * AU), ext(DATA + AU, 2 * AU)] }],
      ['interleave strip past the end', { kind: 'interleave', chunkSize: AU, strips: [ext(DATA, AU), ext(DEV_SIZE, AU)] }],
      ['interleave smaller than the size', { kind: 'interleave', chunkSize: AU, strips: [ext(DATA), ext(DATA + AU)] }, 2 * AU + 1],
    ];
    for (const [name, map, size] of cases) {
      it(name, () => {
        expectOnly([file('f', { map, size: size ?? 4096 }), sentinel()], { 0: 'bad-map' }, (fs) => {
          assert.equal(fs.tree.lookup('f'), undefined);
          hasSentinel(fs);
        });
      });
    }
    it('the exact edges are fine: first data unit, last unit, size == mapped bytes, 16 extents, 16 strips', () => {
      const sixteen = Array.from({ length: 16 }, (_, i) => ext(DATA + 2 * i * AU));
      const strips = Array.from({ length: 16 }, (_, i) => ext(GiB + i * 4 * AU, 2 * AU));
      expectOnly([
        file('first', { map: simple(ext(DATA)), size: AU }),
        file('last', { map: simple(ext(DEV_SIZE - 2 * AU, 2 * AU)), size: 2 * AU }),
        file('many', { map: simple(...sixteen), size: 16 * AU }),
        file('striped', { map: { kind: 'interleave', chunkSize: AU, strips }, size: 32 * AU }),
        file('empty', { map: simple(), size: 0 }),
      ], {});
    });
  });

  describe('tree rules', () => {
    it('file under a missing parent; mkdir under a missing parent', () => {
      expectOnly([file('nodir/f'), mkdir('nodir/sub'), sentinel()], { 0: 'no-parent', 1: 'no-parent' }, hasSentinel);
    });
    it('file and mkdir whose parent is a file', () => {
      expectOnly([file('f'), file('f/g', { map: simple(ext(DATA + AU)) }), mkdir('f/d'), sentinel()], { 1: 'no-parent', 2: 'no-parent' }, (fs) => {
        assert.match(fs.problems[0]!.message, /parent of f\/g is a file/);
        hasSentinel(fs);
      });
    });
    it('duplicates: the first entry wins (file/file, dir/dir, file/dir, dir/file)', () => {
      expectOnly([
        file('f', { size: 111 }), file('f', { size: 222, map: simple(ext(DATA + AU)) }),
        mkdir('d', 0o700), mkdir('d', 0o755),
        file('x', { map: simple(ext(DATA + 2 * AU)) }), mkdir('x'),
        mkdir('y'), file('y', { map: simple(ext(DATA + 3 * AU)) }),
        sentinel(),
      ], { 1: 'exists', 3: 'exists', 5: 'exists', 7: 'exists' }, (fs) => {
        assert.equal(fs.file('f').size, 111);
        assert.equal(fs.lookup('d').mode, 0o700);
        assert.equal(fs.lookup('x').kind, 'file');
        assert.equal(fs.lookup('y').kind, 'dir');
        hasSentinel(fs);
      });
    });
    it('a refused directory makes its children orphans, and nothing else', () => {
      expectOnly([mkdir('a/../b'), file('b/f'), mkdir('c'), file('c/f'), sentinel()], { 0: 'bad-path', 1: 'no-parent' }, (fs) => {
        assert.equal(fs.tree.lookup('c/f')?.kind, 'file');
        hasSentinel(fs);
      });
    });
    it('space named by a refused (but sound) entry stays allocated; a corrupt entry holds nothing', () => {
      const fs = replay([file('../evil', { map: simple(ext(DATA + 4 * AU)) }), patched(file('corrupt', { map: simple(ext(DATA + 6 * AU)) }), (b) => (b[300] ^= 1), { fixCrc: false })]);
      try {
        const { bitmap } = fs.buildBitmap();
        assert.equal(bitmap.isFree(DATA + 4 * AU, AU), false);
        assert.equal(bitmap.isFree(DATA + 6 * AU, AU), true);
      } finally {
        fs.close();
      }
    });
    it('two files sharing extents both replay; the bitmap reports the collision (fsck not clean)', () => {
      const fs = replay([file('a', { map: simple(ext(DATA, 3 * AU)) }), file('b', { map: simple(ext(DATA + AU, 3 * AU)) })]);
      try {
        assert.equal(fs.problems.length, 0);
        assert.equal(fs.buildBitmap().collisions, 2);
        const r = fsck(fs);
        assert.equal(r.clean, false);
        assert.equal(r.collisions, 2);
      } finally {
        fs.close();
      }
    });
  });

  describe('log header', () => {
    const open = (): Famfs => asHost(host, () => Famfs.open(dev));
    const corruptHeader = (mut: (h: Buffer) => void): void => {
      writeLog([mkdir('a')]);
      const h = readRange(dev, LOG_OFFSET, 48);
      mut(h);
      writeRange(dev, LOG_OFFSET, h);
    };
    for (const [name, mut, re] of [
      ['bad magic', (h: Buffer) => (h[1] ^= 1), /bad-magic/],
      ['bad header CRC (last_index changed)', (h: Buffer) => h.writeUInt32LE(15418, 16), /bad-crc/],
      ['log length ≠ the superblock', (h: Buffer) => {
        encodeLogHeader(0x1000000, 1, 1).copy(h);
      }, /bad-length/],
      ['next_index past the last slot', (h: Buffer) => h.writeUInt32LE(15421, 40), /bad-index/],
    ] as const) {
      it(`${name} → open fails with a FamfsError`, () => {
        corruptHeader(mut);
        assert.throws(open, (e: unknown) => e instanceof FamfsError && /invalid log header/.test((e as Error).message) && re.test((e as Error).message));
      });
    }
    it('next_seqnum ≠ next_index: replay works, appends are refused and change nothing', () => {
      writeLog([mkdir('a')], { nextIndex: 1, nextSeqnum: 5 });
      const before = readRange(dev, LOG_OFFSET, 4096);
      const fs = asHost(host, () => Famfs.open(dev, { writable: true }));
      try {
        assert.equal(fs.lookup('a').kind, 'dir');
        assert.throws(() => asHost(host, () => fs.writer((w) => w.mkdir('b'))), /inconsistent/);
      } finally {
        fs.close();
      }
      assert.ok(readRange(dev, LOG_OFFSET, 4096).equals(before));
    });
  });

  describe('incremental replay (a client following the master)', () => {
    it('refresh() applies only the new entries, validating each', () => {
      const client = makeHost('client');
      try {
        const follower = asHost(client, () => Famfs.open(dev));
        const master = asHost(host, () => Famfs.open(dev, { writable: true }));
        try {
          assert.equal(follower.role, 'client');
          assert.equal(master.role, 'master');
          asHost(host, () => master.writer((w) => {
            w.mkdir('d');
            w.creat('d/f', 3 * MiB);
          }));
          assert.equal(follower.tree.lookup('d'), undefined);
          assert.equal(follower.refresh(), 2);
          assert.equal(follower.file('d/f').size, 3 * MiB);
          // a corrupt entry appended behind the master's back is refused by the follower too
          writeRange(dev, entryOffset(2), patched(file('g', { map: simple(ext(0)) }), () => {})(2));
          writeRange(dev, LOG_OFFSET, encodeLogHeader(0x800000, 3, 3));
          assert.equal(follower.refresh(), 0);
          assert.equal(follower.problems.at(-1)?.kind, 'bad-map');
          assert.equal(follower.refresh(), 0);
        } finally {
          follower.close();
          master.close();
        }
      } finally {
        removeHost(client);
      }
    });
  });
});
