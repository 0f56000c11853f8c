/**
 * The daemon's presence, on its main thread: join before serving, keep a replay of the log
 * whose removals feed the open-count table's `removed` marks, publish held files and how far
 * they are complete, run the heartbeat thread, and when any thread finds this host stale,
 * rejoin as a new incarnation and replay from scratch before the workers serve again.
 */
import { Worker } from 'node:worker_threads';
import os from 'node:os';
import { PRESENCE_OFFSET, PRESENCE_SIZE, logSlots } from '../format/constants.js';
import { Device } from '../device/device.js';
import { Famfs } from '../api/famfs.js';
import { checkFeatureBlock, FEATURE_BLOCK_END, FEATURE_BLOCK_OFFSET, hasFeature, INTERRUPTED_COMPACT, PRESENCE } from '../format/features.js';
import { readFeatures, readSuperblock } from '../api/openhead.js';
import { FamfsError } from '../api/errors.js';
import { trySystemUuid } from '../api/sysuuid.js';
import { PresenceArea } from './area.js';
import { PresenceControl } from './control.js';
import { PresenceHost, type Held } from './host.js';
import { beatMs, leaseMsOf, monoMs } from './lease.js';
import { LivenessTracker } from './liveness.js';
import { OpenTable } from './holds.js';
import { pendingFrees } from './pending.js';
import { mountedPresenceDevice, superblockFileOf } from './mounted-area.js';
import type { BeatInit } from './beat-thread.js';

export interface PresenceStart {
  device: string;
  role: 'master' | 'client';
  kernelMode: boolean;
  /** Daemon threads that may write file data (one write-intent register each). */
  threads: number;
  label?: string;
  log: (msg: string) => void;
  pollMs?: number;
  /**
   * Kernel mode: the device is bound to fsdev_dax, so the log and the presence area are
   * reached through this mount (`.meta/.log`, `.meta/.superblock`); the service starts after
   * mounting, with the control and table the workers were given (`control.joining` set).
   */
  kernel?: { mountpoint: string; control: PresenceControl; table: OpenTable; image?: Buffer };
}

/** Whether a famfs has the presence area. */
export function hasPresence(famfs: Famfs): boolean {
  return hasFeature(famfs.features, PRESENCE);
}

export class PresenceService {
  readonly control: PresenceControl;
  readonly table: OpenTable;
  /** Deleted files this host held at the last publish (for the log). */
  private heldSaid = new Set<number>();
  /** This host's replay of the log: opened only once joined (see incarnate). */
  private famfs!: Famfs;
  private timer?: NodeJS.Timeout;
  private beat?: Worker;
  private recovering = false;
  /** This stale episode was logged (by the heartbeat thread's reason, or by poll when a request found it). */
  private staleSaid = false;
  /** Other hosts as this host sees them (for famfs status), judged on this host's clock. */
  private readonly tracker: LivenessTracker;
  private lastLook = 0;
  private stopped = false;

  private constructor(readonly host: PresenceHost, private readonly areaDevice: Device, logLen: number, private readonly opts: PresenceStart) {
    this.control = opts.kernel?.control ?? new PresenceControl();
    this.table = opts.kernel?.table ?? OpenTable.create(logSlots(logLen));
    this.control.leaseMs = host.leaseMs;
    this.tracker = new LivenessTracker(host.leaseMs);
  }

  /** Once a beat period: record which other hosts beat. */
  private lookAround(): void {
    const now = monoMs();
    if (now - this.lastLook < beatMs(this.host.leaseMs)) return;
    this.lastLook = now;
    const slots = this.host.area.readAll();
    this.tracker.observe(slots);
    slots.forEach((s, i) => this.control.setLiveness(i, s ? this.tracker.judge(s) : 'live'));
  }

  /** Kernel mode: what the workers share with the service that starts after mounting. */
  static sharedFor(logLen: number): { control: PresenceControl; table: OpenTable } {
    const control = new PresenceControl();
    control.joining = true;
    return { control, table: OpenTable.create(logSlots(logLen)) };
  }

  private static openFamfs(opts: PresenceStart): Famfs {
    return opts.kernel ? Famfs.openMounted(opts.kernel.mountpoint, opts.device) : Famfs.open(opts.device);
  }

  private static openArea(opts: PresenceStart): Device {
    if (opts.kernel) return mountedPresenceDevice(opts.device, superblockFileOf(opts.kernel.mountpoint));
    const dev = Device.open(opts.device, { writable: true });
    try {
      dev.mapHead(PRESENCE_OFFSET + PRESENCE_SIZE);
    } catch (e) {
      dev.close();
      throw e;
    }
    return dev;
  }

