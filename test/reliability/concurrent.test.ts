/** Property 2 (short): 4 writer processes × 100 creates at once on one host. Long version: `npm run torture` (8 × 1,000). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, makeHost, type Host } from '../../torture/lib/common.js';
import { concurrentWriters } from '../../torture/lib/concurrent.js';

describe('concurrent writers on one host', () => {
  let master: Host;
  before(() => {
    master = makeHost('conc');
  });
  after(() => cleanup());

  it('4 processes × 100 creates: exactly 400 entries, dense seqnums, fsck clean, no shared space', async () => {
    const r = await concurrentWriters({ master, workers: 4, ops: 100, seed: 3, dir: master.dir });
    assert.deepEqual(r.errors, []);
    assert.equal(r.entries, 400);
    assert.equal(r.lost, 0);
  });
});
