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
  private readonly data: Buffer;
  private readonly slot: number;
  private seq = 0;
  /** A request sent by post() whose answer was not read yet (0: none). */
  private posted = 0;

  /** `onPostError`: what a posted call answered with an error (nobody waits for it). */
  constructor(ch: RpcChannel, private readonly onPostError: (op: string, e: RpcError) => void = () => undefined) {
    this.ctl = new Int32Array(ch.shared, 0, CTL_WORDS);
    this.slot = Atomics.add(this.ctl, NEXT_SLOT, 1);
    if (this.slot >= SLOTS) throw new Error('too many famfs RPC clients');
    this.data = slotData(ch.shared, this.slot);
  }

  /** Put a request in this client's slot and ring the main thread (after reading a posted call's answer). */
  private send(op: string, args: unknown): number {
    this.settle();
    const seq = ++this.seq;
    writeJson(this.data, { op, args, seq });
    Atomics.store(this.ctl, REQ(this.slot), seq);
    Atomics.add(this.ctl, DOORBELL, 1);
    Atomics.notify(this.ctl, DOORBELL);
    return seq;
  }

  /**
   * One call. `timeoutMs` bounds only the wait for the main thread to *start* it: once
   * claimed, a request is answered, and its answer is awaited (the main thread never blocks).
   */
  call<T>(op: string, args: unknown, timeoutMs = 60_000): T {
    const seq = this.send(op, args);
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
    const reply = readJson<RpcReply>(this.data);
    if ('errno' in reply) throw new RpcError(reply.errno, reply.message);
    return reply.ok as T;
  }

  /**
   * Send a call and go on without its answer (a RELEASE: the kernel does not wait for it
   * either). It is never cancelled; the next call or post of this client reads its answer first.
   */
  post(op: string, args: unknown): void {
    const seq = this.send(op, args);
    this.posted = seq;
    this.postedOp = op;
  }

  private postedOp = '';

  /**
   * Wake the main thread without a request (its server's `onWake` runs): e.g. "the pool of
   * ready new files runs low" (newpool.ts). Uses no slot, so nothing waits on an answer.
   */
  ring(): void {
    Atomics.add(this.ctl, DOORBELL, 1);
    Atomics.notify(this.ctl, DOORBELL);
  }

  /** Wait for the answer of a posted call (the slot's data is then free again). */
  private settle(): void {
    const seq = this.posted;
    if (!seq) return;
    this.posted = 0;
    for (;;) {
      const cur = Atomics.load(this.ctl, REP(this.slot));
      if (cur === seq) break;
      Atomics.wait(this.ctl, REP(this.slot), cur, 1000);
    }
    const reply = readJson<RpcReply>(this.data);
    if ('errno' in reply) this.onPostError(this.postedOp, new RpcError(reply.errno, reply.message));
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
