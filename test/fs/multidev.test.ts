/**
 * Several devices: `famfs mkfs DEV0 DEV1 DEV2` (ADD_DAXDEV entries + secondary headers),
 * devices found by uuid through the host's device list, files whose extents and strips
 * live on devices 1 and 2 read and written through `famfs cat`, the library, a mount
 * (daemon data path) and GET_DAXDEV; the device-0-only image stays as upstream writes it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Famfs } from '../../src/api/famfs.js';
import { probeFamfs } from '../../src/api/probe.js';
import { listedDevices, readDevHeader } from '../../src/api/devices.js';
import { FM_ALL_HOSTS_RW } from '../../src/format/constants.js';
import type { FileMap } from '../../src/format/types.js';
import { FamfsFs } from '../../src/fs/famfs-fs.js';
import type { FamfsMountConfig } from '../../src/fs/config.js';
import { Errno } from '../../src/fuse/codec.js';
import { asHost, famfs, famfsOk, GiB, makeHost, MiB, readRange, removeAllShm, removeHost, sparseFile, type Host } from '../core/helpers.js';
import { HAVE_FUSE, NO_FUSE_REASON, mount, umountAll } from './mounted.js';
import { FAMFS_INIT, GET_DAXDEV, GET_FMAP, scriptedKernel } from './scripted-kernel.js';

describe('multi-device famfs', () => {
  let master: Host, dev0: string, dev1: string, dev2: string;
  const data = { s1: randomBytes(3 * MiB + 5), il: randomBytes(12 * MiB - 7) };
  const maps: Record<string, FileMap> = {
    s1: { kind: 'simple', extents: [{ devindex: 1, offset: 2 * MiB, length: 4 * MiB }] },
    // one strip per device
    il: { kind: 'interleave', chunkSize: 2 * MiB, strips: [{ devindex: 0, offset: 1 * GiB, length: 4 * MiB }, { devindex: 1, offset: 8 * MiB, length: 4 * MiB }, { devindex: 2, offset: 2 * MiB, length: 4 * MiB }] },
  };
  let oldList: string | undefined;

  before(() => {
    master = makeHost('md');
    master.env.FAMFS_DEVICE_LIST = path.join(master.dir, 'devices');
    oldList = process.env.FAMFS_DEVICE_LIST;
    process.env.FAMFS_DEVICE_LIST = master.env.FAMFS_DEVICE_LIST;
    dev0 = sparseFile('md0', 4 * GiB);
    dev1 = sparseFile('md1', 64 * MiB);
    dev2 = sparseFile('md2', 32 * MiB);
    famfsOk(master, ['mkfs', dev0, dev1, dev2]);
  });
  after(() => {
    umountAll(master);
    removeAllShm();
    removeHost(master);
    if (oldList === undefined) delete process.env.FAMFS_DEVICE_LIST;
    else process.env.FAMFS_DEVICE_LIST = oldList;
  });

  it('mkfs DEV0 DEV1 DEV2: headers on 1 and 2, two ADD_DAXDEV entries, paths in the device list', () => {
    assert.deepEqual(listedDevices(), [dev1, dev2]);
    const f = asHost(master, () => Famfs.open(dev0));
    try {
      assert.deepEqual(f.daxdevs.map((d) => [d.index, d.size]), [[1, 64 * MiB], [2, 32 * MiB]]);
      assert.equal(f.geometry.ndevices, 3);
      assert.equal(f.devicePath(1), dev1);
      assert.equal(f.devicePath(2), dev2);
      const h = readDevHeader(dev1);
      assert.ok(typeof h !== 'string');
      assert.deepEqual(h, { index: 1, fsUuid: f.sb.uuid, devUuid: f.daxdevs[0]!.uuid, size: 64 * MiB });
      assert.equal(f.stats.daxdevs, 2);
      assert.equal(f.problems.length, 0);
    } finally {
      f.close();
    }
    assert.match(famfs(master, ['devadd', '-d', dev0, dev1]).stderr, /already device 1/);
  });

  it('files on devices 1 and 2 (simple; interleave with one strip per device) write and read back, bytes land on the right devices', () => {
    const f = asHost(master, () => Famfs.open(dev0, { writable: true }));
    try {
      asHost(master, () => f.writer(() => {
        f.log.append({ type: 'file', path: 's1', size: data.s1.length, flags: FM_ALL_HOSTS_RW, mode: 0o644, uid: 0, gid: 0, map: maps.s1! });
        f.log.append({ type: 'file', path: 'il', size: data.il.length, flags: FM_ALL_HOSTS_RW, mode: 0o644, uid: 0, gid: 0, map: maps.il! });
      }));
      f.refresh();
      assert.equal(f.problems.length, 0, JSON.stringify(f.problems));
      assert.equal(f.write(f.file('s1'), 0, data.s1), data.s1.length);
      assert.equal(f.write(f.file('il'), 0, data.il), data.il.length);
      f.flushFile(f.file('s1'));
      f.flushFile(f.file('il'));
    } finally {
      f.close();
    }
    assert.ok(readRange(dev1, 2 * MiB, data.s1.length).equals(data.s1));
    // interleave: chunk k goes to strip k % 3 at stripe k / 3
    for (let k = 0; k < 6; k++) {
      const strip = maps.il!.kind === 'interleave' ? maps.il!.strips[k % 3]! : undefined;
      const devPath = [dev0, dev1, dev2][strip!.devindex]!;
      const len = Math.min(2 * MiB, data.il.length - k * 2 * MiB);
      assert.ok(readRange(devPath, strip!.offset + Math.floor(k / 3) * 2 * MiB, len).equals(data.il.subarray(k * 2 * MiB, k * 2 * MiB + len)), `chunk ${k}`);
    }
    assert.ok(famfsOk(master, ['cat', '-d', dev0, 's1'], { binary: true }).raw.equals(data.s1));
    assert.ok(famfsOk(master, ['cat', '-d', dev0, 'il'], { binary: true }).raw.equals(data.il));
    // the device-0 bitmap holds only device-0 pieces: fsck stays clean
    const r = JSON.parse(famfsOk(master, ['fsck', '--json', '-d', dev0]).stdout);
    assert.equal(r.clean, true);
    assert.equal(r.collisions, 0);
    assert.deepEqual(r.kernelRefused.map((k: { path: string }) => k.path), ['il', 's1']);
  });

  it('creat --across-devices: one strip per device, no overlap with existing files, data verifies', () => {
    famfsOk(master, ['creat', '-d', dev0, '-D', '-s', '13m', '-r', '-S', '7', 'spread1']);
    famfsOk(master, ['creat', '-d', dev0, '-D', '-C', '4m', '-s', '5m', '-r', '-S', '8', 'spread2']);
    const m1 = JSON.parse(famfsOk(master, ['getmap', '-d', dev0, '--json', 'spread1']).stdout).map;
    const m2 = JSON.parse(famfsOk(master, ['getmap', '-d', dev0, '--json', 'spread2']).stdout).map;
    assert.deepEqual(m1.strips.map((s: { devindex: number; length: number }) => [s.devindex, s.length]), [[0, 6 * MiB], [1, 6 * MiB], [2, 6 * MiB]]);
    assert.equal(m2.chunkSize, 4 * MiB);
    assert.deepEqual(m2.strips.map((s: { devindex: number; length: number }) => [s.devindex, s.length]), [[0, 4 * MiB], [1, 4 * MiB], [2, 4 * MiB]]);
    // device 1 already holds s1 [2, 6) MiB and il's strip [8, 12) MiB; device 2 holds il's strip [2, 6) MiB
    const pieces = [...maps.s1!.kind === 'simple' ? maps.s1!.extents : [], ...(maps.il!.kind === 'interleave' ? maps.il!.strips : []), ...m1.strips, ...m2.strips];
    for (const [i, a] of pieces.entries()) for (const b of pieces.slice(i + 1)) {
      assert.ok(a.devindex !== b.devindex || a.offset + a.length <= b.offset || b.offset + b.length <= a.offset, `overlap ${JSON.stringify(a)} ${JSON.stringify(b)}`);
    }
    famfsOk(master, ['verify', '-d', dev0, '-S', '7', 'spread1']);
    famfsOk(master, ['verify', '-d', dev0, '-S', '8', 'spread2']);
    const r = famfs(master, ['creat', '-d', dev0, '-D', '-s', '200m', 'toobig']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /out of space: device [12]/);
    assert.equal(JSON.parse(famfsOk(master, ['fsck', '--json', '-d', dev0]).stdout).clean, true);
  });

  it('a device missing on this host: files on it fail with ENXIO naming the device, the rest still reads', () => {
    const noList = { ...master.env, FAMFS_DEVICE_LIST: path.join(master.dir, 'empty-list') };
    const r = famfs({ ...master, env: noList }, ['cat', '-d', dev0, 's1']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /device 1 \(uuid [0-9a-f-]+\) of this file system is not found on this host/);
  });

  it('replay: extents on a device not in the table and out-of-order ADD_DAXDEV entries are refused', () => {
    const f = asHost(master, () => Famfs.open(dev0, { writable: true }));
    try {
      asHost(master, () => f.writer(() => {
        f.log.append({ type: 'file', path: 'x3', size: 1, flags: FM_ALL_HOSTS_RW, mode: 0o644, uid: 0, gid: 0, map: { kind: 'simple', extents: [{ devindex: 3, offset: 2 * MiB, length: 2 * MiB }] } });
        f.log.append({ type: 'add_daxdev', index: 5, uuid: '11111111-2222-3333-4444-555555555555', size: 64 * MiB });
        f.log.append({ type: 'add_daxdev', index: 3, uuid: f.daxdevs[0]!.uuid, size: 64 * MiB });
        f.log.append({ type: 'file', path: 'x1', size: 1, flags: FM_ALL_HOSTS_RW, mode: 0o644, uid: 0, gid: 0, map: { kind: 'simple', extents: [{ devindex: 1, offset: 0, length: 2 * MiB }] } });
      }));
      f.refresh();
      assert.deepEqual(f.problems.map((p) => [p.kind, p.message]), [
        ['bad-map', 'x3: extent 0: device index 3 does not exist'],
        ['bad-daxdev', 'ADD_DAXDEV index 5, expected 3'],
        ['bad-daxdev', `device uuid ${f.daxdevs[0]!.uuid} is already in the table`],
        ['bad-map', 'x1: extent 0: overlaps the header of device 1'],
      ]);
      assert.equal(f.geometry.ndevices, 3);
    } finally {
      f.close();
    }
  });

  it('GET_DAXDEV answers each device index with its local path; kernel mode refuses maps with devindex ≠ 0 (EIO)', () => {
    const config = { device: dev0, mountpoint: '/nonexistent', timeout: 1, forceClient: true, verbose: false, mountTimeMs: 0, state: new SharedArrayBuffer(64), dataPath: 'kernel', devices: [dev0, dev1, dev2] } as FamfsMountConfig;
    const client = makeHost('md-c');
    const handler = asHost(client, () => new FamfsFs(config));
    removeHost(client);
    const kernel = scriptedKernel(handler);
    assert.equal(kernel.init(FAMFS_INIT()).error, 0);
    for (const [i, p] of [dev0, dev1, dev2].entries()) {
      const r = kernel.send(GET_DAXDEV, i);
      assert.equal(r.payload.length, 280);
      assert.equal(r.payload.readUInt16LE(0), i);
      assert.equal(r.payload.subarray(24, 24 + p.length).toString(), p);
      assert.equal(r.payload[24 + p.length], 0);
    }
    assert.equal(kernel.send(GET_DAXDEV, 3).error, -Errno.EINVAL);
    const s1 = handler.famfs.file('s1').id;
    assert.equal(kernel.send(GET_FMAP, s1).error, -Errno.EIO);
    handler.famfs.close();
  });

  it('mounted (daemon data path): files on three devices read and write through the kernel', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
    const mp = mount(master, dev0, 'md');
    const got = fs.readFileSync(path.join(mp, 'il'));
    assert.ok(got.equals(data.il));
    assert.ok(fs.readFileSync(path.join(mp, 's1')).equals(data.s1));
    const patch = randomBytes(3 * MiB);
    const fd = fs.openSync(path.join(mp, 'il'), 'r+');
    try {
      assert.equal(fs.writeSync(fd, patch, 0, patch.length, 5 * MiB), patch.length);
    } finally {
      fs.closeSync(fd);
    }
    patch.copy(data.il, 5 * MiB);
    assert.ok(famfsOk(master, ['cat', '-d', dev0, 'il'], { binary: true }).raw.equals(data.il));
    // chunk 3 (file 6..8 MiB) lives on device 0's strip, stripe 1; chunk 2 (4..6 MiB) on device 2's strip, stripe 0
    assert.ok(readRange(dev2, 2 * MiB + MiB, MiB).equals(data.il.subarray(5 * MiB, 6 * MiB)));
  });

  it('the mount\'s probe (no replay) finds the device table and paths a replay finds, refused ADD_DAXDEV entries included', () => {
    const f = asHost(master, () => Famfs.open(dev0));
    try {
      const p = asHost(master, () => probeFamfs(dev0));
      assert.ok(f.problems.some((x) => x.kind === 'bad-daxdev'));
      assert.deepEqual(p.daxdevs, f.daxdevs);
      assert.deepEqual(p.devicePaths, [f.devicePath(0), f.devicePath(1), f.devicePath(2)]);
      assert.deepEqual(p.devicePaths.slice(1), [dev1, dev2]);
      assert.equal(p.role, 'master');
      assert.equal(p.nextIndex, f.stats.entries);
      assert.equal(p.sb.uuid, f.sb.uuid);
    } finally {
      f.close();
    }
    const other = makeHost('md-p');
    try {
      assert.equal(asHost(other, () => probeFamfs(dev0)).role, 'client');
    } finally {
      removeHost(other);
    }
    assert.throws(() => probeFamfs('/dev/shm/no-such-famfs-device'), /no such|ENOENT/i);
  });

  it('fsck counts allocation collisions on devices ≥ 1 too', () => {
    famfsOk(master, ['clone', '-d', dev0, 's1', 's1-clone']);
    const r = JSON.parse(famfs(master, ['fsck', '--json', '-d', dev0]).stdout);
    assert.equal(r.collisions, 2);
    assert.equal(r.clean, false);
  });

  it('a one-device mkfs logs no ADD_DAXDEV entry and keeps a one-device table (format unchanged)', () => {
    const one = sparseFile('md-one', 4 * GiB);
    famfsOk(master, ['mkfs', one]);
    const f = asHost(master, () => Famfs.open(one));
    try {
      assert.equal(f.daxdevs.length, 0);
      assert.equal(f.geometry.ndevices, 1);
      assert.equal(f.log.nextIndex(), 0);
    } finally {
      f.close();
    }
  });
});
