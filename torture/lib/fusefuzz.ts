/**
 * Property 5 — hostile FUSE input. A FamfsFs handler behind a FuseSession is
 * fed truncated, oversized and inconsistent messages through a scripted
 * transport. After every one: the session did not throw, it answered at most
 * once (exactly once, with the request's unique and an errno or a well-formed
 * reply, whenever a header could be decoded and the opcode expects replies),
 * and a valid GETATTR / LOOKUP / READ still gets a correct reply. At the end,
 * every device byte outside the files' extents is unchanged.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fc from 'fast-check';
import { Famfs } from '../../src/api/famfs.js';
import { randomize } from '../../src/api/data.js';
import { FamfsFs } from '../../src/fs/famfs-fs.js';
import type { FamfsMountConfig } from '../../src/fs/config.js';
import { FuseSession, type FuseTransport } from '../../src/fuse/session.js';
import { Opcode } from '../../src/fuse/protocol.js';
import { RING_HEADER_SIZE, messageToRing, messageToRingRequest, payloadSizeFromInitOut, ringReplyToMessage, ringRequestToMessage } from '../../src/fuse/uring-frame.js';
import { asHost, MiB, pieces, progress, type Host } from './common.js';
import { fuzzDevice, DEV_SIZE } from './fuzz.js';

const NO_REPLY = new Set<number>([Opcode.FORGET, Opcode.BATCH_FORGET, Opcode.INTERRUPT]);

class Script implements FuseTransport {
  replies: Buffer[] = [];
  read(): number {
    throw Object.assign(new Error('not used'), { code: 'ENODEV' });
  }
  writev(bufs: Buffer[]): void {
    this.replies.push(Buffer.concat(bufs));
  }
}

function header(len: number, opcode: number, unique: bigint, nodeid: bigint, extlen = 0): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32LE(len >>> 0, 0);
  h.writeUInt32LE(opcode >>> 0, 4);
  h.writeBigUInt64LE(unique, 8);
  h.writeBigUInt64LE(nodeid, 16);
  h.writeUInt32LE(1000, 24);
  h.writeUInt32LE(1000, 28);
  h.writeUInt32LE(4242, 32);
  h.writeUInt16LE(extlen, 36);
  return h;
}
function msg(opcode: number, nodeid: bigint | number, body: Buffer, unique: bigint): Buffer {
  return Buffer.concat([header(40 + body.length, opcode, unique, BigInt(nodeid)), body]);
}
const u32 = (...v: number[]): Buffer => Buffer.concat(v.map((x) => { const b = Buffer.alloc(4); b.writeUInt32LE(x >>> 0); return b; }));
const u64 = (v: bigint): Buffer => { const b = Buffer.alloc(8); b.writeBigUInt64LE(v); return b; };
function readIn(fh: bigint, offset: bigint, size: number): Buffer {
  return Buffer.concat([u64(fh), u64(offset), u32(size, 0), u64(0n), u32(0, 0)]);
}
const initIn = (): Buffer => Buffer.concat([u32(7, 45, 0x20000, 0x73fffffb, 0x5fd), Buffer.alloc(44)]);

/** What the scripted kernel sends: the message, the byte count "read", and what a correct server does. */
export interface Hostile {
  bytes: Buffer;
  nread: number;
}

const NODEIDS = [0n, 1n, 2n, 3n, 4n, 16n, 17n, 18n, 19n, 20n, 21n, 999n, 1n << 53n, 0xffffffffffffffffn];
const BIG = [0n, 1n, 4095n, 4096n, 5000n, 1n << 31n, 1n << 32n, 1n << 53n, (1n << 63n) - 1n, 0xffffffffffffffffn];
const SIZES = [0, 1, 4096, 1 << 20, (1 << 20) + 1, 0x7fffffff, 0xffffffff];
const NAMES = ['d', 'a', '.meta', '.log', '..', '.', '', 'a/b', 'x'.repeat(300)];

