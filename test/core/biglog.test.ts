/** A log sized with mkfs --files, filled to the last slot, replayed and checked (1,000,000 in npm run torture). */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bigLog } from '../../torture/lib/biglog.js';
import { makeHost, removeAllShm, removeHost, shmPath } from './helpers.js';

describe('a log sized for the tree', () => {
  const master = makeHost('biglog-m');
  const client = makeHost('biglog-c');
  after(() => {
    removeAllShm();
    removeHost(master);
    removeHost(client);
  });

  it('mkfs --files 100000: every slot filled with the library, replayed on a client, fsck clean', () => {
    const r = bigLog({ entries: 100_000, master, client, device: shmPath('biglog') });
    assert.deepEqual(r.errors, []);
    assert.equal(r.logLen, 64 * 1024 * 1024, 'the smallest power of two holding 100,000 entries');
    assert.ok(r.slots >= 100_000);
    assert.equal(r.files + r.dirs, 100_000);
    console.log(`# 100,000 entries: mkfs ${r.mkfsMs.toFixed(0)} ms, fill ${r.fillMs.toFixed(0)} ms, replay ${r.replayMs.toFixed(0)} ms, fsck ${r.fsckMs.toFixed(0)} ms, rss ${(r.rss / 2 ** 20).toFixed(0)} MiB`);
  });
});
