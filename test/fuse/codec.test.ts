/**
 * Codec unit tests against byte vectors written by hand from the 7.45 struct
 * layouts in the reference (fuse-kernel.md §2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DecodeError,
  DirentPacker,
  Errno,
  FATTR_MODE,
  FATTR_SIZE,
  FUSE_GETATTR_FH,
  FUSE_KERNEL_MINOR_VERSION,
  FUSE_LK_FLOCK,
  FUSE_UNIQUE_RESEND,
  InitFlag,
  Opcode,
  S_IFDIR,
  S_IFREG,
  decodeInHeader,
  decodeInitOut,
  decodeRequest,
  defaultWantedFlags,
  encodeAttrOut,
  encodeCreateOut,
  encodeEntryOut,
  encodeErrorReply,
  encodeGetxattrOut,
  encodeInitOut,
  encodeLkOut,
  encodeLseekOut,
  encodeNotifyDelete,
  encodeNotifyIncEpoch,
  encodeNotifyInvalEntry,
  encodeNotifyInvalInode,
  encodeOpenOut,
  encodeStatfsOut,
  encodeWriteOut,
  negotiateInit,
  packDirents,
  packDirentsPlus,
  type FuseRequest,
} from '../../src/fuse/codec.js';
import { parseMountInfo } from '../../src/fuse/mountinfo.js';
import { Bytes, initIn, request } from './wire.js';

function ok(buf: Buffer, ctx = {}): FuseRequest {
  const d = decodeRequest(buf, buf.length, ctx);
  if (d.error) assert.fail(`unexpected decode error: ${d.error.message}`);
  return d.request;
}

function bad(buf: Buffer, nread = buf.length): DecodeError {
  const d = decodeRequest(buf, nread);
  assert.ok(d.error, 'expected a decode error');
  return d.error;
}

// ---- in header ------------------------------------------------------------------

test('fuse_in_header: every field at its offset', () => {
  const b = new Bytes()
    .u32(40) // len @0
    .u32(Opcode.STATFS) // opcode @4
    .u64((1n << 63n) | 0x1234n) // unique @8 (RESEND bit)
    .u64(0x1_0000_0002) // nodeid @16
    .u32(11) // uid @24
    .u32(22) // gid @28
    .u32(33) // pid @32
    .u16(0) // total_extlen @36
    .u16(0) // padding @38
    .build();
  assert.equal(b.length, 40);
  const h = decodeInHeader(b, 40);
  assert.ok(!(h instanceof DecodeError));
  assert.equal(h.len, 40);
  assert.equal(h.opcode, 17);
  assert.equal(h.unique, FUSE_UNIQUE_RESEND | 0x1234n);
  assert.equal(h.nodeid, 0x1_0000_0002);
  assert.deepEqual([h.uid, h.gid, h.pid, h.totalExtlen], [11, 22, 33, 0]);
  assert.deepEqual(ok(b), { op: 'statfs' });
});

test('truncated / inconsistent messages decode to errors, never throw', () => {
  const good = request(Opcode.LOOKUP, 1, new Bytes().cstr('abc').build());
  // shorter than a header: nothing to reply to
  const e1 = decodeRequest(good.subarray(0, 39), 39);
  assert.equal(e1.header, null);
  assert.equal(e1.error?.errno, Errno.EIO);
  // len field != bytes read
  assert.equal(bad(good, good.length - 1).errno, Errno.EIO);
  assert.equal(bad(request(Opcode.LOOKUP, 1, Buffer.from('abc\0'), { len: 100 })).errno, Errno.EIO);
  // name without NUL
  assert.equal(bad(request(Opcode.LOOKUP, 1, Buffer.from('abc'))).errno, Errno.EINVAL);
  // args shorter than the struct, for every fixed-size request
  const fixed: [number, number][] = [
    [Opcode.FORGET, 8],
    [Opcode.GETATTR, 16],
    [Opcode.SETATTR, 88],
    [Opcode.OPEN, 8],
    [Opcode.READ, 40],
    [Opcode.WRITE, 40],
    [Opcode.RELEASE, 24],
    [Opcode.FSYNC, 16],
    [Opcode.GETXATTR, 8],
    [Opcode.LISTXATTR, 8],
    [Opcode.FLUSH, 24],
    [Opcode.INIT, 16],
    [Opcode.OPENDIR, 8],
    [Opcode.READDIR, 40],
    [Opcode.RELEASEDIR, 24],
    [Opcode.ACCESS, 8],
    [Opcode.CREATE, 16],
    [Opcode.MKDIR, 8],
    [Opcode.MKNOD, 16],
    [Opcode.RENAME, 8],
    [Opcode.RENAME2, 16],
    [Opcode.LINK, 8],
    [Opcode.INTERRUPT, 8],
    [Opcode.BATCH_FORGET, 8],
    [Opcode.READDIRPLUS, 40],
    [Opcode.LSEEK, 24],
    [Opcode.SETLK, 48],
    [Opcode.SETLKW, 48],
    [Opcode.GETLK, 48],
    [Opcode.SETXATTR, 8],
  ];
  for (const [op, size] of fixed) {
    const e = bad(request(op, 1, Buffer.alloc(size - 1)));
    assert.equal(e.errno, Errno.EINVAL, `opcode ${op}`);
  }
  // WRITE whose size field exceeds the payload
  const w = new Bytes().u64(1).u64(0).u32(10).u32(0).u64(0).u32(0).u32(0).raw('12345').build();
  assert.equal(bad(request(Opcode.WRITE, 5, w)).errno, Errno.EINVAL);
  // BATCH_FORGET whose count exceeds the message
  assert.equal(bad(request(Opcode.BATCH_FORGET, 0, new Bytes().u32(3).u32(0).u64(1).u64(1).build())).errno, Errno.EINVAL);
  // extension length larger than the body
  const x = request(Opcode.STATFS, 1);
  x.writeUInt16LE(1, 36);
  assert.equal(bad(x).errno, Errno.EIO);
  // second name missing in RENAME
  assert.equal(bad(request(Opcode.RENAME, 1, new Bytes().u64(2).cstr('a').build())).errno, Errno.EINVAL);
});

// ---- request args ------------------------------------------------------------------

test('LOOKUP / UNLINK / RMDIR / REMOVEXATTR names, UTF-8', () => {
  assert.deepEqual(ok(request(Opcode.LOOKUP, 1, Buffer.from('héllo\0'))), { op: 'lookup', name: 'héllo' });
  assert.deepEqual(ok(request(Opcode.UNLINK, 1, Buffer.from('x\0'))), { op: 'unlink', name: 'x' });
  assert.deepEqual(ok(request(Opcode.RMDIR, 1, Buffer.from('d\0'))), { op: 'rmdir', name: 'd' });
  assert.deepEqual(ok(request(Opcode.REMOVEXATTR, 1, Buffer.from('user.a\0'))), { op: 'removexattr', name: 'user.a' });
});

test('extensions (total_extlen) are stripped before decoding args', () => {
  const ext = new Bytes().u32(16).u32(32).u32(1).u32(1000).build(); // fuse_ext_header + 1 supp group
  const r = ok(request(Opcode.MKDIR, 1, new Bytes().u32(0o755).u32(0o022).cstr('dir').build(), { ext }));
  assert.deepEqual(r, { op: 'mkdir', mode: 0o755, umask: 0o022, name: 'dir' });
});

test('FORGET and BATCH_FORGET', () => {
  assert.deepEqual(ok(request(Opcode.FORGET, 9, new Bytes().u64(3).build())), { op: 'forget', nlookup: 3 });
  const b = new Bytes().u32(2).u32(0).u64(5).u64(1).u64(6).u64(2).build();
  assert.deepEqual(ok(request(Opcode.BATCH_FORGET, 0, b)), {
    op: 'batchForget',
    items: [
      { nodeid: 5, nlookup: 1 },
      { nodeid: 6, nlookup: 2 },
    ],
  });
});

test('GETATTR with and without FUSE_GETATTR_FH', () => {
  assert.deepEqual(ok(request(Opcode.GETATTR, 2, new Bytes().u32(FUSE_GETATTR_FH).u32(0).u64(77).build())), {
    op: 'getattr',
    getattrFlags: 1,
    fh: 77,
  });
  assert.deepEqual(ok(request(Opcode.GETATTR, 2, new Bytes().u32(0).u32(0).u64(77).build())), {
    op: 'getattr',
    getattrFlags: 0,
    fh: undefined,
  });
});

test('SETATTR field offsets (fuse_setattr_in, 88 bytes)', () => {
  const b = new Bytes()
    .u32(FATTR_MODE | FATTR_SIZE) // valid @0
    .u32(0) // padding @4
    .u64(12) // fh @8
    .u64(4096 * 3) // size @16
    .u64(0xabcdefn) // lock_owner @24
    .i64(1700000000) // atime @32
    .i64(-2) // mtime @40 (before the epoch)
    .i64(5) // ctime @48
    .u32(500_000_000) // atimensec @56
    .u32(250_000_000) // mtimensec @60
    .u32(0) // ctimensec @64
    .u32(0o100600) // mode @68
    .u32(0) // unused4 @72
    .u32(1000) // uid @76
    .u32(2000) // gid @80
    .u32(0) // unused5 @84
    .build();
  assert.equal(b.length, 88);
  const r = ok(request(Opcode.SETATTR, 3, b));
  assert.equal(r.op, 'setattr');
  if (r.op !== 'setattr') return;
  assert.equal(r.args.valid, 9);
  assert.equal(r.args.fh, 12);
  assert.equal(r.args.size, 12288);
  assert.equal(r.args.lockOwner, 0xabcdefn);
  assert.equal(r.args.atimeMs, 1700000000500);
  assert.equal(r.args.mtimeMs, -1750);
  assert.equal(r.args.ctimeMs, 5000);
  assert.equal(r.args.mode, 0o100600);
  assert.equal(r.args.uid, 1000);
  assert.equal(r.args.gid, 2000);
});

test('OPEN / OPENDIR / CREATE / MKNOD / MKDIR', () => {
  assert.deepEqual(ok(request(Opcode.OPEN, 2, new Bytes().u32(0o100002).u32(1).build())), { op: 'open', flags: 0o100002, openFlags: 1 });
  assert.deepEqual(ok(request(Opcode.OPENDIR, 1, new Bytes().u32(0o200000).u32(0).build())), { op: 'opendir', flags: 0o200000, openFlags: 0 });
  const c = new Bytes().u32(0o101).u32(0o100644).u32(0o022).u32(0).cstr('new.txt').build();
  assert.deepEqual(ok(request(Opcode.CREATE, 1, c)), { op: 'create', flags: 0o101, mode: 0o100644, umask: 0o022, openFlags: 0, name: 'new.txt' });
  const m = new Bytes().u32(0o020600).u32(0x0501).u32(0o022).u32(0).cstr('dev').build();
  assert.deepEqual(ok(request(Opcode.MKNOD, 1, m)), { op: 'mknod', mode: 0o020600, rdev: 0x501, umask: 0o022, name: 'dev' });
});

test('READ / READDIR / READDIRPLUS (fuse_read_in, 40 bytes)', () => {
  const b = new Bytes().u64(3).u64(0x1_0000_0000).u32(131072).u32(2).u64(99).u32(0o100000).u32(0).build();
  assert.equal(b.length, 40);
  const args = { fh: 3, offset: 0x1_0000_0000, size: 131072, readFlags: 2, lockOwner: 99n, flags: 0o100000 };
  assert.deepEqual(ok(request(Opcode.READ, 4, b)), { op: 'read', args });
  assert.deepEqual(ok(request(Opcode.READDIR, 4, b)), { op: 'readdir', args });
  assert.deepEqual(ok(request(Opcode.READDIRPLUS, 4, b)), { op: 'readdirplus', args });
});

test('WRITE payload is a view of the read buffer (no copy)', () => {
  const hdr = new Bytes().u64(8).u64(4096).u32(5).u32(1).u64(0).u32(2).u32(0).build();
  const msg = request(Opcode.WRITE, 4, Buffer.concat([hdr, Buffer.from('hello')]));
  const big = Buffer.alloc(4096);
  msg.copy(big);
  const d = decodeRequest(big, msg.length);
  assert.ok(d.request && d.request.op === 'write');
  if (d.request.op !== 'write') return;
  assert.equal(d.request.data.toString(), 'hello');
  assert.equal(d.request.data.buffer, big.buffer);
  assert.equal(d.request.data.byteOffset, big.byteOffset + 80);
  assert.deepEqual(d.request.args, { fh: 8, offset: 4096, size: 5, writeFlags: 1, lockOwner: 0n, flags: 2 });
});

test('RELEASE / RELEASEDIR / FLUSH / FSYNC / ACCESS / INTERRUPT / LSEEK', () => {
  const rel = new Bytes().u64(5).u32(2).u32(1).u64(0x55n).build();
  const args = { fh: 5, flags: 2, releaseFlags: 1, lockOwner: 0x55n };
  assert.deepEqual(ok(request(Opcode.RELEASE, 2, rel)), { op: 'release', args });
  assert.deepEqual(ok(request(Opcode.RELEASEDIR, 2, rel)), { op: 'releasedir', args });
  assert.deepEqual(ok(request(Opcode.FLUSH, 2, new Bytes().u64(5).u32(0).u32(0).u64(0x66n).build())), { op: 'flush', fh: 5, lockOwner: 0x66n });
  assert.deepEqual(ok(request(Opcode.FSYNC, 2, new Bytes().u64(5).u32(1).u32(0).build())), { op: 'fsync', fh: 5, datasync: true });
  assert.deepEqual(ok(request(Opcode.FSYNCDIR, 1, new Bytes().u64(0).u32(0).u32(0).build())), { op: 'fsyncdir', fh: 0, datasync: false });
  assert.deepEqual(ok(request(Opcode.ACCESS, 2, new Bytes().u32(4).u32(0).build())), { op: 'access', mask: 4 });
  assert.deepEqual(ok(request(Opcode.INTERRUPT, 0, new Bytes().u64(1234).build())), { op: 'interrupt', target: 1234n });
  assert.deepEqual(ok(request(Opcode.LSEEK, 2, new Bytes().u64(5).u64(100).u32(3).u32(0).build())), { op: 'lseek', fh: 5, offset: 100, whence: 3 });
  assert.deepEqual(ok(request(Opcode.DESTROY, 0)), { op: 'destroy' });
  assert.deepEqual(ok(request(Opcode.READLINK, 2)), { op: 'readlink' });
});

test('RENAME / RENAME2 / LINK / SYMLINK', () => {
  assert.deepEqual(ok(request(Opcode.RENAME, 1, new Bytes().u64(6).cstr('a').cstr('b').build())), {
    op: 'rename',
    name: 'a',
    newParent: 6,
    newName: 'b',
    flags: 0,
  });
  assert.deepEqual(ok(request(Opcode.RENAME2, 1, new Bytes().u64(6).u32(1).u32(0).cstr('a').cstr('b').build())), {
    op: 'rename',
    name: 'a',
    newParent: 6,
    newName: 'b',
    flags: 1,
  });
  assert.deepEqual(ok(request(Opcode.LINK, 6, new Bytes().u64(2).cstr('hard').build())), { op: 'link', oldNodeid: 2, newName: 'hard' });
  // SYMLINK: link name first, then the target
  assert.deepEqual(ok(request(Opcode.SYMLINK, 1, new Bytes().cstr('ln').cstr('/target/path').build())), {
    op: 'symlink',
    name: 'ln',
    target: '/target/path',
  });
});

test('xattr requests: GETXATTR, LISTXATTR, SETXATTR (compat 8-byte and SETXATTR_EXT 16-byte)', () => {
  assert.deepEqual(ok(request(Opcode.GETXATTR, 2, new Bytes().u32(0).u32(0).cstr('user.x').build())), { op: 'getxattr', size: 0, name: 'user.x' });
  assert.deepEqual(ok(request(Opcode.LISTXATTR, 2, new Bytes().u32(256).u32(0).build())), { op: 'listxattr', size: 256 });
  const compat = new Bytes().u32(3).u32(1).cstr('user.v').raw('abc').build();
  const r1 = ok(request(Opcode.SETXATTR, 2, compat));
  assert.ok(r1.op === 'setxattr');
  if (r1.op !== 'setxattr') return;
  assert.equal(r1.name, 'user.v');
  assert.equal(r1.value.toString(), 'abc');
  assert.equal(r1.flags, 1);
  const ext = new Bytes().u32(2).u32(2).u32(1).u32(0).cstr('user.w').raw('zz').build();
  const r2 = ok(request(Opcode.SETXATTR, 2, ext), { setxattrExt: true });
  assert.ok(r2.op === 'setxattr' && r2.value.toString() === 'zz' && r2.flags === 2 && r2.setxattrFlags === 1 && r2.name === 'user.w');
  // value shorter than size
  assert.equal(bad(request(Opcode.SETXATTR, 2, new Bytes().u32(9).u32(0).cstr('user.v').raw('abc').build())).errno, Errno.EINVAL);
});

test('SETLK/SETLKW with FUSE_LK_FLOCK → flock; without → POSIX setlk; GETLK', () => {
  const lk = (flags: number, type: number) =>
    new Bytes().u64(3).u64(0x77n).u64(0).u64(0x7fffffffffffffffn).u32(type).u32(42).u32(flags).u32(0).build();
  assert.deepEqual(ok(request(Opcode.SETLKW, 2, lk(FUSE_LK_FLOCK, 1))), { op: 'flock', fh: 3, owner: 0x77n, type: 1, wait: true });
  assert.deepEqual(ok(request(Opcode.SETLK, 2, lk(FUSE_LK_FLOCK, 2))), { op: 'flock', fh: 3, owner: 0x77n, type: 2, wait: false });
  const p = ok(request(Opcode.SETLK, 2, lk(0, 0)));
  assert.deepEqual(p, { op: 'setlk', fh: 3, owner: 0x77n, lock: { start: 0, end: Infinity, type: 0, pid: 42 }, lkFlags: 0, wait: false });
  assert.equal(ok(request(Opcode.GETLK, 2, lk(0, 1))).op, 'getlk');
});

test('INIT: fuse_init_in with flags2 honoured only when INIT_EXT is set', () => {
  const r = ok(request(Opcode.INIT, 0, initIn(7, 45, 0x20000, 0x73fffffb, 0x5fd)));
  assert.ok(r.op === 'init');
  if (r.op !== 'init') return;
  assert.equal(r.init.major, 7);
  assert.equal(r.init.minor, 45);
  assert.equal(r.init.maxReadahead, 0x20000);
  assert.equal(r.init.flags, 0x73fffffbn | (0x5fdn << 32n));
  assert.ok(r.init.flags & InitFlag.DIRECT_IO_ALLOW_MMAP);
  const noExt = ok(request(Opcode.INIT, 0, initIn(7, 35, 0x20000, 0x3fffffff & ~(1 << 30), 0x5fd)));
  assert.ok(noExt.op === 'init' && noExt.init.flags >> 32n === 0n);
  // old 16-byte fuse_init_in
  const old = ok(request(Opcode.INIT, 0, new Bytes().u32(7).u32(26).u32(4096).u32(1).build()));
  assert.ok(old.op === 'init' && old.init.flags === 1n && old.init.minor === 26);
});

test('unknown opcodes decode as unknown (→ ENOSYS in the session)', () => {
  assert.deepEqual(ok(request(9999, 1)), { op: 'unknown', opcode: 9999, payload: Buffer.alloc(0) });
  assert.deepEqual(ok(request(Opcode.IOCTL, 1, Buffer.alloc(32, 7))), { op: 'unknown', opcode: Opcode.IOCTL, payload: Buffer.alloc(32, 7) });
});

// ---- replies ---------------------------------------------------------------------

const attr = {
  ino: 0x0102030405,
  mode: S_IFREG | 0o644,
  size: 5000,
  atimeMs: 1_700_000_000_250.5,
  mtimeMs: 2000,
  ctimeMs: 3000.001,
  nlink: 3,
  uid: 1000,
  gid: 1001,
  rdev: 7,
  blksize: 4096,
  flags: 2,
};

test('struct sizes of every reply', () => {
  assert.equal(encodeErrorReply(5n, Errno.ENOENT).length, 16);
  assert.equal(encodeEntryOut({ nodeid: 2, attr }).length, 128);
  assert.equal(encodeAttrOut({ attr }).length, 104);
  assert.equal(encodeOpenOut({ fh: 1 }).length, 16);
  assert.equal(encodeCreateOut({ nodeid: 2, attr, fh: 3 }).length, 144);
  assert.equal(encodeStatfsOut({}).length, 80);
  assert.equal(encodeWriteOut(1).length, 8);
  assert.equal(encodeGetxattrOut(1).length, 8);
  assert.equal(encodeLseekOut(1).length, 8);
  assert.equal(encodeLkOut({ start: 0, end: 1, type: 0, pid: 0 }).length, 24);
  assert.equal(encodeInitOut({ minor: 45, maxReadahead: 0, flags: 0n, maxWrite: 4096 }).length, 64);
  assert.equal(encodeInitOut({ minor: 22, maxReadahead: 0, flags: 0n, maxWrite: 4096 }).length, 24);
});

test('error reply: 16 bytes, negative errno, unique', () => {
  const b = encodeErrorReply(0x1122334455n, Errno.ENOENT);
  assert.equal(b.toString('hex'), '10000000' + 'feffffff' + '5544332211000000');
});

test('fuse_entry_out / fuse_attr field offsets', () => {
  const b = encodeEntryOut({ nodeid: 0x1_0000_0009, generation: 4, attr, entryTimeout: 1.5, attrTimeout: 0.25 });
  assert.equal(b.readBigUInt64LE(0), 0x1_0000_0009n); // nodeid
  assert.equal(b.readBigUInt64LE(8), 4n); // generation
  assert.equal(b.readBigUInt64LE(16), 1n); // entry_valid
  assert.equal(b.readBigUInt64LE(24), 0n); // attr_valid
  assert.equal(b.readUInt32LE(32), 500_000_000); // entry_valid_nsec
  assert.equal(b.readUInt32LE(36), 250_000_000); // attr_valid_nsec
  const a = 40; // fuse_attr
  assert.equal(b.readBigUInt64LE(a + 0), 0x0102030405n); // ino
  assert.equal(b.readBigUInt64LE(a + 8), 5000n); // size
  assert.equal(b.readBigUInt64LE(a + 16), 10n); // blocks = ceil(5000/512)
  assert.equal(b.readBigUInt64LE(a + 24), 1_700_000_000n); // atime
  assert.equal(b.readBigUInt64LE(a + 32), 2n); // mtime
  assert.equal(b.readBigUInt64LE(a + 40), 3n); // ctime
  assert.equal(b.readUInt32LE(a + 48), 250_500_000); // atimensec
  assert.equal(b.readUInt32LE(a + 52), 0);
  assert.equal(b.readUInt32LE(a + 56), 1000); // ctimensec (0.001 ms = 1000 ns)
  assert.equal(b.readUInt32LE(a + 60), S_IFREG | 0o644); // mode @60
  assert.equal(b.readUInt32LE(a + 64), 3); // nlink
  assert.equal(b.readUInt32LE(a + 68), 1000); // uid
  assert.equal(b.readUInt32LE(a + 72), 1001); // gid
  assert.equal(b.readUInt32LE(a + 76), 7); // rdev
  assert.equal(b.readUInt32LE(a + 80), 4096); // blksize
  assert.equal(b.readUInt32LE(a + 84), 2); // flags
});

test('fuse_attr_out, open_out, create_out, statfs, write/getxattr/lseek/lk outs', () => {
  const ao = encodeAttrOut({ attr, attrTimeout: 2 });
  assert.equal(ao.readBigUInt64LE(0), 2n);
  assert.equal(ao.readUInt32LE(8), 0);
  assert.equal(ao.readUInt32LE(16 + 60), attr.mode);
  const oo = encodeOpenOut({ fh: 0x1_0000_0001, openFlags: 3, backingId: -1 });
  assert.equal(oo.toString('hex'), '0100000001000000' + '03000000' + 'ffffffff');
  const co = encodeCreateOut({ nodeid: 9, attr, fh: 4, openFlags: 1 });
  assert.equal(co.readBigUInt64LE(0), 9n);
  assert.equal(co.readBigUInt64LE(128), 4n);
  assert.equal(co.readUInt32LE(136), 1);
  const st = encodeStatfsOut({ blocks: 1, bfree: 2, bavail: 3, files: 4, ffree: 5, bsize: 4096, namelen: 255 });
  assert.deepEqual(
    [0, 8, 16, 24, 32].map((o) => st.readBigUInt64LE(o)),
    [1n, 2n, 3n, 4n, 5n],
  );
  assert.deepEqual([st.readUInt32LE(40), st.readUInt32LE(44), st.readUInt32LE(48)], [4096, 255, 4096]);
  assert.equal(encodeWriteOut(131072).toString('hex'), '0000020000000000');
  assert.equal(encodeGetxattrOut(7).toString('hex'), '0700000000000000');
  assert.equal(encodeLseekOut(2 ** 40).readBigUInt64LE(0), 1n << 40n);
  const lk = encodeLkOut({ start: 10, end: Infinity, type: 1, pid: 5 });
  assert.equal(lk.readBigUInt64LE(8), 0x7fffffffffffffffn);
});

test('fuse_init_out: max_write @20, max_pages @28, flags2 @32 only with INIT_EXT', () => {
  const flags = InitFlag.ASYNC_READ | InitFlag.MAX_PAGES | InitFlag.INIT_EXT | InitFlag.DIRECT_IO_ALLOW_MMAP;
  const b = encodeInitOut({ minor: 45, maxReadahead: 0x20000, flags, maxWrite: 1 << 20, maxPages: 256, timeGran: 1, maxBackground: 64, congestionThreshold: 48 });
  assert.equal(b.readUInt32LE(0), 7);
  assert.equal(b.readUInt32LE(4), 45);
  assert.equal(b.readUInt32LE(8), 0x20000);
  assert.equal(b.readUInt32LE(12), (1 | (1 << 22) | (1 << 30)) >>> 0);
  assert.equal(b.readUInt16LE(16), 64);
  assert.equal(b.readUInt16LE(18), 48);
  assert.equal(b.readUInt32LE(20), 1 << 20);
  assert.equal(b.readUInt32LE(24), 1);
  assert.equal(b.readUInt16LE(28), 256);
  assert.equal(b.readUInt32LE(32), 1 << 4); // bit 36 → flags2 bit 4
  assert.deepEqual(decodeInitOut(b).flags, flags);
  const noExt = encodeInitOut({ minor: 45, maxReadahead: 0, flags: InitFlag.DIRECT_IO_ALLOW_MMAP, maxWrite: 4096 });
  assert.equal(noExt.readUInt32LE(32), 0);
});

test('dirent: 24-byte header, name @24, record padded to 8 with zeros', () => {
  const p = new DirentPacker(4096);
  assert.ok(p.add('abc', 5, 8, 1)); // 24 + 3 → 32
  assert.ok(p.add('12345678', 6, 4, 2)); // 24 + 8 → 32 (no padding)
  assert.ok(p.add('x'.repeat(9), 7, 8, 3)); // 24 + 9 → 40
  const b = p.finish();
  assert.equal(b.length, 32 + 32 + 40);
  assert.equal(b.readBigUInt64LE(0), 5n); // ino
  assert.equal(b.readBigUInt64LE(8), 1n); // off
  assert.equal(b.readUInt32LE(16), 3); // namelen
  assert.equal(b.readUInt32LE(20), 8); // type
  assert.equal(b.toString('latin1', 24, 27), 'abc');
  assert.equal(b.subarray(27, 32).toString('hex'), '0000000000');
  assert.equal(b.readBigUInt64LE(32), 6n);
  assert.equal(b.readUInt32LE(32 + 16), 8);
  assert.equal(b.readUInt32LE(64 + 16), 9);
});

test('dirent packing stops before exceeding the requested size', () => {
  const entries = Array.from({ length: 10 }, (_, i) => ({ name: `f${i}`, ino: 10 + i, mode: S_IFREG | 0o644 }));
  const b = packDirents(entries, 100, 4); // 32-byte records: 3 fit
  assert.equal(b.length, 96);
  assert.equal(b.readBigUInt64LE(8), 5n); // default cookie = start + index + 1
  assert.equal(b.readUInt32LE(20), 8); // DT_REG from mode
  assert.equal(b.readBigUInt64LE(64 + 8), 7n);
  assert.equal(packDirents(entries, 31, 0).length, 0);
});

test('direntplus: entry_out then dirent, name @152, padded', () => {
  const dir = { nodeid: 6, attr: { ino: 6, mode: S_IFDIR | 0o755 } };
  const file = { nodeid: 7, attr: { ino: 7, mode: S_IFREG | 0o600, size: 3 } };
  const { data, packed } = packDirentsPlus(
    [
      { name: 'sub', entry: dir },
      { name: 'a.txt', entry: file, off: 99 },
    ],
    4096,
    0,
  );
  assert.equal(packed, 2);
  assert.equal(data.length, 160 + 160); // (152+3+7)&~7 = 160, (152+5+7)&~7 = 160
  assert.equal(data.readBigUInt64LE(0), 6n); // entry_out.nodeid
  assert.equal(data.readUInt32LE(40 + 60), S_IFDIR | 0o755); // entry_out.attr.mode
  assert.equal(data.readBigUInt64LE(128), 6n); // dirent.ino
  assert.equal(data.readBigUInt64LE(136), 1n); // dirent.off
  assert.equal(data.readUInt32LE(144), 3); // namelen
  assert.equal(data.readUInt32LE(148), 4); // DT_DIR
  assert.equal(data.toString('latin1', 152, 155), 'sub');
  assert.equal(data.readBigUInt64LE(160 + 136), 99n);
  const small = packDirentsPlus([{ name: 'sub', entry: dir }], 159, 0);
  assert.equal(small.packed, 0);
});

test('notifications: unique 0, error = code, exact sizes', () => {
  const ii = encodeNotifyInvalInode(5, -1, 0);
  assert.equal(ii.length, 16 + 24);
  assert.equal(ii.toString('hex', 0, 16), '28000000' + '02000000' + '0000000000000000');
  assert.equal(ii.readBigUInt64LE(16), 5n);
  assert.equal(ii.readBigInt64LE(24), -1n);
  const ie = encodeNotifyInvalEntry(1, 'abc', 1);
  assert.equal(ie.length, 16 + 16 + 4);
  assert.equal(ie.readUInt32LE(0), 36);
  assert.equal(ie.readInt32LE(4), 3);
  assert.equal(ie.readUInt32LE(24), 3);
  assert.equal(ie.readUInt32LE(28), 1);
  assert.equal(ie.toString('latin1', 32), 'abc\0');
  const del = encodeNotifyDelete(1, 9, 'zz');
  assert.equal(del.length, 16 + 24 + 3);
  assert.equal(del.readInt32LE(4), 6);
  assert.equal(del.readBigUInt64LE(24), 9n);
  assert.equal(del.readUInt32LE(32), 2);
  assert.equal(encodeNotifyIncEpoch().toString('hex'), '10000000' + '08000000' + '0000000000000000');
});

// ---- negotiation -------------------------------------------------------------------

const kernel618 = { major: 7, minor: 45, maxReadahead: 0x20000, flags: 0x73fffffbn | (0x5fdn << 32n) };

test('negotiateInit: intersects wanted with offered, min minor, INIT_EXT for high bits', () => {
  const n = negotiateInit(kernel618, { addFlags: InitFlag.DIRECT_IO_ALLOW_MMAP | InitFlag.OVER_IO_URING }, {
    maxWrite: 1 << 20,
    defaultFlags: defaultWantedFlags({ readdirplus: () => [] }),
  });
  assert.ok(n.ok);
  if (!n.ok) return;
  assert.equal(n.out.minor, Math.min(45, FUSE_KERNEL_MINOR_VERSION));
  assert.equal(n.out.maxWrite, 1 << 20);
  assert.equal(n.out.maxPages, 256);
  assert.ok(n.out.flags & InitFlag.DIRECT_IO_ALLOW_MMAP);
  assert.ok(n.out.flags & InitFlag.INIT_EXT);
  assert.ok(n.out.flags & InitFlag.DO_READDIRPLUS);
  assert.equal(n.out.flags & InitFlag.OVER_IO_URING, 0n); // not offered by this kernel
  assert.equal(n.out.flags & InitFlag.WRITEBACK_CACHE, 0n); // offered, not wanted
  assert.equal(n.conn.maxPages, 256);
  const older = negotiateInit({ ...kernel618, minor: 31, flags: 0x3fffffffn }, { wantFlags: InitFlag.DIRECT_IO_ALLOW_MMAP | InitFlag.ASYNC_READ }, {
    maxWrite: 1 << 20,
    defaultFlags: 0n,
  });
  assert.ok(older.ok && older.out.minor === 31 && older.out.flags === InitFlag.ASYNC_READ); // no INIT_EXT offered → no flags2
  const capped = negotiateInit(kernel618, { maxWrite: 8 << 20, maxReadahead: 1 << 30 }, { maxWrite: 1 << 20, defaultFlags: 0n });
  assert.ok(capped.ok && capped.out.maxWrite === 1 << 20 && capped.out.maxReadahead === 0x20000);
});

test('negotiateInit refuses a major other than 7 with EPROTO', () => {
  const n = negotiateInit({ ...kernel618, major: 8 }, {}, { maxWrite: 1 << 20, defaultFlags: 0n });
  assert.ok(!n.ok && n.errno === Errno.EPROTO);
});

// ---- mountinfo -----------------------------------------------------------------------

test('parseMountInfo: fields, optional fields, octal escapes', () => {
  const text =
    '42 27 0:39 / /tmp/mt\\0401 rw,nosuid,nodev,relatime shared:5 - fuse.hello hello\\040src rw,user_id=0,group_id=0\n' +
    '22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n';
  const m = parseMountInfo(text);
  assert.equal(m.length, 2);
  assert.deepEqual(m[0], {
    mountId: 42,
    parentId: 27,
    major: 0,
    minor: 39,
    root: '/',
    mountpoint: '/tmp/mt 1',
    mountOptions: 'rw,nosuid,nodev,relatime',
    fstype: 'fuse.hello',
    source: 'hello src',
    superOptions: 'rw,user_id=0,group_id=0',
  });
  assert.equal(m[1]!.fstype, 'ext4');
});
