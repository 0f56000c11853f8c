/**
 * The gaps of property 10 (issue 14's proof) closed at stop 23, each as a fixed scenario of a
 * master and a client (real daemons) that a random run may or may not hit:
 * - a client dirties pages of a deleted file through a writable shared mapping, and they are
 *   written back only into that file's own (still held) space, also when the client's daemon
 *   was stopped past the lease with the write-back queued and the space given to a new file;
 * - a full device whose deleted file is held only by a stopped or killed client: ENOSPC at
 *   once, never the held space, and the space comes back once the client's lease has passed;
 * plus short property-10 runs with a nearly full device, a second device and interleaved files.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { asHost, GiB, MiB, type Host } from '../core/helpers.js';
import { daemonPid, errnoOf, HAVE_FUSE, mount, NO_FUSE_REASON, reapKilledDaemon, twoHosts, umount, waitFor } from '../fs/mounted.js';
import { Famfs } from '../../src/api/famfs.js';
import { fsck } from '../../src/api/fsck.js';
import type { Extent } from '../../src/format/types.js';
import { reuseProperty } from '../../torture/lib/reuse.js';

const LEASE_MS = 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A child that maps `file` read-write and shared, reads every page in, closes its descriptor
 * (the mapping stays) and then obeys one letter a line on stdin: d = dirty every page with
 * `byte`, s = msync (answers "sync ok" or "sync <errno>"), u = munmap and exit.
 */
const MAPPER = `
import fs from 'node:fs';
import { mmap, msync, munmap, viewOf, PROT_READ, PROT_WRITE, MAP_SHARED, MS_SYNC } from ${JSON.stringify(path.resolve('dist/src/sys/libc.js'))};
const [file, byte] = [process.argv[1], Number(process.argv[2])];
const fd = fs.openSync(file, 'r+');
const size = fs.fstatSync(fd).size;
const p = mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
const v = viewOf(p, size);
let sum = 0;
for (let o = 0; o < size; o += 4096) sum += v[o];
fs.closeSync(fd);
process.stdout.write('mapped ' + sum + '\\n');
const b = Buffer.alloc(2);
for (;;) {
  if (fs.readSync(0, b, 0, 2) < 1) break;
  const c = String.fromCharCode(b[0]);
  if (c === 'd') { v.fill(byte); process.stdout.write('dirtied\\n'); }
  else if (c === 's') {
    try { msync(p, 0, size, MS_SYNC); process.stdout.write('sync ok\\n'); }
    catch (e) { process.stdout.write('sync ' + e.code + '\\n'); }
  } else if (c === 'u') { munmap(p, size); process.stdout.write('unmapped\\n'); break; }
}
`;

interface Mapper {
  child: ChildProcess;
  out: () => string;
  send: (c: string) => void;
  exited: Promise<number | string>;
}

