/**
 * This host's slot: join (claim a free slot, settle, re-check the token), publish what the
 * main thread replayed and holds, leave at a clean unmount. The owner's main thread is the
 * only writer of the seqlock-protected record.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_HELD, MAX_INTENTS, P, SlotFlag, type PresenceRecord, type PresenceSlot, writeHeld, writeRecord } from '../format/presence.js';
import { FamfsError } from '../api/errors.js';
import type { PresenceArea } from './area.js';
import { beatMs } from './lease.js';

export interface HostIdentity {
  role: 'master' | 'client';
  kernelMode: boolean;
  label: string;
  systemUuid: string;
  pid: number;
  /** Write-intent registers in use (one per daemon thread). */
  intents: number;
}

/** A file this host holds: its id and the slot of the entry that deleted it. */
export interface Held {
  fileId: number;
  deleteIndex: number;
}

/** Whether a process with this pid exists here (EPERM: it does, owned by another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function newToken(): bigint {
  let t = 0n;
  while (t === 0n) t = randomBytes(8).readBigUInt64LE(0);
  return t;
}

/**
 * Slots this host may claim: free or left ones, and this machine's own slots whose daemon is
 * dead (a crash or SIGKILL), unless that daemon was in kernel mode: its kernel may still map
 * files through the dead mount, so its slot keeps what it held and everything deleted after
 * what it had replayed (held list or not) until `famfs hosts --evict`.
 */
export function claimable(s: PresenceSlot | undefined, me: HostIdentity): boolean {
  if (!s) return false;
  if (s.state !== 'live') return true;
  if (!me.systemUuid || s.systemUuid !== me.systemUuid || s.pid === me.pid || pidAlive(s.pid)) return false;
  return !s.kernelMode;
}

export class PresenceHost {
  slot = -1;
  token = 0n;
  private replayed = 0;
  private held: Held[] = [];

  constructor(readonly area: PresenceArea, readonly leaseMs: number, readonly me: HostIdentity) {
    if (me.intents > MAX_INTENTS) throw new RangeError(`at most ${MAX_INTENTS} write-intent registers`);
  }

  private record(): PresenceRecord {
    const list = this.held.length > MAX_HELD ? [...this.held].sort((a, b) => a.deleteIndex - b.deleteIndex) : this.held;
    const keep = list.length > MAX_HELD ? list.slice(0, MAX_HELD - 1) : list;
    return {
      state: 'live', token: this.token, kernelMode: this.me.kernelMode, role: this.me.role,
      replayed: this.replayed, pid: this.me.pid, systemUuid: this.me.systemUuid, label: this.me.label,
      held: keep.map((h) => h.fileId),
      overflowFloor: list.length > MAX_HELD ? list[MAX_HELD - 1]!.deleteIndex : undefined,
    };
  }

  /**
   * Claim a slot as a new incarnation. `replayed` starts at 0: nothing deleted is released on
   * this host's account until it has replayed and published its holds.
   */
  async join(opts: { prefer?: number } = {}): Promise<number> {
    const settle = Math.max(100, 2 * beatMs(this.leaseMs));
    this.replayed = 0;
    this.held = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      const token = newToken();
      const slot = this.pick(opts.prefer);
      if (slot === undefined) throw new FamfsError(`no free presence slot (all ${this.area.slots} in use); see famfs hosts, and famfs hosts --evict SLOT for hosts that are gone`, 'EBUSY');
      this.slot = slot;
      this.token = token;
      this.write();
      this.area.storeWord(slot, P.INTENT_COUNT, this.me.intents);
      for (let k = 0; k < this.me.intents; k++) this.area.storeWord(slot, P.INTENTS + 4 * k, 0);
      await sleep(settle);
      if (this.owns()) return slot;
      this.slot = -1; // someone else claimed it at the same moment: try another
    }
    throw new FamfsError('could not claim a presence slot (other hosts kept taking the same ones)', 'EBUSY');
  }

  /**
   * Our previous slot first (a rejoin), then this machine's slots left by a dead daemon, then
   * a random free one (spreads simultaneous joiners).
   */
  private pick(prefer?: number): number | undefined {
    if (prefer !== undefined && prefer >= 0 && this.ownedBefore(prefer)) return prefer;
    const free: number[] = [];
    for (let i = 0; i < this.area.slots; i++) {
      const s = this.area.read(i);
      if (!claimable(s, this.me)) continue;
      if (s!.state === 'live') return i; // our machine's dead daemon
      free.push(i);
    }
    return free.length ? free[Math.floor(Math.random() * free.length)] : undefined;
  }

  /** Slot i still shows the token of our previous incarnation (a rejoin after going stale). */
  private prevToken = 0n;
  private ownedBefore(i: number): boolean {
    const s = this.area.read(i);
    return !!s && (s.state !== 'live' || s.token === this.prevToken);
  }

  /** Start a new incarnation, preferring the same slot. */
  async rejoin(): Promise<number> {
    this.prevToken = this.token;
    const prev = this.slot;
    this.slot = -1;
    return this.join({ prefer: prev });
  }

  /** Our token is still in our slot and the slot is live (nobody evicted or took it). */
  owns(): boolean {
    if (this.slot < 0) return false;
    const s = this.area.read(this.slot);
    return !!s && s.state === 'live' && s.token === this.token;
  }

  private write(): void {
    this.area.update(this.slot, (buf) => writeRecord(buf, this.record()));
  }

  /** Publish the holds first, then how far they are complete (in one seqlock update). */
  publish(replayed: number, held: readonly Held[]): void {
    if (this.slot < 0) return;
    const sameHeld = held.length === this.held.length && held.every((h, i) => h.fileId === this.held[i]!.fileId);
    if (sameHeld && replayed === this.replayed) return;
    this.held = [...held];
    this.replayed = replayed;
    if (this.held.length > MAX_HELD) this.write();
    else this.area.update(this.slot, (buf) => {
      writeHeld(buf, this.held.map((h) => h.fileId));
      buf.writeUInt32LE(this.me.kernelMode ? SlotFlag.KERNEL : 0, P.FLAGS);
      buf.writeUInt32LE(this.replayed, P.REPLAYED);
    });
  }

  /** Clean unmount: the slot is all zeros again (free). */
  leave(): void {
    if (this.slot < 0 || !this.owns()) return;
    this.area.clear(this.slot);
    this.slot = -1;
  }
}
