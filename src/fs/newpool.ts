/**
 * New files made by the FUSE workers without a call to the main thread (issue 15, stop 23).
 *
 * The main thread keeps a small pool of *ready* new files in shared memory: each has a new-node
 * id, its first extent (allocated under the host's log lock, FIRST_AHEAD bytes zeroed) and a
 * live new-file slot (newslots.ts) for that id. A worker handling CREATE of a regular file takes
 * one by compare-and-swap, writes parent, name, mode and owner into the entry, publishes it, and
 * answers the kernel without waiting for anyone. The main thread *drains* every published entry
 * into its table of new nodes (an ordinary new node from then on) whenever it wakes: for any
 * call (the file's own RELEASE, posted, is one), on its tick, and when a worker that finds the
 * pool low rings its doorbell (RpcClient.ring, no request: nothing waits for an answer).
 *
 * Entry states (one Int32 each): EMPTY → READY (main thread, after filling it); READY → TAKEN
 * (a worker's CAS) → PUBLISHED (the worker, after writing its fields) or back to READY (the
 * worker gave up); PUBLISHED → EMPTY (main thread: drained); READY → EMPTY (main thread's CAS:
 * space given back, at umount, before the log lock is released, or for an ENOSPC).
 *
 * Why the main thread never misses a worker-made node (the argument the code relies on):
 * 1. A worker's steps are, in order: take the entry (READY → TAKEN), claim the name's bucket in
 *    newnames.ts by CAS 0 → 1, check the parent and the logged tree (caught up), publish
 *    (TAKEN → PUBLISHED), answer the kernel. It never waits for the main thread in between.
 * 2. The main thread drains before it handles any call (MasterService.handle), before every
 *    commit (commitWhere, commitMany via tick, fsync, hand-over) and before it gives the lock up;
 *    a drain also waits out every TAKEN entry (a worker between steps 1 and 4: microseconds).
 *    So any call the kernel sends after a worker's answer (a GETATTR, LOOKUP, RELEASE, rename,
 *    unlink of that node) finds the node in the table: the answer follows the publish.
 * 3. The main thread's own create of `name` first adds one to the name's bucket, then drains
 *    (waiting out TAKEN entries), then checks the name. Atomics are sequentially consistent:
 *    either the worker's bucket CAS came first — then its TAKEN came before that, so the drain
 *    sees it and the main thread finds the name taken — or the main thread's add came first and
 *    the worker's CAS fails (it falls back to the call). Two workers: only one CAS 0 → 1 wins.
 * 4. A name's bucket stays non-zero from the worker's claim through the drain (the table's own
 *    count is added before the claim is let go) until the node leaves the table after its log
 *    append, so lookups elsewhere ask the main thread meanwhile, and the tree a worker catches
 *    up with after its claim holds every logged node of that name.
 * 5. Workers add one to the shared pending count when they take an entry (the main thread
 *    takes it off as it drains), so `NewNodes.active` is never 0 while such a node exists.
 * Space: entries hold space only while the log lock is held (it is refilled only then and
 * given back before the lock is released); a crash leaves nothing in the log, so their space
 * is free at the next mount.
 */
import { EXT_NAME_MAX } from '../format/constants.js';

/** Entries in the pool; refilled when fewer than half are ready. */
export const POOL_ENTRIES = 48;
const NAME_MAX = EXT_NAME_MAX;
/** Per entry: Int32 state and name length, then 64-bit id, parent, mode, uid, gid, then the name's UTF-8 bytes. */
const HEAD = 8;
const ENTRY_BYTES = HEAD + 5 * 8 + 256;
/** The entries, then one Int32 counting files made by workers (famfs status), padded to 8 bytes. */
export const POOL_BYTES = POOL_ENTRIES * ENTRY_BYTES + 8;
const MADE = (POOL_ENTRIES * ENTRY_BYTES) / 4;

export const EMPTY = 0;
export const READY = 1;
export const TAKEN = 2;
export const PUBLISHED = 3;

/** What a worker wrote into an entry. */
export interface PoolCreate {
  id: number;
  parent: number;
  name: string;
  mode: number;
  uid: number;
  gid: number;
}

/** The pool inside the new-file slots' buffer (between the slots and the name counts). */
export class NewFilePool {
  private readonly states: Int32Array;
  private readonly bytes: Buffer;
  private readonly view: DataView;

