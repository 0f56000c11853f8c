/**
 * Reply encoding, dirent packing, notifications, INIT negotiation and mountinfo parsing
 * against byte vectors written by hand from the 7.45 struct layouts in the reference
 * (fuse-kernel.md §2); request decoding is in codec.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DirentPacker,
  Errno,
  FUSE_KERNEL_MINOR_VERSION,
  InitFlag,
  S_IFDIR,
  S_IFREG,
  decodeInitOut,
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
} from '../../src/fuse/codec.js';
import { parseMountInfo } from '../../src/fuse/mountinfo.js';

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
