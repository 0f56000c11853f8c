/**
 * The test plays a famfs V10 kernel: a FuseSession over a transport that only records the
 * replies, fed one request at a time (kernel-mode tests without a real famfs kernel).
 */
import assert from 'node:assert/strict';
import type { FuseHandler } from '../../src/fuse/handler.js';
import { Opcode } from '../../src/fuse/codec.js';
import { FuseSession, type FuseTransport } from '../../src/fuse/session.js';
import { initIn, parseReply, request, type HdrOpts } from '../fuse/wire.js';

export const GET_FMAP = 54;
export const GET_DAXDEV = 55;
/** flags / flags2 of the INIT the famfs kernel sent (§7): 0x00000dfd73fffffb, bit 43 = flags2 0x800. */
export const FAMFS_INIT = (): Buffer => request(Opcode.INIT, 0, initIn(7, 46, 0x20000, 0x73fffffb, 0xdfd), { unique: 1 });

class Script implements FuseTransport {
  replies: Buffer[] = [];
  read(): number {
    throw Object.assign(new Error('unmounted'), { code: 'ENODEV' });
  }
  writev(bufs: Buffer[]): void {
    this.replies.push(Buffer.concat(bufs));
  }
}

export type ScriptedReply = Omit<ReturnType<typeof parseReply>, 'unique'> & { raw: Buffer; unique: number };

/**
 * `handler` behind a session. `send` makes one request (unique ids from 101 up, header fields
 * from `hdr` then `over`) and asserts it got exactly one reply; `init` feeds a whole INIT.
 */
export function scriptedKernel(handler: FuseHandler, hdr: HdrOpts = {}) {
  const t = new Script();
  const logs: string[] = [];
  const s = new FuseSession(t, handler, { log: (m) => logs.push(m) });
  let unique = 100;
  const send = (opcode: number, nodeid: number, body = Buffer.alloc(0), over: HdrOpts = {}): ScriptedReply => {
    t.replies = [];
    const u = ++unique;
    const m = request(opcode, nodeid, body, { ...hdr, ...over, unique: u });
    m.copy(s.buffer);
    s.processMessage(s.buffer, m.length);
    assert.equal(t.replies.length, 1, `one reply to opcode ${opcode}`);
    return { raw: t.replies[0]!, ...parseReply(t.replies[0]!), unique: u };
  };
  const init = (msg: Buffer = FAMFS_INIT()) => {
    t.replies = [];
    msg.copy(s.buffer);
    s.processMessage(s.buffer, msg.length);
    return parseReply(t.replies[0]!);
  };
  return { send, init, logs };
}
