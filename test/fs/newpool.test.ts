/**
 * Files made by FUSE workers from the main thread's pool of ready new files (src/fs/newpool.ts,
 * stop 23), in-process: real worker threads with the workers' NewNodes, the real master service
 * behind a real RPC server on this thread, a sparse device. Racing creates of one name (through
 * the pool, through the call, both) make exactly one file; a worker-made file is in the table
 * before any call is handled; commits log it byte-exact; the pool's space comes back at close.
 * The FUSE path (kernel, cp, chmod, rename, SIGKILL) is test/fs/pool-create.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { asHost, formattedHost } from '../core/helpers.js';
import { Famfs } from '../../src/api/famfs.js';
import { fsck } from '../../src/api/fsck.js';
import { MasterService, type NewNodeAttr } from '../../src/fs/master-service.js';
import { createNewFileSlots, newFilePool } from '../../src/fs/newslots.js';
import { POOL_ENTRIES, READY } from '../../src/fs/newpool.js';
import { NewNameCounts } from '../../src/fs/newnames.js';
import { createRpcChannel, RpcServer, type RpcCall } from '../../src/fs/rpc.js';
import { ROOT_ID } from '../../src/meta/tree.js';
import type { PoolWorkerData, PoolWorkerResult } from './pool-worker.js';

const WORKER = new URL('./pool-worker.js', import.meta.url);
const call = (op: string, args: Record<string, unknown>): RpcCall => ({ op, args, claim: () => true });

interface Rig {
  m: MasterService;
  server: RpcServer;
  base: Omit<PoolWorkerData, 'names' | 'fast' | 'parent' | 'write'>;
  pending: Int32Array;
}

function rig(dev: string): Rig {
  const newFiles = createNewFileSlots();
  const state = new SharedArrayBuffer(12);
  const pending = new Int32Array(state, 0, 1);
  const m = new MasterService(dev, { commitDelayMs: 60_000, log: () => {}, newFiles, pendingCount: pending });
  const rpc = createRpcChannel();
  const server = new RpcServer(rpc, (c) => m.handle(c), (e) => { throw e; }, () => m.wake());
  return { m, server, pending, base: { poolWorker: true, dev, rpc, newFiles, state } };
}

/** Start `specs.length` workers at once (each gets the same names); their results. */
async function race(r: Rig, specs: { fast: boolean }[], names: string[], parent = ROOT_ID, write = 0): Promise<PoolWorkerResult[][]> {
  const flags = new Int32Array(r.base.state);
  Atomics.store(flags, 1, 0);
  Atomics.store(flags, 2, 0);
  const done = specs.map((s) => {
    const w = new Worker(WORKER, { workerData: { ...r.base, names, fast: s.fast, parent, write } satisfies PoolWorkerData });
    return new Promise<PoolWorkerResult[]>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  });
  while (Atomics.load(flags, 2) < specs.length) await new Promise((res) => setTimeout(res, 5));
  Atomics.store(flags, 1, 1);
  Atomics.notify(flags, 1);
  return Promise.all(done);
}

