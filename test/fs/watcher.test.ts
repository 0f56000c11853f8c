/**
 * The daemon's log watcher when its replay is deferred until the mount answers: it replays
 * silently up to the next_index the mount's probe saw (the workers' replays hold at least
 * that), tells the kernel about every entry after it, and goes stale when the superblock
 * changed since the probe.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Famfs } from '../../src/api/famfs.js';
import { mkfs } from '../../src/api/mkfs.js';
import { probeFamfs } from '../../src/api/probe.js';
import { StateFlag } from '../../src/fs/config.js';
import { LogWatcher } from '../../src/fs/watcher.js';
import type { Notifier } from '../../src/fs/notifier.js';
import { asHost, GiB, makeHost, MiB, removeAllShm, removeHost, sparseFile, writeRange, type Host } from '../core/helpers.js';

interface Sent {
  kind: string;
  name?: string;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('log watcher with a deferred replay', () => {
  let host: Host, device: string;
  const append = (fn: (w: Parameters<Parameters<Famfs['writer']>[0]>[0]) => void): void => {
    const f = asHost(host, () => Famfs.open(device, { writable: true }));
    try {
      asHost(host, () => f.writer(fn));
    } finally {
      f.close();
    }
  };

  before(() => {
    host = makeHost('wd');
    device = sparseFile('wd', 4 * GiB);
    asHost(host, () => mkfs(device));
    append((w) => {
      w.mkdir('old');
      w.creat('old/a', MiB);
    });
  });
  after(() => {
    removeAllShm();
    removeHost(host);
  });

  it('nothing before replayDeferred(); then only the entries after the probe reach the kernel', async () => {
    const probe = probeFamfs(device);
    append((w) => {
      w.mkdir('new');
      w.creat('new/b', MiB);
    });
    const sent: Sent[] = [];
    const notifier = { send: (m: Sent) => sent.push(m) } as unknown as Notifier;
    const state = new SharedArrayBuffer(16);
    const w = new LogWatcher(device, notifier, state, { log: () => {}, deferredFrom: { nextIndex: probe.nextIndex, superblock: probe.superblock }, intervalMs: 5 });
    try {
      w.start();
      w.tick(true); // not replayed yet: a look does nothing
      await turn();
      assert.equal(sent.length, 0);
      w.replayDeferred();
      await turn();
      await turn();
      const names = sent.filter((m) => m.kind === 'entry').map((m) => m.name).sort();
      assert.deepEqual(names, ['b', 'new']);
      assert.equal(Atomics.load(new Int32Array(state), StateFlag.STALE), 0);
      // and it follows the log from there
      append((w2) => w2.mkdir('later'));
      w.tick();
      assert.ok(sent.some((m) => m.name === 'later'));
    } finally {
      w.stop();
    }
  });

  it('a superblock changed since the probe: stale at the first look, although the replay succeeded', async () => {
    const probe = probeFamfs(device);
    const sb = Buffer.from(probe.superblock);
    sb[100] = sb[100]! ^ 0xff; // as if re-formatted between the probe and the replay
    const logs: string[] = [];
    const state = new SharedArrayBuffer(16);
    const notifier = { send: () => undefined } as unknown as Notifier;
    const w = new LogWatcher(device, notifier, state, { log: (m) => logs.push(m), deferredFrom: { nextIndex: probe.nextIndex, superblock: sb } });
    try {
      w.replayDeferred();
      await turn();
      await turn();
      assert.equal(Atomics.load(new Int32Array(state), StateFlag.STALE), 1);
      assert.match(logs.join('\n'), /superblock changed/);
    } finally {
      w.stop();
    }
  });

  it('a device that no longer holds a famfs when the replay runs: stale, with the reason', async () => {
    const dev2 = sparseFile('wd2', 4 * GiB);
    asHost(host, () => mkfs(dev2));
    const probe = probeFamfs(dev2);
    writeRange(dev2, 0, Buffer.alloc(4096)); // superblock wiped
    const logs: string[] = [];
    const state = new SharedArrayBuffer(16);
    const w = new LogWatcher(dev2, { send: () => undefined } as unknown as Notifier, state, { log: (m) => logs.push(m), deferredFrom: { nextIndex: probe.nextIndex, superblock: probe.superblock } });
    try {
      w.replayDeferred();
      await turn();
      assert.equal(Atomics.load(new Int32Array(state), StateFlag.STALE), 1);
      assert.match(logs.join('\n'), /cannot follow the log/);
    } finally {
      w.stop();
    }
  });

  it('entries made through this mount tell the kernel nothing; others name a directory made here by the id the kernel knows', async () => {
    const sent: (Sent & { parent?: number; nodeid?: number })[] = [];
    const notifier = { send: (m: Sent) => sent.push(m) } as unknown as Notifier;
    const state = new SharedArrayBuffer(16);
    const made = new Map<number, number>();
    const w = new LogWatcher(device, notifier, state, { log: () => {}, madeHere: (id) => made.has(id), kernelId: (id) => made.get(id) ?? id });
    const idOf = (p: string): number => {
      const f = Famfs.open(device);
      try {
        return f.tree.lookup(p)!.id;
      } finally {
        f.close();
      }
    };
    try {
      // As the master's commit of a directory and a file made through the mount.
      append((x) => {
        x.mkdir('here');
        x.creat('here/x', MiB);
      });
      made.set(idOf('here'), 2 ** 40 + 7);
      made.set(idOf('here/x'), 2 ** 40 + 8);
      w.tick();
      assert.equal(sent.length, 0, `the kernel made these itself: ${JSON.stringify(sent)}`);
      // A CLI writer's file in that directory: named under the new-node id the kernel knows (and the log id).
      append((x) => x.creat('here/y', MiB));
      w.tick();
      const dirs = sent.filter((m) => m.kind === 'entry' && m.name === 'y').map((m) => m.parent);
      assert.deepEqual(dirs, [2 ** 40 + 7, idOf('here')]);
      assert.ok(sent.some((m) => m.kind === 'inode' && m.nodeid === 2 ** 40 + 7));
    } finally {
      w.stop();
    }
  });
});
