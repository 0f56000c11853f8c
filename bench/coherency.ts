/**
 * What cache coherence costs (docs/coherency.md): the CPU routines per MiB,
 * and log appends, `famfs cp` of 1 GiB and daemon reads with the routines on
 * (the default) against FAMFS_COHERENT=1 (off), alternating the two.
 */
import fs from 'node:fs';
import { randomFillSync } from 'node:crypto';
import path from 'node:path';
import { cacheOps } from '../src/sys/fcc.js';
import { Famfs } from '../src/api/famfs.js';
import { mkfs } from '../src/api/mkfs.js';
import { asMaster, famfs, GiB, MiB, sparse, time } from './common.js';
import { Mounts, timed } from './fusekit.js';
import { HAVE_FUSE } from '../test/fs/mounted.js';
import type { BenchContext, BenchRow } from './types.js';

const RUNS = 3;

/** Best of n for `on` and `off`, alternating. */
function pair(n: number, on: () => number, off: () => number): [number, number] {
  let a = Infinity, b = Infinity;
  for (let i = 0; i < n; i++) {
    a = Math.min(a, on());
    b = Math.min(b, off());
  }
  return [a, b];
}

/** Run fn with FAMFS_COHERENT set or not (read when a Device opens). */
function coherent<T>(off: boolean, fn: () => T): T {
  const old = process.env.FAMFS_COHERENT;
  process.env.FAMFS_COHERENT = off ? '1' : '0';
  try {
    return fn();
  } finally {
    if (old === undefined) delete process.env.FAMFS_COHERENT;
    else process.env.FAMFS_COHERENT = old;
  }
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  delete process.env.FAMFS_SIM_NONCOHERENT;

  // --- the routines, per MiB, on a 64 MiB shared file mapping (dirty: just written; clean: written back already)
  const dev = sparse(ctx, 'fcc.img', 4 * GiB);
  asMaster(ctx, () => mkfs(dev));
  const fam = asMaster(ctx, () => Famfs.open(dev, { writable: true }));
  try {
    const buf = fam.device.view(fam.geometry.dataStart, 64 * MiB);
    const flags = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const choices = process.arch === 'x64' ? ['clwb', 'clflushopt', 'clflush'].filter((f) => new RegExp(`\\b${f}\\b`).test(flags)) : [undefined];
    for (const choice of choices) {
      const ops = cacheOps(choice);
      const per = (fn: () => void, dirty: boolean): number => {
        let best = Infinity;
        for (let i = 0; i < 5; i++) {
          buf.fill(i + 1);
          if (!dirty) ops.writeBack(buf);
          best = Math.min(best, time(fn));
        }
        return (best / 64) * 1e6;
      };
      const fill = per(() => buf.fill(9), true);
      for (const dirty of [true, false]) {
        rows.push({ name: `write-back (${ops.info.writeBack}) of 64 MiB ${dirty ? 'just written' : 'already clean'}`, value: per(() => ops.writeBack(buf), dirty), unit: 'µs/MiB', ref: 'writing the same MiB (Buffer.fill)', refValue: fill, note: `best of 5, ${ops.info.via} code page` });
        rows.push({ name: `invalidate (${ops.info.invalidate}) of 64 MiB ${dirty ? 'just written' : 'already clean'}`, value: per(() => ops.invalidate(buf), dirty), unit: 'µs/MiB', ref: 'writing the same MiB (Buffer.fill)', refValue: fill, note: 'best of 5' });
      }
    }
  } finally {
    fam.close();
  }

  // --- log appends (mkdir entries, one writer session each) in this process
  const N = 2000;
  let round = 0;
  const appends = (off: boolean): number => coherent(off, () => asMaster(ctx, () => {
    const f = Famfs.open(dev, { writable: true });
    try {
      const top = `a${round++}`;
      return time(() => f.writer((w) => { w.mkdir(top); for (let i = 0; i < N; i++) w.mkdir(`${top}/${i}`); }));
    } finally {
      f.close();
    }
  }));
  const [tOn, tOff] = pair(RUNS, () => appends(false), () => appends(true));
  rows.push({ name: `log append, coherence on (${N.toLocaleString('en-US')} mkdir entries, one writer session)`, value: N / tOn, unit: 'entries/s', ref: 'FAMFS_COHERENT=1 (no write-back, no invalidate)', refValue: N / tOff, note: `best of ${RUNS}; each append writes back its entry and the header, and replay invalidates the header and the new slot` });

  // --- famfs cp of 1 GiB (a whole CLI process)
  const src = path.join(ctx.shmDir, 'src-1g');
  const chunk = Buffer.alloc(64 * MiB);
  const fd = fs.openSync(src, 'w');
  for (let i = 0; i < 16; i++) fs.writeSync(fd, randomFillSync(chunk));
  fs.closeSync(fd);
  const cpDev = sparse(ctx, 'cp.img', 8 * GiB);
  asMaster(ctx, () => mkfs(cpDev));
  let k = 0;
  const cp = (off: boolean): number => time(() => famfs({ ...ctx, env: { ...ctx.env, FAMFS_COHERENT: off ? '1' : '0' } }, ['cp', '-d', cpDev, src, `big${k++}`]));
  const [cOn, cOff] = pair(2, () => cp(false), () => cp(true));
  rows.push({ name: 'famfs cp of 1 GiB, coherence on', value: 1024 / cOn, unit: 'MiB/s', ref: 'FAMFS_COHERENT=1', refValue: 1024 / cOff, note: 'best of 2, whole process; on = CLWB of the copied GiB after copying it' });
  fs.rmSync(src);
  fs.rmSync(cpDev);

  // --- daemon reads through a mount, coherence on vs off (the daemon invalidates each READ's range)
  if (!HAVE_FUSE) {
    ctx.log('no /dev/fuse or not root: daemon read rows skipped');
    return rows;
  }
  const rdDev = sparse(ctx, 'read.img', 4 * GiB);
  asMaster(ctx, () => mkfs(rdDev));
  const big = 512 * MiB;
  asMaster(ctx, () => {
    const f = Famfs.open(rdDev, { writable: true });
    try {
      f.writer((w) => w.creat('big', big, {}, (m) => { for (const s of f.slices(m, 0, big)) randomFillSync(s); f.flushFile(m); }));
    } finally {
      f.close();
    }
  });
  // One device cannot be mounted twice on a host: mount, read, unmount, alternating on and off.
  const mOn = new Mounts({ ...ctx, env: { ...ctx.env, FAMFS_COHERENT: '0' } });
  const mOff = new Mounts({ ...ctx, env: { ...ctx.env, FAMFS_COHERENT: '1' } });
  try {
    for (const bs of ['1M', '128k']) {
      const read = (off: boolean): number => {
        const m = off ? mOff : mOn;
        const mp = m.famfs(rdDev, m.dir('coh'), ['--data-path', 'daemon']);
        try {
          timed('dd', [`if=${mp}/big`, 'of=/dev/null', `bs=${bs}`]); // warm: the daemon maps and faults in the file
          return Math.min(timed('dd', [`if=${mp}/big`, 'of=/dev/null', `bs=${bs}`]), timed('dd', [`if=${mp}/big`, 'of=/dev/null', `bs=${bs}`]));
        } finally {
          m.unmount(mp);
        }
      };
      const [rOn, rOff] = pair(RUNS, () => read(false), () => read(true));
      rows.push({ name: `daemon read of 512 MiB, dd bs=${bs}, coherence on`, value: big / MiB / rOn, unit: 'MiB/s', ref: 'the same mount with FAMFS_COHERENT=1', refValue: big / MiB / rOff, note: `best of ${RUNS}×2 warm reads; on = each READ invalidates (MFENCE, CLFLUSHOPT per line, MFENCE) the range it serves` });
    }
  } finally {
    mOn.unmountAll();
    mOff.unmountAll();
  }
  return rows;
}