export function hostileArb(): fc.Arbitrary<(unique: bigint) => Hostile> {
  const nodeid = fc.constantFrom(...NODEIDS);
  const big = fc.oneof(fc.constantFrom(...BIG), fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }));
  const size = fc.oneof(fc.constantFrom(...SIZES), fc.nat());
  const name = fc.oneof(fc.constantFrom(...NAMES), fc.uint8Array({ minLength: 0, maxLength: 120 }).map((a) => Buffer.from(a).toString('latin1')));
  const nameBytes = (n: string, nul: boolean): Buffer => Buffer.concat([Buffer.from(n, 'latin1'), nul ? Buffer.alloc(1) : Buffer.alloc(0)]);
  const fixed = (m: (u: bigint) => Buffer) => (u: bigint): Hostile => {
    const b = m(u);
    return { bytes: b, nread: b.length };
  };
  const body = fc.oneof(
    // name-carrying requests, with or without the NUL
    fc.record({ op: fc.constantFrom(Opcode.LOOKUP, Opcode.UNLINK, Opcode.RMDIR, Opcode.REMOVEXATTR), n: nodeid, name, nul: fc.boolean() }).map((r) => fixed((u) => msg(r.op, r.n, nameBytes(r.name, r.nul), u))),
    fc.record({ n: nodeid, name, nul: fc.boolean(), mode: fc.nat(), umask: fc.nat() }).map((r) => fixed((u) => msg(Opcode.MKDIR, r.n, Buffer.concat([u32(r.mode, r.umask), nameBytes(r.name, r.nul)]), u))),
    fc.record({ n: nodeid, a: name, b: name, nul: fc.boolean(), np: nodeid }).map((r) => fixed((u) => msg(Opcode.RENAME, r.n, Buffer.concat([u64(r.np), nameBytes(r.a, true), nameBytes(r.b, r.nul)]), u))),
    fc.record({ n: nodeid, size, name, nul: fc.boolean() }).map((r) => fixed((u) => msg(Opcode.GETXATTR, r.n, Buffer.concat([u32(r.size, 0), nameBytes(r.name, r.nul)]), u))),
    fc.record({ n: nodeid, size }).map((r) => fixed((u) => msg(Opcode.LISTXATTR, r.n, u32(r.size, 0), u))),
    // reads with huge offsets and sizes
    fc.record({ op: fc.constantFrom(Opcode.READ, Opcode.READDIR, Opcode.READDIRPLUS), n: nodeid, off: big, size }).map((r) => fixed((u) => msg(r.op, r.n, readIn(0n, r.off, r.size), u))),
    // writes whose size field disagrees with the data, huge offsets
    fc.record({ n: nodeid, off: big, size, data: fc.nat({ max: 600 }) }).map((r) => fixed((u) => msg(Opcode.WRITE, r.n, Buffer.concat([u64(0n), u64(r.off), u32(r.size, 0), u64(0n), u32(0, 0), Buffer.alloc(r.data, 0x5a)]), u))),
    fc.record({ n: nodeid, valid: fc.nat(), sz: big, mode: fc.nat(), uid: fc.nat(), gid: fc.nat() }).map((r) => fixed((u) => {
      const b = Buffer.alloc(88);
      b.writeUInt32LE(r.valid >>> 0, 0);
      b.writeBigUInt64LE(r.sz, 16);
      b.writeUInt32LE(r.mode >>> 0, 68);
      b.writeUInt32LE(r.uid >>> 0, 76);
      b.writeUInt32LE(r.gid >>> 0, 80);
      return msg(Opcode.SETATTR, r.n, b, u);
    })),
    fc.record({ n: nodeid, flags: fc.nat() }).map((r) => fixed((u) => msg(Opcode.OPEN, r.n, u32(r.flags, 0), u))),
    fc.record({ count: fc.oneof(fc.nat({ max: 4 }), fc.constantFrom(0xffffffff, 1 << 28)), items: fc.nat({ max: 3 }) }).map((r) => fixed((u) => msg(Opcode.BATCH_FORGET, 0, Buffer.concat([u32(r.count, 0), Buffer.alloc(16 * r.items, 1)]), u))),
    fc.constant(fixed((u) => msg(Opcode.INIT, 0, initIn(), u))), // a second INIT
    fc.record({ n: nodeid, mask: fc.nat() }).map((r) => fixed((u) => msg(Opcode.ACCESS, r.n, u32(r.mask, 0), u))),
    // unknown and unimplemented opcodes
    fc.record({ op: fc.oneof(fc.integer({ min: 0, max: 70 }), fc.nat()), n: nodeid, len: fc.nat({ max: 128 }) }).map((r) => fixed((u) => msg(r.op, r.n, Buffer.alloc(r.len, 0x61), u))),
  );
  return fc.oneof(
    { weight: 6, arbitrary: body },
    // header length ≠ bytes read, either way
    { weight: 2, arbitrary: fc.tuple(body, fc.integer({ min: -64, max: 64 }), fc.boolean()).map(([m, d, lie]) => (u: bigint): Hostile => {
      const h = m(u);
      if (lie) {
        const b = Buffer.from(h.bytes);
        b.writeUInt32LE(Math.max(0, b.length + d), 0);
        return { bytes: b, nread: h.nread };
      }
      // truncated: fewer bytes read than the message, header len fixed up or not
      const n = Math.max(0, Math.min(h.bytes.length, h.bytes.length + Math.min(d, 0) - 1));
      const b = Buffer.from(h.bytes.subarray(0, n));
      if (n >= 4 && d % 2) b.writeUInt32LE(n, 0);
      return { bytes: b, nread: n };
    }) },
    // extension area longer than the body
    { weight: 1, arbitrary: fc.tuple(body, fc.nat({ max: 0xffff })).map(([m, ext]) => (u: bigint): Hostile => {
      const h = m(u);
      const b = Buffer.from(h.bytes);
      if (b.length >= 40) b.writeUInt16LE(ext, 36);
      return { bytes: b, nread: h.nread };
    }) },
    // pure noise
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 300 }).map((a) => (): Hostile => ({ bytes: Buffer.from(a), nread: a.length })) },
  );
}

