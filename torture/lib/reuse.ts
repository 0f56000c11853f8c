/**
 * Property 10 (issue 14): deleted space is reused only when no host can still see it.
 * One device in /dev/shm, a master mount and ≥ 2 client mounts, each a real daemon with its
 * own system UUID (a host). A writer on the master creates, writes, deletes, renames and
 * replaces files (every byte stamped with its file's key and generation, stamp.ts); a
 * reader on every host keeps files open and mapped across those changes and checks each
 * byte it reads (reuse-driver.ts). Meanwhile daemons are SIGSTOPped past the lease and
 * SIGKILLed (then remounted). After each round: every client open is checked against the
 * log (its inode names the creating entry, whose path names key and generation), fsck must
 * be clean, and once every host has left, every allocated byte belongs to a live file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { asHost, famfs, GiB, makeHost, removeHost, sparseFile, removeFile, type Host, REPO } from '../../test/core/helpers.js';
import { reapKilledDaemon } from '../../test/fs/mounted.js';
import { Famfs } from '../../src/api/famfs.js';
import { fsck } from '../../src/api/fsck.js';
import { getxattr } from '../../src/sys/libc.js';
import { idForEntry } from '../../src/meta/tree.js';
import { prng, progress } from './common.js';
import { SpaceObserver } from './reuse-space.js';
import { content } from './stamp.js';
import type { DriverJob } from './reuse-driver.js';

const DRIVER = path.join(REPO, 'dist/torture/lib/reuse-driver.js');

export interface ReuseOptions {
  /** Driver steps per round, over all hosts. */
  ops: number;
  rounds: number;
  seed: number;
  /** First round number (a round's drivers are seeded from seed and round: rerun one round alone). */
  firstRound?: number;
  clients?: number;
  leaseMs?: number;
  /** SIGSTOP / SIGKILL daemons while the drivers run. */
  chaos?: boolean;
  /** Pause between two chaos actions, ms (random in [gap, 2 gap]; default 1000). */
  chaosGapMs?: number;
  deviceSize?: number;
  maxFileBytes?: number;
  /** The writer also deletes and renames through the library (famfs rm/mv); slow: it waits for the writer lock. */
  libraryOps?: boolean;
  /** Checker self-test: the writer overwrites files instead of deleting them (premature reuse). */
  injectReuse?: boolean;
  /** Readers also write held files' own bytes back, after deletes too (DriverJob.heldWrites). */
  heldWrites?: boolean;
  /** Readers also map held files writable (MAP_SHARED) and dirty their pages (DriverJob.mapWrites). */
  mapWrites?: boolean;
  /**
   * A nearly full device: a ballast file leaves this many bytes free (over all devices, counting
   * the interleaved files' space, which comes back when the writer deletes them), so
   * creates hit ENOSPC, also while deleted files are held only by stopped or killed hosts.
   */
  freeBytes?: number;
  /** A second device of this many bytes (`famfs devadd`); mounts place new files by `spread`. */
  secondDevice?: number;
  /** Interleaved files made (famfs creat -D / -N -B, stamped) before each round's mounts, in d/ for the writer to replace and delete. */
  interleaved?: number;
  /**
   * The device options above take turns by round (round mod 4: none, the full device, the second
   * device with interleaved files, all of them), so a long run still covers the plain set-up.
   */
  rotateDevices?: boolean;
  log?: (line: string) => void;
}

export interface ReuseResult {
  tried: number;
  /** Steps whose operation succeeded (tried counts every step, also those a dead or stale host refused). */
  okOps: number;
  failed: number;
  lost: number;
  violations: number;
  errors: string[];
  stops: number;
  kills: number;
  /** FILE entries placed over space an earlier (deleted) file had: the reuse actually happened. */
  reused: number;
  checkedOpens: number;
  /** Space checks while the hosts ran (every allocated byte live or held by a named host). */
  spaceChecks: number;
  /** Most deleted files held at one check, and why they were held (summed over checks). */
  maxHeld: number;
  holdReasons: Record<string, number>;
  /** Daemon log lines saying a host went stale (lost its lease) and rejoined, over all mounts. */
  staleEpisodes: number;
  staleLines: string[];
  /** Steps that took over 1 s, by op: count and longest ms. */
  slow: Record<string, { n: number; maxMs: number }>;
  counts: Record<string, number>;
  /** The writer's creates and replaces refused with ENOSPC, and how often space came back for one after such a run (longest wait). */
  enospc: number;
  spaceBack: number;
  spaceBackMaxMs: number;
  /** Space checks that found deleted files held while the writer was out of space (a stopped or killed host among the holders: 'stale'). */
  fullHeld: number;
  /** File entries with space on device 1, interleaved ones, and reused placements over space an interleaved or device-1 file had. */
  onSecondDevice: number;
  interleavedEntries: number;
  reusedFromOther: number;
  unsupported: string[];
  features: string;
}

