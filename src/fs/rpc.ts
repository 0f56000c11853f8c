/**
 * Synchronous calls from FUSE worker threads to the main thread, which owns
 * every metadata change (one writer, one lock, one allocator), over shared
 * memory only: a worker writes its request into its own slot, bumps the
 * slot's request number and a doorbell word, and blocks in Atomics.wait until
 * the main thread (woken by Atomics.waitAsync on the doorbell) writes the reply
 * and its number. Workers wait only for the main thread, and the main thread
 * never waits for a worker, so this cannot deadlock.
 */
const SLOTS = 64;
const SLOT_BYTES = 1 << 20;
// Int32 control words: doorbell, next free slot, then per slot [request seq, reply seq].
const DOORBELL = 0;
const NEXT_SLOT = 1;
const REQ = (slot: number): number => 2 + 2 * slot;
const REP = (slot: number): number => 3 + 2 * slot;
const CTL_WORDS = 2 + 2 * SLOTS;
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

export class RpcClient {
  private readonly ctl: Int32Array;
  private readonly data: Buffer;
  private readonly slot: number;
  private seq = 0;

  constructor(ch: RpcChannel) {
    this.ctl = new Int32Array(ch.shared, 0, CTL_WORDS);
    this.slot = Atomics.add(this.ctl, NEXT_SLOT, 1);
    if (this.slot >= SLOTS) throw new Error('too many famfs RPC clients');
    this.data = slotData(ch.shared, this.slot);
  }

  call<T>(op: string, args: unknown, timeoutMs = 60_000): T {
    const seq = ++this.seq;
    writeJson(this.data, { op, args });
    Atomics.store(this.ctl, REQ(this.slot), seq);
    Atomics.add(this.ctl, DOORBELL, 1);
    Atomics.notify(this.ctl, DOORBELL);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const cur = Atomics.load(this.ctl, REP(this.slot));
      if (cur === seq) break;
      const left = deadline - Date.now();
      if (left <= 0) throw new RpcError('EIO', `famfs daemon: no answer to ${op}`);
      Atomics.wait(this.ctl, REP(this.slot), cur, Math.min(left, 1000));
    }
    const reply = readJson<RpcReply>(this.data);
    if ('errno' in reply) throw new RpcError(reply.errno, reply.message);
    return reply.ok as T;
  }
}

export type RpcHandler = (op: string, args: unknown) => unknown;

/** Main-thread side: answers every slot's requests, one at a time. */
export class RpcServer {
  private readonly ctl: Int32Array;
  private closed = false;

  constructor(private readonly ch: RpcChannel, private readonly handler: RpcHandler, private readonly onError: (e: unknown) => void) {
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

  private drain(): void {
    for (let slot = 0; slot < Math.min(SLOTS, Atomics.load(this.ctl, NEXT_SLOT)); slot++) {
      const req = Atomics.load(this.ctl, REQ(slot));
      if (req === Atomics.load(this.ctl, REP(slot))) continue;
      const data = slotData(this.ch.shared, slot);
      let reply: RpcReply;
      try {
        const { op, args } = readJson<{ op: string; args: unknown }>(data);
        reply = { ok: this.handler(op, args) ?? null };
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        if (typeof code !== 'string') this.onError(e);
        reply = { errno: typeof code === 'string' ? code : 'EIO', message: (e as Error).message ?? String(e) };
      }
      writeJson(data, reply);
      Atomics.store(this.ctl, REP(slot), req);
      Atomics.notify(this.ctl, REP(slot));
    }
  }

  close(): void {
    this.closed = true;
  }
}
