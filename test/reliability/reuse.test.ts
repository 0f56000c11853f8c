/**
 * Property 10 in short (issue 14; `npm run torture` runs ≥ 100,000 steps): a master and two
 * clients on one device, a writer deleting, renaming and replacing stamped files while a
 * reader on every host keeps files open and mapped; daemons SIGSTOPped past a 1 s lease and
 * SIGKILLed. No host may read bytes of another file or generation than the one it opened,
 * fsck stays clean and nothing leaks once every host has left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HAVE_FUSE, NO_FUSE_REASON } from '../fs/mounted.js';
import { reuseProperty } from '../../torture/lib/reuse.js';

test('delete/rename/replace across 3 hosts under SIGSTOP and SIGKILL: only the opened bytes, no leak', { skip: HAVE_FUSE ? false : NO_FUSE_REASON, timeout: 180_000 }, async () => {
  const r = await reuseProperty({ ops: 3000, rounds: 1, seed: 14, clients: 2, leaseMs: 1000, chaos: true });
  console.log(`reuse: ${r.tried} steps, ${r.reused} reused placements, ${r.checkedOpens} client opens checked, ${r.stops} stops, ${r.kills} kills; features ${r.features}; unsupported ${r.unsupported.join(',') || 'none'}`);
  assert.deepEqual(r.errors, []);
  assert.equal(r.violations, 0);
  assert.ok(r.tried >= 3000, `${r.tried} steps`);
  assert.ok(r.checkedOpens > 0, 'clients opened files');
  if (r.features !== 'none') {
    // With deletes in the build, every op kind must run and space must really be reused.
    assert.deepEqual(r.unsupported, []);
    assert.ok(r.reused > 0, 'no file was placed on reclaimed space');
  }
});