export interface FuseFuzzResult {
  tried: number;
  failed: number;
  /** Valid probes that did not get the right answer after a hostile message. */
  lost: number;
  errnoReplies: number;
  errors: string[];
}

interface Fixture {
  device: string;
  file: { id: number; bytes: Buffer };
  dirId: number;
  outside: () => string;
}

/** A small fs (64 MiB real bytes) with a directory and a filled file; `outside` hashes every byte outside file extents. */
export function fuseFixture(master: Host): Fixture {
  const device = fuzzDevice(master);
  const f = asHost(master, () => Famfs.open(device, { writable: true }));
  let bytes: Buffer;
  try {
    asHost(master, () => f.writer((w) => {
      w.mkdir('d');
      const a = w.creat('d/a', 5000, { mode: 0o644 });
      randomize(f, a, 77);
      w.creat('b', 3 * MiB, { mode: 0o600 });
    }));
    bytes = Buffer.concat(f.slices(f.file('d/a'), 0, 5000));
  } finally {
    f.close();
  }
  const outside = (): string => {
    const g = asHost(master, () => Famfs.open(device));
    try {
      const h = createHash('sha256');
      const holes: [number, number][] = [];
      for (const n of g.tree.walk()) for (const e of pieces(n)) holes.push([e.offset, e.offset + e.length]);
      holes.sort((x, y) => x[0] - y[0]);
      const fd = fs.openSync(device, 'r');
      try {
        let at = 0;
        const chunk = Buffer.alloc(4 * MiB);
        const hashRange = (s: number, e: number): void => {
          for (let o = s; o < e; o += chunk.length) {
            const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, e - o), o);
            h.update(chunk.subarray(0, n));
          }
        };
        for (const [s, e] of holes) {
          hashRange(at, s);
          at = Math.max(at, e);
        }
        hashRange(at, DEV_SIZE);
      } finally {
        fs.closeSync(fd);
      }
      return h.digest('hex');
    } finally {
      g.close();
    }
  };
  const g = asHost(master, () => Famfs.open(device));
  const ids = { file: g.file('d/a').id, dir: g.lookup('d').id };
  g.close();
  return { device, file: { id: ids.file, bytes }, dirId: ids.dir, outside };
}

