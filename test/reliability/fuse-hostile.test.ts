/**
 * Property 5 (short): a FamfsFs handler behind FuseSession, fed hostile
 * messages through a scripted transport, answers each with an errno (or a
 * well-formed reply) and keeps serving valid requests correctly.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, makeHost, type Host } from '../../torture/lib/common.js';
import { fuzzFuse } from '../../torture/lib/fusefuzz.js';

const MESSAGES = Number(process.env.FAMFS_FUSE_FUZZ ?? 3000);

describe('hostile FUSE input', () => {
  let master: Host, client: Host;
  before(() => {
    master = makeHost('fuse-m');
    client = makeHost('fuse-c');
  });
  after(() => cleanup());

  for (const transport of ['dev', 'uring'] as const) {
    const how = transport === 'dev' ? '/dev/fuse framing' : 'io_uring entry framing, exactly one reply each';
    it(`client daemon (${how}): ${MESSAGES} hostile messages, each answered, valid requests still served, nothing outside the files written`, () => {
      const r = fuzzFuse({ master, client, messages: MESSAGES, seed: 99, transport });
      assert.deepEqual(r.errors, []);
      assert.equal(r.lost, 0);
      assert.ok(r.errnoReplies > MESSAGES / 2);
    });
  }
});
