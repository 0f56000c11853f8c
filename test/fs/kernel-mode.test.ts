/**
 * famfs kernel mode, with the test playing a famfs V10 kernel over a scripted
 * transport: INIT with and without bit 43, LOOKUP, OPEN, GET_FMAP (54),
 * GET_DAXDEV (55), READ, and the bad variants. Replies are checked byte by byte
 * against vectors written by hand from reference fuse-kernel.md §1.3 / §7.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Famfs } from '../../src/api/famfs.js';
import { mkfs } from '../../src/api/mkfs.js';
import { FamfsFs } from '../../src/fs/famfs-fs.js';
import type { FamfsMountConfig } from '../../src/fs/config.js';
import { famfsKernelPresent, wantKernelMode } from '../../src/fs/kernel.js';
import { Errno, InitFlag, Opcode, decodeInitOut } from '../../src/fuse/codec.js';
import { encodeGetFmapReply } from '../../src/map/export/index.js';
import { FM_ALL_HOSTS_RW } from '../../src/format/constants.js';
import { fsck, formatFsck } from '../../src/api/fsck.js';
import { asHost, GiB, makeHost, MiB, removeAllShm, removeHost, sparseFile, type Host } from '../core/helpers.js';
import { initIn, request } from '../fuse/wire.js';
import { HAVE_FUSE, NO_FUSE_REASON, mount, tempMountpoint, umountAll, isMounted } from './mounted.js';
import { FAMFS_INIT, GET_DAXDEV, GET_FMAP, scriptedKernel } from './scripted-kernel.js';
import { famfs as famfsCli } from '../core/helpers.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const PLAIN_INIT = () => request(Opcode.INIT, 0, initIn(7, 45, 0x20000, 0x73fffffb, 0x5fd), { unique: 1 });

/** Little-endian hex helpers for hand-written vectors. */
const le16 = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b.toString('hex'); };
const le32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b.toString('hex'); };
const le64 = (n: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b.toString('hex'); };
/** fuse_out_header: len, error, unique. */
const outHeader = (len: number, error: number, unique: number) => le32(len) + (error ? Buffer.from(Int32Array.of(error).buffer).toString('hex') : '00000000') + le64(unique);

