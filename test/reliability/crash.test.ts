/**
 * Property 1 (short): SIGKILL of a writer during a stream of creates, at
 * random times and at each exact point of the commit protocol. The long
 * version is `npm run torture`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { cleanup, makeHost, type Host } from '../../torture/lib/common.js';
import { pointKills, randomKills } from '../../torture/lib/crash.js';

describe('crash during append (SIGKILL)', () => {
  let master: Host;
  before(() => {
    master = makeHost('crash');
  });
  after(() => cleanup());

  it('killed at each point of the commit protocol: clean replay, last create all-or-nothing, next writer carries on', async () => {
    const r = await pointKills({ master, rounds: 1, seed: 7, dir: master.dir });
    assert.deepEqual(r.errors, []);
    assert.equal(r.lost, 0);
    assert.equal(r.tried, 6);
  });

  it('killed at random times (≥ 8 cycles): every acknowledged create is there, nothing half-visible', async () => {
    const r = await randomKills({ master, cycles: 8, seed: 42, maxDelayMs: 60, dir: master.dir, minEntries: 8 });
    assert.deepEqual(r.errors, []);
    assert.equal(r.lost, 0);
    assert.ok(r.entries > 8, `only ${r.entries} entries were written`);
    assert.ok(fs.existsSync(master.uuidFile));
  });
});
