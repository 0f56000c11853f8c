/**
 * A writer applies the FILE and MKDIR records it has just committed from the values it
 * encoded (Famfs.applyOwn → Replayer.applyCommitted), not by reading them back. Checked: the
 * writer's view after random sessions of mkdir, creat, grouped creats (cp), symlinks,
 * clones, deletes, renames and records replay refuses is exactly what a fresh replay of the
 * same log gives — every node (removed ones too), directory order, stats, problems, applied
 * slots, held and pending space — and the fast path really runs (no refresh in a session
 * of creats and mkdirs).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Famfs } from '../../src/api/famfs.js';
import type { Writer } from '../../src/api/writer.js';
import { mkfs } from '../../src/api/mkfs.js';
import { FamfsError } from '../../src/api/errors.js';
import { FM_ALL_HOSTS_RW } from '../../src/format/constants.js';
import type { NewLogEntry } from '../../src/format/logentry.js';
import { asHost, GiB, makeHost, removeAllShm, removeHost, sparseFile } from './helpers.js';

const host = makeHost('ownapply');

/** Everything replay builds that a reader can observe, as plain data. */
function snapshot(f: Famfs): unknown {
  const nodes = [...f.tree.byId.values()].map((n) => ({
    id: n.id, path: n.path, name: n.name, kind: n.kind, entryIndex: n.entryIndex, parent: n.parent?.id, pos: n.pos, removed: !!n.removed,
    mode: n.mode, uid: n.uid, gid: n.gid,
    ...(n.kind === 'file' ? { size: n.size, flags: n.flags, map: n.map } : {}),
    ...(n.kind === 'symlink' ? { target: n.target } : {}),
    ...(n.kind === 'dir' ? { order: n.order.map((c) => c?.id ?? null), children: [...n.children.keys()].sort(), subdirs: n.subdirs } : {}),
  }));
  return {
    nodes,
    stats: { ...f.stats },
    problems: f.problems.map((p) => ({ ...p })),
    applied: Array.from({ length: f.appliedCount }, (_, i) => f.appliedAt(i)),
    held: f.heldSpace(),
    pending: f.pendingFrees,
    settled: f.settledEntries,
  };
}

/** The writer's view and a fresh replay of the same device agree. */
function assertSameAsReplay(f: Famfs, dev: string, what: string): void {
  const fresh = asHost(host, () => Famfs.open(dev));
  try {
    assert.deepStrictEqual(snapshot(f), snapshot(fresh), what);
  } finally {
    fresh.close();
  }
}

type Op =
  | { op: 'mkdir'; dir: number; name: string }
  | { op: 'creat'; dir: number; name: string; size: number }
  | { op: 'many'; dir: number; names: string[]; size: number }
  | { op: 'symlink'; dir: number; name: string; target: string }
  | { op: 'clone'; pick: number; dir: number; name: string }
  | { op: 'remove'; pick: number }
  | { op: 'rename'; pick: number; dir: number; name: string }
  | { op: 'refused'; kind: 'no-parent' | 'bad-map' | 'exists'; pick: number };

// Few names, so collisions (EEXIST, restarts, replaced renames) happen often; one long name (extension record).
const name = fc.constantFrom('a', 'b', 'c', 'd', 'long-'.repeat(20) + 'name');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('mkdir' as const), dir: fc.nat(), name }),
  fc.record({ op: fc.constant('creat' as const), dir: fc.nat(), name, size: fc.constantFrom(0, 1, 4096, 3 << 20) }),
  fc.record({ op: fc.constant('many' as const), dir: fc.nat(), names: fc.array(name, { minLength: 1, maxLength: 20 }), size: fc.constantFrom(0, 100, 8192) }),
  fc.record({ op: fc.constant('symlink' as const), dir: fc.nat(), name, target: fc.constantFrom('a', '../x', '/abs') }),
  fc.record({ op: fc.constant('clone' as const), pick: fc.nat(), dir: fc.nat(), name }),
  fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('rename' as const), pick: fc.nat(), dir: fc.nat(), name }),
  fc.record({ op: fc.constant('refused' as const), kind: fc.constantFrom('no-parent' as const, 'bad-map' as const, 'exists' as const), pick: fc.nat() }),
);

