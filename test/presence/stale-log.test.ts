/**
 * The daemon's presence service (in this process, no mount): a torn read of its own slot is
 * not a lost slot, and every stale episode is logged once, whichever thread found it.
 * Found by torture property 10: freshly mounted daemons went stale with "slot N is no longer
 * ours (unreadable)" (their heartbeat thread read the slot while the main thread was writing
 * it), and episodes found by a request thread were logged only as "rejoined".
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { asHost, makeHost, removeAllShm, removeHost, type Host } from '../core/helpers.js';
import { PresenceService } from '../../src/presence/service.js';
import { P } from '../../src/format/presence.js';
import { waitFor } from '../fs/mounted.js';
import { presenceDevice } from './fixtures.js';

const LEASE = 1000;

describe('presence service: stale episodes', () => {
  let host: Host;
  let dev: string;
  let svc: PresenceService;
  const lines: string[] = [];

  before(async () => {
    host = makeHost('stale-log');
    dev = presenceDevice(host, 'stale-log', LEASE);
    svc = await asHost(host, () => PresenceService.start({ device: dev, role: 'master', kernelMode: false, threads: 2, log: (m) => lines.push(m) }));
  });

  after(async () => {
    await svc.stop();
    removeAllShm();
    removeHost(host);
  });

  test('its own slot unreadable for 200 ms (a writer descheduled mid-update): no stale episode', async () => {
    const live = svc.host.area.live(svc.host.slot);
    const seq = live.readUInt32LE(P.SEQ);
    live.writeUInt32LE((seq | 1) >>> 0, P.SEQ);
    try {
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      live.writeUInt32LE(((seq | 1) + 1) >>> 0, P.SEQ);
    }
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(svc.control.stale, false, lines.join('\n'));
    assert.deepEqual(lines.filter((l) => /ESTALE/.test(l)), []);
  });

  test('a request thread that finds the host stale: one "serving ESTALE" line, then "rejoined"', async () => {
    const before = lines.length;
    // What a worker's fresh() does when the last beat is older than half the lease.
    assert.equal(svc.control.markStale(), true);
    await waitFor(() => lines.slice(before).some((l) => /rejoined as slot/.test(l)), 20_000);
    const episode = lines.slice(before);
    assert.equal(episode.filter((l) => /serving ESTALE until this host rejoins/.test(l)).length, 1, episode.join('\n'));
    assert.ok(episode.findIndex((l) => /serving ESTALE/.test(l)) < episode.findIndex((l) => /rejoined/.test(l)));
    assert.equal(svc.control.stale, false);
  });
});
