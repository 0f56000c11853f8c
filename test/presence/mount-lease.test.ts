/**
 * The lease on real mounts: a client daemon SIGSTOPped past a short lease is called gone by
 * the others; when it runs again it serves ESTALE (to handles opened before, and to anything
 * until it has rejoined), then rejoins as a new incarnation and serves again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PRESENCE_OFFSET, PRESENCE_SIZE } from '../../src/format/constants.js';
import { Device } from '../../src/device/device.js';
import { PresenceArea } from '../../src/presence/area.js';
import { LivenessTracker } from '../../src/presence/liveness.js';
import { PresenceOracle } from '../../src/presence/oracle.js';
import { famfsOk, makeHost, MiB, removeAllShm, removeHost, type Host } from '../core/helpers.js';
import { daemonPid, HAVE_FUSE, mount, NO_FUSE_REASON, umountAll, waitFor } from '../fs/mounted.js';
import { presenceDevice } from './fixtures.js';
import { getxattr } from '../../src/sys/libc.js';
import { STATUS_XATTR } from '../../src/fs/status.js';

const LEASE = 2000;

/** errnoOf, but Node 20's libuv has no name for ESTALE (errno -116). */
function staleOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return err.errno === -116 ? 'ESTALE' : err.code;
  }
}

describe('presence lease on mounts', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  let master: Host, client: Host, dev: string, mpM: string, mpC: string;
  let area: PresenceArea;

  before(() => {
    master = makeHost('lm');
    client = makeHost('lc');
    dev = presenceDevice(master, 'lease-mount', LEASE);
    famfsOk(master, ['creat', '-d', dev, '-s', String(3 * MiB), '-r', '-S', '7', 'data']);
    mpM = mount(master, dev, 'lm');
    mpC = mount(client, dev, 'lc');
    const d = Device.open(dev);
    d.mapHead(PRESENCE_OFFSET + PRESENCE_SIZE);
    area = new PresenceArea(d);
  });

  after(() => {
    umountAll(master);
    umountAll(client);
    removeAllShm();
    removeHost(master);
    removeHost(client);
  });

  const slots = (): { slot: number; pid: number; uuid: string; token: bigint }[] =>
    area.readAll().flatMap((s) => (s && s.state === 'live' ? [{ slot: s.index, pid: s.pid, uuid: s.systemUuid, token: s.token }] : []));

  test('both daemons hold a live slot with their system UUID and pid', () => {
    const live = slots();
    assert.equal(live.length, 2);
    assert.deepEqual(new Set(live.map((s) => s.uuid)), new Set([master.uuid, client.uuid]));
    assert.ok(live.some((s) => s.pid === daemonPid(client, mpC)));
  });

  type StatusRow = { mountpoint: string; presence?: { slot: number; leaseMs: number; stale: boolean; others: { slot: number; liveness: string }[] } };
  const presenceOf = (h: Host, mp: string): NonNullable<StatusRow['presence']> =>
    (JSON.parse(famfsOk(h, ['status', '--json', mp]).stdout) as StatusRow[])[0]!.presence!;

  test('famfs status shows the slot and the other hosts seen', () => {
    const p = presenceOf(master, mpM);
    assert.equal(p.leaseMs, LEASE);
    assert.equal(p.stale, false);
    assert.deepEqual(p.others.map((o) => o.liveness), ['live']);
    assert.match(famfsOk(master, ['status', mpM]).stdout, /other hosts seen: 1 live/);
  });

  test('SIGSTOP past the lease: gone for the others, ESTALE when it runs again, then it rejoins', async () => {
    const pid = daemonPid(client, mpC);
    const before = slots().find((s) => s.pid === pid)!;
    const fd = fs.openSync(path.join(mpC, 'data'), 'r');
    const buf = Buffer.alloc(4096);
    assert.equal(fs.readSync(fd, buf, 0, 4096, 0), 4096);
    const oracle = new PresenceOracle(area, new LivenessTracker(LEASE));
    oracle.snapshot();
    process.kill(pid, 'SIGSTOP');
    try {
      await waitFor(() => { oracle.snapshot(); return oracle.tracker.judge(area.read(before.slot)!) === 'gone'; }, LEASE * 10);
      // The master's daemon says so too. (Only its own mount is asked: anything that looks at
      // every mount, the CLI included, would wait on the stopped daemon's mount.)
      await waitFor(() => {
        const st = JSON.parse(getxattr(mpM, STATUS_XATTR)!) as StatusRow;
        return st.presence!.others.some((o) => o.slot === before.slot && o.liveness === 'gone');
      }, LEASE * 5);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // The handle from before the pause is refused: its bytes may belong to another file by now.
    assert.equal(staleOf(() => fs.readSync(fd, buf, 0, 4096, 0)), 'ESTALE');
    fs.closeSync(fd);
    // A new incarnation: new token, and a fresh open reads again.
    await waitFor(() => slots().some((s) => s.pid === pid && s.token !== before.token), 20_000);
    await waitFor(() => {
      try {
        return fs.readFileSync(path.join(mpC, 'data')).length === 3 * MiB;
      } catch {
        return false;
      }
    }, 20_000);
    famfsOk(client, ['verify', '-S', '7', path.join(mpC, 'data')]);
  });
});
