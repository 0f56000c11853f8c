/** Property 3 (short): a client follows the log while a master process appends 300 creates. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, makeHost, type Host } from '../../torture/lib/common.js';
import { followWhileWriting } from '../../torture/lib/follow.js';

describe('readers while writing', () => {
  let master: Host;
  before(() => {
    master = makeHost('follow');
  });
  after(() => cleanup());

  it('client replay and daemon LOOKUP see every committed create at once and never a partial entry', async () => {
    const r = await followWhileWriting({ master, ops: 300, seed: 11, dir: master.dir });
    assert.deepEqual(r.errors, []);
    assert.equal(r.tried, 300);
    assert.ok(r.refreshes > 300);
  });
});
