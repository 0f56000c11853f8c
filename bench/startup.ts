/**
 * CLI start-up: `famfs --version` and `famfs ls` of a small file system,
 * each against a bare `node -e 0` run right before it (paired runs; the
 * median of the per-pair times, so that load on a shared machine hits both
 * sides alike). Goal (issue 15): ≤ 1.5× `node -e 0`.
 */
import { mkfs } from '../src/api/mkfs.js';
import { Famfs } from '../src/api/famfs.js';
import { asMaster, famfs, GiB, run as exec, sparse, time } from './common.js';
import type { BenchContext, BenchRow } from './types.js';

const PAIRS = 9;

function med(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const dev = sparse(ctx, 'startup.img', 4 * GiB);
  asMaster(ctx, () => {
    mkfs(dev);
    const f = Famfs.open(dev, { writable: true });
    try {
      f.writer((w) => {
        w.mkdir('d');
        for (let i = 0; i < 10; i++) w.creat(`d/f${i}`, 4096);
      });
    } finally {
      f.close();
    }
  });
  const nodeT: number[] = [];
  const verT: number[] = [];
  const lsT: number[] = [];
  famfs(ctx, ['ls', '-d', dev]); // warm the file cache once
  for (let i = 0; i < PAIRS; i++) {
    nodeT.push(time(() => exec(process.execPath, ['-e', '0'])));
    verT.push(time(() => famfs(ctx, ['--version'])));
    lsT.push(time(() => famfs(ctx, ['ls', '-R', '-d', dev])));
  }
  const node = med(nodeT);
  const note = `goal ≤ 1.5× (issue 15); median of ${PAIRS} interleaved runs`;
  return [
    { name: 'famfs --version', value: med(verT), unit: 's', ref: 'node -e 0', refValue: node, note },
    { name: 'famfs ls -R of 11 entries', value: med(lsT), unit: 's', ref: 'node -e 0', refValue: node, note },
  ];
}
