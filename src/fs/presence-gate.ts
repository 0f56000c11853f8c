/**
 * A daemon worker's side of the presence rules (file systems with the presence area):
 * - nothing is served while this host is stale (its own last beat older than half a lease);
 * - a new incarnation replays from scratch before serving, and handles opened before it get
 *   ESTALE (fh carries the incarnation it was opened in);
 * - every open of a logged file is counted in the shared table (it holds the file if it is
 *   deleted), and fails if the file is already removed;
 * - reads copy the bytes, then re-check freshness (a pause during the copy → ESTALE, never a
 *   mix of old and new bytes);
 * - writes publish this thread's write-intent register around the copy.
 */
import { P } from '../format/presence.js';
import { PresenceArea } from '../presence/area.js';
import { PresenceControl } from '../presence/control.js';
import { OpenTable } from '../presence/holds.js';
import type { Device } from '../device/device.js';
import { FuseError } from '../fuse/handler.js';
import { Errno } from '../fuse/protocol.js';

/** What `famfs status` shows about presence. */
export interface PresenceSummary {
  slot: number;
  leaseMs: number;
  stale: boolean;
  /** Other hosts with a live slot, as this host judges them (absent ones left out). */
  others: { slot: number; label: string; role: string; pid: number; liveness: string }[];
}

export interface PresenceShared {
  control: SharedArrayBuffer;
  table: SharedArrayBuffer;
}

/**
 * A counted handle: odd, with the low 20 bits of its incarnation and the fileId it counts
 * (so RELEASE needs no lookup, and reaches the right count on any thread).
 */
const EPOCH_MOD = 2 ** 20;
const ID_UNIT = 2 ** 21;
export function countedFh(fileId: number, epoch: number): number {
  return 1 + 2 * (epoch % EPOCH_MOD) + ID_UNIT * fileId;
}
export function fhFileId(fh: number): number {
  return Math.floor(fh / ID_UNIT);
}
function fhEpoch(fh: number): number {
  return Math.floor((fh % ID_UNIT) / 2);
}

const STALE_MSG = 'this host lost its presence lease (paused or cut off): it serves ESTALE until it has rejoined and replayed';

export class PresenceGate {
  private readonly control: PresenceControl;
  private readonly table: OpenTable;
  private readonly area: PresenceArea;
  private readonly register: number;
  private epoch: number;

  constructor(shared: PresenceShared, device: Device) {
    this.control = new PresenceControl(shared.control);
    this.table = new OpenTable(shared.table);
    this.area = new PresenceArea(device);
    this.register = this.control.takeRegister();
    this.epoch = this.control.epoch;
  }

  /** ESTALE unless this host may serve; on a new incarnation, `replay` (from scratch) first. */
  check(replay: () => void): void {
    if (this.control.joining) return; // kernel mode before its join: metadata only (see open)
    if (!this.control.fresh()) throw new FuseError(Errno.ESTALE, STALE_MSG);
    const e = this.control.epoch;
    if (e !== this.epoch) {
      replay();
      this.epoch = e;
    }
  }

  /**
   * Count an open of logged file `fileId`; the fh to hand out (odd: counted, and its
   * incarnation). `removedHere`: this thread's replay already removed it (the main thread
   * may not have marked it yet; marking twice is harmless).
   */
  open(fileId: number, removedHere = false): number {
    if (this.control.joining) throw new FuseError(Errno.ESTALE, 'this host is still joining the presence area');
    if (removedHere) this.table.markRemoved(fileId);
    if (!this.table.open(fileId)) throw new FuseError(Errno.ENOENT, `file ${fileId} was deleted`);
    return countedFh(fileId, this.epoch);
  }

  /**
   * GET_FMAP of logged file `fileId`: a removed file's map goes only to an open this host
   * counted (the OPEN before it, or a mapping still held); never to a new open after the
   * delete, which OPEN already refused.
   */
  mayMap(fileId: number, removedHere: boolean): boolean {
    if (this.control.joining) return false;
    if (!removedHere && !this.table.isRemoved(fileId)) return true;
    return this.table.count(fileId) > 0;
  }

  /** A handle from an earlier incarnation (or one not counted while it should have been) gets ESTALE. */
  checkHandle(fh: number): void {
    if (fh % 2 === 1 && fhEpoch(fh) !== this.epoch % EPOCH_MOD) throw new FuseError(Errno.ESTALE, 'handle opened before this host rejoined');
  }

  /** RELEASE of a handle: a counted one gives its count back. */
  release(fh: number): void {
    if (fh % 2 === 1) this.table.close(fhFileId(fh));
  }

  /** Bytes copied since the last check() were copied while this host was fresh throughout. */
  checkFresh(): void {
    if (!this.control.fresh()) throw new FuseError(Errno.ESTALE, STALE_MSG);
  }

  /** Copies of `slices` made while this host was fresh throughout. */
  copyOut(slices: Buffer[]): Buffer[] {
    const out = slices.map((s) => Buffer.from(s));
    if (!this.control.fresh()) throw new FuseError(Errno.ESTALE, STALE_MSG);
    return out;
  }

  summary(): PresenceSummary {
    const me = this.control.slot;
    const others: PresenceSummary['others'] = [];
    this.area.readAll().forEach((s, i) => {
      if (i === me || (s && s.state !== 'live')) return;
      others.push({ slot: i, label: s?.label ?? '?', role: s?.role ?? '?', pid: s?.pid ?? 0, liveness: this.control.liveness(i) === 'gone' ? 'gone' : 'live' });
    });
    return { slot: me, leaseMs: this.control.leaseMs, stale: this.control.stale, others };
  }

  /** Run a write into file `fileId` with this thread's write-intent register set. */
  withIntent<T>(fileId: number, fn: () => T): T {
    const slot = this.control.slot;
    const reg = P.INTENTS + 4 * this.register;
    this.area.storeWord(slot, reg, fileId + 1);
    try {
      // After the store: a host paused before it must not copy (others may have called it gone).
      if (!this.control.fresh()) throw new FuseError(Errno.ESTALE, STALE_MSG);
      return fn();
    } finally {
      this.area.storeWord(slot, reg, 0);
    }
  }
}
