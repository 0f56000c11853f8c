/**
 * Whether a mount may still answer, and from how recent a log: ESTALE once the device was
 * re-formatted or shrank (a truncated device file would SIGBUS a read of the mapping), the
 * presence lease checked, new log entries replayed before a request is answered.
 */
import type { Famfs } from '../api/famfs.js';
import { DeviceError } from '../device/device.js';
import { FuseError } from '../fuse/handler.js';
import { Errno } from '../fuse/protocol.js';
import { StateFlag } from './config.js';
import type { PresenceGate } from './presence-gate.js';

export class Freshness {
  constructor(
    private readonly famfs: Famfs,
    private readonly state: Int32Array,
    private readonly gate: PresenceGate | undefined,
    private readonly log: (msg: string) => void,
  ) {}

  /** Set by any thread of this daemon (shared state): the device changed under the mount. */
  get stale(): boolean {
    return Atomics.load(this.state, StateFlag.STALE) !== 0;
  }

  /**
   * Refuse everything once the device changed under us; pick up new log entries. `meta`: a
   * request about `.meta` itself, which the lease does not gate (a kernel-mode daemon reaches
   * its presence slot and the log through them, also to rejoin after going stale).
   */
  sync(meta = false): void {
    if (this.stale) throw new FuseError(Errno.ESTALE, 'device was re-formatted');
    if (!meta) this.gate?.check(() => this.famfs.replayFromScratch());
    // A truncated device file would SIGBUS the header read below: one fstat first.
    const live = this.famfs.device.liveSize();
    if (live < this.famfs.device.size) {
      this.goStale(`${this.famfs.device.path}: the device shrank from ${this.famfs.device.size} to ${live} bytes`);
      throw new FuseError(Errno.ESTALE, 'the device shrank');
    }
    this.famfs.refreshIfMoved();
  }

  /** Pieces past a truncated device's end: EIO for this request, ESTALE for the mount from now on. */
  shrinkGuard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof DeviceError && e.code === 'EIO') this.goStale(e.message);
      throw e;
    }
  }

  /** The device changed under the mount (e.g. a spliced READ ended early): ESTALE from now on. */
  goStale(why: string): void {
    if (Atomics.compareExchange(this.state, StateFlag.STALE, 0, 1) === 0) this.log(`${why}; refusing to serve (EIO, then ESTALE). Unmount and mount again.`);
  }
}
