/**
 * (b) Creating files: many creat in one writer session through the library,
 * and one `famfs creat` process per file (upstream issue #60: ~100 ms each).
 * References: creating the same number of empty files on tmpfs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Famfs } from '../src/api/famfs.js';
import { mkfs } from '../src/api/mkfs.js';
import { asMaster, famfs, GiB, run as exec, sparse, time } from './common.js';
import type { BenchContext, BenchRow } from './types.js';

const N = 5000;
const PROCS = 20;

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const dev = sparse(ctx, 'creat.img', 16 * GiB);
  asMaster(ctx, () => mkfs(dev));
  const lib = asMaster(ctx, () => {
    const f = Famfs.open(dev, { writable: true });
    try {
      return time(() => f.writer((w) => {
        for (let i = 0; i < N; i++) w.creat(`f${i}`, 4096);
      }));
    } finally {
      f.close();
    }
  });
  const dir = path.join(ctx.shmDir, 'tmpfs-files');
  fs.mkdirSync(dir);
  const ref = time(() => {
    for (let i = 0; i < N; i++) fs.closeSync(fs.openSync(path.join(dir, `f${i}`), 'wx'));
  });

  const proc = time(() => {
    for (let i = 0; i < PROCS; i++) famfs(ctx, ['creat', '-d', dev, '-s', '4096', `p${i}`]);
  });
  const procRef = time(() => {
    for (let i = 0; i < PROCS; i++) exec('touch', [path.join(dir, `p${i}`)]);
  });
  const nodeStart = time(() => {
    for (let i = 0; i < 5; i++) exec(process.execPath, ['-e', '0']);
  }) / 5;
  return [
    { name: `creat in one writer session (library, ${N} files)`, value: N / lib, unit: 'files/s', ref: 'open(O_CREAT|O_EXCL)+close of empty files on tmpfs', refValue: N / ref },
    { name: `famfs creat, one process per file (${PROCS} files)`, value: PROCS / proc, unit: 'files/s', ref: 'touch, one process per file', refValue: PROCS / procRef,
      note: `a bare \`node -e 0\` takes ${(nodeStart * 1000).toFixed(0)} ms here; famfs creat takes ${(proc / PROCS * 1000).toFixed(0)} ms per process` },
  ];
}