interface Mount {
  host: Host;
  /** Mount options every (re)mount gets (a second device's path, placement). */
  extra: string[];
  name: string;
  mp: string;
  logFile: string;
  client: boolean;
  pid: number;
}

interface Obs {
  host: string;
  kind: string;
  [k: string]: unknown;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** mkfs with deletes, renames and presence, and a short lease; falls back to what this build knows. */
function mkfs(h: Host, dev: string, leaseMs: number): string {
  const tries = process.env.FAMFS_TORTURE_FEATURES === 'none' ? [[]] : [['--features', 'delete', '--lease', `${leaseMs}ms`], ['--features', 'delete'], []];
  for (const args of tries) {
    const r = famfs(h, ['mkfs', '--force', ...args, dev]);
    if (r.status === 0) return args.join(' ') || 'none';
  }
  throw new Error(`mkfs of ${dev} failed`);
}

function mountOn(m: Mount, dev: string): void {
  const r = famfs(m.host, ['mount', '--data-path', 'daemon', '--log', m.logFile, ...m.extra, ...(m.client ? ['--client'] : []), dev, m.mp]);
  if (r.status !== 0) throw new Error(`mount ${m.name}: ${r.stderr.trim()}`);
  // A daemon remounted after a kill may still be joining the presence area: ESTALE until then.
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      m.pid = Number(getxattr(m.mp, 'user.famfs.pid'));
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== 'ESTALE' || Date.now() > until) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
}