  static async start(opts: PresenceStart): Promise<PresenceService> {
    let dev: Device | undefined;
    let svc: PresenceService | undefined;
    try {
      dev = PresenceService.openArea(opts);
      // The lease from the device's head: the log is replayed only once joined (incarnate).
      const sb = readSuperblock(dev);
      const lease = leaseMsOf(readFeatures(dev, sb));
      const host = new PresenceHost(new PresenceArea(dev), lease, {
        role: opts.role, kernelMode: opts.kernelMode, systemUuid: trySystemUuid() ?? '', pid: process.pid,
        label: opts.label ?? os.hostname(), intents: opts.threads,
      });
      const started = new PresenceService(host, dev, sb.logLen, opts);
      svc = started;
      await started.startBeat(); // running before the first beat is due: a slow start must not look like a pause
      await started.incarnate(false);
      started.timer = setInterval(() => started.poll(), opts.pollMs ?? 10);
      started.timer.unref();
      opts.log(`presence: slot ${host.slot}, lease ${lease} ms`);
      return started;
    } catch (e) {
      svc?.host.leave(); // joined, then refused (or the replay failed): the slot is not left behind
      await svc?.beat?.terminate();
      svc?.famfs?.close();
      dev?.close();
      throw e;
    }
  }

  get leaseMs(): number {
    return this.host.leaseMs;
  }

