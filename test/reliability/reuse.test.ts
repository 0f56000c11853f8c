/**
 * Property 10 in short (issue 14; `npm run torture` runs ≥ 100,000 steps): a master and two
 * clients on one device, a writer deleting, renaming and replacing stamped files while a
 * reader on every host keeps files open and mapped; daemons SIGSTOPped past a 1 s lease and
 * SIGKILLed. No host may read bytes of another file or generation than the one it opened,
 * fsck stays clean and nothing leaks once every host has left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { famfsOk, GiB, makeHost, removeAllShm, removeHost, sparseFile } from '../core/helpers.js';
import { HAVE_FUSE, mount, NO_FUSE_REASON, umount, umountAll } from '../fs/mounted.js';
import { reuseProperty } from '../../torture/lib/reuse.js';
import { content, identOf, mismatch } from '../../torture/lib/stamp.js';

test('delete/rename/replace across 3 hosts under SIGSTOP and SIGKILL: only the opened bytes, no leak', { skip: HAVE_FUSE ? false : NO_FUSE_REASON, timeout: 180_000 }, async () => {
  const r = await reuseProperty({ ops: 3000, rounds: 1, seed: 14, clients: 2, leaseMs: 1000, chaos: true, chaosGapMs: 2500, heldWrites: true, mapWrites: true });
  console.log(`reuse: ${r.tried} steps, ${r.reused} reused placements, ${r.counts['map-write:ok'] ?? 0} mapped writes (${r.counts['map-write:of-deleted'] ?? 0} of deleted files), ${r.checkedOpens} client opens checked, ${r.stops} stops, ${r.kills} kills; features ${r.features}; unsupported ${r.unsupported.join(',') || 'none'}; ${r.spaceChecks} space checks, at most ${r.maxHeld} deleted files held (${JSON.stringify(r.holdReasons)}); slow steps ${JSON.stringify(r.slow)}`);
  assert.deepEqual(r.errors, []);
  assert.equal(r.violations, 0);
  assert.ok(r.tried >= 3000, `${r.tried} steps`);
  assert.ok(r.checkedOpens > 0, 'clients opened files');
  assert.ok((r.counts['held-write:ok'] ?? 0) > 0, 'readers wrote held files back');
  assert.ok((r.counts['map-write:ok'] ?? 0) > 0, 'readers wrote through writable mappings');
  // With deletes in the build every op kind must run. (Whether reclaimed space was reused in so
  // short a run is printed above, not asserted: see docs/reliability.md, issue 14 proof.)
  if (r.features !== 'none') assert.deepEqual(r.unsupported, []);
  assert.ok(r.spaceChecks > 0, 'the space observer checked while the hosts ran');
});

test('the checker catches a premature reuse: files overwritten in place by another file\'s bytes while hosts hold them', { skip: HAVE_FUSE ? false : NO_FUSE_REASON, timeout: 180_000 }, async () => {
  const r = await reuseProperty({ ops: 1600, rounds: 1, seed: 15, clients: 2, leaseMs: 1000, chaos: false, injectReuse: true });
  assert.ok(r.violations > 0, `no violation found: ${r.errors.join('; ')}`);
  assert.ok(r.errors.some((e) => /VIOLATION on client\d-reader/.test(e)), 'a client saw it');
});

test('a daemon that just mounted does not call itself stale (the heartbeat thread waits for the join)', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, async () => {
  const h = makeHost('ru-fresh');
  const dev = sparseFile('ru-fresh', 4 * GiB);
  const log = path.join(h.dir, 'daemon.log');
  try {
    famfsOk(h, ['mkfs', '--features', 'delete', '--lease', '2s', dev]);
    const mp = mount(h, dev, 'ru-fresh', ['--log', log]);
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(fs.readdirSync(mp).includes('.meta'));
    umount(h, mp);
    const text = fs.readFileSync(log, 'utf8');
    assert.match(text, /presence: slot \d+/);
    assert.doesNotMatch(text, /serving ESTALE/, text);
  } finally {
    umountAll(h);
    removeAllShm();
    removeHost(h);
  }
});

test('stamped bytes: any range of one generation matches; another key, generation, zeros or a torn sector do not', () => {
  const id = { key: 7, gen: 3, size: 10_000 };
  const whole = content(id, 0, id.size);
  for (const [off, len] of [[0, 1], [511, 2], [1000, 4000], [9999, 1]] as const) {
    assert.ok(content(id, off, len).equals(whole.subarray(off, off + len)));
    assert.equal(mismatch(id, off, whole.subarray(off, off + len)), undefined);
  }
  assert.deepEqual(identOf(whole.subarray(0, 512)), id);
  assert.equal(identOf(Buffer.alloc(512)), undefined);
  assert.match(mismatch(id, 1024, content({ ...id, gen: 4 }, 1024, 2048))!, /gen 4/);
  assert.match(mismatch(id, 0, content({ ...id, key: 8 }, 0, 512))!, /key 8/);
  assert.match(mismatch(id, 600, Buffer.alloc(3000))!, /zeros/);
  const torn = Buffer.from(whole.subarray(0, 4096));
  content({ ...id, gen: 2 }, 2048, 1024).copy(torn, 2048);
  assert.match(mismatch(id, 0, torn)!, /byte 2056 .*sector 4: stamp key 7 gen 2/);
});
