/**
 * Presence with real processes as hosts sharing one /dev/shm device: join, heartbeat, lease
 * expiry of a SIGSTOPped host (observers call it gone; it finds itself stale and rejoins as a
 * new incarnation when it runs again), a SIGKILLed host's slot reclaimed by its own machine,
 * clean leave.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LivenessTracker } from '../../src/presence/liveness.js';
import { PresenceOracle } from '../../src/presence/oracle.js';
import { Famfs } from '../../src/api/famfs.js';
import { mapsOverlap } from '../../src/meta/replay.js';
import type { FileNode } from '../../src/meta/tree.js';
import { asHost, famfs, famfsOk, makeHost, removeAllShm, removeHost, type Host } from '../core/helpers.js';
import { presenceArea, presenceDevice } from './fixtures.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'host-child.js');
const LEASE = 1500;

interface Child {
  proc: ChildProcess;
  events: Record<string, unknown>[];
}

function startHost(h: Host, dev: string, label: string, mode?: 'kernel'): Child {
  const proc = spawn(process.execPath, [CHILD, dev, label, ...(mode ? [mode] : [])], { env: h.env, stdio: ['ignore', 'pipe', 'inherit'] });
  const c: Child = { proc, events: [] };
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      c.events.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      buf = buf.slice(nl + 1);
    }
  });
  return c;
}

async function until<T>(what: string, fn: () => T | undefined | false, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const event = (c: Child, key: string): Record<string, unknown> | undefined => c.events.find((e) => key in e);

describe('presence hosts as processes', () => {
  const master = makeHost('pm');
  const hosts = [makeHost('pa'), makeHost('pb'), makeHost('pc')];
  const children: Child[] = [];
  after(() => {
    for (const c of children) if (c.proc.exitCode === null) { c.proc.kill('SIGCONT'); c.proc.kill('SIGKILL'); }
    for (const h of [master, ...hosts]) removeHost(h);
    removeAllShm();
  });
  const dev = presenceDevice(master, 'presence-hosts', LEASE);
  const area = presenceArea(dev);
  const oracle = new PresenceOracle(area, new LivenessTracker(LEASE));

  it('three hosts join distinct slots and beat', async () => {
    for (const [i, h] of hosts.entries()) children.push(startHost(h, dev, `host-${i}`));
    const slots = await until('all joined', () => (children.every((c) => event(c, 'joined')) ? children.map((c) => event(c, 'joined')!.joined as number) : undefined));
    assert.equal(new Set(slots).size, 3);
    const beats = slots.map((s) => area.read(s)!.heartbeat);
    await new Promise((r) => setTimeout(r, 400));
    slots.forEach((s, i) => {
      const now = area.read(s)!;
      assert.equal(now.state, 'live');
      assert.equal(now.label, `host-${i}`);
      assert.equal(now.systemUuid, hosts[i]!.uuid);
      assert.ok(now.heartbeat > beats[i]!, `slot ${s} beats`);
    });
    oracle.snapshot();
  });

  it('a SIGSTOPped host is gone after a lease; when it runs again it is stale, then rejoins as a new incarnation', async () => {
    const c = children[0]!;
    const slot = event(c, 'joined')!.joined as number;
    const token = area.read(slot)!.token;
    c.proc.kill('SIGSTOP');
    const t0 = Date.now();
    await until('gone', () => { oracle.snapshot(); return oracle.tracker.judge(area.read(slot)!) === 'gone'; }, LEASE * 10);
    assert.ok(Date.now() - t0 >= LEASE - 50, 'not called gone before a lease of silence');
    for (const o of children.slice(1)) assert.equal(oracle.tracker.judge(area.read(event(o, 'joined')!.joined as number)!), 'live');
    c.proc.kill('SIGCONT');
    await until('stale reported', () => event(c, 'stale'));
    const r = await until('rejoined', () => event(c, 'rejoined'));
    // Stale is said before it serves again, and the new incarnation has a new token.
    assert.ok(c.events.indexOf(event(c, 'stale')!) < c.events.indexOf(r));
    const now = area.read(r.rejoined as number)!;
    assert.equal(now.state, 'live');
    assert.notEqual(now.token, token);
    assert.equal(r.rejoined, slot, 'it takes its own slot back');
    oracle.snapshot();
    assert.equal(oracle.tracker.judge(now), 'live');
  });

  it('a SIGKILLed host stays live-looking until a lease passes; its machine reclaims the slot; a clean leave frees it', async () => {
    const c = children[1]!;
    const slot = event(c, 'joined')!.joined as number;
    c.proc.kill('SIGKILL');
    await until('gone', () => { oracle.snapshot(); return oracle.tracker.judge(area.read(slot)!) === 'gone'; }, LEASE * 10);
    // famfs hosts calls it gone only after watching a whole lease of silence.
    const short = JSON.parse(famfsOk(master, ['hosts', '--json', dev]).stdout) as { slot: number; liveness: string; silentMs: number }[];
    assert.equal(short.find((r) => r.slot === slot)?.liveness, 'live');
    const long = JSON.parse(famfsOk(master, ['hosts', '--json', '--watch', String(LEASE + 200), dev]).stdout) as { slot: number; liveness: string }[];
    assert.equal(long.find((r) => r.slot === slot)?.liveness, 'gone');
    const again = startHost(hosts[1]!, dev, 'host-1-again');
    children.push(again);
    const j = await until('rejoined after kill', () => event(again, 'joined'));
    assert.equal(j.joined, slot, 'a dead daemon of the same machine gives its slot back');
    // famfs hosts: the new daemon shows live under its label.
    const rows = JSON.parse(famfsOk(master, ['hosts', '--json', dev]).stdout) as { slot: number; liveness: string; label: string }[];
    assert.deepEqual(rows.find((r) => r.slot === slot), { ...rows.find((r) => r.slot === slot)!, liveness: 'live', label: 'host-1-again' });
    const left = children[2]!;
    const lslot = event(left, 'joined')!.joined as number;
    left.proc.kill('SIGTERM');
    await new Promise((r) => left.proc.once('exit', r));
    assert.equal(area.read(lslot)!.state, 'free');
    assert.ok(area.live(lslot).every((b) => b === 0), 'a clean leave zeroes the slot (famfs compact takes it as free)');
  });

  it('famfs hosts --evict: refuses a beating host; marks a silent one left, which then rejoins when it runs again', async () => {
    const c = children[0]!;
    const slot = event(c, 'joined')!.joined as number; // it took the same slot back when it rejoined
    const busy = famfs(master, ['hosts', '--evict', String(slot), dev]);
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, /not silent/);
    assert.equal(area.read(slot)!.state, 'live');
    c.proc.kill('SIGSTOP');
    try {
      const r = famfsOk(master, ['hosts', '--evict', String(slot), '--json', dev]);
      assert.equal((JSON.parse(r.stdout) as { evicted: number }).evicted, slot);
      assert.ok(area.live(slot).every((b) => b === 0), 'an evicted slot is all zeros (free)');
      oracle.snapshot();
      assert.equal(oracle.tracker.judge(area.read(slot)!), 'absent');
    } finally {
      c.proc.kill('SIGCONT');
    }
    const before = c.events.filter((e) => 'rejoined' in e).length;
    await until('rejoined after eviction', () => c.events.filter((e) => 'rejoined' in e).length > before);
    assert.equal(area.read(slot)!.state, 'live');
  });
});

describe('a dead kernel-mode daemon\'s slot', () => {
  const master = makeHost('km');
  const machine = makeHost('kk');
  const children: Child[] = [];
  after(() => {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    for (const h of [master, machine]) removeHost(h);
    removeAllShm();
  });

  // Its kernel may still map files through the dead daemon's mount (nothing revokes a famfs
  // kernel mapping): the slot keeps every file it held AND everything deleted after what it had
  // replayed. A new daemon of the same machine must not take it over and drop the latter.
  it('is not taken over by the next daemon of its machine while a file deleted after its replay is pending', async () => {
    const dev = presenceDevice(master, 'presence-ktakeover', LEASE);
    const area = presenceArea(dev);
    famfsOk(master, ['creat', '-d', dev, '-s', String(2 * 1024 * 1024), 'mapped']);
    const k = startHost(machine, dev, 'kernel-host', 'kernel');
    children.push(k);
    const slot = (await until('kernel-mode host joined', () => event(k, 'joined'))).joined as number;
    await until('it replayed the create', () => area.read(slot)!.replayed >= 1);
    k.proc.kill('SIGKILL');
    await new Promise((r) => k.proc.once('exit', r));
    famfsOk(master, ['rm', '-d', dev, 'mapped']);
    const f = asHost(master, () => Famfs.open(dev));
    const p = f.pendingFrees.find((x) => x.path === 'mapped')!;
    f.close();
    assert.ok(p && p.deleteIndex >= area.read(slot)!.replayed, 'deleted after the dead daemon\'s last replay');
    const again = startHost(machine, dev, 'kernel-host-again', 'kernel');
    children.push(again);
    const j = (await until('the next daemon joined', () => event(again, 'joined'))).joined as number;
    await until('it replayed past the delete', () => area.read(j)!.replayed > p.deleteIndex);
    assert.notEqual(j, slot, 'the dead kernel-mode daemon\'s slot is left for famfs hosts --evict');
    const who = new PresenceOracle(area, new LivenessTracker(LEASE)).holders(p);
    assert.ok(who.some((h) => h.slot === slot), `the deleted file stays held by the dead daemon's slot: ${JSON.stringify(who)}`);
    // And a writer does not hand its space out.
    famfsOk(master, ['creat', '-d', dev, '-s', String(2 * 1024 * 1024), 'next']);
    const g = asHost(master, () => Famfs.open(dev));
    try {
      assert.equal(mapsOverlap((g.lookup('next') as FileNode).map, p.map), false, 'a new file took the space of a file the dead daemon\'s kernel may still map');
    } finally {
      g.close();
    }
  });
});

