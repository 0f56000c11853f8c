/**
 * Property 9: the device file shrinks or grows under live master and client
 * mounts while another process reads and writes files through both. A daemon
 * must never die (SIGBUS); after a shrink every answer is EIO or ESTALE and
 * both mounts answer ESTALE within the deadline, with a log line; after a grow
 * the mounts go on serving the same bytes. Needs root and /dev/fuse.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { asHost, famfsOk, GiB, makeHost, MiB, removeAllShm, removeHost, sparseFile, type Host } from '../../test/core/helpers.js';
import { HAVE_FUSE, mount, pidAlive, umount, umountAll, waitFor } from '../../test/fs/mounted.js';
import { Famfs } from '../../src/api/famfs.js';
import { FM_ALL_HOSTS_RW } from '../../src/format/constants.js';
import { getxattr } from '../../src/sys/libc.js';
import { prng, progress } from './common.js';

const DEVICE_SIZE = 8 * GiB;
const FILE_SIZE = 4 * MiB;

export interface ShrinkResult {
  tried: number;
  failed: number;
  lost: number;
  shrinks: number;
  grows: number;
  maxStaleMs: number;
  ioOps: number;
  errors: string[];
  skipped?: string;
}

/** Files spread over the device (one in every GiB), each filled with its index byte. */
function populate(master: Host, dev: string): string[] {
  const names: string[] = [];
  asHost(master, () => {
    const f = Famfs.open(dev, { writable: true });
    try {
      f.writer(() => {
        for (let g = 1; g < DEVICE_SIZE / GiB; g++) {
          const name = `f${g}`;
          f.log.append({ type: 'file', path: name, size: FILE_SIZE, flags: FM_ALL_HOSTS_RW, mode: 0o644, uid: 0, gid: 0, map: { kind: 'simple', extents: [{ devindex: 0, offset: g * GiB + 64 * MiB, length: FILE_SIZE }] } });
          names.push(name);
        }
      });
      f.refresh();
      for (const n of names) f.write(f.file(n), 0, Buffer.alloc(FILE_SIZE, Number(n.slice(1))));
    } finally {
      f.close();
    }
  });
  return names;
}

/** A child process that reads and writes the files through both mounts until killed; prints counts. */
const LOAD = `
const fs = require('fs');
const [mps, names] = JSON.parse(process.argv[1]);
const counts = {};
const buf = Buffer.alloc(65536);
let i = 0;
const stop = () => { process.stdout.write(JSON.stringify(counts)); process.exit(0); };
process.on('SIGTERM', stop);
(function loop() {
  for (let k = 0; k < 50; k++, i++) {
    const p = mps[i % mps.length] + '/' + names[(i * 7) % names.length];
    let r = 'ok';
    try {
      const fd = fs.openSync(p, i % 3 ? 'r' : 'r+');
      try {
        if (i % 3) fs.readSync(fd, buf, 0, buf.length, (i * 4096) % (4 << 20));
        else fs.writeSync(fd, buf.fill(Number(names[(i * 7) % names.length].slice(1))), 0, 4096, (i * 4096) % (4 << 20));
      } finally { fs.closeSync(fd); }
    } catch (e) { r = e.errno === -116 ? 'ESTALE' : e.code; }
    counts[r] = (counts[r] || 0) + 1;
  }
  if (i === 50) process.stdout.write('R\\n');
  setImmediate(loop);
})();
`;

function staleNow(mp: string): boolean {
  try {
    fs.readdirSync(mp);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).errno === -116;
  }
}

