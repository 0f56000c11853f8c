/**
 * FuseSession driven by a scripted transport playing the kernel: no /dev/fuse needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Errno, InitFlag, Opcode, S_IFDIR, S_IFREG, decodeInitOut, type FuseConnection } from '../../src/fuse/codec.js';
import { FuseError, type FuseHandler } from '../../src/fuse/handler.js';
import { FuseSession, createSharedInit, type FuseTransport, type RequestLog } from '../../src/fuse/session.js';
import { Bytes, initIn, parseReply, request } from './wire.js';
import { FdReply } from '../../src/fuse/splice.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Feeds queued messages; records every writev (keeping the caller's Buffer objects). */
class Script implements FuseTransport {
  replies: Buffer[][] = [];
  failNextWrite: string | null = null;
  constructor(public queue: (Buffer | string)[] = []) {}
  read(buf: Buffer): number {
    const m = this.queue.shift();
    if (m === undefined) throw Object.assign(new Error('unmounted'), { code: 'ENODEV' });
    if (typeof m === 'string') throw Object.assign(new Error(m), { code: m });
    m.copy(buf);
    return m.length;
  }
  writev(bufs: Buffer[]): void {
    if (this.failNextWrite) {
      const code = this.failNextWrite;
      this.failNextWrite = null;
      throw Object.assign(new Error(code), { code });
    }
    // The session reuses its header buffer: copy it, keep the payload objects.
    this.replies.push([Buffer.from(bufs[0]!), ...bufs.slice(1)]);
  }
  /** Replies flattened and parsed. */
  parsed() {
    return this.replies.map((r) => parseReply(Buffer.concat(r)));
  }
}

const INIT = () => request(Opcode.INIT, 0, initIn(), { unique: 1 });
const file = (ino: number, size = 0) => ({ ino, mode: S_IFREG | 0o644, size });

function run(h: FuseHandler, msgs: (Buffer | string)[], opts = {}) {
  const t = new Script([INIT(), ...msgs]);
  const logs: string[] = [];
  const s = new FuseSession(t, h, { log: (m) => logs.push(m), ...opts });
  const end = s.loop();
  const replies = t.parsed();
  return { t, s, end, logs, init: replies[0]!, replies: replies.slice(1) };
}

test('INIT: negotiated reply, handler.init and onInit see the connection', () => {
  const seen: FuseConnection[] = [];
  const onInit: FuseConnection[] = [];
  const h: FuseHandler = {
    initWishes: () => ({ addFlags: InitFlag.DIRECT_IO_ALLOW_MMAP, maxBackground: 32 }),
    init: (c) => seen.push(c),
  };
  const { init, end } = run(h, [], { onInit: (c: FuseConnection) => onInit.push(c) });
  assert.equal(end, 'unmounted');
  assert.equal(init.error, 0);
  assert.equal(init.unique, 1n);
  assert.equal(init.len, 16 + 64);
  const out = decodeInitOut(init.payload);
  assert.equal(out.major, 7);
  assert.equal(out.minor, 45);
  assert.equal(out.maxWrite, 1 << 20);
  assert.equal(out.maxPages, 256);
  assert.equal(out.maxBackground, 32);
  assert.equal(out.maxReadahead, 0x20000);
  assert.ok(out.flags & InitFlag.DIRECT_IO_ALLOW_MMAP && out.flags & InitFlag.INIT_EXT && out.flags & InitFlag.MAX_PAGES);
  assert.equal(out.flags & ~(0x73fffffbn | (0x5fdn << 32n)), 0n, 'never more than offered');
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.flags, out.flags);
  assert.equal(onInit.length, 1);
});

test('INIT with major ≠ 7 → EPROTO and the loop stops', () => {
  const t = new Script([request(Opcode.INIT, 0, initIn(8, 0), { unique: 1 }), request(Opcode.STATFS, 1)]);
  const s = new FuseSession(t, {}, { log: () => undefined });
  assert.equal(s.loop(), 'protocol');
  assert.equal(t.parsed()[0]!.error, -Errno.EPROTO);
  assert.equal(t.queue.length, 1, 'nothing read after the failed INIT');
});

