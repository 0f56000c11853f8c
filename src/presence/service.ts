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
import { hasFeature, PRESENCE } from '../format/features.js';
import { trySystemUuid } from '../api/sysuuid.js';
import { PresenceArea } from './area.js';
import { PresenceControl } from './control.js';
import { PresenceHost, type Held } from './host.js';
import { beatMs, leaseMsOf, monoMs } from './lease.js';
import { LivenessTracker } from './liveness.js';
import { OpenTable } from './holds.js';
import { pendingFrees } from './pending.js';

export interface PresenceStart {
  device: string;
  role: 'master' | 'client';
  kernelMode: boolean;
  /** Daemon threads that may write file data (one write-intent register each). */
  threads: number;
  label?: string;
  log: (msg: string) => void;
  pollMs?: number;
}

/** Whether a famfs has the presence area. */
export function hasPresence(famfs: Famfs): boolean {
  return hasFeature(famfs.features, PRESENCE);
}

export class PresenceService {
  readonly control = new PresenceControl();
  readonly table: OpenTable;
  private famfs: Famfs;
  private timer?: NodeJS.Timeout;
  private beat?: Worker;
  private recovering = false;
  /** Other hosts as this host sees them (for famfs status), judged on this host's clock. */
  private readonly tracker: LivenessTracker;
  private lastLook = 0;
  private stopped = false;

  private constructor(readonly host: PresenceHost, private readonly areaDevice: Device, famfs: Famfs, private readonly opts: PresenceStart) {
    this.famfs = famfs;
    this.table = OpenTable.create(logSlots(famfs.sb.logLen));
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

  static async start(opts: PresenceStart): Promise<PresenceService> {
    const famfs = Famfs.open(opts.device);
    const dev = Device.open(opts.device, { writable: true });
    let svc: PresenceService | undefined;
    try {
      dev.mapHead(PRESENCE_OFFSET + PRESENCE_SIZE);
      const lease = leaseMsOf(famfs.features);
      const host = new PresenceHost(new PresenceArea(dev), lease, {
        role: opts.role, kernelMode: opts.kernelMode, systemUuid: trySystemUuid() ?? '', pid: process.pid,
        label: opts.label ?? os.hostname(), intents: opts.threads,
      });
      const started = new PresenceService(host, dev, famfs, opts);
      svc = started;
      await started.startBeat(); // running before the first beat is due: a slow start must not look like a pause
      await started.incarnate(false);
      started.timer = setInterval(() => started.poll(), opts.pollMs ?? 10);
      started.timer.unref();
      opts.log(`presence: slot ${host.slot}, lease ${lease} ms`);
      return started;
    } catch (e) {
      await svc?.beat?.terminate();
      famfs.close();
      dev.close();
      throw e;
    }
  }

  get leaseMs(): number {
    return this.host.leaseMs;
  }

  private async startBeat(): Promise<void> {
    const beat = new Worker(new URL('./beat-thread.js', import.meta.url), { workerData: { device: this.opts.device, control: this.control.sab } });
    this.beat = beat;
    await new Promise<void>((resolve, reject) => {
      beat.once('error', reject);
      beat.on('message', (m: { stale?: string; ready?: boolean }) => {
        if (m.ready) resolve();
        if (m.stale) this.opts.log(`presence: ${m.stale}; serving ESTALE until this host rejoins`);
      });
    });
    beat.on('error', (e) => this.opts.log(`presence: heartbeat thread failed: ${e.message}`));
    beat.unref();
  }

  /** Join (or rejoin), replay from scratch, publish, then let the workers serve again. */
  private async incarnate(rejoin: boolean): Promise<void> {
    if (rejoin) {
      await this.host.rejoin();
      this.famfs.close();
      this.famfs = Famfs.open(this.opts.device); // a replay from scratch
    } else await this.host.join();
    this.control.setIncarnation(this.host.slot, this.host.token);
    this.publish();
    this.control.serveAgain();
  }

  private poll(): void {
    if (this.stopped || this.recovering) return;
    if (this.control.stale) {
      this.recovering = true;
      this.incarnate(true)
        .then(() => this.opts.log(`presence: rejoined as slot ${this.host.slot} (new incarnation, replayed from scratch)`))
        .catch((e: Error) => this.opts.log(`presence: rejoin failed (${e.message}); still serving ESTALE, retrying`))
        .finally(() => { this.recovering = false; });
      return;
    }
    try {
      if (this.famfs.log.nextIndex() !== this.famfs.stats.entries) this.famfs.refresh();
      this.publish();
      this.lookAround();
    } catch (e) {
      this.opts.log(`presence: ${(e as Error).message}`);
    }
  }

  /** Mark removals, then read the counts (Dekker), then publish held + replayed. */
  private publish(): void {
    const pending = pendingFrees(this.famfs);
    for (const p of pending) this.table.markRemoved(p.fileId);
    const held: Held[] = [];
    for (const p of pending) if (this.table.count(p.fileId) > 0) held.push({ fileId: p.fileId, deleteIndex: p.deleteIndex });
    // Never past a bad tail: it may turn out to be a DELETE whose holds are not published yet.
    this.host.publish(this.famfs.settledEntries, held);
  }

  /** Clean unmount: stop beating and free the slot. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.beat?.terminate();
    this.host.leave();
    this.famfs.close();
    this.areaDevice.close();
  }
}
