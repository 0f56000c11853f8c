/**
 * Multi-threaded FUSE server.
 *
 * The main thread opens /dev/fuse (the master fd), mounts it, and starts N
 * worker_threads. Each worker clones the master fd (FUSE_DEV_IOC_CLONE), loads
 * the handler module (`export function createHandler(data)`), and runs a
 * blocking FuseSession loop on its own fd; the kernel spreads requests over
 * the fds and each reply goes back on the fd its request came from.
 *
 * - Nobody reads the master fd: the main thread keeps its event loop free and
 *   uses the master fd only to write notifications (INVAL_ENTRY, …).
 * - INIT goes to whichever worker reads first; see session.ts for how the other
 *   workers learn the negotiated parameters. start() resolves after INIT.
 * - workers < 1 is treated as 1: the loop never runs on the main thread (it
 *   would block the event loop until unmount). For an in-process loop use
 *   FuseSession directly on any thread.
 * - Unmount (ours or anyone's) makes every worker's read fail with ENODEV; the
 *   workers exit, `closed` resolves and the master fd is closed. If all workers
 *   die while still mounted, the master fd is closed (which aborts the
 *   connection, so nothing hangs) and the mount is lazily detached.
 * - Notifications are written synchronously from the main thread. The kernel
 *   may block such a write while a worker serves a request holding the same
 *   inode lock; that is a short wait, not a deadlock, because workers never
 *   wait for the main thread.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { encodeNotifyDelete, encodeNotifyIncEpoch, encodeNotifyInvalEntry, encodeNotifyInvalInode } from './encode.js';
import { DEFAULT_MAX_WRITE } from './negotiate.js';
import { FUSE_EXPIRE_ONLY } from './protocol.js';
import { abortFuseConnection, findFuseMounts, mountFuse, openFuseDevice, unmountFuse, type MountOptions } from './mount.js';
import { createSharedInit, type SessionEnd } from './session.js';
import type { FuseConnection } from './types.js';
import type { WorkerInit, WorkerMessage } from './worker.js';
import { closeFd } from '../sys/uring.js';
import { createUringShared, uringStatus, uringSupport, UringState, type TransportChoice, type UringShared } from './uring.js';

export interface FuseServerOptions {
  mountpoint: string;
  /** Module exporting createHandler(data): a path or a file: URL. */
  handlerModule: string | URL;
  /** Structured-clonable data passed to createHandler in every worker. */
  handlerData?: unknown;
  /** Number of worker threads (each with its own cloned fd). Default 2, minimum 1. */
  workers?: number;
  /** Mount source (fsname) and subtype (type fuse.<subtype>). */
  source?: string;
  subtype?: string;
  mountOptions?: MountOptions;
  /** Trace every request to stderr. */
  debug?: boolean;
  /** Upper bound for max_write (read buffers are this + 64 KiB per worker). Default 1 MiB. */
  maxWrite?: number;
  /** How long start() waits for INIT after mounting. Default 10 s. */
  initTimeoutMs?: number;
  /** Error / lifecycle log. Default: console.error. */
  log?: (msg: string) => void;
  /** How requests travel: 'dev' (/dev/fuse, default), 'uring' (FUSE over io_uring, or fail), 'auto'. */
  transport?: TransportChoice;
  /** io_uring entries per CPU queue per worker (default 2). */
  uringDepth?: number;
  /** Per-opcode statistics buffer (createOpStats(workers)) the workers record into. */
  opStats?: SharedArrayBuffer;
}

export interface WorkerExit {
  index: number;
  /** Why the session ended, or 'error' if the worker failed (see error). */
  reason: SessionEnd | 'error' | 'exited';
  error?: string;
  exitCode: number;
  stats?: { requests: number; errors: number; replyFailures: number };
}

export class FuseServer {
  /** Resolves when every worker has exited (after unmount), with each worker's outcome. */
  readonly closed: Promise<WorkerExit[]>;
  /** Negotiated connection, once INIT is done. */
  conn: FuseConnection | null = null;
  /** The master /dev/fuse fd (-1 before start / after close). */
  masterFd = -1;
  /** Absolute mount point (canonicalised by start(), as mountinfo shows it). */
  mountpoint: string;

  private readonly opts: FuseServerOptions;
  private readonly log: (msg: string) => void;
  private workers: Worker[] = [];
  private exits: WorkerExit[] = [];
  private resolveClosed!: (v: WorkerExit[]) => void;
  private mounted = false;
  /** Connection id (fusectl) = minor of the mount's st_dev; -1 if unknown. */
  connId = -1;
  private started = false;
  /** The transport in use once start() resolved. */
  transport: 'dev' | 'uring' = 'dev';
  private uring: UringShared | null = null;

