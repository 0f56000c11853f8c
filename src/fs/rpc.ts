/**
 * Synchronous calls from FUSE worker threads to the main thread, which owns
 * every metadata change (one writer, one lock, one allocator), over shared
 * memory only: a worker writes its request into its own slot, bumps the
 * slot's request number and a doorbell word, and blocks in Atomics.wait until
 * the main thread (woken by Atomics.waitAsync on the doorbell) writes the reply
 * and its number. Workers wait only for the main thread, and the main thread
 * never blocks on a worker, so this cannot deadlock.
 *
 * A handler may answer later (a Promise: e.g. a create waiting for the log
 * lock). A worker that gives up on a call must never leave the main thread
 * believing something the kernel was told failed, so every request is
 * *claimed* exactly once, by a compare-and-swap on the slot's claim word:
 * the main thread claims it (positive seq) before it changes anything, or the
 * worker cancels it (negative seq) at its deadline. Whoever loses goes on as
 * if the other had won: a cancelled request changes nothing; a claimed one is
 * always answered, and the worker waits for that answer.
 */
const SLOTS = 64;
/**
 * Slots a client keeps for posts besides its call slot: a post waits only when the one it
 * takes still holds an unanswered post (2 posts behind), not for the answer to the last one.
 * 16 workers (MAX_WORKERS) × 3 slots fit in SLOTS.
 */
const POST_SLOTS = 2;
const SLOT_BYTES = 1 << 20;
// Int32 control words: doorbell, next free slot, then per slot [request seq, reply seq, claim].
const DOORBELL = 0;
const NEXT_SLOT = 1;
const REQ = (slot: number): number => 2 + 3 * slot;
const REP = (slot: number): number => 3 + 3 * slot;
const CLAIM = (slot: number): number => 4 + 3 * slot;
const CTL_WORDS = 2 + 3 * SLOTS;
/**
 * How long a worker polls for the main thread's answer before it sleeps in the kernel. Most
 * calls are answered within ~100 µs; waking a thread that sleeps in a futex took another
 * 60–75 µs here (an idle vCPU), more than a short poll costs.
 */
const SPIN_MS = 0.2;
const CTL_BYTES = CTL_WORDS * 4;

export interface RpcChannel {
  shared: SharedArrayBuffer;
}

export function createRpcChannel(): RpcChannel {
  return { shared: new SharedArrayBuffer(CTL_BYTES + SLOTS * SLOT_BYTES) };
}

type RpcReply = { ok: unknown } | { errno: string; message: string };

/** An error the main thread answered with; `code` is an errno name as Node's errors. */
export class RpcError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

function slotData(shared: SharedArrayBuffer, slot: number): Buffer {
  return Buffer.from(shared, CTL_BYTES + slot * SLOT_BYTES, SLOT_BYTES);
}

function writeJson(data: Buffer, value: unknown): void {
  let text = JSON.stringify(value);
  if (Buffer.byteLength(text) > SLOT_BYTES - 4) text = JSON.stringify({ errno: 'E2BIG', message: 'message too large' });
  data.writeUInt32LE(data.write(text, 4, 'utf8'), 0);
}

function readJson<T>(data: Buffer): T {
  return JSON.parse(data.toString('utf8', 4, 4 + data.readUInt32LE(0))) as T;
}

/**
 * Move the claim word from an older request's mark to `mark` (±seq) for request `seq`.
 * Returns true if this side won; false if request `seq` is already claimed or cancelled.
 */
function claimFor(ctl: Int32Array, slot: number, seq: number, mark: number): boolean {
  for (;;) {
    const cur = Atomics.load(ctl, CLAIM(slot));
    if (Math.abs(cur) >= seq) return false;
    if (Atomics.compareExchange(ctl, CLAIM(slot), cur, mark) === cur) return true;
  }
}

/** Poll ctl[at] for up to SPIN_MS, until it equals `want`. */
function spinWhile(ctl: Int32Array, at: number, want: number): void {
  const until = performance.now() + SPIN_MS;
  do {
    for (let i = 0; i < 64; i++) if (Atomics.load(ctl, at) === want) return;
  } while (performance.now() < until);
}

