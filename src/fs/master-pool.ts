/**
 * The main thread's side of the pool of ready new files (newpool.ts has the protocol and the
 * argument why no worker-made file is missed): fill it while the log lock is held, take the
 * files workers made from it into the table, give its space back before the lock goes (and for
 * an ENOSPC elsewhere).
 */
import type { Extent, SimpleMap } from '../format/types.js';
import { FamfsError } from '../api/errors.js';
import type { RpcCall } from './rpc.js';
import { ensureCapacity, freeAll, zeroRange, type NewSpace } from './newspace.js';
import { newFilePool } from './newslots.js';
import { POOL_ENTRIES, PUBLISHED, READY, EMPTY, type NewFilePool, type PoolCreate } from './newpool.js';
import type { NewNode } from './newtable.js';
import { FIRST_AHEAD, MasterCalls } from './master-calls.js';
import type { MasterOptions } from './master.js';

/** After a refill ran out of space, how long before the next try (a full device is searched each time). */
const REFILL_BACKOFF_MS = 1000;

/** A ready file as the main thread keeps it (its space and slot), from fill until drained or given back. */
interface PoolFile extends NewSpace {
  id: number;
  slot: number;
  map: SimpleMap;
}

export class MasterPool extends MasterCalls {
  private readonly pool?: NewFilePool;
  private readonly ready: (PoolFile | undefined)[] = new Array<PoolFile | undefined>(POOL_ENTRIES).fill(undefined);
  private refillAfter = 0;

  constructor(device: string, opts: MasterOptions) {
    super(device, opts);
    if (opts.newFiles && this.slots) this.pool = newFilePool(opts.newFiles);
  }

  override handle(call: RpcCall): unknown {
    this.drainCreated();
    const r = super.handle(call);
    if (call.op === 'create' && !(r instanceof Promise)) this.refillPool();
    return r;
  }

  /**
   * The doorbell rang (any call, or a worker's RpcClient.ring when the pool runs low): take
   * the workers' files in and refill the pool if it is below half.
   */
  wake(): void {
    if (!this.pool) return;
    const before = this.nodes.size;
    this.drainCreated();
    if (this.nodes.size !== before) this.touch();
    this.refillPool();
  }

  protected override drainCreated(): void {
    if (!this.pool) return;
    for (let i = 0; i < POOL_ENTRIES; i++) {
      if (this.pool.waitWhileTaken(i) !== PUBLISHED) continue;
      const f = this.ready[i]!;
      const c = this.pool.read(i);
      this.ready[i] = undefined;
      this.pool.empty(i);
      this.adoptCreated(c, f);
    }
  }

  /** A file a worker made becomes an ordinary new node (open once: the kernel's handle). */
  private adoptCreated(c: PoolCreate, f: PoolFile): void {
    const n: NewNode = {
      id: c.id, kind: 'file', parentId: c.parent, name: c.name, path: c.name, mode: c.mode & 0o7777, uid: c.uid, gid: c.gid,
      size: 0, map: f.map, allocated: f.allocated, opens: 1, since: Date.now(), slot: f.slot,
    };
    try {
      // The worker proved these (newpool.ts); a failure here is a bug, reported at close.
      const parent = this.dir(c.parent);
      if (this.exists(parent, c.name)) throw new FamfsError(`${c.name}: exists`, 'EEXIST');
      n.path = this.childPath(parent, c.name);
    } catch (e) {
      n.failed = (e as { code?: string }).code ?? 'EIO';
      this.slots!.markFailed(f.slot);
      this.opts.log(`${c.name}: made by a worker but refused (${(e as Error).message}); it will not be committed`);
    }
    this.addNode(n);
    // The table counts the name now: the worker's claim of its bucket, and its add to the pending count, go.
    this.sharedNames?.remove(c.name);
    this.published();
    if (this.opts.pendingCount) Atomics.sub(this.opts.pendingCount, 0, 1);
    this.schedule();
  }

  protected override refillPool(): void {
    const pool = this.pool;
    if (!pool || !this.slots || !this.loglock.held || !this.bitmap || Date.now() < this.refillAfter) return;
    const empty: number[] = [];
    let ready = 0;
    for (let i = 0; i < POOL_ENTRIES; i++) {
      const s = pool.state(i);
      if (s === READY) ready++;
      else if (s === EMPTY && !this.ready[i]) empty.push(i);
    }
    if (ready >= POOL_ENTRIES / 2) return;
    // Every pool file may become an entry: keep room in the log for them and the table.
    const h = this.famfs.log.readHeader();
    let room = h.lastIndex - h.nextIndex - this.nodes.size - (POOL_ENTRIES - empty.length);
    for (const i of empty) {
      if (room-- <= 0) break;
      const id = this.newId();
      const f: PoolFile = { id, slot: -1, path: `(new file ${id})`, size: 0, map: { kind: 'simple', extents: [] }, allocated: 0 };
      try {
        ensureCapacity(this.bitmap, f, 1);
      } catch {
        this.refillAfter = Date.now() + REFILL_BACKOFF_MS;
        break;
      }
      const ahead = Math.min(f.allocated, FIRST_AHEAD);
      zeroRange(this.famfs, f, 0, ahead);
      f.slot = this.slots.take(id, ahead, f.map.extents[0]!);
      if (f.slot < 0) {
        freeAll(this.bitmap, f);
        continue;
      }
      this.ready[i] = f;
      pool.fill(i, id);
    }
  }

  protected override givePoolBack(forSpace = false): boolean {
    const pool = this.pool;
    if (!pool) return false;
    // Space is short: do not take it right back for the pool.
    if (forSpace) this.refillAfter = Date.now() + REFILL_BACKOFF_MS;
    let freed = false;
    for (let again = true; again; ) {
      again = false;
      for (let i = 0; i < POOL_ENTRIES; i++) {
        const f = this.ready[i];
        if (!f) continue;
        if (pool.withdraw(i)) {
          this.slots!.retire(f.slot);
          if (this.bitmap) freeAll(this.bitmap, f);
          this.ready[i] = undefined;
          freed = true;
        } else again = true; // taken by a worker: published (drained below) or put back (withdrawn next round)
      }
      if (again) this.drainCreated();
    }
    return freed;
  }

  protected override poolExtents(): Extent[] {
    return this.ready.flatMap((f) => f?.map.extents ?? []);
  }
}