  /**
   * Resolves once this host may serve file data: joined, its incarnation live and its own
   * last beat recent (`famfs mount` reports ready only then, so the first read after it never
   * answers ESTALE). A daemon starved or paused while starting has gone stale by now: this
   * waits for its rejoin. Rejects after `timeoutMs`.
   */
  async serving(timeoutMs = Math.max(30_000, 3 * this.host.leaseMs)): Promise<void> {
    for (const end = monoMs() + timeoutMs; ; ) {
      const c = this.control;
      if (!this.recovering && !c.stale && !c.joining && c.lastBeat > 0 && monoMs() - c.lastBeat <= c.leaseMs / 4) return;
      if (monoMs() > end) throw new Error(`presence: not serving ${timeoutMs} ms after joining (${c.stale ? 'stale: its lease lapsed, the rejoin has not finished' : 'no recent heartbeat'})`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private async startBeat(): Promise<void> {
    const init: BeatInit = { device: this.opts.device, control: this.control.sab, superblockFile: this.opts.kernel && superblockFileOf(this.opts.kernel.mountpoint) };
    // '../presence/': the same file from here and from the CLI bundle (scripts/bundle-cli.mjs).
    const beat = new Worker(new URL('../presence/beat-thread.js', import.meta.url), { workerData: init });
    this.beat = beat;
    await new Promise<void>((resolve, reject) => {
      beat.once('error', reject);
      beat.on('message', (m: { stale?: string; ready?: boolean }) => {
        if (m.ready) resolve();
        if (m.stale && !this.staleSaid) {
          this.staleSaid = true;
          this.opts.log(`presence: ${m.stale}; serving ESTALE until this host rejoins`);
        }
      });
    });
    beat.on('error', (e) => this.opts.log(`presence: heartbeat thread failed: ${e.message}`));
    beat.unref();
  }

  /** The beat thread unmaps its view of the area first (in kernel mode it keeps the mount busy). */
  private async stopBeat(): Promise<void> {
    const beat = this.beat;
    if (!beat) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      beat.on('message', (m: { stopped?: boolean }) => {
        if (m.stopped) {
          clearTimeout(t);
          resolve();
        }
      });
      beat.postMessage({ stop: true });
    });
    await beat.terminate();
  }

  /** Join (or rejoin), replay from scratch, publish, then let the workers serve again. */
  private async incarnate(rejoin: boolean): Promise<void> {
    if (rejoin) {
      await this.host.rejoin();
      this.famfs.close();
      this.famfs = PresenceService.openFamfs(this.opts); // a replay from scratch
    } else {
      await this.host.join();
      this.refuseWhileCompacting();
      this.famfs = PresenceService.openFamfs(this.opts); // replayed after the join: a compact that ran before it has finished
    }
    this.control.setIncarnation(this.host.slot, this.host.token);
    this.publish();
    this.control.serveAgain();
  }

  /**
   * Dekker with `famfs compact` (src/api/compact.ts: it sets its `compacting` bit, then looks at
   * the slots): this host's slot is visible now, so a compact that has not set the bit yet will
   * see it and refuse; one that has set it is seen here, and this host leaves and refuses.
   */
  private refuseWhileCompacting(): void {
    const dev = this.areaDevice;
    dev.invalidate(FEATURE_BLOCK_OFFSET, FEATURE_BLOCK_END - FEATURE_BLOCK_OFFSET);
    const c = checkFeatureBlock(dev.view(FEATURE_BLOCK_OFFSET, FEATURE_BLOCK_END - FEATURE_BLOCK_OFFSET));
    if (c.ok) return;
    this.host.leave();
    const why = c.reason === INTERRUPTED_COMPACT ? 'a famfs compact is rewriting the log (or was interrupted while it did); mount again once it has finished' : c.reason;
    throw new FamfsError(`${this.opts.device}: ${why}`, 'EBUSY');
  }

  private poll(): void {
    if (this.stopped || this.recovering) return;
    if (this.control.stale) {
      // A request thread may have found it (its own fresh() check), before the heartbeat thread did.
      if (!this.staleSaid) this.opts.log(`presence: a request found this host's last beat ${monoMs() - this.control.lastBeat} ms old (more than half the ${this.host.leaseMs} ms lease): this host was paused or starved; serving ESTALE until this host rejoins`);
      this.staleSaid = true;
      this.recovering = true;
      this.incarnate(true)
        .then(() => {
          this.staleSaid = false;
          this.opts.log(`presence: rejoined as slot ${this.host.slot} (new incarnation, replayed from scratch)`);
        })
        .catch((e: Error) => this.opts.log(`presence: rejoin failed (${e.message}); still serving ESTALE, retrying`))
        .finally(() => { this.recovering = false; });
      return;
    }
    try {
      this.famfs.refreshIfMoved();
      this.publish();
      this.mirrorArea();
      this.lookAround();
    } catch (e) {
      this.opts.log(`presence: ${(e as Error).message}`);
    }
  }

  /**
   * Mark removals, then read the counts (Dekker), then publish held + replayed. A count of 0
   * releases the file for good (OpenTable.stillHeld).
   */
  private publish(): void {
    const pending = pendingFrees(this.famfs);
    for (const p of pending) this.table.markRemoved(p.fileId);
    const held: Held[] = [];
    for (const p of pending) if (this.table.stillHeld(p.fileId)) held.push({ fileId: p.fileId, deleteIndex: p.deleteIndex });
    // Never past a bad tail: it may turn out to be a DELETE whose holds are not published yet.
    this.host.publish(this.famfs.settledEntries, held);
    // Say when this host starts and stops holding a deleted file (in kernel mode: until the last munmap).
    const now = new Set(held.map((h) => h.fileId));
    for (const p of pending) {
      if (now.has(p.fileId) && !this.heldSaid.has(p.fileId)) this.opts.log(`presence: holding deleted file ${p.path} (id ${p.fileId}): open or mapped here`);
    }
    for (const id of this.heldSaid) if (!now.has(id)) this.opts.log(`presence: released deleted file id ${id}: nothing here holds it any more`);
    this.heldSaid = now;
  }

  /** Clean unmount: stop beating and free the slot. */
  private mirroredAt = 0;

  /**
   * Kernel mode: the workers' copy of the superblock and log also holds the presence area,
   * which their statfs (pending frees count as used until every host let go) and status ask.
   * Refreshed every 100 ms while there are pending frees, else every second; a slot copied
   * mid-update reads as unreadable, which holds everything (conservative).
   */
  private mirrorArea(): void {
    const image = this.opts.kernel?.image;
    const now = Date.now();
    if (!image || now - this.mirroredAt < (pendingFrees(this.famfs).length ? 100 : 1000)) return;
    this.mirroredAt = now;
    this.areaDevice.view(PRESENCE_OFFSET, PRESENCE_SIZE).copy(image, PRESENCE_OFFSET);
  }

  /** Handles and kernel mappings this host counts on logged files. */
  openCount(): number {
    return this.table.total();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    // Leave first: a host shutting down right after its unmount must not leave a live slot behind.
    // (The heartbeat thread may still see the slot free before it stops: not an episode to log.)
    this.staleSaid = true;
    this.host.leave();
    await this.stopBeat();
    this.famfs.close();
    this.areaDevice.close();
  }
}