test('requests before INIT → EIO', () => {
  const t = new Script([request(Opcode.GETATTR, 1, Buffer.alloc(16))]);
  new FuseSession(t, {}, { log: () => undefined }).loop();
  assert.equal(t.parsed()[0]!.error, -Errno.EIO);
});

test('LOOKUP counts, FORGET/BATCH_FORGET get no reply and reach handler.forget', () => {
  const forgets: [number, number][] = [];
  const h: FuseHandler = {
    lookup: (_r, parent, name) => (name === 'a' ? { nodeid: 5, attr: file(5) } : name === 'neg' ? { nodeid: 0, attr: file(0), entryTimeout: 10 } : new FuseError(Errno.ENOENT)),
    forget: (_r, id, n) => forgets.push([id, n]),
  };
  const name = (s: string) => Buffer.from(s + '\0');
  const t = new Script([
    INIT(),
    request(Opcode.LOOKUP, 1, name('a'), { unique: 2 }),
    request(Opcode.LOOKUP, 1, name('a'), { unique: 3 }),
    request(Opcode.LOOKUP, 1, name('zz'), { unique: 4 }),
    request(Opcode.LOOKUP, 1, name('neg'), { unique: 5 }),
  ]);
  const s = new FuseSession(t, h);
  // run the first part, inspect counts, then continue with forgets
  t.queue.push('EINTR'); // transient errors are retried
  s.loop();
  let r = t.parsed();
  assert.equal(r.length, 5);
  assert.equal(r[1]!.len, 16 + 128);
  assert.equal(r[1]!.payload.readBigUInt64LE(0), 5n);
  assert.equal(r[3]!.error, -Errno.ENOENT);
  assert.equal(r[3]!.len, 16);
  assert.equal(r[4]!.error, 0); // negative entry: nodeid 0, cached
  assert.equal(r[4]!.payload.readBigUInt64LE(16), 10n);
  assert.equal(s.lookupCount(5), 2);
  assert.equal(s.lookupCount(0), 0, 'nodeid 0 is not counted');

  const t2 = new Script([
    INIT(),
    request(Opcode.LOOKUP, 1, name('a'), { unique: 2 }),
    request(Opcode.LOOKUP, 1, name('a'), { unique: 3 }),
    request(Opcode.FORGET, 5, new Bytes().u64(1).build(), { unique: 6 }),
    request(Opcode.BATCH_FORGET, 0, new Bytes().u32(1).u32(0).u64(5).u64(1).build(), { unique: 7 }),
    request(Opcode.INTERRUPT, 0, new Bytes().u64(3).build(), { unique: 8 }),
  ]);
  const s2 = new FuseSession(t2, h);
  s2.loop();
  assert.equal(t2.replies.length, 3, 'INIT + 2 lookups; FORGET, BATCH_FORGET, INTERRUPT are not answered');
  assert.equal(s2.lookupCount(5), 0);
  assert.deepEqual(forgets, [
    [5, 1],
    [5, 1],
  ]);
});

test('missing methods and unknown opcodes → ENOSYS; stateless open/opendir/statfs defaults', () => {
  const { replies } = run({}, [
    request(Opcode.MKDIR, 1, new Bytes().u32(0o755).u32(0).cstr('d').build(), { unique: 2 }),
    request(Opcode.IOCTL, 1, Buffer.alloc(32), { unique: 3 }),
    request(4242, 1, Buffer.alloc(0), { unique: 4 }),
    request(Opcode.OPEN, 2, Buffer.alloc(8), { unique: 5 }),
    request(Opcode.STATFS, 1, Buffer.alloc(0), { unique: 6 }),
    request(Opcode.RELEASE, 2, Buffer.alloc(24), { unique: 7 }),
  ]);
  assert.deepEqual(
    replies.map((r) => [r.unique, r.error, r.len]),
    [
      [2n, -Errno.ENOSYS, 16],
      [3n, -Errno.ENOSYS, 16],
      [4n, -Errno.ENOSYS, 16],
      [5n, 0, 32],
      [6n, 0, 96],
      [7n, 0, 16],
    ],
  );
});