export class RpcClient {
  private readonly ctl: Int32Array;
  /** The call slot; posts use the POST_SLOTS slots after it, in turn. */
  private readonly slot: number;
  /** Increases over all this client's slots, so it increases within each. */
  private seq = 0;
  /** Per post slot: the request sent by post() whose answer was not read yet (0: none), and its op. */
  private readonly posted = new Array<number>(POST_SLOTS).fill(0);
  private readonly postedOps = new Array<string>(POST_SLOTS).fill('');
  private nextPost = 0;

  /** `onPostError`: what a posted call answered with an error (nobody waits for it). */
  constructor(ch: RpcChannel, private readonly onPostError: (op: string, e: RpcError) => void = () => undefined) {
    this.ctl = new Int32Array(ch.shared, 0, CTL_WORDS);
    this.slot = Atomics.add(this.ctl, NEXT_SLOT, 1 + POST_SLOTS);
    if (this.slot + POST_SLOTS >= SLOTS) throw new Error('too many famfs RPC clients');
    for (let i = 0; i <= POST_SLOTS; i++) this.datas.push(slotData(ch.shared, this.slot + i));
  }

  /** The data of the call slot, then of each post slot. */
  private readonly datas: Buffer[] = [];

  /** Put a request in `slot` (free: its last request answered and read) and ring the main thread. */
  private send(slot: number, op: string, args: unknown): number {
    const seq = ++this.seq;
    writeJson(this.datas[slot - this.slot]!, { op, args, seq });
    Atomics.store(this.ctl, REQ(slot), seq);
    Atomics.add(this.ctl, DOORBELL, 1);
    Atomics.notify(this.ctl, DOORBELL);
    return seq;
  }

  /**
   * One call. `timeoutMs` bounds only the wait for the main thread to *start* it: once
   * claimed, a request is answered, and its answer is awaited (the main thread never blocks).
   */
  call<T>(op: string, args: unknown, timeoutMs = 60_000): T {
    // Every earlier post is applied before a call is even sent: calls see them in order.
    for (let k = 0; k < POST_SLOTS; k++) this.settle(k);
    const seq = this.send(this.slot, op, args);
    spinWhile(this.ctl, REP(this.slot), seq);
    const deadline = Date.now() + timeoutMs;
    let bounded = true;
    for (;;) {
      const cur = Atomics.load(this.ctl, REP(this.slot));
      if (cur === seq) break;
      const left = deadline - Date.now();
      if (bounded && left <= 0) {
        if (claimFor(this.ctl, this.slot, seq, -seq)) throw new RpcError('EIO', `famfs daemon: no answer to ${op}`);
        bounded = false; // the main thread took it: its answer is on the way
      }
      Atomics.wait(this.ctl, REP(this.slot), cur, bounded ? Math.min(Math.max(left, 1), 1000) : 1000);
    }
    const reply = readJson<RpcReply>(this.datas[0]!);
    if ('errno' in reply) throw new RpcError(reply.errno, reply.message);
    return reply.ok as T;
  }

  /**
   * Send a call and go on without its answer (a RELEASE: the kernel does not wait for it
   * either). It is never cancelled. Posts take POST_SLOTS slots in turn, so one waits only for
   * the post POST_SLOTS before it; the main thread may apply this client's posts in any order
   * among themselves (releases: counts going down commute), but every one before a later call.
   */
  post(op: string, args: unknown): void {
    const k = this.nextPost;
    this.nextPost = (k + 1) % POST_SLOTS;
    this.settle(k);
    this.posted[k] = this.send(this.slot + 1 + k, op, args);
    this.postedOps[k] = op;
  }

  /**
   * Wake the main thread without a request (its server's `onWake` runs): e.g. "the pool of
   * ready new files runs low" (newpool.ts). Uses no slot, so nothing waits on an answer.
   */
  ring(): void {
    Atomics.add(this.ctl, DOORBELL, 1);
    Atomics.notify(this.ctl, DOORBELL);
  }