function mapper(file: string, byte: number): Mapper {
  const child = spawn(process.execPath, ['--input-type=module', '-e', MAPPER, file, String(byte)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | string>((r) => child.on('close', (code, sig) => r(code ?? `${sig}: ${err}`)));
  return { child, out: () => out, send: (c) => child.stdin!.write(`${c}\n`), exited };
}

/** The extents of `file` once the log has it (files made through a mount are logged after close). */
async function loggedExtents(h: Host, dev: string, file: string): Promise<Extent[]> {
  let ext: Extent[] | undefined;
  await waitFor(() => {
    ext = asHost(h, () => {
      const f = Famfs.open(dev);
      try {
        const n = f.tree.lookup(file);
        return n?.kind === 'file' ? (n.map.kind === 'simple' ? n.map.extents : n.map.strips) : undefined;
      } finally {
        f.close();
      }
    });
    return ext !== undefined;
  }, 10_000, 50);
  return ext!;
}

function overlaps(a: Extent[], b: Extent[]): boolean {
  return a.some((x) => b.some((y) => x.devindex === y.devindex && x.offset < y.offset + y.length && y.offset < x.offset + x.length));
}

function fill(p: string, byte: number, size: number): void {
  fs.writeFileSync(p, Buffer.alloc(size, byte));
}

function onlyByte(p: string, byte: number): string | undefined {
  const b = fs.readFileSync(p);
  const i = b.findIndex((x) => x !== byte);
  return i < 0 ? undefined : `${p}: byte ${i} is 0x${b[i]!.toString(16)}, not 0x${byte.toString(16)}`;
}

describe('writable shared mappings of a deleted file (daemon mode)', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  const t = twoHosts('rg-map', { mkfs: { features: ['delete'], leaseMs: LEASE_MS } });
  const SIZE = 4 * MiB;

  test('dirty pages written back while the client holds the file land in its own space; a new file gets other space, and the space only after munmap', async () => {
    fill(path.join(t.mpM, 'a1'), 0xa1, SIZE);
    const a = await loggedExtents(t.master, t.dev, 'a1');
    await waitFor(() => fs.existsSync(path.join(t.mpC, 'a1')), 10_000);
    const m = mapper(path.join(t.mpC, 'a1'), 0xa1);
    try {
      await waitFor(() => m.out().startsWith('mapped'), 30_000);
      fs.unlinkSync(path.join(t.mpM, 'a1'));
      await waitFor(() => !fs.existsSync(path.join(t.mpC, 'a1')), 10_000);
      m.send('d');
      await waitFor(() => m.out().includes('dirtied'), 10_000);
      m.send('s');
      await waitFor(() => m.out().includes('sync '), 10_000);
      assert.match(m.out(), /sync ok/, 'the held file\'s pages were written back');
      fill(path.join(t.mpM, 'b2'), 0xb2, SIZE);
      assert.ok(!overlaps(a, await loggedExtents(t.master, t.dev, 'b2')), 'a new file got space the mapping still holds');
      m.send('d');
      m.send('u');
      assert.equal(await m.exited, 0);
    } finally {
      m.child.kill('SIGKILL');
    }
    // Released (RELEASE after the last write-back): the space is given out again.
    await sleep(LEASE_MS);
    fill(path.join(t.mpM, 'c3'), 0xc3, SIZE);
    assert.ok(overlaps(a, await loggedExtents(t.master, t.dev, 'c3')), 'the freed space was reused');
    assert.equal(onlyByte(path.join(t.mpM, 'b2'), 0xb2), undefined);
    assert.equal(onlyByte(path.join(t.mpM, 'c3'), 0xc3), undefined);
    for (const f of ['b2', 'c3']) fs.unlinkSync(path.join(t.mpM, f));
  });

  test('a write-back queued while the client was stopped past the lease is refused once its space is another file\'s', async () => {
    fill(path.join(t.mpM, 'a4'), 0xa4, SIZE);
    const a = await loggedExtents(t.master, t.dev, 'a4');
    await waitFor(() => fs.existsSync(path.join(t.mpC, 'a4')), 10_000);
    const pid = daemonPid(t.client, t.mpC);
    const m = mapper(path.join(t.mpC, 'a4'), 0xa4);
    const bs: string[] = [];
    let stopped = false;
    try {
      await waitFor(() => m.out().startsWith('mapped'), 30_000);
      fs.unlinkSync(path.join(t.mpM, 'a4'));
      await waitFor(() => !fs.existsSync(path.join(t.mpC, 'a4')), 10_000);
      m.send('d');
      await waitFor(() => m.out().includes('dirtied'), 10_000);
      process.kill(pid, 'SIGSTOP');
      stopped = true;
      // msync blocks: its WRITE waits in /dev/fuse for the stopped daemon.
      m.send('s');
      await sleep(2.5 * LEASE_MS);
      // New files until one gets the stopped client's space (the master may still be placing by
      // the free space it saw when it took the log lock: then the next one, after the lock was let go).
      for (let i = 0; i < 8 && !overlaps(a, bs.length ? await loggedExtents(t.master, t.dev, bs[bs.length - 1]!) : []); i++) {
        if (bs.length) await sleep(LEASE_MS);
        bs.push(`b5-${i}`);
        fill(path.join(t.mpM, bs[bs.length - 1]!), 0xb5, SIZE);
      }
      assert.ok(overlaps(a, await loggedExtents(t.master, t.dev, bs[bs.length - 1]!)), `none of ${bs.length} new files got the stopped client's space (the precondition of this test)`);
      process.kill(pid, 'SIGCONT');
      stopped = false;
      await waitFor(() => /sync \w+/.test(m.out()), 20_000);
      console.log(`the stale client's msync answered: ${/sync (\w+)/.exec(m.out())![1]}`);
      assert.doesNotMatch(m.out(), /sync ok/, 'the stale client wrote back into space it no longer holds');
      m.send('u');
      assert.equal(await m.exited, 0);
    } finally {
      if (stopped) process.kill(pid, 'SIGCONT');
      m.child.kill('SIGKILL');
    }
    for (const b of bs) {
      assert.equal(onlyByte(path.join(t.mpM, b), 0xb5), undefined);
      fs.unlinkSync(path.join(t.mpM, b));
    }
  });
});

/** A ballast file that leaves `free` bytes free (made before the mounts). */
function ballast(free: number): (dev: string, master: Host) => void {
  return (dev, master) => asHost(master, () => {
    const f = Famfs.open(dev, { writable: true });
    try {
      const have = fsck(f).capacity.freeSpace;
      f.writer((w) => w.creat('ballast', have - free));
    } finally {
      f.close();
    }
  });
}

describe('a full device whose deleted file only a silent client holds', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  const FREE = 8 * MiB;
  const t = twoHosts('rg-full', { mkfs: { features: ['delete'], leaseMs: LEASE_MS }, populate: ballast(FREE) });

  for (const how of ['SIGSTOP', 'SIGKILL'] as const) {
    test(`${how}: ENOSPC at once, never the held space; it comes back once the client's lease has passed`, async () => {
      const a = path.join(t.mpM, `a-${how}`), b = path.join(t.mpM, `b-${how}`);
      // The space the previous case freed comes back once every live host has replayed its delete.
      await waitFor(() => {
        const e = errnoOf(() => fill(a, 0xa1, FREE));
        if (e) fs.rmSync(a, { force: true });
        return e === undefined;
      }, 20 * LEASE_MS, 200);
      await loggedExtents(t.master, t.dev, `a-${how}`);
      await waitFor(() => fs.existsSync(path.join(t.mpC, `a-${how}`)), 10_000);
      const fd = fs.openSync(path.join(t.mpC, `a-${how}`), 'r');
      const pid = daemonPid(t.client, t.mpC);
      let stopped = false;
      try {
        assert.equal(fs.readSync(fd, Buffer.alloc(4096), 0, 4096, 0), 4096);
        fs.unlinkSync(a);
        await waitFor(() => !fs.existsSync(path.join(t.mpC, `a-${how}`)), 10_000);
        process.kill(pid, how);
        stopped = how === 'SIGSTOP';
        const t0 = Date.now();
        assert.equal(errnoOf(() => fill(b, 0xb2, FREE)), 'ENOSPC', 'the held space was handed out');
        const refusedMs = Date.now() - t0;
        fs.rmSync(b, { force: true });
        // Once the client's lease has passed, its holds count for nothing: the same create succeeds.
        let tries = 0;
        await waitFor(() => {
          tries++;
          const e = errnoOf(() => fill(b, 0xb2, FREE));
          if (e) fs.rmSync(b, { force: true });
          return e === undefined;
        }, 20 * LEASE_MS, 200);
        const backMs = Date.now() - t0;
        console.log(`${how}: ENOSPC after ${refusedMs} ms; space came back ${backMs} ms after the ${how} (lease ${LEASE_MS} ms, ${tries} tries)`);
        // Not inside the lease (less a beat or two: the client's last beat may precede the stop by lease/20).
        assert.ok(backMs >= 0.8 * LEASE_MS, `space came back after ${backMs} ms, inside the client's lease`);
        assert.equal(onlyByte(b, 0xb2), undefined);
      } finally {
        if (stopped) process.kill(pid, 'SIGCONT');
      }
      if (how === 'SIGSTOP') {
        // The client comes back stale: its handle of the deleted file, whose space is the new file's now, is refused.
        assert.equal(errnoOf(() => fs.readSync(fd, Buffer.alloc(4096), 0, 4096, 0)), 'ESTALE');
        fs.closeSync(fd);
      } else {
        try {
          fs.closeSync(fd);
        } catch {
          /* its daemon is dead: the close may fail (ENOTCONN) */
        }
        await reapKilledDaemon(t.mpC, pid);
        umount(t.client, t.mpC);
        t.mpC = mount(t.client, t.dev, 'rg-full-client');
      }
      fs.unlinkSync(b);
    });
  }
});