export function famfsHandler(device: string, host: Host, forceClient: boolean): FamfsFs {
  const config = { device, mountpoint: '/nonexistent', timeout: 1, forceClient, verbose: false, mountTimeMs: Date.now(), state: new SharedArrayBuffer(64) } as FamfsMountConfig;
  return asHost(host, () => new FamfsFs(config));
}

/** One io_uring entry's buffers, and the transport's rules around them (uring.ts). */
class RingEntry {
  readonly header = Buffer.alloc(RING_HEADER_SIZE);
  payload = Buffer.alloc(0);
  /** What the kernel gets back: the entry's reply, as /dev/fuse would have seen it. */
  commit(bufs: Buffer[]): Buffer {
    messageToRing(bufs, this.header, this.payload);
    return ringReplyToMessage(this.header, this.payload);
  }
  /** The transport commits EIO for an entry the session did not answer, or could not frame. */
  commitEio(): Buffer {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(16, 0);
    h.writeInt32LE(-5, 4);
    this.header.copy(h, 8, 8, 16);
    return this.commit([h]);
  }
}

/**
 * transport 'uring': every message after INIT reaches the session through the
 * ring entry framing (split over in_out / op_in / payload at a varying point,
 * rebuilt by the transport's code), and every reply goes back through the
 * entry. There, every message must get exactly one reply: an entry left
 * uncommitted would be lost to its queue.
 */
