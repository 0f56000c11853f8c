/**
 * Property 3 — readers while writing. A master process appends a stream of
 * creates; this process, as a client host, replays the log as it grows (the
 * library's refresh, and a FamfsFs daemon handler answering LOOKUPs) and must
 * never take a partly written entry and never miss one whose create returned.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Famfs } from '../../src/api/famfs.js';
import { mkfs } from '../../src/api/mkfs.js';
import { FamfsFs } from '../../src/fs/famfs-fs.js';
import type { FamfsMountConfig } from '../../src/fs/config.js';
import { FuseError, type Request } from '../../src/fuse/handler.js';
import { ROOT_ID } from '../../src/meta/tree.js';
import { asHost, GiB, inspect, makeHost, progress, shmDevice, spawnWorker, waitChild, type Host } from './common.js';

export interface FollowResult {
  tried: number;
  failed: number;
  lost: number;
  refreshes: number;
  errors: string[];
}

const REQ: Request = { unique: 1n, opcode: 1, nodeid: 1, uid: 0, gid: 0, pid: 1 };

export function clientHandler(device: string, client: Host): FamfsFs {
  const config = { device, mountpoint: '/nonexistent', timeout: 1, forceClient: true, verbose: false, mountTimeMs: Date.now(), state: new SharedArrayBuffer(64) } as FamfsMountConfig;
  return asHost(client, () => new FamfsFs(config));
}

/** Walk `p` through the handler's LOOKUP; true when every component resolves. */
function lookupPath(h: FamfsFs, p: string): boolean {
  let id = ROOT_ID;
  for (const name of p.split('/')) {
    const r = h.lookup(REQ, id, name);
    if (r instanceof FuseError) return false;
    id = r.nodeid;
  }
  return true;
}

export async function followWhileWriting(opts: { master: Host; ops: number; seed: number; dir: string }): Promise<FollowResult> {
  const device = shmDevice('follow', 64 * GiB); // sparse: plain creates of up to 8 MiB must not run out of space
  const client = makeHost('follower');
  asHost(opts.master, () => mkfs(device, { force: true }));
  const ackFile = path.join(opts.dir, `follow-${process.pid}-${opts.seed}`);
  fs.writeFileSync(ackFile, '');
  const errors: string[] = [];
  let lost = 0, refreshes = 0, seen = 0;
  const reader = asHost(client, () => Famfs.open(device));
  const daemon = clientHandler(device, client);
  const ackFd = fs.openSync(ackFile, 'r');
  let pending = '';
  let pos = 0;
  const readAcks = (): string[] => {
    const b = Buffer.alloc(1 << 16);
    const out: string[] = [];
    for (;;) {
      const n = fs.readSync(ackFd, b, 0, b.length, pos);
      if (n <= 0) break;
      pos += n;
      pending += b.toString('utf8', 0, n);
    }
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const l of lines) if (l) out.push(l.split(' ')[1]!);
    return out;
  };
  const check = (p: string): void => {
    seen++;
    progress();
    refreshes++;
    reader.refresh();
    if (!reader.tree.lookup(p)) {
      lost++;
      errors.push(`client replay missed committed ${p}`);
    }
    if (!lookupPath(daemon, p)) {
      lost++;
      errors.push(`daemon LOOKUP missed committed ${p}`);
    }
  };
  try {
    const child = spawnWorker({ device, prefix: 'm', topDir: true, ops: opts.ops, ackFile, seed: opts.seed, dirFraction: 0.25, fillFraction: 0.2, maxFill: 32 * 1024, batch: 1 }, opts.master);
    const exit = waitChild(child);
    let running = true;
    void exit.then(() => (running = false));
    while (running) {
      const until = performance.now() + 20;
      while (performance.now() < until) {
        refreshes++;
        reader.refresh(); // racing the writer on purpose
        for (const p of readAcks()) check(p);
      }
      if (reader.problems.length) break;
      await new Promise((r) => setImmediate(r));
    }
    const e = await exit;
    if (e.code !== 0) errors.push(`master exited ${e.code ?? e.signal}: ${e.stderr.trim().split('\n')[0]}`);
    for (const p of readAcks()) check(p);
    reader.refresh();
    if (reader.problems.length) errors.push(`client replay reported ${reader.problems.length} problems: ${JSON.stringify(reader.problems.slice(0, 3))}`);
    const truth = inspect(device, opts.master);
    const mine = [...reader.tree.walk()].map((n) => n.path).filter(Boolean).sort();
    const theirs = [...truth.paths.keys()].sort();
    if (mine.join('\n') !== theirs.join('\n')) errors.push(`client tree (${mine.length}) differs from a fresh replay (${theirs.length})`);
    if (seen !== opts.ops) errors.push(`${seen} acknowledged creates seen, expected ${opts.ops}`);
  } finally {
    fs.closeSync(ackFd);
    reader.close();
    daemon.famfs.close();
    fs.rmSync(ackFile, { force: true });
    fs.rmSync(device, { force: true });
  }
  return { tried: seen, failed: errors.length ? 1 : 0, lost, refreshes, errors };
}