  /** Wait for the answer of the call posted in post slot k, if any (the slot's data is then free again). */
  private settle(k: number): void {
    const seq = this.posted[k]!;
    if (!seq) return;
    this.posted[k] = 0;
    const slot = this.slot + 1 + k;
    for (;;) {
      const cur = Atomics.load(this.ctl, REP(slot));
      if (cur === seq) break;
      Atomics.wait(this.ctl, REP(slot), cur, 1000);
    }
    const reply = readJson<RpcReply>(this.datas[1 + k]!);
    if ('errno' in reply) this.onPostError(this.postedOps[k]!, new RpcError(reply.errno, reply.message));
  }
}

/**
 * One request as the main thread sees it. `claim()` must be called (and return true)
 * before the handler changes any state; false means the worker gave up: change nothing.
 */
export interface RpcCall {
  op: string;
  args: unknown;
  claim: () => boolean;
}

export type RpcHandler = (call: RpcCall) => unknown;

/** Main-thread side: answers every slot's requests; handlers may answer with a Promise. */
export class RpcServer {
  private readonly ctl: Int32Array;
  private closed = false;
  /** Per slot: the request seq being handled asynchronously (not to be dispatched twice). */
  private readonly inflight = new Map<number, number>();

  /** `onWake`: run before the requests are looked at, each time the doorbell rang (see RpcClient.ring). */
  constructor(private readonly ch: RpcChannel, private readonly handler: RpcHandler, private readonly onError: (e: unknown) => void, private readonly onWake?: () => void) {
    this.ctl = new Int32Array(ch.shared, 0, CTL_WORDS);
    void this.serve();
  }

  private async serve(): Promise<void> {
    let seen = Atomics.load(this.ctl, DOORBELL);
    while (!this.closed) {
      this.drain();
      const w = Atomics.waitAsync(this.ctl, DOORBELL, seen, 1000);
      if (w.async) await w.value;
      seen = Atomics.load(this.ctl, DOORBELL);
    }
  }

  private errorReply(e: unknown): RpcReply {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') this.onError(e);
    return { errno: typeof code === 'string' ? code : 'EIO', message: (e as Error).message ?? String(e) };
  }

  private drain(): void {
    if (this.onWake) {
      try {
        this.onWake();
      } catch (e) {
        this.onError(e);
      }
    }
    for (let slot = 0; slot < Math.min(SLOTS, Atomics.load(this.ctl, NEXT_SLOT)); slot++) {
      const req = Atomics.load(this.ctl, REQ(slot));
      if (req === Atomics.load(this.ctl, REP(slot)) || this.inflight.get(slot) === req) continue;
      const data = slotData(this.ch.shared, slot);
      let parsed: { op: string; args: unknown; seq: number };
      try {
        parsed = readJson(data);
      } catch (e) {
        this.answer(slot, req, this.errorReply(e));
        continue;
      }
      if (parsed.seq !== req) continue; // the worker is still writing a newer request
      const call: RpcCall = { op: parsed.op, args: parsed.args, claim: () => claimFor(this.ctl, slot, req, req) || Atomics.load(this.ctl, CLAIM(slot)) === req };
      let result: unknown;
      try {
        result = this.handler(call);
      } catch (e) {
        this.answer(slot, req, this.errorReply(e));
        continue;
      }
      if (result instanceof Promise) {
        this.inflight.set(slot, req);
        result.then(
          (v) => this.answer(slot, req, { ok: v ?? null }),
          (e) => this.answer(slot, req, this.errorReply(e)),
        ).finally(() => {
          if (this.inflight.get(slot) === req) this.inflight.delete(slot);
          this.drain();
        });
      } else this.answer(slot, req, { ok: result ?? null });
    }
  }

  /** Reply to request `req` of a slot, unless the worker cancelled it (then nothing was changed). */
  private answer(slot: number, req: number, reply: RpcReply): void {
    if (!claimFor(this.ctl, slot, req, req) && Atomics.load(this.ctl, CLAIM(slot)) !== req) return;
    writeJson(slotData(this.ch.shared, slot), reply);
    Atomics.store(this.ctl, REP(slot), req);
    Atomics.notify(this.ctl, REP(slot));
  }

  close(): void {
    this.closed = true;
  }
}
