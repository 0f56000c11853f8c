/**
 * Several devices, every allocation path (issue 12, "Several devices, completed"): a
 * two-device famfs whose device 0 has only a few MiB free is filled past it through the
 * master's mount (`cp -r`), with `famfs cp -r` and with `famfs creat`; files spill over
 * to device 1, every byte reads back the same on a client mount, and df (statfs), fsck and
 * `famfs status` count both devices.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Famfs } from '../../src/api/famfs.js';
import { FM_ALL_HOSTS_RW } from '../../src/format/constants.js';
import { RandomStream } from '../../src/format/prng.js';
import { asHost, famfs, famfsOk, GiB, MiB, sparseFile } from '../core/helpers.js';
import { HAVE_FUSE, mount, NO_FUSE_REASON, twoHosts, waitFor } from './mounted.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
/** Free space left on device 0 before the fill. */
const DEV0_FREE = 6 * MiB;
const DEV1_SIZE = 256 * MiB;

interface MapJson {
  map: { kind: string; extents?: { devindex: number }[]; strips?: { devindex: number }[] };
}

describe('several devices: every create path places files on all of them', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  const { master, client } = twoHosts('place');
  let dev0: string, dev1: string, src: string, mp: string, cmp: string;
  const want = new Map<string, string>(); // famfs path → sha256

  function hostTree(name: string, sizes: number[], seed: number): string {
    const root = path.join(src, name);
    for (const [i, size] of sizes.entries()) {
      const p = path.join(root, `sub${i % 2}`, `f${i}`);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      const b = Buffer.alloc(size);
      new RandomStream(seed + i).fill(b);
      fs.writeFileSync(p, b);
      want.set(`${name}/sub${i % 2}/f${i}`, sha(b));
    }
    return root;
  }

  const devicesOf = (rel: string): number[] => {
    const m = (JSON.parse(famfsOk(master, ['getmap', '--json', path.join(mp, rel)]).stdout) as MapJson).map;
    return [...new Set((m.extents ?? m.strips ?? []).map((e) => e.devindex))].sort();
  };

  before(() => {
    const list = path.join(master.dir, 'devices');
    master.env.FAMFS_DEVICE_LIST = list;
    client.env.FAMFS_DEVICE_LIST = list;
    dev0 = sparseFile('place0', 4 * GiB);
    dev1 = sparseFile('place1', DEV1_SIZE);
    famfsOk(master, ['mkfs', dev0, dev1]);
    // Hold all of device 0 but DEV0_FREE with one entry (no bytes written): "device 0 nearly full" costs no memory.
    asHost(master, () => {
      const f = Famfs.open(dev0, { writable: true });
      try {
        f.writer((w) => {
          const free = w.space.perDevice()[0]!.free;
          const start = f.geometry.dataStart;
          f.log.append({ type: 'file', path: 'filler', size: free - DEV0_FREE, flags: FM_ALL_HOSTS_RW, mode: 0o644, uid: 0, gid: 0, map: { kind: 'simple', extents: [{ devindex: 0, offset: start, length: free - DEV0_FREE }] } });
        });
      } finally {
        f.close();
      }
    });
    src = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-place-'));
    mp = mount(master, dev0, 'place-m', ['--commit-delay', '50']);
    cmp = mount(client, dev0, 'place-c');
  });
  after(() => fs.rmSync(src, { recursive: true, force: true }));

  it('cp -r through the master mount fills device 0, then spills over to device 1', async () => {
    const tree = hostTree('bycp', [3 * MiB + 1, 1 * MiB, 5 * MiB + 7, 7, 4 * MiB], 100);
    const r = spawnSync('cp', ['-r', tree, mp]);
    assert.equal(r.status, 0, r.stderr.toString());
    await waitFor(() => fs.existsSync(path.join(cmp, 'bycp/sub0/f4')), 15000, 50);
    const used = new Set(['bycp/sub0/f0', 'bycp/sub1/f1', 'bycp/sub0/f2', 'bycp/sub1/f3', 'bycp/sub0/f4'].flatMap(devicesOf));
    assert.deepEqual([...used].sort(), [0, 1], 'files went to both devices');
    const fsck = JSON.parse(famfsOk(master, ['fsck', '--json', mp]).stdout);
    assert.equal(fsck.clean, true);
    assert.ok(fsck.devices[0].free <= 2 * MiB, `device 0 is (nearly) used up: ${fsck.devices[0].free} free`);
  });

  it('famfs cp -r and famfs creat place files on device 1 once device 0 is full', () => {
    // What device 0 has left goes first (fill placement).
    const left = JSON.parse(famfsOk(master, ['fsck', '--json', mp]).stdout).devices[0].free as number;
    if (left) {
      famfsOk(master, ['creat', '-s', String(left), path.join(mp, 'rest0')]);
      assert.deepEqual(devicesOf('rest0'), [0]);
    }
    const tree = hostTree('byfamfs', [2 * MiB, 9 * MiB + 3, 1], 200);
    famfsOk(master, ['cp', '-r', tree, mp]);
    for (const rel of ['byfamfs/sub0/f0', 'byfamfs/sub1/f1', 'byfamfs/sub0/f2']) assert.deepEqual(devicesOf(rel), [1], rel);
    famfsOk(master, ['creat', '-s', '7m', '-r', '-S', '77', path.join(mp, 'created')]);
    assert.deepEqual(devicesOf('created'), [1]);
    const b = Buffer.alloc(7 * MiB);
    new RandomStream(77).fill(b);
    want.set('created', sha(b));
  });

  it('--placement stripe with device 0 full: the file goes where there is room; a bad placement is refused', () => {
    // Device 0 is full: no strip fits there, so the file goes to the device with room.
    const r = famfs(master, ['creat', '--placement', 'stripe', '-s', '4m', path.join(mp, 'striped')]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(devicesOf('striped'), [1]);
    assert.match(famfs(master, ['creat', '--placement', 'nowhere', '-s', '4m', path.join(mp, 'x')]).stderr, /--placement.*nowhere.*fill, spread, stripe/);
  });

  it('every file is byte-exact on the client', async () => {
    await waitFor(() => [...want.keys()].every((rel) => fs.existsSync(path.join(cmp, rel))), 15000, 50);
    for (const [rel, h] of want) assert.equal(sha(fs.readFileSync(path.join(cmp, rel))), h, rel);
    for (const [rel, h] of want) assert.equal(sha(fs.readFileSync(path.join(mp, rel))), h, rel);
  });

  it('df, fsck and famfs status count both devices', () => {
    const fsck = JSON.parse(famfsOk(master, ['fsck', '--json', mp]).stdout);
    assert.equal(fsck.clean, true);
    assert.equal(fsck.devices.length, 2);
    const cap = fsck.devices[0].capacity + fsck.devices[1].capacity;
    assert.equal(fsck.capacity.bitmapCapacity, cap);
    assert.ok(fsck.devices[1].allocated > 20 * MiB, JSON.stringify(fsck.devices[1]));
    assert.equal(fsck.capacity.freeSpace, fsck.devices[1].free);
    const st = fs.statfsSync(mp);
    assert.equal(st.blocks * st.bsize, cap);
    assert.equal(st.bfree * st.bsize, fsck.capacity.freeSpace);
    const cst = fs.statfsSync(cmp);
    assert.equal(cst.blocks * cst.bsize, cap);
    const rows = JSON.parse(famfsOk(master, ['status', '--json', mp]).stdout) as { mountpoint: string; devices: { index: number; used: number; free: number }[] }[];
    const row = rows.find((x) => x.mountpoint === mp)!;
    assert.deepEqual(row.devices.map((d) => [d.index, d.free]), [[0, 0], [1, fsck.devices[1].free]]);
    assert.match(famfsOk(master, ['status', mp]).stdout, new RegExp(`device 1: ${dev1}\\s+used .+ of .+, free `));
  });
});