test('extension opcodes: unknown opcodes reach handler.extension with nodeid and raw payload; its bytes are the reply', () => {
  const seen: [number, number, string][] = [];
  const h: FuseHandler = {
    extension: (req, opcode, payload) => {
      seen.push([opcode, req.nodeid, payload.toString('hex')]);
      if (opcode === 60) return new FuseError(Errno.EINVAL);
      if (opcode === 61) return [Buffer.from('ab'), Buffer.from('cd')];
      if (opcode === 62) throw new FuseError(Errno.ENOSYS);
      return Buffer.from([1, 2, 3]);
    },
  };
  const { replies } = run(h, [
    request(54, 77, Buffer.alloc(0), { unique: 2 }),
    request(55, 3, Buffer.from([9, 8]), { unique: 3 }),
    request(60, 1, Buffer.alloc(0), { unique: 4 }),
    request(61, 1, Buffer.alloc(0), { unique: 5 }),
    request(62, 1, Buffer.alloc(0), { unique: 6 }),
  ]);
  assert.deepEqual(seen, [[54, 77, ''], [55, 3, '0908'], [60, 1, ''], [61, 1, ''], [62, 1, '']]);
  assert.deepEqual(
    replies.map((r) => [r.unique, r.error, r.len, r.payload.toString('hex')]),
    [
      [2n, 0, 19, '010203'],
      [3n, 0, 19, '010203'],
      [4n, -Errno.EINVAL, 16, ''],
      [5n, 0, 20, '61626364'],
      [6n, -Errno.ENOSYS, 16, ''],
    ],
  );
});

test('handler exceptions: plain Error → EIO (logged) and serving continues; errno-coded errors keep their errno', () => {
  const h: FuseHandler = {
    getattr: (_r, n) => {
      if (n === 2) throw new Error('kaboom');
      if (n === 3) throw Object.assign(new Error('denied'), { code: 'EACCES' });
      if (n === 4) throw new FuseError(Errno.ESTALE);
      return { attr: file(n) };
    },
  };
  const ga = (n: number, u: number) => request(Opcode.GETATTR, n, Buffer.alloc(16), { unique: u });
  const { replies, logs } = run(h, [ga(2, 2), ga(3, 3), ga(4, 4), ga(5, 5)]);
  assert.deepEqual(
    replies.map((r) => r.error),
    [-Errno.EIO, -Errno.EACCES, -Errno.ESTALE, 0],
  );
  assert.equal(replies[3]!.len, 16 + 104);
  assert.equal(logs.length, 1);
  assert.match(logs[0]!, /kaboom/);
});

test('malformed requests → EINVAL/EIO reply (or silence for FORGET), loop continues', () => {
  const { replies, logs } = run({ statfs: () => ({}) }, [
    request(Opcode.LOOKUP, 1, Buffer.from('noterm'), { unique: 2 }),
    request(Opcode.FORGET, 5, Buffer.alloc(3), { unique: 3 }),
    request(Opcode.STATFS, 1, Buffer.alloc(0), { unique: 4, len: 41 }),
    request(Opcode.STATFS, 1, Buffer.alloc(0), { unique: 5 }),
  ]);
  assert.deepEqual(
    replies.map((r) => [r.unique, r.error]),
    [
      [2n, -Errno.EINVAL],
      [4n, -Errno.EIO],
      [5n, 0],
    ],
  );
  assert.equal(logs.length, 3);
});

test('READ: handler buffers go to writev as-is (no copy), trimmed to the requested size', () => {
  const data = Buffer.alloc(10000, 7);
  const parts = [data.subarray(0, 3000), data.subarray(3000, 10000)];
  const h: FuseHandler = { read: () => parts };
  const rd = (size: number, u: number) => request(Opcode.READ, 2, new Bytes().u64(1).u64(0).u32(size).u32(0).u64(0).u32(0).u32(0).build(), { unique: u });
  const { t } = run(h, [rd(20000, 2), rd(5000, 3)]);
  const full = t.replies[1]!;
  assert.equal(full.length, 3);
  assert.equal(full[1], parts[0]);
  assert.equal(full[2], parts[1]);
  assert.equal(full[0]!.readUInt32LE(0), 16 + 10000);
  const trimmed = t.replies[2]!;
  assert.equal(trimmed[0]!.readUInt32LE(0), 16 + 5000);
  assert.equal(trimmed[1], parts[0]);
  assert.equal(trimmed[2]!.length, 2000);
  assert.equal(trimmed[2]!.buffer, data.buffer);
});

