/**
 * `famfs compact` against a host that joins the presence area meanwhile (docs/reliability.md,
 * "Review notes closed (stop 23)"). Dekker: compact sets its `compacting` bit, then looks at
 * the slots; a mounting host takes its slot, then looks at the bit. Whoever looks second sees
 * the other and refuses, saying why; they never both go on.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { asHost, famfs, famfsOk, FAMFS_BIN, makeHost, REPO, removeAllShm, removeHost, type Host } from '../core/helpers.js';
import { Famfs } from '../../src/api/famfs.js';
import { fsck } from '../../src/api/fsck.js';
import { COMPACTING, encodeFeatureBlock, FEATURE_BLOCK_OFFSET, FEATURE_BLOCK_SIZE } from '../../src/format/features.js';
import { Device } from '../../src/device/device.js';
import { HAVE_FUSE, isMounted, NO_FUSE_REASON, tempMountpoint, umount } from '../fs/mounted.js';
import { presenceArea, presenceDevice } from './fixtures.js';

const HOST_CHILD = path.join(REPO, 'dist/test/presence/host-child.js');
const LEASE = 2000;
const COMPACT_LOST = /presence slot \d+ is in use|mounted at /;
const MOUNT_LOST = /famfs compact is rewriting the log/;

interface Run { code: number | null; stdout: string; stderr: string }

function run(child: ChildProcess): Promise<Run> {
  let stdout = '', stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

function cli(host: Host, args: string[]): ChildProcess {
  return spawn(process.execPath, [FAMFS_BIN, ...args], { env: host.env, cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
}

function liveSlots(dev: string): number[] {
  const area = presenceArea(dev);
  try {
    return area.readAll().flatMap((s, i) => (s && s.state === 'live' ? [i] : []));
  } finally {
    area.device.close();
  }
}

/** A famfs with deletes behind it (so compact has work): d/f0..f5, f1 and f3 removed. */
function deviceWithDeletes(master: Host, tag: string): string {
  const dev = presenceDevice(master, tag, LEASE);
  famfsOk(master, ['mkdir', '-d', dev, 'd']);
  for (let i = 0; i < 6; i++) famfsOk(master, ['creat', '-d', dev, '-s', '4096', `d/f${i}`]);
  famfsOk(master, ['rm', '-d', dev, 'd/f1', 'd/f3']);
  return dev;
}

function setCompactingBit(dev: string): void {
  const d = Device.open(dev, { writable: true });
  try {
    d.mapHead(FEATURE_BLOCK_OFFSET + FEATURE_BLOCK_SIZE);
    const f = asHost(master, () => Famfs.open(dev));
    const features = f.features;
    f.close();
    encodeFeatureBlock({ ...features, incompat: features.incompat | COMPACTING }).copy(d.view(FEATURE_BLOCK_OFFSET, FEATURE_BLOCK_SIZE));
    d.flush(FEATURE_BLOCK_OFFSET, FEATURE_BLOCK_SIZE);
  } finally {
    d.close();
  }
}

const master = makeHost('crace-m');
const client = makeHost('crace-c');
after(() => {
  removeAllShm();
  removeHost(master);
  removeHost(client);
});