  /** `offset`: where the pool starts in `shared` (newslots.ts lays the buffer out). */
  constructor(shared: SharedArrayBuffer, offset: number) {
    this.bytes = Buffer.from(shared, offset, POOL_BYTES);
    this.view = new DataView(shared, offset, POOL_BYTES);
    // Int32 views need 4-byte alignment: states live in each entry's first word.
    this.states = new Int32Array(shared, offset, POOL_BYTES / 4);
  }

  private at(i: number): number {
    return i * ENTRY_BYTES;
  }

  private stateIndex(i: number): number {
    return this.at(i) / 4;
  }

  state(i: number): number {
    return Atomics.load(this.states, this.stateIndex(i));
  }

  /** Workers: the name fits an entry (else the call does the create). */
  static fits(name: string): boolean {
    return Buffer.byteLength(name) <= NAME_MAX;
  }

  /** Workers: take a ready entry (READY → TAKEN): its index, or -1 when none is ready. */
  take(): number {
    for (let i = 0; i < POOL_ENTRIES; i++) {
      if (Atomics.compareExchange(this.states, this.stateIndex(i), READY, TAKEN) === READY) return i;
    }
    return -1;
  }

  /** The new-node id of an entry (set by the main thread before READY). */
  id(i: number): number {
    return Number(this.view.getBigUint64(this.at(i) + HEAD, true));
  }

  /** Workers: give a taken entry back unused (TAKEN → READY). */
  putBack(i: number): void {
    Atomics.store(this.states, this.stateIndex(i), READY);
  }

  /** Workers: write the new file's fields, then publish (TAKEN → PUBLISHED). */
  publish(i: number, c: Omit<PoolCreate, 'id'>): void {
    const at = this.at(i);
    this.view.setBigUint64(at + HEAD + 8, BigInt(c.parent), true);
    this.view.setBigUint64(at + HEAD + 16, BigInt(c.mode), true);
    this.view.setBigUint64(at + HEAD + 24, BigInt(c.uid), true);
    this.view.setBigUint64(at + HEAD + 32, BigInt(c.gid), true);
    const len = this.bytes.write(c.name, at + HEAD + 40, NAME_MAX, 'utf8');
    Atomics.store(this.states, this.stateIndex(i) + 1, len);
    // The store of the state is the release: the main thread reads the fields after loading it.
    Atomics.store(this.states, this.stateIndex(i), PUBLISHED);
    Atomics.add(this.states, MADE, 1);
  }

  /** Files made by workers from the pool since the mount. */
  get made(): number {
    return Atomics.load(this.states, MADE);
  }

  /** Workers: fewer than a quarter of the entries are ready (ring the main thread to refill). */
  low(): boolean {
    let ready = 0;
    for (let i = 0; i < POOL_ENTRIES; i++) if (this.state(i) === READY) ready++;
    return ready < POOL_ENTRIES / 4;
  }

  /** Main thread: what a published entry holds. */
  read(i: number): PoolCreate {
    const at = this.at(i);
    const len = Atomics.load(this.states, this.stateIndex(i) + 1);
    return {
      id: this.id(i),
      parent: Number(this.view.getBigUint64(at + HEAD + 8, true)),
      mode: Number(this.view.getBigUint64(at + HEAD + 16, true)),
      uid: Number(this.view.getBigUint64(at + HEAD + 24, true)),
      gid: Number(this.view.getBigUint64(at + HEAD + 32, true)),
      name: this.bytes.toString('utf8', at + HEAD + 40, at + HEAD + 40 + len),
    };
  }

  /** Main thread: an empty entry filled for new-node `id` becomes ready. */
  fill(i: number, id: number): void {
    this.view.setBigUint64(this.at(i) + HEAD, BigInt(id), true);
    Atomics.store(this.states, this.stateIndex(i), READY);
  }

  /** Main thread: a drained entry is empty again. */
  empty(i: number): void {
    Atomics.store(this.states, this.stateIndex(i), EMPTY);
  }

  /** Main thread: take a ready entry back (READY → EMPTY); false if a worker took it first. */
  withdraw(i: number): boolean {
    return Atomics.compareExchange(this.states, this.stateIndex(i), READY, EMPTY) === READY;
  }

  /** Main thread: wait while a worker is between taking entry `i` and publishing (or giving it back). */
  waitWhileTaken(i: number): number {
    for (;;) {
      const s = this.state(i);
      if (s !== TAKEN) return s;
      // A worker does no waiting between its take and its publish: this is microseconds.
      Atomics.wait(this.states, this.stateIndex(i), TAKEN, 0.05);
    }
  }
}
