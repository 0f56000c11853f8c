/**
 * Property 4 (short): the crafted hostile catalogue replays exactly as
 * expected, then a few thousand random mutations keep every invariant (see
 * torture/lib/fuzz.ts). Long version: `npm run torture` (≥ 1,000,000).
 * Single crafted cases are also in test/core/replay.test.ts; here they all sit
 * in one log together and seed the mutator.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Famfs } from '../../src/api/famfs.js';
import { fsck } from '../../src/api/fsck.js';
import { asHost, cleanup, makeHost, type Host } from '../../torture/lib/common.js';
import { buildBase, craftedCatalogue, DATA, fuzzDevice, fuzzLog, judge, judgeContext } from '../../torture/lib/fuzz.js';

const MUTATIONS = Number(process.env.FAMFS_FUZZ_MUTATIONS ?? 3000);

describe('fuzzed log', () => {
  let host: Host;
  before(() => {
    host = makeHost('fuzz');
  });
  after(() => cleanup());

  it('the crafted hostile entries (valid CRC) are refused with the expected kind; the good ones apply; fsck counts all', () => {
    const dev = fuzzDevice(host);
    const base = buildBase();
    const ctx = judgeContext(dev, host);
    try {
      for (const full of [false, true]) {
        const verdict = judge(base.area, ctx, full);
        assert.deepEqual(verdict.violations, []);
        assert.equal(verdict.sentinel, 'applied');
      }
    } finally {
      ctx.dev.close();
    }
    const f = asHost(host, () => Famfs.open(dev));
    try {
      const kinds = new Map(f.problems.map((p) => [p.index, p.kind]));
      const names = craftedCatalogue(DATA).map((c) => c.name);
      let k = 0;
      for (const [slot, expect] of base.expected) {
        const got = kinds.get(slot) ?? 'ok';
        assert.equal(got, expect, `slot ${slot} (${slot >= 20 && k < names.length ? names[slot - 20] : 'good'}): ${JSON.stringify(f.problems.find((p) => p.index === slot))}`);
        k++;
      }
      assert.equal(f.tree.lookup('sentinel')?.kind, 'file');
      assert.equal(f.tree.lookup('d0/' + 'p'.repeat(76))?.kind, 'file');
      const r = fsck(f);
      assert.equal(r.badEntries + r.rejectedEntries, f.problems.length);
      assert.ok(r.collisions > 0, 'the sharer collides with d0/f0');
      assert.equal(r.clean, false);
    } finally {
      f.close();
    }
  });

  it(`${MUTATIONS} random mutations: no crash, no hang, nothing out of bounds accepted, every refusal counted`, () => {
    const r = fuzzLog({ host, mutations: MUTATIONS, seed: 1234, fullEvery: 4 });
    assert.deepEqual(r.errors, []);
    assert.equal(r.failed, 0);
    assert.equal(r.lost, 0);
    assert.ok(r.tried >= MUTATIONS);
    assert.ok(r.problems > 0);
  });
});
