/**
 * The master daemon's hold on the host's famfs log lock (flock on the
 * device). The daemon's main thread serves every worker, so it never blocks
 * in flock: it tries without waiting and, while another famfs writer holds
 * the lock, tries again every few milliseconds until a deadline, after which
 * the create that needed it fails with EAGAIN. While it holds the lock it can
 * tell whether a CLI writer is waiting for it (/proc/locks), and after handing
 * the lock over it lets the waiter take it before trying again.
 */
import fs from 'node:fs';
import type { Device } from '../device/device.js';
import { FamfsError } from '../api/errors.js';
import { lockTarget, lockWaiters, type LockTarget } from './lockwaiters.js';

const RETRY_MS = 10;
/** After releasing the lock to a waiter, leave it this long to wake up and take it. */
const HANDOVER_MS = 100;

export class LogLock {
  held = false;
  private readonly target: LockTarget;
  private waiting?: Promise<void>;
  private notBefore = 0;

  constructor(private readonly device: Device, private readonly waitMs: number, private readonly log: (m: string) => void) {
    this.target = lockTarget(device.fd);
  }

  /** Take the lock now if it is free. */
  tryTake(): boolean {
    if (this.held) return true;
    if (Date.now() < this.notBefore) return false;
    try {
      this.device.lock({ wait: false });
    } catch (e) {
      if ((e as { code?: string }).code === 'EBUSY') return false;
      throw e;
    }
    this.held = true;
    return true;
  }

  /** Resolves once the lock is held; rejects with EAGAIN after the deadline. */
  take(): Promise<void> {
    if (this.tryTake()) return Promise.resolve();
    this.waiting ??= new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + this.waitMs;
      this.log('waiting for the log lock held by another famfs writer');
      const again = (): void => {
        if (this.tryTake()) {
          this.waiting = undefined;
          resolve();
        } else if (Date.now() >= deadline) {
          this.waiting = undefined;
          reject(new FamfsError(`another famfs writer held the log lock for more than ${Math.round(this.waitMs / 1000)} s`, 'EAGAIN'));
        } else setTimeout(again, RETRY_MS);
      };
      setTimeout(again, RETRY_MS);
    });
    return this.waiting;
  }

  release(handover = false): void {
    if (!this.held) return;
    this.device.unlock();
    this.held = false;
    if (handover) this.notBefore = Date.now() + HANDOVER_MS;
  }

  /** Pids of famfs writers on this host blocked waiting for the lock. */
  waiters(): number[] {
    return this.held ? lockWaiters(this.target) : [];
  }

  /** waiters(), with /proc/locks read on libuv's thread pool (it can take milliseconds). */
  async waitersAsync(): Promise<number[]> {
    if (!this.held) return [];
    let text: string;
    try {
      text = await fs.promises.readFile('/proc/locks', 'utf8');
    } catch {
      return [];
    }
    return lockWaiters(this.target, text);
  }
}