  constructor(opts: FuseServerOptions) {
    this.opts = opts;
    this.mountpoint = path.resolve(opts.mountpoint);
    this.log = opts.log ?? ((m) => console.error(`fuse server: ${m}`));
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  /** Open /dev/fuse, mount, start the workers; resolves with the connection after INIT. */
  async start(): Promise<FuseConnection> {
    if (this.started) throw new Error('FuseServer.start() called twice');
    this.started = true;
    const o = this.opts;
    const handlerModule = moduleHref(o.handlerModule);
    try {
      this.mountpoint = fs.realpathSync(this.mountpoint);
    } catch {
      /* mountFuse reports a missing mount point clearly */
    }
    try {
      this.uring = this.chooseTransport(o.transport ?? 'dev', o.uringDepth);
    } catch (e) {
      this.resolveClosed([]);
      throw e;
    }
    this.masterFd = openFuseDevice();
    try {
      await mountFuse({ fd: this.masterFd, mountpoint: this.mountpoint, source: o.source, subtype: o.subtype, options: o.mountOptions });
    } catch (e) {
      this.closeMaster();
      this.resolveClosed([]);
      throw e;
    }
    this.mounted = true;
    this.connId = findFuseMounts({ mountpoint: this.mountpoint }).at(-1)?.minor ?? -1;

    const n = Math.max(1, Math.floor(o.workers ?? 2));
    const sharedInit = createSharedInit();
    let remaining = n;
    let initResolve!: (c: FuseConnection) => void;
    let initReject!: (e: Error) => void;
    const initDone = new Promise<FuseConnection>((res, rej) => ((initResolve = res), (initReject = rej)));
    const errors: string[] = [];

    for (let i = 0; i < n; i++) {
      const data: WorkerInit = {
        index: i,
        masterFd: this.masterFd,
        handlerModule,
        handlerData: o.handlerData,
        sharedInit,
        debug: !!o.debug,
        maxWrite: o.maxWrite ?? DEFAULT_MAX_WRITE,
        uring: this.uring ?? undefined,
        opStats: o.opStats,
      };
      // '../fuse/': the same file from dist/src/fuse/ and from the CLI bundle (scripts/bundle-cli.mjs).
      const w = new Worker(new URL('../fuse/worker.js', import.meta.url), { workerData: data });
      const exit: WorkerExit = { index: i, reason: 'exited', exitCode: 0 };
      w.on('message', (m: WorkerMessage) => {
        if (m.type === 'init') {
          if (m.received) {
            this.conn = m.conn;
            initResolve(m.conn);
          }
        } else if (m.type === 'end') {
          exit.reason = m.reason;
          exit.stats = m.stats;
        } else if (m.type === 'error') {
          exit.reason = 'error';
          exit.error = m.message;
          errors.push(`worker ${i}: ${m.message}`);
          this.log(`worker ${i} failed: ${m.message}`);
        }
      });
      w.on('error', (e) => {
        exit.reason = 'error';
        exit.error = e.stack ?? String(e);
        errors.push(`worker ${i}: ${exit.error}`);
        this.log(`worker ${i} crashed: ${exit.error}`);
      });
      w.on('exit', (code) => {
        exit.exitCode = code;
        this.exits.push(exit);
        if (--remaining === 0) {
          this.allExited();
          initReject(new Error(`all FUSE workers exited before INIT${errors.length ? ':\n' + errors.join('\n') : ''}`));
        }
      });
      this.workers.push(w);
    }

    const timeoutMs = o.initTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`no FUSE INIT within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const conn = await Promise.race([initDone, timeout]);
      if (this.uring) await this.settleTransport(o.transport === 'uring', Date.now() + timeoutMs);
      return conn;
    } catch (e) {
      // Do not leave a dead mount behind.
      await this.unmount({ lazy: true }).catch(() => undefined);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Requests served over each transport so far (all workers); null when io_uring was not tried. */
  transportStats(): { ringRequests: number; devRequests: number } | null {
    if (!this.uring) return null;
    const s = uringStatus(this.uring);
    return { ringRequests: s.ringRequests, devRequests: s.devRequests };
  }

  /** The shared io_uring state, or null for /dev/fuse; throws when 'uring' is impossible. */
  private chooseTransport(choice: TransportChoice, depth?: number): UringShared | null {
    if (choice === 'dev') return null;
    if (choice !== 'uring' && choice !== 'auto') throw new Error(`unknown FUSE transport ${JSON.stringify(choice)} (dev, uring or auto)`);
    const sup = uringSupport();
    if (!sup.ok) {
      if (choice === 'uring') throw new Error(`--transport uring: ${sup.reason}`);
      return null;
    }
    return createUringShared(depth);
  }

  /** Wait until the INIT worker has accepted or declined the ring. */
  private async settleTransport(required: boolean, deadline: number): Promise<void> {
    const u = this.uring!;
    while (uringStatus(u).state === UringState.Pending) {
      if (Date.now() > deadline) throw new Error('FUSE INIT answered, but the io_uring transport never settled');
      await new Promise((r) => setTimeout(r, 2));
    }
    if (uringStatus(u).state === UringState.Active) {
      this.transport = 'uring';
      return;
    }
    if (required) throw new Error('--transport uring: the kernel did not offer FUSE_OVER_IO_URING at INIT (was enable_uring turned off?)');
  }

  /**
   * Unmount and wait for the workers to exit. lazy → MNT_DETACH (always succeeds
   * even if busy; the connection ends when the last user goes away). If the
   * non-lazy unmount fails (EBUSY), the error is thrown and nothing changes.
   */
  async unmount(opts: { lazy?: boolean } = {}): Promise<WorkerExit[]> {
    if (this.mounted && this.isStillMounted()) {
      unmountFuse(this.mountpoint, opts);
    }
    this.mounted = false;
    if (this.workers.length === 0) {
      this.closeMaster();
      this.resolveClosed(this.exits);
    }
    // A lazily detached mount that is still busy keeps being served until its
    // last user goes away; call abort() to end it at once.
    return this.closed;
  }

  /** Abort the connection (fusectl): pending and future requests fail, workers see ENODEV. */
  abort(): boolean {
    return this.connId >= 0 && abortFuseConnection(this.connId);
  }

  /** FUSE_NOTIFY_INVAL_ENTRY. Returns false if the kernel had no such entry cached (ENOENT). */
  notifyInvalEntry(parent: number, name: string, opts: { expireOnly?: boolean } = {}): boolean {
    return this.notify(encodeNotifyInvalEntry(parent, name, opts.expireOnly ? FUSE_EXPIRE_ONLY : 0));
  }

  /** FUSE_NOTIFY_INVAL_INODE: off < 0 = attributes only; len ≤ 0 = to EOF. */
  notifyInvalInode(nodeid: number, off = 0, len = 0): boolean {
    return this.notify(encodeNotifyInvalInode(nodeid, off, len));
  }

  /** FUSE_NOTIFY_DELETE. */
  notifyDelete(parent: number, child: number, name: string): boolean {
    return this.notify(encodeNotifyDelete(parent, child, name));
  }

  /** FUSE_NOTIFY_INC_EPOCH (kernel 7.44+): invalidate every cached dentry. */
  notifyIncEpoch(): boolean {
    return this.notify(encodeNotifyIncEpoch());
  }

  private notify(msg: Buffer): boolean {
    if (this.masterFd < 0) throw new Error('FUSE server is not running');
    try {
      fs.writeSync(this.masterFd, msg);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  private isStillMounted(): boolean {
    return findFuseMounts({ mountpoint: this.mountpoint }).length > 0;
  }

  private allExited(): void {
    // Closing the last fd of a connection aborts it; then detach a mount that is still there.
    if (this.mounted && this.isStillMounted()) {
      this.log(`all workers exited while ${this.mountpoint} is mounted; aborting and detaching it`);
      this.closeMaster();
      try {
        unmountFuse(this.mountpoint, { lazy: true });
      } catch (e) {
        this.log(`lazy unmount of ${this.mountpoint} failed: ${(e as Error).message}`);
      }
    }
    this.mounted = false;
    this.closeMaster();
    this.exits.sort((a, b) => a.index - b.index);
    this.resolveClosed(this.exits);
  }

  private closeMaster(): void {
    if (this.masterFd >= 0) {
      try {
        fs.closeSync(this.masterFd);
      } catch {
        /* already closed */
      }
      this.masterFd = -1;
    }
    if (this.uring && this.uring.eventFd >= 0) {
      closeFd(this.uring.eventFd);
      this.uring.eventFd = -1;
    }
  }
}

function moduleHref(m: string | URL): string {
  if (m instanceof URL) return m.href;
  if (/^file:/.test(m)) return m;
  return pathToFileURL(path.resolve(m)).href;
}