describe('property 10, short, with the stop-23 options', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  test('a nearly full device, a second device (spread) and interleaved files, under SIGSTOP and SIGKILL', { timeout: 180_000 }, async () => {
    const r = await reuseProperty({ ops: 1000, rounds: 1, seed: 23, clients: 2, leaseMs: LEASE_MS, chaos: true, chaosGapMs: 2000, heldWrites: true, mapWrites: true, freeBytes: 16 * MiB, secondDevice: 4 * GiB, interleaved: 4 });
    console.log(`reuse-gaps: ${r.tried} steps, ${r.reused} reused placements (${r.reusedFromOther} over interleaved or device-1 space), ${r.onSecondDevice} files on device 1, ${r.interleavedEntries} interleaved, ${r.enospc} ENOSPC, ${r.spaceBack} times space came back (longest ${r.spaceBackMaxMs} ms), ${r.fullHeld} checks full with held files; map writes ${r.counts['map-write:ok'] ?? 0} (${r.counts['map-write:of-deleted'] ?? 0} of deleted files); ${r.stops} stops, ${r.kills} kills`);
    assert.deepEqual(r.errors, []);
    assert.equal(r.violations, 0);
    assert.ok((r.counts['map-write:ok'] ?? 0) > 0, 'readers wrote through mappings');
    assert.ok(r.interleavedEntries >= 4, 'interleaved files were in the log');
    assert.ok(r.onSecondDevice > 0, 'files were placed on device 1');
    assert.ok(r.enospc > 0, 'the writer ran out of space');
  });
});