describe('compact and a joining host', () => {
  test('a host that finds the bit set after taking its slot leaves it and refuses, saying why', { timeout: 60_000 }, async () => {
    const dev = deviceWithDeletes(master, 'crace-join');
    const child = spawn(process.execPath, [HOST_CHILD, dev, 'racer'], { env: client.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let said = '';
    child.stdout!.on('data', (d: Buffer) => (said += d.toString()));
    const done = run(child);
    // Its slot is written first, then it settles (≥ 100 ms) before looking at the bit: set it now.
    const t0 = Date.now();
    while (liveSlots(dev).length === 0) {
      assert.ok(Date.now() - t0 < 30_000, 'the host never took a slot');
      await new Promise((r) => setTimeout(r, 2));
    }
    setCompactingBit(dev);
    // It either refuses and exits, or (the old order: bit looked at before the join) says it joined and stays.
    const went = await Promise.race([done.then(() => false), new Promise<boolean>((resolve) => {
      const timer = setInterval(() => {
        if (!said.includes('"joined"')) return;
        clearInterval(timer);
        resolve(true);
      }, 10);
      void done.then(() => clearInterval(timer));
    })]);
    if (went) {
      child.kill('SIGTERM');
      await done;
    }
    const r = await done;
    assert.ok(!went, `the host joined with the compacting bit set: ${said}`);
    assert.notEqual(r.code, 0, `the host went on with the bit set: ${r.stdout}`);
    assert.match(r.stderr, MOUNT_LOST);
    assert.doesNotMatch(r.stdout, /"joined"/);
    assert.deepEqual(liveSlots(dev), [], 'it left its slot');
  });

  test('compact with a host in the presence area sets the bit, sees the slot, puts the bit back and changes nothing', { timeout: 60_000 }, async () => {
    const dev = deviceWithDeletes(master, 'crace-slot');
    const child = spawn(process.execPath, [HOST_CHILD, dev, 'holder'], { env: client.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('"joined"')) resolve(); }));
    try {
      const ls0 = famfsOk(master, ['ls', '-R', '--device', dev]).stdout;
      const backup = `${dev}.backup`;
      const r = famfs(master, ['compact', '--backup', backup, dev]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /presence slot \d+ is in use .*nothing was changed/);
      assert.ok(!fs.existsSync(backup), 'no backup left behind');
      assert.equal(famfsOk(master, ['ls', '-R', '--device', dev]).stdout, ls0, 'the bit is gone again and the tree is as it was');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});

describe('compact and famfs mount racing', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  test('never both go on; whoever loses says so; a mount that went on serves the log as it is', { timeout: 600_000 }, async (t) => {
    const tally = { compact: 0, mount: 0, both: 0, neither: 0 };
    // Calibration: how long a mount takes to take its slot, and a compact to finish, here and now.
    const cal = deviceWithDeletes(master, 'crace-cal');
    const calMp = tempMountpoint('crace-cal');
    const t0 = Date.now();
    const calMount = run(cli(client, ['mount', cal, calMp]));
    while (liveSlots(cal).length === 0 && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 2));
    const joinMs = Date.now() - t0;
    assert.equal((await calMount).code, 0);
    umount(client, calMp);
    const t1 = Date.now();
    famfsOk(master, ['compact', '--backup', `${cal}.backup`, cal]);
    const compactMs = Date.now() - t1;
    fs.rmSync(`${cal}.backup`, { force: true });
    t.diagnostic(`a mount takes its slot after ${joinMs} ms; a compact takes ${compactMs} ms`);
    for (let k = 0; k < 12; k++) {
      const dev = deviceWithDeletes(master, `crace${k}`);
      const mp = tempMountpoint(`crace${k}`);
      const backup = `${dev}.backup`;
      // The compact starts so that its mark lands near the mount's join, give or take 400 ms.
      const offset = joinMs - compactMs + Math.floor(Math.random() * 800) - 400;
      const compactFirst = offset < 0;
      const delay = Math.abs(offset);
      const start = (which: 'compact' | 'mount'): Promise<Run> => run(which === 'compact' ? cli(master, ['compact', '--backup', backup, dev]) : cli(client, ['mount', dev, mp]));
      const first = start(compactFirst ? 'compact' : 'mount');
      await new Promise((r) => setTimeout(r, delay));
      const second = start(compactFirst ? 'mount' : 'compact');
      const [a, b] = await Promise.all([first, second]);
      const c = compactFirst ? a : b;
      const m = compactFirst ? b : a;
      const what = `round ${k} (${compactFirst ? 'compact' : 'mount'} first, ${delay} ms): compact ${c.code} ${c.stderr.trim()} / mount ${m.code} ${m.stderr.trim()}`;
      try {
        if (c.code !== 0) assert.match(c.stderr, COMPACT_LOST, what);
        if (m.code !== 0) assert.match(m.stderr, MOUNT_LOST, what);
        if (m.code === 0) {
          assert.ok(isMounted(mp), what);
          // What the mount serves is a replay of the log as it is now: the same names and node ids.
          const f = asHost(client, () => Famfs.open(dev));
          try {
            assert.ok(fsck(f).clean, what);
            const names = fs.readdirSync(path.join(mp, 'd')).sort();
            assert.deepEqual(names, ['f0', 'f2', 'f4', 'f5'], what);
            for (const n of names) assert.equal(fs.statSync(path.join(mp, 'd', n)).ino, f.lookup(`d/${n}`).id, `${what}: d/${n} inode`);
          } finally {
            f.close();
          }
        }
        if (c.code === 0 && m.code === 0) tally.both++; // the mount joined after compact had finished (checked above)
        else if (c.code === 0) tally.compact++;
        else if (m.code === 0) tally.mount++;
        else tally.neither++;
      } finally {
        if (isMounted(mp)) umount(client, mp);
        else fs.rmSync(mp, { recursive: true, force: true });
        fs.rmSync(backup, { force: true });
      }
    }
    t.diagnostic(`outcomes: ${JSON.stringify(tally)}`);
  });
});