export function fuzzFuse(opts: { master: Host; client: Host; messages: number; seed: number; asMaster?: boolean; transport?: 'dev' | 'uring' }): FuseFuzzResult {
  const fx = fuseFixture(opts.master);
  const before = fx.outside();
  const host = opts.asMaster ? opts.master : opts.client;
  const handler = famfsHandler(fx.device, host, false);
  const t = new Script();
  const logs: string[] = [];
  const session = new FuseSession(t, handler, { log: (m) => logs.length < 50 && logs.push(m) });
  const res: FuseFuzzResult = { tried: 0, failed: 0, lost: 0, errnoReplies: 0, errors: [] };
  let unique = 10n;
  let ring: RingEntry | null = null;
  const sendDev = (bytes: Buffer, nread = bytes.length): Buffer[] => {
    t.replies = [];
    bytes.copy(session.buffer, 0, 0, Math.min(bytes.length, session.buffer.length));
    session.processMessage(session.buffer, nread);
    return t.replies;
  };
  const sendRing = (e: RingEntry, bytes: Buffer, nread: number, unique: bigint): Buffer[] => {
    messageToRingRequest(bytes, nread, Number((unique * 2654435761n) % 129n), e.header, e.payload, unique);
    const n = ringRequestToMessage(e.header, e.payload, session.buffer);
    if (typeof n === 'string') return [e.commitEio()];
    t.replies = [];
    session.processMessage(session.buffer, n);
    const out = t.replies.map((r) => e.commit([r.subarray(0, 16), r.subarray(16)]));
    return out.length ? out : [e.commitEio()];
  };
  const send = (bytes: Buffer, nread = bytes.length): Buffer[] => (ring ? sendRing(ring, bytes, nread, unique) : sendDev(bytes, nread));
  /** The unique the reply must carry: over the ring the kernel always gives a whole in_header. */
  const uniqueOf = (bytes: Buffer): bigint => (ring ? ring.header.readBigUInt64LE(8) : bytes.readBigUInt64LE(8));
  const bad = (what: string): void => {
    res.failed++;
    if (res.errors.length < 20) res.errors.push(what);
  };
  try {
    const init = send(msg(Opcode.INIT, 0, initIn(), 1n));
    if (init.length !== 1 || init[0]!.readInt32LE(4) !== 0) throw new Error('INIT failed');
    // INIT always travels over /dev/fuse; the ring's entries are sized from its reply.
    if (opts.transport === 'uring') {
      ring = new RingEntry();
      ring.payload = Buffer.alloc(payloadSizeFromInitOut(init[0]!.subarray(16)));
    }
    const probe = (after: string): void => {
      const u1 = ++unique, u2 = ++unique, u3 = ++unique;
      const ga = send(msg(Opcode.GETATTR, 1, Buffer.alloc(16), u1));
      const ok1 = ga.length === 1 && ga[0]!.readInt32LE(4) === 0 && ga[0]!.length === 16 + 104 && ga[0]!.readBigUInt64LE(8) === u1;
      const lk = send(msg(Opcode.LOOKUP, 1, Buffer.from('d\0'), u2));
      const ok2 = lk.length === 1 && lk[0]!.readInt32LE(4) === 0 && lk[0]!.readBigUInt64LE(16) === BigInt(fx.dirId);
      const rd = send(msg(Opcode.READ, fx.file.id, readIn(0n, 0n, 8192), u3));
      const ok3 = rd.length === 1 && rd[0]!.readInt32LE(4) === 0 && rd[0]!.subarray(16).equals(fx.file.bytes);
      if (!(ok1 && ok2 && ok3)) {
        res.lost++;
        bad(`after ${after}: probe failed (getattr ${ok1}, lookup ${ok2}, read ${ok3})`);
      }
    };
    probe('INIT');
    const samples = fc.sample(hostileArb(), { seed: opts.seed, numRuns: opts.messages });
    for (const make of samples) {
      const u = ++unique;
      const h = make(u);
      res.tried++;
      progress();
      const desc = `${h.bytes.length}B/${h.nread} op ${h.bytes.length >= 8 ? h.bytes.readUInt32LE(4) : '?'}`;
      // Writes into d/a are legitimate data writes: the probe compares its bytes, so keep them out.
      // The master may write .meta/.log (4) by design: steered away too. Writes to
      // .meta/.superblock (3) go through and must be refused (the final hash checks it).
      if (h.bytes.length >= 24 && h.bytes.readUInt32LE(4) === Opcode.WRITE) {
        const target = h.bytes.readBigUInt64LE(16);
        if (target === BigInt(fx.file.id) || (opts.asMaster && target === 4n)) h.bytes.writeBigUInt64LE(BigInt(fx.file.id + 1), 16);
      }
      let replies: Buffer[];
      try {
        replies = send(h.bytes, h.nread);
      } catch (e) {
        bad(`${desc}: session threw ${(e as Error).message}`);
        continue;
      }
      const decodable = h.nread >= 40 && h.bytes.length >= 40;
      const op = decodable ? h.bytes.readUInt32LE(4) : -1;
      const expectOne = ring !== null || (decodable && !NO_REPLY.has(op));
      if (replies.length > 1) bad(`${desc}: ${replies.length} replies`);
      if (expectOne && replies.length !== 1) bad(`${desc}: no reply`);
      if (!ring && !decodable && replies.length) bad(`${desc}: replied to an undecodable message`);
      for (const r of replies) {
        if (r.length < 16 || r.readUInt32LE(0) !== r.length) bad(`${desc}: reply length field ${r.length >= 4 ? r.readUInt32LE(0) : '?'} ≠ ${r.length}`);
        const err = r.readInt32LE(4);
        if (err > 0 || err < -4095) bad(`${desc}: reply error field ${err}`);
        if (err < 0) {
          res.errnoReplies++;
          if (r.length !== 16) bad(`${desc}: error reply with a payload`);
        }
        if (r.readBigUInt64LE(8) !== uniqueOf(h.bytes)) bad(`${desc}: reply unique differs`);
      }
      probe(desc);
    }
    const afterHash = fx.outside();
    if (afterHash !== before) bad('bytes outside the files changed (superblock, log or free space)');
  } finally {
    handler.famfs.close();
    fs.rmSync(fx.device, { force: true });
  }
  return res;
}