test('READ: file pieces (FdReply) on a transport that cannot splice: the fallback buffers, else pread; a short piece → EIO and onShort', () => {
  const file = path.join(os.tmpdir(), `famfs-session-pieces-${process.pid}`);
  fs.writeFileSync(file, Buffer.from('0123456789abcdefghij'));
  const fd = fs.openSync(file, 'r');
  try {
    const shorts: string[] = [];
    const answers = [
      new FdReply([{ fd, offset: 2, length: 3 }], undefined, () => [Buffer.from('fallback')]),
      new FdReply([{ fd, offset: 10, length: 4 }, { fd, offset: 0, length: 2 }]),
      new FdReply([{ fd, offset: 18, length: 5 }], (why) => shorts.push(why)),
    ];
    const h: FuseHandler = { read: () => answers.shift()! };
    const rd = (size: number, u: number) => request(Opcode.READ, 2, new Bytes().u64(1).u64(0).u32(size).u32(0).u64(0).u32(0).u32(0).build(), { unique: u });
    const { replies } = run(h, [rd(100, 2), rd(5, 3), rd(100, 4)]);
    assert.equal(replies[0]!.payload.toString(), 'fallback');
    assert.equal(replies[1]!.payload.toString(), 'abcd0', 'pieces read in order, trimmed to the size asked');
    assert.equal(replies[2]!.error, -Errno.EIO);
    assert.equal(shorts.length, 1);
    assert.match(shorts[0]!, /past its end/);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
});

test('WRITE: data view reaches the handler; write_out carries the count', () => {
  let got = '';
  const h: FuseHandler = {
    write: (_r, _n, a, d) => {
      got = `${a.offset}:${d.toString()}`;
      return d.length;
    },
  };
  const body = Buffer.concat([new Bytes().u64(1).u64(77).u32(5).u32(0).u64(0).u32(0).u32(0).build(), Buffer.from('hello')]);
  const { replies } = run(h, [request(Opcode.WRITE, 2, body, { unique: 2 })]);
  assert.equal(got, '77:hello');
  assert.equal(replies[0]!.payload.readUInt32LE(0), 5);
});

test('GETXATTR / LISTXATTR: size probe, ERANGE, value', () => {
  const h: FuseHandler = {
    getxattr: (_r, _n, name) => (name === 'user.a' ? 'value' : new FuseError(Errno.ENODATA)),
    listxattr: () => ['user.a', 'user.b'],
  };
  const gx = (size: number, name: string, u: number) => request(Opcode.GETXATTR, 2, new Bytes().u32(size).u32(0).cstr(name).build(), { unique: u });
  const lx = (size: number, u: number) => request(Opcode.LISTXATTR, 2, new Bytes().u32(size).u32(0).build(), { unique: u });
  const { replies } = run(h, [gx(0, 'user.a', 2), gx(3, 'user.a', 3), gx(100, 'user.a', 4), gx(100, 'user.x', 5), lx(0, 6), lx(100, 7)]);
  assert.equal(replies[0]!.payload.readUInt32LE(0), 5);
  assert.equal(replies[0]!.len, 16 + 8);
  assert.equal(replies[1]!.error, -Errno.ERANGE);
  assert.equal(replies[2]!.payload.toString(), 'value');
  assert.equal(replies[3]!.error, -Errno.ENODATA);
  assert.equal(replies[4]!.payload.readUInt32LE(0), 14);
  assert.equal(replies[5]!.payload.toString(), 'user.a\0user.b\0');
});

test('READDIRPLUS counts packed entries with nodeid ≠ 0 except . and ..', () => {
  const d = (ino: number) => ({ nodeid: ino, attr: { ino, mode: S_IFDIR | 0o755 } });
  const h: FuseHandler = {
    readdirplus: () => [
      { name: '.', entry: d(1) },
      { name: '..', entry: d(1) },
      { name: 'x', entry: d(9) },
      { name: 'zero', entry: { nodeid: 0, attr: file(11) } },
      { name: 'y', entry: d(10) },
    ],
  };
  const rd = (size: number, u: number) => request(Opcode.READDIRPLUS, 1, new Bytes().u64(0).u64(0).u32(size).u32(0).u64(0).u32(0).u32(0).build(), { unique: u });
  // 4 records of 160 bytes fit in 700: ., .., x, zero; y does not.
  const { s, replies } = run(h, [rd(700, 2)]);
  assert.equal(replies[0]!.len, 16 + 640);
  assert.equal(s.lookupCount(1), 0);
  assert.equal(s.lookupCount(9), 1);
  assert.equal(s.lookupCount(10), 0, 'not packed, not counted');
});

test('a reply the kernel refuses with ENOENT (interrupted) is ignored and its lookup taken back', () => {
  const forgets: number[] = [];
  const h: FuseHandler = { lookup: () => ({ nodeid: 5, attr: file(5) }), forget: (_r, id) => forgets.push(id), statfs: () => ({}) };
  const t = new Script([INIT(), request(Opcode.LOOKUP, 1, Buffer.from('a\0'), { unique: 2 }), request(Opcode.STATFS, 1, Buffer.alloc(0), { unique: 3 })]);
  const s = new FuseSession(t, h, { log: () => assert.fail('ENOENT on write must not be logged') });
  const orig = t.writev.bind(t);
  let n = 0;
  t.writev = (b) => {
    if (++n === 2) t.failNextWrite = 'ENOENT';
    orig(b);
  };
  assert.equal(s.loop(), 'unmounted');
  assert.equal(s.lookupCount(5), 0);
  assert.deepEqual(forgets, [5]);
  assert.equal(t.replies.length, 2, 'INIT and STATFS went out');
  assert.equal(s.stats.replyFailures, 1);
});

test('sharedInit: a second session adopts the INIT another session answered', () => {
  const sab = createSharedInit();
  const inits: FuseConnection[] = [];
  const mk = (): FuseHandler => ({ init: (c) => inits.push(c), statfs: () => ({ blocks: 1 }), initWishes: () => ({ attrTimeout: 5 }), getattr: (_r, n) => ({ attr: file(n) }) });
  const a = new Script([INIT()]);
  new FuseSession(a, mk(), { sharedInit: sab }).loop();
  const b = new Script([request(Opcode.GETATTR, 2, Buffer.alloc(16), { unique: 9 })]);
  const received: boolean[] = [];
  const sb = new FuseSession(b, mk(), { sharedInit: sab, onInit: (_c, r) => received.push(r) });
  sb.loop();
  const r = b.parsed()[0]!;
  assert.equal(r.error, 0);
  assert.equal(r.payload.readBigUInt64LE(0), 5n, 'timeouts from initWishes apply in the lazy worker too');
  assert.equal(inits.length, 2);
  assert.deepEqual(inits[1], inits[0]);
  assert.deepEqual(received, [false]);
  assert.ok(sb.conn);
});

test('debug hook sees opcode name, nodeid, unique and result', () => {
  const seen: RequestLog[] = [];
  run({ lookup: () => new FuseError(Errno.ENOENT) }, [request(Opcode.LOOKUP, 1, Buffer.from('nope\0'), { unique: 2 }), request(Opcode.FORGET, 3, new Bytes().u64(1).build(), { unique: 3 })], {
    debug: (e: RequestLog) => seen.push(e),
  });
  assert.deepEqual(
    seen.map((e) => [e.opname, e.nodeid, e.unique, e.errno, e.detail]),
    [
      ['INIT', 0, 1n, 0, 'init'],
      ['LOOKUP', 1, 2n, Errno.ENOENT, '"nope"'],
      ['FORGET', 3, 3n, -1, 'nlookup=1'],
    ],
  );
});

test('EOF on a non-fuse transport ends the loop; destroy is called once', () => {
  let destroyed = 0;
  const t: FuseTransport = { read: () => 0, writev: () => undefined };
  const s = new FuseSession(t, { destroy: () => destroyed++ });
  assert.equal(s.loop(), 'eof');
  assert.equal(destroyed, 1);
});
