/**
 * The lease on real mounts: a client daemon SIGSTOPped past a short lease is called gone by
 * the others; when it runs again it serves ESTALE (to handles opened before, and to anything
 * until it has rejoined), then rejoins as a new incarnation and serves again.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { PresenceArea } from '../../src/presence/area.js';
import { LivenessTracker } from '../../src/presence/liveness.js';
import { PresenceOracle } from '../../src/presence/oracle.js';
import { famfsOk, MiB, type Host } from '../core/helpers.js';
import { daemonPid, errnoOf, HAVE_FUSE, NO_FUSE_REASON, twoHosts, waitFor } from '../fs/mounted.js';
import { presenceArea } from './fixtures.js';
import { getxattr } from '../../src/sys/libc.js';
import { STATUS_XATTR } from '../../src/fs/status.js';

const LEASE = 2000;

describe('presence lease on mounts', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  const fx = twoHosts('lease-mount', {
    mkfs: { features: ['delete'], leaseMs: LEASE },
    populate: (dev, master) => famfsOk(master, ['creat', '-d', dev, '-s', String(3 * MiB), '-r', '-S', '7', 'data']),
  });
  const { master, client } = fx;
  let area: PresenceArea;
  before(() => {
    area = presenceArea(fx.dev);
  });

  const slots = (): { slot: number; pid: number; uuid: string; token: bigint }[] =>
    area.readAll().flatMap((s) => (s && s.state === 'live' ? [{ slot: s.index, pid: s.pid, uuid: s.systemUuid, token: s.token }] : []));

  test('both daemons hold a live slot with their system UUID and pid', () => {
    const live = slots();
    assert.equal(live.length, 2);
    assert.deepEqual(new Set(live.map((s) => s.uuid)), new Set([master.uuid, client.uuid]));
    assert.ok(live.some((s) => s.pid === daemonPid(client, fx.mpC)));
  });

  type StatusRow = { mountpoint: string; presence?: { slot: number; leaseMs: number; stale: boolean; others: { slot: number; liveness: string }[] } };
  const presenceOf = (h: Host, mp: string): NonNullable<StatusRow['presence']> =>
    (JSON.parse(famfsOk(h, ['status', '--json', mp]).stdout) as StatusRow[])[0]!.presence!;

  test('famfs status shows the slot and the other hosts seen', () => {
    const p = presenceOf(master, fx.mpM);
    assert.equal(p.leaseMs, LEASE);
    assert.equal(p.stale, false);
    assert.deepEqual(p.others.map((o) => o.liveness), ['live']);
    assert.match(famfsOk(master, ['status', fx.mpM]).stdout, /other hosts seen: 1 live/);
  });

  test('SIGSTOP past the lease: gone for the others, ESTALE when it runs again, then it rejoins', async () => {
    const pid = daemonPid(client, fx.mpC);
    const before = slots().find((s) => s.pid === pid)!;
    const fd = fs.openSync(path.join(fx.mpC, 'data'), 'r');
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
        const st = JSON.parse(getxattr(fx.mpM, STATUS_XATTR)!) as StatusRow;
        return st.presence!.others.some((o) => o.slot === before.slot && o.liveness === 'gone');
      }, LEASE * 5);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // The handle from before the pause is refused: its bytes may belong to another file by now.
    assert.equal(errnoOf(() => fs.readSync(fd, buf, 0, 4096, 0)), 'ESTALE');
    fs.closeSync(fd);
    // A new incarnation: new token, and a fresh open reads again.
    await waitFor(() => slots().some((s) => s.pid === pid && s.token !== before.token), 20_000);
    await waitFor(() => {
      try {
        return fs.readFileSync(path.join(fx.mpC, 'data')).length === 3 * MiB;
      } catch {
        return false;
      }
    }, 20_000);
    famfsOk(client, ['verify', '-S', '7', path.join(fx.mpC, 'data')]);
  });
});
