/**
 * CLI edges a first-time user hit (issue 11, items 12, 14, 15, 16, 17): a closed stdout,
 * fsck naming colliding files and checking real device sizes, bounded mount options,
 * exact sizes, mkfs cleaning up after itself and refusing a mounted device, `fsck DEV`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FAMFS_BIN, famfs, famfsOk, GiB, makeHost, MiB, removeAllShm, removeHost, shmPath, sparseFile, type CliResult, type Host } from './helpers.js';
import { HAVE_FUSE, NO_FUSE_REASON, mount, umountAll } from '../fs/mounted.js';
import { newFs } from './cli-kit.js';

let master: Host;

function oneLine(r: CliResult, re: RegExp): void {
  assert.notEqual(r.status, 0, r.stdout);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one stderr line, got:\n${r.stderr}`);
  assert.match(lines[0]!, re);
}

/** Run the CLI with its stdout a pipe whose reader is already gone; resolves with exit status and stderr. */
function withClosedStdout(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [FAMFS_BIN, ...args], { env: master.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader closes before the first line is written
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

describe('CLI edges (issue 11)', () => {
  let dev: string;
  before(() => {
    master = makeHost('edges');
    dev = newFs(master, 'edges');
    for (let i = 0; i < 40; i++) famfsOk(master, ['mkdir', '-d', dev, `d${i}`]);
    famfsOk(master, ['creat', '-d', dev, '-s', '3m', 'f1']);
  });
  after(() => {
    umountAll(master);
    removeAllShm();
    removeHost(master);
  });

  it('item 14: a closed stdout ends ls -lR, ls -R --json, logplay --json and logplay -v quietly', async () => {
    for (const args of [['ls', '-lR'], ['ls', '-R', '--json'], ['logplay', '--json'], ['logplay', '-v']]) {
      const r = await withClosedStdout([...args, '-d', dev]);
      assert.equal(r.stderr, '', `famfs ${args.join(' ')} wrote to stderr: ${r.stderr}`);
      assert.equal(r.status, 0, `famfs ${args.join(' ')}`);
    }
  });

  it('item 15: fsck names every colliding pair, in text and JSON', () => {
    const d = newFs(master, 'coll');
    famfsOk(master, ['creat', '-d', d, '-s', '5m', 'a']);
    famfsOk(master, ['creat', '-d', d, '-s', '1m', 'b']);
    famfsOk(master, ['clone', '-d', d, 'a', 'a2']);
    famfsOk(master, ['clone', '-d', d, 'b', 'b2']);
    famfsOk(master, ['clone', '-d', d, 'b', 'b3']);
    const r = famfs(master, ['fsck', '--json', '-d', d]);
    assert.equal(r.status, 1);
    const j = JSON.parse(r.stdout);
    assert.equal(j.clean, false);
    const pairs = j.collisionPairs.map((p: { a: string; b: string; bytes: number; device: number }) => `${p.a}|${p.b}|${p.bytes}|${p.device}`).sort();
    assert.deepEqual(pairs, ['a|a2|6291456|0', 'b|b2|2097152|0', 'b|b3|2097152|0']);
    const t = famfs(master, ['fsck', '-d', d]);
    assert.equal(t.status, 1);
    assert.match(t.stdout, /ALLOCATION COLLISIONS FOUND/);
    for (const re of [/a and a2 share 6291456 bytes on device 0/, /b and b2 share/, /b and b3 share/]) assert.match(t.stdout, re);
  });

  it('item 16: fsck checks the real size of a secondary device', () => {
    const list = path.join(master.dir, 'devices-16');
    const env = { ...master.env, FAMFS_DEVICE_LIST: list };
    const h: Host = { ...master, env };
    const d0 = sparseFile('sz0', 4 * GiB);
    const d1 = sparseFile('sz1', 64 * MiB);
    famfsOk(h, ['mkfs', d0, d1]);
    famfsOk(h, ['creat', '-d', d0, '-D', '-s', '40m', 'spread']);
    assert.equal(JSON.parse(famfsOk(h, ['fsck', '--json', '-d', d0]).stdout).clean, true);
    fs.truncateSync(d1, 8 * MiB);
    const r = famfs(h, ['fsck', '--json', '-d', d0]);
    assert.equal(r.status, 1, r.stdout);
    const j = JSON.parse(r.stdout);
    assert.equal(j.clean, false);
    assert.equal(j.devices[1].realSize, 8 * MiB);
    assert.match(j.devices[1].problem, /is 8388608 bytes, but files reach byte/);
    assert.match(famfs(h, ['fsck', '-d', d0]).stdout, /ERROR: device 1 is 8388608 bytes/);
  });

  it('item 17: mount -w and --commit-delay are bounded; one clear line, nothing mounted', () => {
    const mp = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-edges-mp-'));
    try {
      oneLine(famfs(master, ['mount', '-w', '100', dev, mp]), /--workers must be 1\.\.16/);
      oneLine(famfs(master, ['mount', '-w', '0', dev, mp]), /--workers must be 1\.\.16/);
      oneLine(famfs(master, ['mount', '--commit-delay', '99999999999', dev, mp]), /--commit-delay \(ms\) must be 0\.\.60000/);
      oneLine(famfs(master, ['mount', '--commit-delay', '99999999999999999999', dev, mp]), /not a number/);
      assert.ok(!fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(mp));
    } finally {
      fs.rmdirSync(mp);
    }
  });

  it('item 17: creat -s refuses sizes a number cannot hold exactly, and sizes beyond the file system', () => {
    oneLine(famfs(master, ['creat', '-d', dev, '-s', '9007199254740993', 'huge']), /too large/);
    oneLine(famfs(master, ['creat', '-d', dev, '-s', '0x20000000000001', 'huge']), /too large/);
    const r = famfs(master, ['creat', '-d', dev, '-s', '9007199254740991', 'huge']);
    oneLine(r, /9007199254740991 bytes exceeds/);
    assert.ok(!r.stderr.includes('9007199254740992'), r.stderr);
    assert.equal(famfs(master, ['ls', '-d', dev, 'huge']).status, 1);
  });

  it('item 17: a failed mkfs removes the image it created', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-edges-mkfs-'));
    try {
      // A system-UUID file that holds no UUID: mkfs fails after creating the image.
      const bad = path.join(dir, 'uuid');
      fs.writeFileSync(bad, 'garbage\n');
      const img = path.join(dir, 'new.img');
      oneLine(famfs({ ...master, env: { ...master.env, FAMFS_SYSTEM_UUID_FILE: bad } }, ['mkfs', '-s', '4g', img]), /does not hold a UUID/);
      assert.equal(fs.existsSync(img), false, 'the failed mkfs left its image behind');
      // An image larger than the file system under it allows (ext4: 16 TiB): refused, nothing left.
      const big = path.join(dir, 'big.img');
      const r = famfs(master, ['mkfs', '-s', '100t', big]);
      if (r.status !== 0) assert.equal(fs.existsSync(big), false, `left behind after: ${r.stderr}`);
      // An existing image that mkfs grew and then refused keeps its old size.
      const old = path.join(dir, 'old.img');
      fs.writeFileSync(old, 'x');
      oneLine(famfs({ ...master, env: { ...master.env, FAMFS_SYSTEM_UUID_FILE: bad } }, ['mkfs', '-s', '4g', old]), /does not hold a UUID/);
      assert.equal(fs.statSync(old).size, 1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('item 17: fsck DEV takes the device positionally; famfs mkfs.famfs is the mkfs alias', () => {
    const r = famfsOk(master, ['fsck', dev]);
    assert.match(r.stdout, /No allocation errors found/);
    assert.match(r.stdout, new RegExp(`primary: ${dev}`));
    oneLine(famfs(master, ['fsck', '/nonexistent/famfs-dev']), /not inside a mounted famfs/);
    const d = shmPath('alias');
    assert.match(famfsOk(master, ['mkfs.famfs', '-s', '4g', d]).stdout, /devsize: 4294967296/);
    assert.equal(JSON.parse(famfsOk(master, ['fsck', '--json', d]).stdout).clean, true);
  });

  it('item 12: mkfs --force refuses a device mounted on this host, naming the mount; --even-if-mounted overrides', { skip: !HAVE_FUSE && NO_FUSE_REASON }, () => {
    const d = newFs(master, 'mounted');
    famfsOk(master, ['mkdir', '-d', d, 'keep']);
    const mp = mount(master, d, 'mkfs-busy');
    oneLine(famfs(master, ['mkfs', '--force', d]), new RegExp(`in use by the mount ${mp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    oneLine(famfs(master, ['mkfs', '--force', '--kill', d]), /in use by the mount/);
    assert.ok(fs.existsSync(path.join(mp, 'keep')), 'the mounted file system was changed');
    assert.match(famfsOk(master, ['mkfs', '--force', '--even-if-mounted', d]).stdout, /devsize/);
    assert.equal(famfsOk(master, ['ls', '-d', d]).stdout, '');
  });

  it('item 12: a device 1 of a mounted famfs is refused too (mkfs and devadd), naming the mount', { skip: !HAVE_FUSE && NO_FUSE_REASON }, () => {
    const h: Host = { ...master, env: { ...master.env, FAMFS_DEVICE_LIST: path.join(master.dir, 'devices-12') } };
    const d0 = sparseFile('busy0', 4 * GiB);
    const d1 = sparseFile('busy1', 64 * MiB);
    famfsOk(h, ['mkfs', d0, d1]);
    const mp = mount(h, d0, 'mkfs-busy2');
    oneLine(famfs(h, ['mkfs', '--force', '-s', '4g', d1]), /in use by the mount/);
    const other = sparseFile('busy2', 4 * GiB);
    famfsOk(h, ['mkfs', other]);
    oneLine(famfs(h, ['devadd', '--force', '-d', other, d1]), new RegExp(`${d1}: in use by the mount ${mp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });
});