export async function shrinkGrowCycles(cycles: number, seed: number, deadlineMs = 2000): Promise<ShrinkResult> {
  const res: ShrinkResult = { tried: 0, failed: 0, lost: 0, shrinks: 0, grows: 0, maxStaleMs: 0, ioOps: 0, errors: [] };
  if (!HAVE_FUSE) return { ...res, skipped: 'no /dev/fuse or not root' };
  const master = makeHost('shr-m'), client = makeHost('shr-c');
  const rand = prng(seed);
  const dev = sparseFile('tort-shrink', DEVICE_SIZE);
  try {
    for (let i = 0; i < cycles; i++) {
      res.tried++;
      progress();
      fs.truncateSync(dev, DEVICE_SIZE);
      famfsOk(master, ['mkfs', '--force', dev]);
      const names = populate(master, dev);
      const mlog = path.join(master.dir, `m${i}.log`), clog = path.join(client.dir, `c${i}.log`);
      const m = mount(master, dev, 'shr-m', ['--data-path', 'daemon', '--log', mlog]);
      const c = mount(client, dev, 'shr-c', ['--data-path', 'daemon', '--log', clog]);
      const pids = [m, c].map((mp) => Number(getxattr(mp, 'user.famfs.pid')));
      const load = spawn(process.execPath, ['-e', LOAD, JSON.stringify([[m, c], names])], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      load.stdout.on('data', (d) => (out += d));
      const done = new Promise<void>((r) => load.on('close', () => r()));
      const problems: string[] = [];
      let shrink = false;
      try {
        // The load runs before the truncate (node can take seconds to start on a loaded machine).
        await waitFor(() => out.startsWith('R\n'), 60_000, 10);
        await new Promise((r) => setTimeout(r, 20 + Math.floor(rand() * 200)));
        // Shrink 3 times in 4: anywhere from 0 (even below the log) to just under the old end; else grow.
        shrink = rand() < 0.75;
        const to = shrink ? Math.floor((rand() * DEVICE_SIZE) / 4096) * 4096 : DEVICE_SIZE + Math.floor(rand() * 4) * GiB + 4096;
        fs.truncateSync(dev, to);
        if (shrink) {
          res.shrinks++;
          const ms = await waitFor(() => staleNow(m) && staleNow(c), deadlineMs, 5).catch(() => -1);
          if (ms < 0) problems.push(`shrink to ${to}: not ESTALE on both mounts within ${deadlineMs} ms`);
          else res.maxStaleMs = Math.max(res.maxStaleMs, ms);
        } else {
          res.grows++;
          await new Promise((r) => setTimeout(r, 100));
          for (const mp of [m, c]) {
            const n = names[Math.floor(rand() * names.length)]!;
            const got = fs.readFileSync(path.join(mp, n));
            if (got.length !== FILE_SIZE || got.some((b) => b !== Number(n.slice(1)))) problems.push(`grow to ${to}: ${mp}/${n} changed`);
          }
        }
        await new Promise((r) => setTimeout(r, 100));
      } catch (e) {
        problems.push(`cycle ${i}: ${(e as Error).message}`);
      } finally {
        load.kill('SIGTERM');
        await done;
      }
      const counts = JSON.parse(out.replace(/^R\n/, '') || '{}') as Record<string, number>;
      for (const [k, v] of Object.entries(counts)) {
        res.ioOps += v;
        if (!['ok', 'EIO', 'ESTALE'].includes(k)) problems.push(`I/O answered ${k} ${v} times`);
      }
      pids.forEach((pid, k) => {
        if (!pidAlive(pid)) {
          res.lost++;
          problems.push(`${k ? 'client' : 'master'} daemon ${pid} died`);
        }
      });
      for (const [log, who] of [[mlog, 'master'], [clog, 'client']] as const) {
        const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
        if (/handler threw|internal error/.test(text)) problems.push(`${who} daemon log: ${text.match(/.*(handler threw|internal error).*/)![0].slice(0, 200)}`);
        if (shrink && !/shrank/.test(text)) problems.push(`${who}: ESTALE without a "shrank" log line`);
      }
      umount(client, c);
      umount(master, m);
      if (problems.length) {
        res.failed++;
        res.errors.push(...problems.map((p) => `cycle ${i}: ${p}`));
      }
    }
  } finally {
    umountAll(client);
    umountAll(master);
    removeAllShm();
    removeHost(master);
    removeHost(client);
  }
  return res;
}