describe('famfs kernel mode (GET_FMAP / GET_DAXDEV) against a scripted famfs kernel', () => {
  let master: Host, client: Host, device: string;
  let ids: { a: number; d: number; i: number; big: number };
  let aOffset: number;
  let iStrips: number[];

  before(() => {
    master = makeHost('km-m');
    client = makeHost('km-c');
    device = sparseFile('km', 12 * GiB);
    asHost(master, () => mkfs(device));
    const f = asHost(master, () => Famfs.open(device, { writable: true }));
    try {
      // Sound for famfs (replay accepts it), but a 4 GiB chunk does not fit the kernel's u32 ie_chunk_size.
      asHost(master, () => f.writer(() => f.log.append({ type: 'file', path: 'big', size: 4 * GiB, flags: FM_ALL_HOSTS_RW, mode: 0o644, uid: 0, gid: 0, map: { kind: 'interleave', chunkSize: 4 * GiB, strips: [{ devindex: 0, offset: 4 * GiB, length: 4 * GiB }] } })));
      asHost(master, () =>
        f.writer((w) => {
          const a = w.creat('a', 2 * MiB);
          f.write(a, 0, Buffer.alloc(2 * MiB, 0x61));
          w.mkdir('d');
          w.creat('i', 8 * MiB, { interleave: { nstrips: 2, nbuckets: 4, chunkSize: 2 * MiB } });
        }),
      );
      f.refresh();
      const a = f.file('a'), i = f.file('i'), big = f.file('big');
      assert.equal(a.map.kind, 'simple');
      assert.equal(i.map.kind, 'interleave');
      ids = { a: a.id, d: f.lookup('d').id, i: i.id, big: big.id };
      aOffset = a.map.kind === 'simple' ? a.map.extents[0]!.offset : -1;
      assert.deepEqual(a.map, { kind: 'simple', extents: [{ devindex: 0, offset: aOffset, length: 2 * MiB }] });
      iStrips = i.map.kind === 'interleave' ? i.map.strips.map((s) => s.offset) : [];
      assert.equal(iStrips.length, 2);
    } finally {
      f.close();
    }
  });
  after(() => {
    umountAll(master);
    removeAllShm();
    removeHost(master);
    removeHost(client);
  });

  function session(cfg: Partial<FamfsMountConfig>) {
    const config = { device, mountpoint: '/nonexistent', timeout: 1, forceClient: false, verbose: false, mountTimeMs: 0, state: new SharedArrayBuffer(64), ...cfg } as FamfsMountConfig;
    const handler = asHost(client, () => new FamfsFs(config));
    return { handler, ...scriptedKernel(handler) };
  }

  it('famfs kernel offers bit 43 and --data-path kernel: accepted (INIT_EXT + flags2 bit 11)', () => {
    const { init, handler } = session({ dataPath: 'kernel' });
    const r = init(FAMFS_INIT());
    assert.equal(r.error, 0);
    const out = decodeInitOut(r.payload);
    assert.ok(out.flags & InitFlag.INIT_EXT);
    assert.ok(out.flags & (1n << 43n));
    assert.equal(r.payload.readUInt32LE(32) & 0x800, 0x800, 'flags2 bit 11 in the reply bytes');
    assert.equal(handler.dataPath, 'kernel');
  });

  it('bit 43 alone is not enough: auto without the famfs kernel symbol, or --data-path daemon, stay in daemon mode', () => {
    for (const cfg of [{ dataPath: 'auto' as const, famfsKernel: false }, { dataPath: 'daemon' as const, famfsKernel: true }]) {
      const { init, send, handler } = session(cfg);
      const r = init(FAMFS_INIT());
      assert.equal(r.error, 0);
      assert.equal(decodeInitOut(r.payload).flags & (1n << 43n), 0n);
      assert.equal(handler.dataPath, 'daemon');
      const g = send(GET_FMAP, ids.a);
      assert.equal(g.error, -Errno.ENOSYS);
    }
    const { init, handler } = session({ dataPath: 'auto', famfsKernel: true });
    init(FAMFS_INIT());
    assert.equal(handler.dataPath, 'kernel');
    assert.equal(wantKernelMode('auto', true, 0n), false);
    assert.equal(wantKernelMode('kernel', false, 1n << 43n), true);
  });

  it('a kernel without bit 43: daemon mode under auto; --data-path kernel refuses INIT (EIO)', () => {
    const a = session({ dataPath: 'auto', famfsKernel: true });
    assert.equal(a.init(PLAIN_INIT()).error, 0);
    assert.equal(a.handler.dataPath, 'daemon');
    const k = session({ dataPath: 'kernel' });
    assert.equal(k.init(PLAIN_INIT()).error, -Errno.EIO);
  });

  it('LOOKUP, OPEN (no direct I/O), GET_FMAP byte by byte, GET_DAXDEV 280 bytes, READ still served', () => {
    const { init, send, handler } = session({ dataPath: 'kernel' });
    init(FAMFS_INIT());
    const lk = send(Opcode.LOOKUP, 1, Buffer.from('a\0'));
    assert.equal(lk.error, 0);
    assert.equal(Number(lk.payload.readBigUInt64LE(0)), ids.a);
    const op = send(Opcode.OPEN, ids.a, Buffer.alloc(8));
    assert.equal(op.raw.toString('hex'), outHeader(32, 0, op.unique) + '00'.repeat(16));
    const fm = send(GET_FMAP, ids.a);
    const expect =
      outHeader(16 + 56, 0, fm.unique) +
      // header: file_type 0, rsvd, version 1, ext_type 0 (simple), nextents 1, rsvd, size 2 MiB, rsvd
      '00' + '00' + '0100' + '00000000' + '01000000' + '00000000' + '0000200000000000' + '0000000000000000' +
      // extent: devindex 0, rsvd, offset, len 2 MiB
      '00000000' + '00000000' + le64(aOffset) + '0000200000000000';
    assert.equal(fm.raw.toString('hex'), expect);
    const dd = send(GET_DAXDEV, 0);
    assert.equal(dd.len, 16 + 280);
    const name = Buffer.from(device);
    assert.equal(dd.payload.subarray(0, 24).toString('hex'), '0000' + '0000' + '00000000' + '00'.repeat(16));
    assert.equal(dd.payload.subarray(24, 24 + name.length).toString(), device);
    assert.ok(dd.payload.subarray(24 + name.length).equals(Buffer.alloc(256 - name.length)));
    // Should a READ arrive anyway, the daemon still serves it.
    const readIn = Buffer.alloc(40);
    readIn.writeUInt32LE(4096, 16);
    const rd = send(Opcode.READ, ids.a, readIn);
    assert.equal(rd.error, 0);
    assert.ok(rd.payload.equals(Buffer.alloc(4096, 0x61)));
    // status reads the data path from this xattr
    assert.equal(handler.getxattr({} as never, 1, 'user.famfs.data_path'), 'kernel');
  });

  it('the reply verified on a real famfs kernel (§7: 2 MiB at device offset 0, 56 bytes) is what the encoder makes', () => {
    const verified =
      '00000100' + '00000000' + '01000000' + '00000000' + '0000200000000000' + '0000000000000000' +
      '00000000' + '00000000' + '0000000000000000' + '0000200000000000';
    assert.equal(verified.length / 2, 56);
    assert.equal(encodeGetFmapReply({ kind: 'simple', extents: [{ devindex: 0, offset: 0, length: 2 * MiB }] }, 2 * MiB).toString('hex'), verified);
  });

  it('.meta/.superblock (file_type 1) and .meta/.log (file_type 2) get fmaps', () => {
    const { init, send } = session({ dataPath: 'kernel' });
    init(FAMFS_INIT());
    const sb = send(GET_FMAP, 3);
    assert.equal(sb.payload.toString('hex'), '01' + '00' + '0100' + '00000000' + '01000000' + '00000000' + le64(2 * MiB) + le64(0) + '00000000' + '00000000' + le64(0) + le64(2 * MiB));
    const log = send(GET_FMAP, 4);
    assert.equal(log.payload.toString('hex'), '02' + '00' + '0100' + '00000000' + '01000000' + '00000000' + le64(8 * MiB) + le64(0) + '00000000' + '00000000' + le64(2 * MiB) + le64(8 * MiB));
  });

  it('interleaved file: one iext (nstrips 2, chunk 2 MiB, nbytes = size) and its strips', () => {
    const { init, send } = session({ dataPath: 'kernel' });
    init(FAMFS_INIT());
    const r = send(GET_FMAP, ids.i);
    const strip = (off: number) => '00000000' + '00000000' + le64(off) + le64(4 * MiB);
    assert.equal(r.raw.toString('hex'),
      outHeader(16 + 32 + 24 + 48, 0, r.unique) +
      '00' + '00' + le16(1) + le32(1) + le32(1) + le32(0) + le64(8 * MiB) + le64(0) +
      le32(2) + le32(2 * MiB) + le64(8 * MiB) + le64(0) + strip(iStrips[0]!) + strip(iStrips[1]!));
  });

  it('bad variants: unknown node → EINVAL, directory → ENOENT, device index out of range → EINVAL, map beyond kernel limits → EIO', () => {
    const { init, send, logs } = session({ dataPath: 'kernel' });
    init(FAMFS_INIT());
    const rs = [send(GET_FMAP, 999_999), send(GET_FMAP, ids.d), send(GET_FMAP, 1), send(GET_DAXDEV, 1), send(GET_DAXDEV, 24), send(GET_DAXDEV, 2 ** 40), send(GET_FMAP, ids.big)];
    assert.deepEqual(rs.map((r) => r.raw.toString('hex')), [
      outHeader(16, -Errno.EINVAL, rs[0]!.unique),
      outHeader(16, -Errno.ENOENT, rs[1]!.unique),
      outHeader(16, -Errno.ENOENT, rs[2]!.unique),
      outHeader(16, -Errno.EINVAL, rs[3]!.unique),
      outHeader(16, -Errno.EINVAL, rs[4]!.unique),
      outHeader(16, -Errno.EINVAL, rs[5]!.unique),
      outHeader(16, -Errno.EIO, rs[6]!.unique),
    ]);
    void logs;
  });

  it('maps corrupted after replay (unaligned, past the device, over the log, too many extents) are never sent: EIO', () => {
    const { init, send, handler } = session({ dataPath: 'kernel' });
    init(FAMFS_INIT());
    const node = handler.famfs.file('a');
    const good = node.map;
    const bad = [
      { kind: 'simple', extents: [{ devindex: 0, offset: aOffset + 4096, length: 2 * MiB }] },
      { kind: 'simple', extents: [{ devindex: 0, offset: 12 * GiB, length: 2 * MiB }] },
      { kind: 'simple', extents: [{ devindex: 0, offset: 2 * MiB, length: 2 * MiB }] },
      { kind: 'simple', extents: Array.from({ length: 40 }, (_, k) => ({ devindex: 0, offset: 4 * GiB + k * 4 * MiB, length: 2 * MiB })) },
      { kind: 'simple', extents: [{ devindex: 1, offset: aOffset, length: 2 * MiB }] },
    ] as const;
    try {
      for (const m of bad) {
        (node as { map: unknown }).map = m;
        assert.equal(send(GET_FMAP, ids.a).error, -Errno.EIO, JSON.stringify(m).slice(0, 80));
      }
    } finally {
      (node as { map: unknown }).map = good;
    }
    assert.equal(send(GET_FMAP, ids.a).error, 0);
  });

  it('fsck names the files a famfs kernel would refuse, without calling the file system unclean', () => {
    const f = asHost(client, () => Famfs.open(device));
    try {
      const r = fsck(f);
      assert.deepEqual(r.kernelRefused, [{ path: 'big', problem: 'chunk size 4294967296 does not fit the u32 ie_chunk_size' }]);
      assert.equal(r.clean, true);
      assert.match(formatFsck(r), /would refuse to map[^\n]*\n {2}big: chunk size 4294967296/);
    } finally {
      f.close();
    }
  });

  it('on this (stock) kernel: auto mounts with the daemon data path, status says so; --data-path kernel fails cleanly', { skip: HAVE_FUSE ? (famfsKernelPresent() ? 'this kernel is famfs-enabled' : false) : NO_FUSE_REASON }, () => {
    const mp = mount(master, device, 'km');
    const st = JSON.parse(famfsCli(master, ['status', '--json']).stdout) as { mountpoint: string; dataPath: string }[];
    assert.equal(st.find((r) => r.mountpoint === mp)?.dataPath, 'daemon');
    umountAll(master);
    const mp2 = tempMountpoint('km-k');
    const r = famfsCli(master, ['mount', '--data-path', 'kernel', device, mp2]);
    assert.equal(r.status, 1);
    // A file image: refused before mounting (the famfs kernel maps only DAX devices), in one line.
    assert.match(r.stderr, /^famfs mount: --data-path kernel: \S+ is not a DAX device .*use --data-path daemon\n$/);
    assert.equal(isMounted(mp2), false);
    fs.rmdirSync(mp2);
  });

  it('famfsKernelPresent looks for famfs_fuse_iomap_begin as a whole symbol', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-kallsyms-'));
    try {
      const yes = path.join(dir, 'yes'), no = path.join(dir, 'no');
      fs.writeFileSync(yes, 'ffffffff81000000 T _stext\n0000000000000000 t famfs_fuse_iomap_begin\t[fuse]\n');
      fs.writeFileSync(no, 'ffffffff81000000 T _stext\n0000000000000000 t famfs_fuse_iomap_begin_x\n');
      assert.equal(famfsKernelPresent(yes), true);
      assert.equal(famfsKernelPresent(no), false);
      assert.equal(famfsKernelPresent(path.join(dir, 'absent')), false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