function join(dir: string, n: string): string {
  return dir === '' ? n : `${dir}/${n}`;
}

/** Run one op; errors a writer reports (EEXIST, ENOENT, …) are part of the program. */
function run(w: Writer, o: Op): void {
  const f = w.fs;
  const live = [...f.tree.walk()].filter((n) => n.path !== '');
  const dirs = ['', ...live.filter((n) => n.kind === 'dir').map((n) => n.path)];
  const dir = 'dir' in o ? dirs[o.dir % dirs.length]! : '';
  const picked = 'pick' in o && live.length ? live[o.pick % live.length]! : undefined;
  try {
    switch (o.op) {
      case 'mkdir': return void w.mkdir(join(dir, o.name));
      case 'creat': return void w.creat(join(dir, o.name), o.size);
      case 'many': return void w.creatMany(o.names.map((n) => ({ path: join(dir, n), size: o.size, fill: () => undefined })));
      case 'symlink': return void w.symlink(join(dir, o.name), o.target);
      case 'clone': if (picked?.kind === 'file') w.clone(picked.path, join(dir, o.name)); return;
      case 'remove': if (picked) w.remove(picked.path, { recursive: true }); return;
      case 'rename': if (picked) w.rename(picked.path, join(dir, o.name)); return;
      case 'refused': {
        // Records replay refuses, committed and applied the way the writer applies its own.
        const base = { type: 'file' as const, size: 10, flags: FM_ALL_HOSTS_RW, mode: 0o644, uid: 0, gid: 0, map: { kind: 'simple' as const, extents: [{ devindex: 0, offset: 1 << 30, length: 2 << 20 }] } };
        const entry: NewLogEntry =
          o.kind === 'no-parent' ? { ...base, path: 'missing/x' }
          : o.kind === 'bad-map' ? { ...base, path: 'badmap', map: { kind: 'simple', extents: [{ devindex: 0, offset: 4096, length: 2 << 20 }] } }
          : { ...base, path: picked?.path ?? 'a' };
        f.applyOwn(f.log.commit([entry]), [entry]);
        return;
      }
    }
  } catch (e) {
    if (!(e instanceof FamfsError)) throw e;
  }
}

describe('a writer applies its own records as replay would', () => {
  after(() => {
    removeAllShm();
    removeHost(host);
  });

  it('random writer sessions: the writer\'s view equals a fresh replay after each', () => {
    fc.assert(fc.property(fc.array(fc.array(opArb, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 4 }), (sessions) => {
      const dev = sparseFile('ownapply', 4 * GiB);
      asHost(host, () => mkfs(dev, { features: ['long-names', 'symlinks', 'delete', 'rename'] }));
      const f = asHost(host, () => Famfs.open(dev, { writable: true }));
      try {
        for (const [i, ops] of sessions.entries()) {
          f.writer((w) => {
            for (const o of ops) run(w, o);
          });
          assertSameAsReplay(f, dev, `after session ${i}`);
        }
      } finally {
        f.close();
      }
    }), { numRuns: 25, seed: 0x5eed22 });
  });

  it('creats and mkdirs in a session are applied without reading the log back', () => {
    const dev = sparseFile('ownapply-fast', 4 * GiB);
    asHost(host, () => mkfs(dev));
    const f = asHost(host, () => Famfs.open(dev, { writable: true }));
    try {
      f.writer((w) => {
        let refreshes = 0;
        const refresh = f.refresh.bind(f);
        f.refresh = (...a) => {
          refreshes++;
          return refresh(...a);
        };
        w.mkdir('d');
        w.creat('d/one', 5000);
        const made = w.creatMany(Array.from({ length: 40 }, (_, i) => ({ path: `d/f${i}`, size: i * 100, fill: () => undefined })));
        assert.ok(made.every((m) => m !== undefined && !(m instanceof FamfsError)));
        assert.equal(refreshes, 0, 'no refresh: every record was applied from its encoded values');
      });
      assert.equal(f.tree.lookup('d')?.kind, 'dir');
      assertSameAsReplay(f, dev, 'after the session');
    } finally {
      f.close();
    }
  });
});
