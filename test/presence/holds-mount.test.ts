/**
 * Holds on real mounts: a file open on a client is not reused after the master deletes it,
 * until the client closes it; then the space comes back (the allocator reuses it, df shows it).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Famfs } from '../../src/api/famfs.js';
import type { PresenceArea } from '../../src/presence/area.js';
import { asHost, famfsOk, MiB } from '../core/helpers.js';
import { daemonPid, HAVE_FUSE, NO_FUSE_REASON, twoHosts, waitFor } from '../fs/mounted.js';
import { presenceArea } from './fixtures.js';

const SIZE = 64 * MiB;

describe('holds of deleted files on mounts', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  const fx = twoHosts('holds-mount', {
    mkfs: { features: ['delete'], leaseMs: 2000 },
    populate: (dev, master) => {
      famfsOk(master, ['creat', '-d', dev, '-s', String(SIZE), '-r', '-S', '11', 'a']);
      famfsOk(master, ['creat', '-d', dev, '-s', String(SIZE), '-r', '-S', '12', 'b']);
    },
  });
  const { master, client } = fx;
  let area: PresenceArea;
  before(() => {
    area = presenceArea(fx.dev);
  });

  const look = <T>(fn: (f: Famfs) => T): T => asHost(master, () => {
    const f = Famfs.open(fx.dev);
    try {
      return fn(f);
    } finally {
      f.close();
    }
  });
  const offsetOf = (p: string): number => look((f) => (f.file(p).map as { extents: { offset: number }[] }).extents[0]!.offset);
  const freeBytes = (mp: string): number => {
    const s = fs.statfsSync(mp);
    return s.bfree * s.bsize;
  };
  const clientSlot = (): number => area.readAll().find((s) => s && s.state === 'live' && s.systemUuid === client.uuid)!.index;

  test('open on a client: held after the delete, not reused; after close the space comes back', async () => {
    const aOffset = offsetOf('a');
    const aId = look((f) => f.file('a').entryIndex);
    const fd = fs.openSync(path.join(fx.mpC, 'a'), 'r');
    const head = Buffer.alloc(4096);
    fs.readSync(fd, head, 0, 4096, 0);
    const freeBefore = freeBytes(fx.mpC);
    famfsOk(master, ['rm', '-d', fx.dev, 'a']);
    // The client replays the delete and publishes that it holds the file.
    await waitFor(() => area.read(clientSlot())!.held.includes(aId), 10_000);
    famfsOk(master, ['creat', '-d', fx.dev, '-s', String(SIZE), '-r', '-S', '13', 'c']);
    // fsck names the host that keeps it.
    const report = JSON.parse(famfsOk(master, ['fsck', '--json', fx.dev]).stdout) as { pending: { path: string; heldBy?: { slot: number; why: string }[] }[] };
    assert.deepEqual(report.pending.find((p) => p.path === 'a')?.heldBy?.map((h) => [h.slot, h.why]), [[clientSlot(), 'held']]);
    assert.match(famfsOk(master, ['fsck', fx.dev]).stdout, new RegExp(`a: ${SIZE} bytes .*held by slot ${clientSlot()} \\(.*: held\\)`));
    assert.notEqual(offsetOf('c'), aOffset, 'space of a file open on a client is not reused');
    // The open file still reads its own bytes on the client, and df does not count it free.
    const again = Buffer.alloc(4096);
    fs.readSync(fd, again, 0, 4096, 0);
    assert.ok(again.equals(head));
    await waitFor(() => freeBytes(fx.mpC) <= freeBefore - SIZE, 5000);
    fs.closeSync(fd);
    await waitFor(() => !area.read(clientSlot())!.held.includes(aId), 10_000);
    await waitFor(() => freeBytes(fx.mpC) >= freeBefore, 10_000);
    famfsOk(master, ['creat', '-d', fx.dev, '-s', String(SIZE), '-r', '-S', '14', 'd']);
    assert.equal(offsetOf('d'), aOffset, 'released space is reused');
    famfsOk(client, ['verify', '-S', '14', path.join(fx.mpC, 'd')]);
    assert.ok(daemonPid(client, fx.mpC) > 0);
  });

  test('a file deleted while nobody holds it is reused at once', () => {
    const bOffset = offsetOf('b');
    famfsOk(master, ['rm', '-d', fx.dev, 'b']);
    // The daemons replay within milliseconds; the CLI writer counts them live and waits for nothing else.
    const t0 = Date.now();
    let reused = false;
    while (!reused && Date.now() - t0 < 10_000) {
      famfsOk(master, ['creat', '-d', fx.dev, '-s', String(SIZE), '-r', '-S', '15', `e${Date.now()}`]);
      reused = look((f) => [...f.tree.byId.values()].some((n) => 'map' in n && !f.isRemovedEntry(n.entryIndex) && (n.map as { extents: { offset: number }[] }).extents[0]?.offset === bOffset));
    }
    assert.ok(reused);
  });
});
