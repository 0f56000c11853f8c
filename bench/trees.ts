/**
 * Small files (issue 13): a generated /usr/share/doc-like tree (thousands of small files,
 * deep long names) copied with `famfs cp -r` into a famfs made with `--features all`
 * (4 KiB allocation units); its space amplification (data extents / file bytes) next to
 * the same files on tmpfs (st_blocks), and the copy's rate next to cp -r to tmpfs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { mkfs } from '../src/api/mkfs.js';
import { Famfs } from '../src/api/famfs.js';
import { dataAmplification } from '../src/api/fsck.js';
import { asMaster, famfs, GiB, run as exec, sparse, time } from './common.js';
import { docTree } from '../test/fs/treegen.js';
import type { BenchContext, BenchRow } from './types.js';

const FILES = Number(process.env.FAMFS_BENCH_DOC_FILES ?? 4000);
const MiB = 1024 * 1024;

function tmpfsBlocks(root: string): number {
  let bytes = 0;
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) bytes += fs.statSync(p).blocks * 512;
    }
  };
  walk(root);
  return bytes;
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const tree = path.join(ctx.shmDir, 'doc');
  const st = docTree(tree, { seed: 13, files: FILES });
  const dev = sparse(ctx, 'trees.img', 8 * GiB);
  asMaster(ctx, () => mkfs(dev, { features: ['long-names', 'symlinks', 'small-units'] }));
  const t = time(() => famfs(ctx, ['cp', '-r', '-d', dev, tree, 'doc']));
  const fsys = asMaster(ctx, () => Famfs.open(dev));
  let amp: ReturnType<typeof dataAmplification>;
  try {
    amp = dataAmplification(fsys);
    if (fsys.stats.files !== st.files) throw new Error(`${fsys.stats.files} files in famfs, ${st.files} generated`);
  } finally {
    fsys.close();
  }
  const ref = tmpfsBlocks(tree) / st.bytes;
  const upstream = st.sizes.reduce((s, x) => s + Math.max(1, Math.ceil(x / (2 * MiB))) * 2 * MiB, 0) / st.bytes;
  const tRef = time(() => exec('cp', ['-r', tree, path.join(ctx.shmDir, 'doc-copy')]));
  return [
    {
      name: `space amplification of a /usr/share/doc-like tree (${st.files.toLocaleString('en-US')} files, ${(st.bytes / MiB).toFixed(1)} MiB) on famfs with 4 KiB units`,
      value: amp.ratio, unit: '×', better: 'lower',
      ref: 'the same files on tmpfs (st_blocks)', refValue: ref,
      note: `goal ≤ 1.5; upstream's 2 MiB units would take ${upstream.toFixed(1)}× (computed); log entries add ${((fsys.stats.entries * 544) / st.bytes).toFixed(3)}× more`,
    },
    {
      name: `famfs cp -r of that tree (one process)`, value: st.files / t, unit: 'files/s',
      ref: 'cp -r of the same tree to tmpfs', refValue: st.files / tRef, note: 'whole process including node start-up',
    },
  ];
}
