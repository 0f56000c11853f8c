/**
 * The worker → main-thread call channel (src/fs/rpc.ts): a call the worker
 * gave up on is never applied by the main thread, and one the main thread
 * claimed is always answered, however long it takes (issue 11, item 4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { createRpcChannel, RpcServer, type RpcCall } from '../../src/fs/rpc.js';

const CLIENT = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.url).then(({ RpcClient }) => {
  const c = new RpcClient(workerData.ch);
  const out = [];
  for (const [op, timeout] of workerData.calls) {
    try { out.push(c.call(op, {}, timeout)); } catch (e) { out.push(e.code); }
  }
  parentPort.postMessage(out);
});`;

function runClient(ch: ReturnType<typeof createRpcChannel>, calls: [string, number][]): Promise<unknown[]> {
  const url = new URL('../../src/fs/rpc.js', import.meta.url).href;
  const w = new Worker(CLIENT, { eval: true, workerData: { url, ch, calls } });
  return new Promise((resolve, reject) => {
    w.once('message', (m: unknown[]) => {
      void w.terminate();
      resolve(m);
    });
    w.once('error', reject);
  });
}

test('a call the worker gave up on changes nothing; the next call on the slot goes through', async () => {
  const ch = createRpcChannel();
  const applied: string[] = [];
  let lateClaim: boolean | undefined;
  let done!: () => void;
  const lateDone = new Promise<void>((r) => (done = r));
  const server = new RpcServer(ch, (call: RpcCall) => {
    if (call.op === 'slow') {
      return new Promise((resolve) => setTimeout(() => {
        lateClaim = call.claim();
        if (lateClaim) applied.push('slow');
        resolve('late');
        done();
      }, 400));
    }
    if (!call.claim()) return null;
    applied.push(call.op);
    return call.op;
  }, (e) => assert.fail(String(e)));
  try {
    const out = await runClient(ch, [['slow', 100], ['fast', 5000]]);
    assert.deepEqual(out, ['EIO', 'fast']);
    await lateDone;
    assert.equal(lateClaim, false, 'the main thread cannot claim a cancelled call');
    assert.deepEqual(applied, ['fast']);
  } finally {
    server.close();
  }
});

test('a call the main thread claimed is answered even after the worker\'s deadline', async () => {
  const ch = createRpcChannel();
  const server = new RpcServer(ch, (call: RpcCall) => {
    assert.ok(call.claim());
    return new Promise((resolve) => setTimeout(() => resolve(`${call.op} done`), 1500));
  }, (e) => assert.fail(String(e)));
  try {
    assert.deepEqual(await runClient(ch, [['claimed', 1000], ['again', 1000]]), ['claimed done', 'again done']);
  } finally {
    server.close();
  }
});

const POSTER = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.url).then(({ RpcClient }) => {
  const errors = [];
  const c = new RpcClient(workerData.ch, (op, e) => errors.push(op + ':' + e.code));
  const t0 = Date.now();
  c.post('slowpost', {});
  const postMs = Date.now() - t0;
  c.post('badpost', {});
  const after = c.call('read', {});
  parentPort.postMessage({ postMs, after, errors });
});`;

test('a posted call does not wait for its answer; the next call reads it first, and an error reaches onPostError', async () => {
  const ch = createRpcChannel();
  const applied: string[] = [];
  const server = new RpcServer(ch, (call: RpcCall) => {
    if (!call.claim()) return null;
    applied.push(call.op);
    if (call.op === 'slowpost') return new Promise((resolve) => setTimeout(() => resolve(null), 300));
    if (call.op === 'badpost') throw Object.assign(new Error('no such node'), { code: 'ESTALE' });
    return applied.join(',');
  }, (e) => assert.fail(String(e)));
  try {
    const url = new URL('../../src/fs/rpc.js', import.meta.url).href;
    const w = new Worker(POSTER, { eval: true, workerData: { url, ch } });
    const m = await new Promise<{ postMs: number; after: string; errors: string[] }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    assert.ok(m.postMs < 250, `post returned after ${m.postMs} ms (the answer takes 300 ms)`);
    // Posts may be applied in any order among themselves (RpcClient.post), all before the later call.
    assert.deepEqual(m.after.split(',').slice(0, 2).sort(), ['badpost', 'slowpost'], m.after);
    assert.equal(m.after.split(',')[2], 'read', 'the main thread applied the posted calls before the call');
    assert.deepEqual(m.errors, ['badpost:ESTALE']);
  } finally {
    server.close();
  }
});

const RING = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.url).then(({ RpcClient }) => {
  const c = new RpcClient(workerData.ch);
  const ms = [];
  for (const op of ['slow1', 'slow2', 'third']) {
    const t0 = Date.now();
    c.post(op, {});
    ms.push(Date.now() - t0);
  }
  const after = c.call('read', {});
  parentPort.postMessage({ ms, after });
});`;

test('a post waits only for the post two before it (its slot), not for the last one; a call waits for all', async () => {
  const ch = createRpcChannel();
  const applied: string[] = [];
  const server = new RpcServer(ch, (call: RpcCall) => {
    if (!call.claim()) return null;
    if (call.op === 'read') return applied.join(',');
    return new Promise((resolve) => setTimeout(() => {
      applied.push(call.op);
      resolve(null);
    }, 300));
  }, (e) => assert.fail(String(e)));
  try {
    const url = new URL('../../src/fs/rpc.js', import.meta.url).href;
    const w = new Worker(RING, { eval: true, workerData: { url, ch } });
    const m = await new Promise<{ ms: number[]; after: string }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    assert.ok(m.ms[0]! + m.ms[1]! < 250, `two posts in a row waited ${m.ms} ms (each answer takes 300 ms)`);
    assert.ok(m.ms[2]! >= 150, `the third post reused the first one's slot without waiting for its answer (${m.ms} ms)`);
    assert.deepEqual(m.after.split(',').sort(), ['slow1', 'slow2', 'third'], 'a call is sent only once every earlier post was applied');
  } finally {
    server.close();
  }
});

test('answers that come while the worker polls and after it went to sleep both reach the right call', async () => {
  const ch = createRpcChannel();
  let n = 0;
  // Most answers come within the worker's short poll (SPIN_MS); every tenth comes 30 ms later, from its futex sleep.
  const server = new RpcServer(ch, (call: RpcCall) => {
    if (!call.claim()) return null;
    const mine = `${call.op}:${n++}`;
    return call.op.endsWith('0') ? new Promise((resolve) => setTimeout(() => resolve(mine), 30)) : mine;
  }, (e) => assert.fail(String(e)));
  try {
    const ops = Array.from({ length: 50 }, (_, i) => `op${i}`);
    const out = await runClient(ch, ops.map((op) => [op, 5000]));
    assert.deepEqual(out, ops.map((op, i) => `${op}:${i}`));
  } finally {
    server.close();
  }
});