function unmount(m: Mount): void {
  famfs(m.host, ['umount', m.mp]);
  if (fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${m.mp} `)) famfs(m.host, ['umount', '--lazy', m.mp]);
}

function readObs(file: string): Obs[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Obs);
}

/** The device options of one round (rotateDevices: they take turns). */
function devicesFor(o: ReuseOptions, round: number): ReuseOptions {
  if (!o.rotateDevices) return o;
  const k = round % 4;
  return { ...o, freeBytes: k === 1 || k === 3 ? o.freeBytes : undefined, secondDevice: k >= 2 ? o.secondDevice : undefined, interleaved: k >= 2 ? o.interleaved : undefined };
}

/** A file made before the mounts, to be stamped through the master's mount. */
interface Premade {
  path: string;
  key: number;
  size: number;
}

/**
 * Before the mounts: add the second device, make the interleaved files (named as the writer
 * names gen 0 of a key, and noted in its observations so opens of them are checked), and the
 * ballast that leaves only `freeBytes` free.
 */
function prepareDevice(h: Host, dev: string, dev1: string | undefined, o: ReuseOptions, writerObs: string): Premade[] {
  const ok = (args: string[]): void => {
    const r = famfs(h, args);
    if (r.status !== 0) throw new Error(`famfs ${args.join(' ')}: ${r.stderr.trim()}`);
  };
  if (dev1) ok(['devadd', '-d', dev, dev1]);
  const made: Premade[] = [];
  for (let i = 0; i < (o.interleaved ?? 0); i++) {
    const key = 900_001 + i;
    const size = (2 + (i % 3) * 2) * 1024 * 1024 + 512 * (i + 1);
    const file = `d/k${key}.g0`;
    // Across devices (one strip a device) when there are two; else two strips in three 1 GiB buckets.
    ok(['creat', '-d', dev, '-s', String(size), ...(dev1 && i % 2 === 0 ? ['-D'] : ['-N', '2', '-B', '3']), file]);
    made.push({ path: file, key, size });
    fs.appendFileSync(writerObs, `${JSON.stringify({ host: 'master-writer', t: Date.now(), kind: 'name', key, gen: 0, paths: [file] })}\n`);
  }
  if (o.freeBytes !== undefined) {
    const free = asHost(h, () => {
      const f = Famfs.open(dev);
      try {
        return fsck(f).capacity.freeSpace;
      } finally {
        f.close();
      }
    });
    // The interleaved files come back to the free space once the writer deletes them: count them in.
    const leave = Math.max(2 * 1024 * 1024, o.freeBytes - made.reduce((n, p) => n + p.size, 0));
    if (free > leave) ok(['creat', '-d', dev, '-s', String(free - leave), 'ballast']);
  }
  return made;
}

/** Write each premade file's stamped bytes through the master's mount (the writer adopts them from d/). */
function stampPremade(mp: string, made: Premade[]): void {
  for (const p of made) {
    const fd = fs.openSync(path.join(mp, p.path), 'r+');
    try {
      for (let off = 0; off < p.size; off += 1 << 20) fs.writeSync(fd, content({ key: p.key, gen: 0, size: p.size }, off, Math.min(1 << 20, p.size - off)), 0, undefined, off);
    } finally {
      fs.closeSync(fd);
    }
  }
}

export async function reuseProperty(o: ReuseOptions): Promise<ReuseResult> {
  const res: ReuseResult = { tried: 0, okOps: 0, failed: 0, lost: 0, violations: 0, errors: [], stops: 0, kills: 0, reused: 0, checkedOpens: 0, spaceChecks: 0, maxHeld: 0, holdReasons: {}, slow: {}, staleEpisodes: 0, staleLines: [], counts: {}, enospc: 0, spaceBack: 0, spaceBackMaxMs: 0, fullHeld: 0, onSecondDevice: 0, interleavedEntries: 0, reusedFromOther: 0, unsupported: [], features: '' };
  const leaseMs = o.leaseMs ?? 1000;
  const rand = prng(o.seed);
  const log = o.log ?? (() => {});
  const round0 = o.firstRound ?? 0;
  for (let round = round0; round < round0 + o.rounds; round++) {
    const seed = o.seed * 100 + round;
    const dev = sparseFile('reuse', o.deviceSize ?? 4 * GiB);
    const hosts = [makeHost('ru-m'), ...Array.from({ length: o.clients ?? 2 }, (_, i) => makeHost(`ru-c${i}`))];
    const ro = devicesFor(o, round);
    const dev1 = ro.secondDevice ? sparseFile('reuse-dev1', ro.secondDevice) : undefined;
    // Each host finds the second device through its own list (never /etc/famfs/devices).
    for (const h of hosts) h.env.FAMFS_DEVICE_LIST = path.join(h.dir, 'devices');
    const oldList = process.env.FAMFS_DEVICE_LIST;
    process.env.FAMFS_DEVICE_LIST = hosts[0]!.env.FAMFS_DEVICE_LIST;
    const mounts: Mount[] = hosts.map((host, i) => ({
      host, extra: dev1 ? ['--device', dev1, ...(i ? [] : ['--placement', 'spread'])] : [], name: i ? `client${i}` : 'master', client: i > 0, pid: 0,
      mp: fs.mkdtempSync(path.join(os.tmpdir(), `famfs-mnt-ru${i}-${process.pid}-`)), logFile: path.join(host.dir, 'daemon.log'),
    }));
    const drivers: { job: DriverJob; child?: ChildProcess; done: boolean; out: string; respawns: number; before: number; beforeOk: number; startedAt: number; termed?: boolean }[] = [];
    const problems: string[] = [];
    let chaosOn = o.chaos !== false;
    let observer: SpaceObserver | undefined;
    const sigbus: { host: string; at: number; touch: Obs }[] = [];
    /** What chaos did to which mount, and when (SIGBUS is an allowed answer only near one). */
    const events: { mount: string; from: number; to: number; stale?: boolean }[] = [];
    let watcher: NodeJS.Timeout | undefined;
    try {
      res.features = mkfs(hosts[0]!, dev, leaseMs);
      for (const d of ['d', 'tmp']) {
        const r = famfs(hosts[0]!, ['mkdir', '-d', dev, d]);
        if (r.status !== 0) throw new Error(`famfs mkdir ${d}: ${r.stderr.trim()}`);
      }
      const base = asHost(hosts[0]!, () => {
        const f = Famfs.open(dev);
        try {
          return fsck(f).capacity.allocatedBytes;
        } finally {
          f.close();
        }
      });
      const premade = prepareDevice(hosts[0]!, dev, dev1, ro, path.join(hosts[0]!.dir, 'w.obs'));
      for (const m of mounts) mountOn(m, dev);
      stampPremade(mounts[0]!.mp, premade);
      const presence = res.features.includes('delete');
      observer = presence ? asHost(hosts[0]!, () => new SpaceObserver(dev)) : undefined;
      const spaceCheck = (when: string): void => {
        if (!observer) return;
        const c = observer.check();
        res.spaceChecks++;
        res.maxHeld = Math.max(res.maxHeld, c.held);
        for (const [k, v] of Object.entries(c.reasons)) res.holdReasons[k] = (res.holdReasons[k] ?? 0) + v;
        for (const p of c.problems) problems.push(`space (${when}): ${p}`);
        // The writer is out of space right now and deleted files are held: by whom (stale = a stopped or killed host).
        if (c.held && writerFull()) res.fullHeld++;
      };
      /** The writer's last create/replace outcome was ENOSPC (from its observations, read as they come). */
      const writerObs = path.join(hosts[0]!.dir, 'w.obs');
      const writerFull = (): boolean => {
        try {
          const text = fs.readFileSync(writerObs, 'utf8');
          const a = text.lastIndexOf('"kind":"enospc"'), b = text.lastIndexOf('"kind":"space-back"');
          return a > b;
        } catch {
          return false;
        }
      };
      // A daemon that finds itself stale (a stop, or starved past half the lease on a loaded machine)
      // serves ESTALE until it rejoins: its mappings fault with SIGBUS meanwhile. Note when, from its log.
      const logSeen = new Map<string, number>();
      const tailLogs = (): void => {
        for (const m of mounts) {
          let text = '';
          try {
            const size = fs.statSync(m.logFile).size;
            const from = logSeen.get(m.name) ?? 0;
            if (size <= from) continue;
            const fd = fs.openSync(m.logFile, 'r');
            const b = Buffer.alloc(size - from);
            fs.readSync(fd, b, 0, b.length, from);
            fs.closeSync(fd);
            logSeen.set(m.name, size);
            text = b.toString();
          } catch {
            continue;
          }
          // An episode runs from "serving ESTALE" (the host may have refused a lease earlier) to "rejoined".
          for (const line of text.split('\n')) {
            const open = events.find((e) => e.mount === m.name && e.stale && e.to === Infinity);
            if (/serving ESTALE/.test(line) && !open) events.push({ mount: m.name, from: Date.now() - 2 * leaseMs, to: Infinity, stale: true });
            else if (/rejoined as slot/.test(line)) {
              if (open) open.to = Date.now() + leaseMs;
              else events.push({ mount: m.name, from: Date.now() - 2 * leaseMs, to: Date.now() + leaseMs, stale: true });
            }
          }
        }
      };
      watcher = setInterval(() => {
        observer?.watch();
        tailLogs();
      }, 100);
      // The writer and a reader on the master, a reader on each client.
      const per = Math.ceil(o.ops / (mounts.length + 1)); // the writer's steps; readers add theirs
      const jobs: DriverJob[] = [
        { mp: mounts[0]!.mp, host: 'master-writer', writer: true, client: false, seed: seed * 10, ops: per, obs: path.join(hosts[0]!.dir, 'w.obs'), maxFileBytes: o.maxFileBytes, injectReuse: o.injectReuse, device: o.libraryOps ? dev : undefined, writebackErrors: o.mapWrites },
        // Readers read for as long as the writer writes (they are stopped once it is done).
        ...mounts.map((m, i) => ({ mp: m.mp, host: `${m.name}-reader`, writer: false, client: m.client, seed: seed * 10 + 1 + i, ops: 1e15, obs: path.join(m.host.dir, `r${i}.obs`), heldWrites: o.heldWrites, mapWrites: o.mapWrites, writebackErrors: o.mapWrites })),
      ];
      const start = (d: (typeof drivers)[number]): Promise<void> => new Promise((resolve) => {
        const c = spawn(process.execPath, [DRIVER, JSON.stringify(d.job)], { stdio: ['ignore', 'pipe', 'pipe'], env: d.job.writer ? hosts[0]!.env : process.env });
        d.child = c;
        d.startedAt = Date.now();
        d.out = '';
        let err = '';
        c.stdout!.on('data', (b) => (d.out += b));
        c.stderr!.on('data', (b) => (err += b));
        c.on('close', (code, signal) => {
          const obs = readObs(d.job.obs);
          const last = obs[obs.length - 1];
          progress();
          if (code === 0) {
            d.done = true;
            return resolve();
          }
          // Told to stop (the writer is done) before it could install its SIGTERM handler: a respawn just started.
          if (signal === 'SIGTERM' && d.termed) {
            d.done = true;
            return resolve();
          }
          // A SIGBUS while touching a mapping is how a dead or stale daemon answers a page fault: allowed
          // (checked against the episodes below), and the driver starts again unless the round is ending.
          if (signal === 'SIGBUS' && last?.kind === 'touch') {
            const k = last.write ? 'map-write:SIGBUS' : 'mmap:SIGBUS';
            res.counts[k] = (res.counts[k] ?? 0) + 1;
            log(`SIGBUS in ${d.job.host} touching ${JSON.stringify(last)}`);
            sigbus.push({ host: d.job.host, at: Number(last.t), touch: last });
            // This run's marks only (the file also has earlier runs' of this driver).
            const marks = obs.filter((x) => x.kind === 'ops' && Number(x.t) >= d.startedAt);
            const done = marks.reduce((m, x) => Math.max(m, Number(x.ops)), 0);
            d.before += done;
            d.beforeOk += marks.reduce((m, x) => Math.max(m, Number(x.ok ?? 0)), 0);
            if (d.respawns < 50 && !(d !== drivers[0] && drivers[0]!.done)) {
              d.respawns++;
              // A new writer hands out keys far above the old ones: a (key, gen) is never written twice.
              d.job = { ...d.job, ops: Math.max(1, d.job.ops - done), seed: d.job.seed + 7919, firstKey: d.job.writer ? d.respawns * 1_000_000 + 1 : undefined };
              void start(d).then(resolve);
              return;
            }
            // The writer is done (readers are being stopped now), or too many respawns.
            if (d.respawns >= 50) problems.push(`${d.job.host}: more than 50 SIGBUS respawns`);
            d.done = true;
            return resolve();
          }
          problems.push(`${d.job.host} driver exit ${code ?? signal}: ${(err.match(/^\w*Error.*$/m)?.[0] ?? "").slice(0, 300)} … ${err.slice(-300)}`);
          d.done = true;
          resolve();
        });
      });
      /** A driver's steps this round: earlier (SIGBUS-ended) runs' plus its current run's last mark. */
      const stepsSoFar = (d: (typeof drivers)[number]): number => {
        let last = 0;
        if (!fs.existsSync(d.job.obs)) return d.before;
        for (const l of fs.readFileSync(d.job.obs, 'utf8').split('\n')) {
          if (!l.includes('"kind":"ops"')) continue;
          const x = JSON.parse(l) as Obs;
          if (Number(x.t) >= d.startedAt) last = Math.max(last, Number(x.ops));
        }
        return d.before + last;
      };
      for (const job of jobs) drivers.push({ job, done: false, out: '', respawns: 0, before: 0, beforeOk: 0, startedAt: 0 });
      const running = Promise.all(drivers.map(start));
      const writerDone = (async () => {
        while (!drivers[0]!.done) await sleep(50);
        // ops is the budget over all hosts: a reader slower than the writer (a loaded machine, held
        // writes) reads on until it has done the writer's share, as long as it makes progress.
        let stepsAt = Date.now();
        let steps = -1;
        for (;;) {
          const short = drivers.slice(1).filter((d) => !d.done && stepsSoFar(d) < per);
          const now = short.reduce((n, d) => n + stepsSoFar(d), 0);
          if (now !== steps) [steps, stepsAt] = [now, Date.now()];
          if (short.length === 0 || Date.now() - stepsAt > 10_000) break;
          await sleep(250);
        }
        for (const d of drivers.slice(1)) {
          d.termed = true;
          d.child?.kill('SIGTERM');
        }
      })();
      // Chaos starts once every driver is at work (node takes a while to start on a loaded machine).
      const t0 = Date.now();
      while (drivers.some((d) => !d.done && !d.out.includes('ready')) && Date.now() - t0 < 60_000) await sleep(20);
      // Chaos: stop a daemon past the lease, or kill one and mount again.
      // One space check at once, while every driver is at work (a short run may end before the first chaos action).
      spaceCheck('as the hosts start');
      let first = true;
      const chaosLoop = async (): Promise<void> => {
        while (chaosOn) {
          // The first action comes soon: a short run gets at least one.
          await sleep(first ? 300 + rand() * 700 : (o.chaosGapMs ?? 1000) * (1 + rand()));
          first = false;
          if (!chaosOn) break;
          spaceCheck('while the hosts run');
          progress();
          const m = mounts[rand() < 0.25 ? 0 : 1 + Math.floor(rand() * (mounts.length - 1))]!;
          if (rand() < 0.65) {
            const ms = Math.round(leaseMs * (1.2 + rand() * 1.8));
            const ev = { mount: m.name, from: Date.now(), to: Infinity };
            events.push(ev);
            process.kill(m.pid, 'SIGSTOP');
            res.stops++;
            await sleep(ms);
            process.kill(m.pid, 'SIGCONT');
            ev.to = Date.now();
            log(`round ${round}: ${m.name} stopped ${ms} ms`);
          } else {
            const ev = { mount: m.name, from: Date.now(), to: Infinity };
            events.push(ev);
            process.kill(m.pid, 'SIGKILL');
            res.kills++;
            await reapKilledDaemon(m.mp, m.pid);
            unmount(m);
            await sleep(rand() * leaseMs);
            mountOn(m, dev);
            ev.to = Date.now();
            log(`round ${round}: ${m.name} killed and mounted again`);
          }
        }
      };
      const chaos = (async () => {
        try {
          await chaosLoop();
        } catch (e) {
          problems.push(`chaos: ${(e as Error).message}`);
        }
      })();
      await writerDone;
      await running;
      chaosOn = false;
      await chaos;
      for (const d of drivers) {
        const line = d.out.trim().split('\n').pop() ?? '';
        if (!line.startsWith('{')) continue;
        const s = JSON.parse(line) as { ops: number; counts: Record<string, number>; disabled: string[] };
        res.tried += s.ops;
        for (const [k, v] of Object.entries(s.counts)) {
          res.counts[k] = (res.counts[k] ?? 0) + v;
          if (k.endsWith(':ok')) res.okOps += v;
        }
        for (const u of s.disabled) if (!res.unsupported.includes(u)) res.unsupported.push(u);
      }
      // Respawned drivers' earlier steps.
      for (const d of drivers) {
        res.tried += d.before;
        res.okOps += d.beforeOk;
      }
      const obs = drivers.flatMap((d) => readObs(d.job.obs));
      // A mapping faults with SIGBUS only when its daemon was stopped past the lease (stale), killed, or just mounted again.
      for (const b of sigbus) {
        const mount = b.host.replace(/-(reader|writer)$/, '');
        if (!events.some((e) => e.mount === mount && b.at >= e.from - leaseMs && b.at <= e.to + 3 * leaseMs)) {
          const near = events.filter((e) => e.mount === mount).map((e) => `${e.stale ? 'stale' : 'stop/kill'} ${e.from - b.at}..${e.to === Infinity ? 'open' : e.to - b.at} ms`).join(', ');
          problems.push(`SIGBUS in ${b.host} with no stop, kill or stale episode of its daemon near it: touching ${JSON.stringify(b.touch)} (its daemon's episodes, relative to the touch: ${near || 'none'})`);
        }
      }
      // EIO is how the kernel reports a refused write-back of dirty mapped pages (the daemon was stale):
      // allowed only shortly after a stop, kill or stale episode of that host's daemon.
      for (const v of obs.filter((x) => x.kind === 'wb-eio')) {
        const mount = String(v.host).replace(/-(reader|writer)$/, '');
        const at = Number(v.t);
        res.counts['write-back:EIO'] = (res.counts['write-back:EIO'] ?? 0) + 1;
        if (!events.some((e) => e.mount === mount && at >= e.from && at <= e.to + 10 * leaseMs)) problems.push(`${v.host}: ${v.op} ${v.path ?? ''} answered EIO with no stop, kill or stale episode of its daemon before it`);
      }
      for (const v of obs.filter((x) => x.kind === 'violation')) {
        res.violations++;
        problems.push(`VIOLATION on ${v.host}: ${v.op} ${v.path} (ino ${v.ino}) at ${v.offset}: ${v.what}`);
      }
      for (const v of obs.filter((x) => x.kind === 'slow')) {
        const k = `${String(v.host).replace(/-.*/, '')} ${v.op}`;
        const e = (res.slow[k] ??= { n: 0, maxMs: 0 });
        e.n++;
        e.maxMs = Math.max(e.maxMs, Number(v.ms));
      }
      // A failed write-back of a dirty mapped page (its daemon stale or gone) is reported at the next msync.
      for (const v of obs.filter((x) => x.kind === 'sync-error')) res.counts[`map-sync-error:${String(v.errno)}`] = (res.counts[`map-sync-error:${String(v.errno)}`] ?? 0) + 1;
      for (const v of obs.filter((x) => x.kind === 'enospc')) res.enospc++;
      for (const v of obs.filter((x) => x.kind === 'space-back')) {
        res.spaceBack++;
        res.spaceBackMaxMs = Math.max(res.spaceBackMaxMs, Number(v.ms));
      }
      for (const v of obs.filter((x) => x.kind === 'errno')) problems.push(`${v.host}: ${v.op} ${v.path ?? ''} answered ${v.errno}: ${v.msg}`);

      // Let the master log what is still new, then check each client open against the log.
      await sleep(1500);
      const opens = obs.filter((x) => x.kind === 'open');
      asHost(hosts[0]!, () => {
        const f = Famfs.open(dev);
        try {
          const byIno = new Map<number, { path: string; map: { offset: number; length: number }[] }>();
          const seen: { dev: number; lo: number; hi: number; other: boolean }[] = [];
          for (const a of f.appliedEntries) {
            if (a.entry.type !== 'file') continue;
            const ext = a.entry.map.kind === 'simple' ? a.entry.map.extents : a.entry.map.strips;
            byIno.set(idForEntry(a.index), { path: a.entry.path, map: ext });
            // Units this entry takes that an earlier file entry had: space came back and was reused.
            const over = seen.filter((s) => ext.some((e) => e.devindex === s.dev && e.offset < s.hi && s.lo < e.offset + e.length));
            if (over.length) res.reused++;
            if (over.some((s) => s.other)) res.reusedFromOther++;
            // Other than one extent on device 0: an interleaved file, or one with space on device 1.
            const other = a.entry.map.kind === 'interleave' || ext.some((e) => e.devindex > 0);
            if (a.entry.map.kind === 'interleave') res.interleavedEntries++;
            if (ext.some((e) => e.devindex > 0)) res.onSecondDevice++;
            for (const e of ext) seen.push({ dev: e.devindex, lo: e.offset, hi: e.offset + e.length, other });
          }
          // Every name a (key, gen) was ever given: a new file renamed before it was logged is logged under the new name.
          const names = new Map<string, Set<string>>();
          for (const n of obs.filter((x) => x.kind === 'name')) for (const p of n.paths as string[]) names.set(p, (names.get(p) ?? new Set()).add(`${n.key}.${n.gen}`));
          const inoSaw = new Map<number, string>();
          for (const op of opens) {
            const ino = Number(op.ino), kg = `${op.key}.${op.gen}`;
            const e = byIno.get(ino);
            res.checkedOpens++;
            // Every open of one inode, on every client, shows the same file.
            const first = inoSaw.get(ino);
            if (first === undefined) inoSaw.set(ino, kg);
            else if (first !== kg) {
              res.violations++;
              problems.push(`VIOLATION on ${op.host}: ino ${ino} showed key.gen ${kg}, earlier ${first}`);
            }
            if (!e) problems.push(`${op.host}: opened ino ${ino}, which no logged file entry created`);
            else if (!names.get(e.path)?.has(kg)) {
              res.violations++;
              problems.push(`VIOLATION on ${op.host}: ino ${ino} was created as ${e.path} (a name of ${[...(names.get(e.path) ?? [])].join(', ') || 'nothing the writer made'}) but its bytes said key.gen ${kg}`);
            }
          }
        } finally {
          f.close();
        }
      });
      for (const m of mounts) {
        const text = fs.existsSync(m.logFile) ? fs.readFileSync(m.logFile, 'utf8') : '';
        for (const l of text.split('\n').filter((x) => /serving ESTALE/.test(x))) {
          res.staleEpisodes++;
          if (res.staleLines.length < 10) res.staleLines.push(`${m.name}: ${l.slice(0, 200)}`);
        }
        const bad = text.match(/.*(handler threw|internal error).*/);
        if (bad) problems.push(`${m.name} daemon log: ${bad[0].slice(0, 200)}`);
      }
      for (const m of mounts) unmount(m);
      // Every host has left (cleanly: their slots are free): nothing is held, so every allocated byte belongs to a live file.
      asHost(hosts[0]!, () => {
        const f = Famfs.open(dev);
        try {
          const r = fsck(f);
          if (!r.clean) problems.push(`fsck not clean: ${r.collisions} collisions, ${JSON.stringify(r.problems).slice(0, 300)}`);
        } finally {
          f.close();
        }
      });
      if (observer) {
        // Killed daemons' old slots count as gone once this observer has seen them silent for a lease.
        await sleep(leaseMs * 1.5);
        const c = observer.check();
        for (const p of c.problems) problems.push(`space after every host left: ${p}`);
        if (c.held) problems.push(`after every host left, ${c.held} deleted files are still held (${JSON.stringify(c.reasons)})`);
      } else {
        const f = asHost(hosts[0]!, () => Famfs.open(dev));
        try {
          const AU = f.sb.allocUnit;
          const units = new Set<number>();
          for (const n of f.tree.walk()) {
            if (n.kind !== 'file') continue;
            for (const e of n.map.kind === 'simple' ? n.map.extents : n.map.strips) for (let u = Math.floor(e.offset / AU); u < Math.ceil((e.offset + e.length) / AU); u++) units.add(u);
          }
          const leaked = f.buildBitmap().bitmap.usedBytes - base - units.size * AU;
          if (leaked !== 0) problems.push(`leak: ${leaked} allocated bytes belong to no live file after every host left`);
        } finally {
          f.close();
        }
      }
    } catch (e) {
      problems.push(`round ${round}: ${(e as Error).stack?.slice(0, 600)}`);
    } finally {
      chaosOn = false;
      clearInterval(watcher);
      observer?.close();
      for (const d of drivers) if (d.child && d.child.exitCode === null) d.child.kill('SIGKILL');
      for (const m of mounts) {
        if (m.pid && alive(m.pid)) process.kill(m.pid, 'SIGCONT');
        unmount(m);
        fs.rmSync(m.mp, { recursive: true, force: true });
      }
      // FAMFS_TORTURE_KEEP=1 also keeps a failed round's devices (renamed) for a look at the log.
      const keepDevs = process.env.FAMFS_TORTURE_KEEP === "1" && (problems.length > 0 || process.env.FAMFS_TORTURE_KEEP_DEVICES === "1");
      for (const d of [dev, dev1]) {
        if (!d) continue;
        if (keepDevs) {
          fs.renameSync(d, `${d}.kept`);
          log(`kept device: ${d}.kept`);
        } else removeFile(d);
      }
      if (oldList === undefined) delete process.env.FAMFS_DEVICE_LIST;
      else process.env.FAMFS_DEVICE_LIST = oldList;
      // FAMFS_TORTURE_KEEP=1 keeps every host's directory (daemon logs, observations) for a look.
      if (process.env.FAMFS_TORTURE_KEEP === '1') log(`kept: ${hosts.map((h) => h.dir).join(' ')}`);
      else for (const h of hosts) removeHost(h);
    }
    if (problems.length) {
      res.failed += problems.length;
      res.errors.push(...problems.map((p) => `round ${round} (seed ${seed}): ${p}`));
    }
  }
  return res;
}