describe('new files made by workers from the pool', () => {
  const { host, dev } = formattedHost('npool');

  test('racing creates of one name (pool and call mixed): exactly one file, the others EEXIST; all in the table before any call', async () => {
    const free0 = asHost(host, () => freeNow(dev));
    const r = asHost(host, () => rig(dev));
    try {
      // A first create through the call takes the log lock and fills the pool.
      const first = r.m.handle(call('create', { parent: ROOT_ID, name: 'first', mode: 0o644, uid: 0, gid: 0 })) as NewNodeAttr;
      const pool = newFilePool(r.base.newFiles);
      let ready = 0;
      for (let i = 0; i < POOL_ENTRIES; i++) if (pool.state(i) === READY) ready++;
      assert.ok(ready >= POOL_ENTRIES / 2, `the pool was filled (${ready} ready)`);
      const names = Array.from({ length: 120 }, (_, i) => `same${i}`);
      const results = await race(r, [{ fast: true }, { fast: true }, { fast: true }, { fast: false }], names, ROOT_ID, 3000);
      let fast = 0;
      const winners = new Map<string, number>();
      for (const name of names) {
        const got = results.map((w) => w.find((x) => x.name === name)!);
        const won = got.filter((g) => g.how === 'fast' || g.how === 'call');
        assert.equal(won.length, 1, `${name}: exactly one create wins (${JSON.stringify(got)})`);
        for (const g of got) if (g !== won[0]) assert.equal(g.how, 'EEXIST', `${name}: the others get EEXIST`);
        if (won[0]!.how === 'fast') fast++;
        winners.set(name, won[0]!.id!);
      }
      assert.ok(fast > 0, 'some files were made in the workers');
      // Every worker-made file is a node of the table as soon as any call is handled.
      for (const [name, id] of winners) {
        const a = r.m.handle(call('lookup', { parent: ROOT_ID, name })) as NewNodeAttr;
        assert.equal(a?.id, id, `${name}: lookup finds the winner`);
        assert.equal(a.mode, 0o640);
        assert.equal(a.uid, 1000);
        assert.equal(a.size, 3000, `${name}: its size as the worker wrote it`);
      }
      assert.equal(Atomics.load(r.pending, 0), names.length + 1, 'the shared pending count is the table');
      for (const id of [first.id, ...winners.values()]) r.m.handle(call('release', { id }));
      r.m.handle(call('syncfs', {}));
      assert.equal(r.m.pending, 0);
      r.m.close();
      r.server.close();
      const f = asHost(host, () => Famfs.open(dev));
      const report = fsck(f);
      assert.equal(report.clean, true, JSON.stringify(report.problems));
      assert.equal(report.files, names.length + 1);
      for (const name of names) {
        const n = f.tree.lookup(name);
        assert.ok(n && n.kind === 'file', name);
        assert.equal(n.size, 3000);
        assert.equal(n.mode & 0o7777, 0o640);
        assert.ok(Buffer.concat(f.slices(n, 0, n.size)).equals(Buffer.alloc(3000, name.charCodeAt(name.length - 1))), `${name}: bytes`);
      }
      // Nothing but the logged files took space.
      assert.equal(report.capacity.freeSpace, free0 - loggedBytes(f), 'free space is the empty fs less the logged files');
      f.close();
    } finally {
      r.server.close();
    }
  });

  test('the main thread\'s own create holds the name: a worker claiming it meanwhile loses (newpool.ts, point 3)', () => {
    const r = asHost(host, () => rig(dev));
    try {
      const first = r.m.handle(call('create', { parent: ROOT_ID, name: 'p3first', mode: 0o644, uid: 0, gid: 0 })) as NewNodeAttr;
      const names = new NewNameCounts(r.base.newFiles);
      // A worker's claim right in the middle of the main thread's create (when it takes the file's slot).
      const slots = (r.m as unknown as { slots: { take: (...a: unknown[]) => number } }).slots;
      const take = slots.take.bind(slots);
      let claimed: boolean | undefined;
      slots.take = (...a: unknown[]) => {
        claimed ??= names.claim('p3x');
        return take(...a);
      };
      const x = r.m.handle(call('create', { parent: ROOT_ID, name: 'p3x', mode: 0o644, uid: 0, gid: 0 })) as NewNodeAttr;
      slots.take = take;
      assert.equal(claimed, false, 'the name\'s bucket was held while the main thread made it');
      assert.equal(names.mayExist('p3x'), true);
      for (const id of [first.id, x.id]) r.m.handle(call('release', { id }));
      r.m.handle(call('syncfs', {}));
      r.m.close();
    } finally {
      r.server.close();
    }
  });
});

/** Bytes the logged files hold. */
function loggedBytes(f: Famfs): number {
  let sum = 0;
  for (const n of f.tree.byId.values()) {
    if (n.kind === 'file' && !n.removed && n.map.kind === 'simple') for (const e of n.map.extents) sum += e.length;
  }
  return sum;
}

/** Free bytes by fsck (from the log: what a mount after a crash would see). */
function freeNow(dev: string): number {
  const f = Famfs.open(dev);
  try {
    return fsck(f).capacity.freeSpace;
  } finally {
    f.close();
  }
}
