/**
 * Worker thread of newpool.test.ts: a FUSE worker's view of the master's new nodes (NewNodes,
 * the same class the daemon's workers use) that makes each of `names` in the root, all
 * workers starting at once: through the pool (createFast) when `fast`, else — and whenever the
 * pool path declines — through the call to the main thread. Posts what happened per name.
 * Does nothing when imported or run bare (the test runner runs every file).
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Famfs } from '../../src/api/famfs.js';
import { NewNodes } from '../../src/fs/newnodes.js';
import { RpcClient, type RpcChannel } from '../../src/fs/rpc.js';
import type { NewNodeAttr } from '../../src/fs/newtable.js';

export interface PoolWorkerData {
  poolWorker: true;
  dev: string;
  rpc: RpcChannel;
  newFiles: SharedArrayBuffer;
  /** Int32 [pending count, start flag, workers ready]. */
  state: SharedArrayBuffer;
  parent: number;
  names: string[];
  fast: boolean;
  /** Bytes to write into each file made here (through its slot, as a fast WRITE does). */
  write: number;
}

/** Per name: how this worker fared ('fast' / 'call' made it, else the errno) and the new id. */
export interface PoolWorkerResult {
  name: string;
  how: string;
  id?: number;
}

function run(d: PoolWorkerData): void {
  const famfs = Famfs.open(d.dev, { writable: true });
  const rpc = new RpcClient(d.rpc);
  const state = new Int32Array(d.state);
  const nodes = new NewNodes(famfs, rpc, () => Atomics.load(state, 0), d.newFiles, (by) => Atomics.add(state, 0, by));
  Atomics.add(state, 2, 1);
  Atomics.wait(state, 1, 0);
  const out: PoolWorkerResult[] = [];
  for (const name of d.names) {
    const f = d.fast ? nodes.createFast(d.parent, name, 0o640, 1000, 1000) : undefined;
    if (f) {
      nodes.afterCreateHere();
      if (d.write) {
        const w = nodes.writeFast(f.id, d.write);
        if (!w) throw new Error(`${name}: no fast write into a pool file`);
        famfs.write({ map: w.map, size: d.write, path: name }, 0, Buffer.alloc(d.write, name.charCodeAt(name.length - 1)));
      }
      out.push({ name, how: 'fast', id: f.id });
      continue;
    }
    try {
      const a = rpc.call<NewNodeAttr>('create', { parent: d.parent, name, mode: 0o640, uid: 1000, gid: 1000 });
      if (d.write) {
        const g = rpc.call<NewNodeAttr>('extend', { id: a.id, offset: 0, length: d.write });
        famfs.write({ map: g.map, size: d.write, path: name }, 0, Buffer.alloc(d.write, name.charCodeAt(name.length - 1)));
      }
      out.push({ name, how: 'call', id: a.id });
    } catch (e) {
      out.push({ name, how: (e as { code?: string }).code ?? String(e) });
    }
  }
  famfs.close();
  parentPort!.postMessage(out);
}

if (!isMainThread && (workerData as PoolWorkerData | undefined)?.poolWorker) run(workerData as PoolWorkerData);
