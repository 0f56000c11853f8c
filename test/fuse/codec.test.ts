/**
 * Request decoding against byte vectors written by hand from the 7.45 struct
 * layouts in the reference (fuse-kernel.md §2); replies are in replies.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DecodeError,
  Errno,
  FATTR_MODE,
  FATTR_SIZE,
  FUSE_GETATTR_FH,
  FUSE_LK_FLOCK,
  FUSE_UNIQUE_RESEND,
  InitFlag,
  Opcode,
  decodeInHeader,
  decodeRequest,
  type FuseRequest,
} from '../../src/fuse/codec.js';
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
