/**
 * Property 8: files made through the master's mount end up exactly as the
 * same sequence of operations leaves a tmpfs file. Several processes at once
 * (newfiles-child.ts) create files on the mount and run random
 * open(O_TRUNC) / pwrite / ftruncate (shrink and grow) / close on them, each
 * step mirrored on tmpfs; after the last close every file must be logged and
 * byte-identical to its twin on the master's mount and on a client's mount.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { asHost, GiB, REPO, shmDevice, waitChild, type Host } from './common.js';
import { Famfs } from '../../src/api/famfs.js';
import { fsck } from '../../src/api/fsck.js';

const CHILD = path.join(REPO, 'dist/torture/lib/newfiles-child.js');
const FAMFS = path.join(REPO, 'bin/famfs.js');

export interface NewFilesOptions {
  master: Host;
  client: Host;
  procs: number;
  files: number;
  ops: number;
  seed: number;
}

export interface NewFilesResult {
  tried: number;
  failed: number;
  lost: number;
  files: number;
  errors: string[];
}

function famfs(h: Host, args: string[]): void {
  const r = spawnSync(process.execPath, [FAMFS, ...args], { env: h.env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`famfs ${args.join(' ')}: ${r.stderr}`);
}

function mountAs(h: Host, dev: string, extra: string[] = []): string {
  const mp = fs.mkdtempSync(path.join(os.tmpdir(), `famfs-rel-mnt-${process.pid}-`));
  famfs(h, ['mount', ...extra, dev, mp]);
  return mp;
}

function umount(h: Host, mp: string): void {
  spawnSync(process.execPath, [FAMFS, 'umount', mp], { env: h.env });
  fs.rmdirSync(mp);
}

async function waitLogged(h: Host, dev: string, paths: string[], ms: number): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const missing = asHost(h, () => {
      const f = Famfs.open(dev);
      try {
        return paths.filter((p) => f.tree.lookup(p)?.kind !== 'file');
      } finally {
        f.close();
      }
    });
    if (missing.length === 0 || Date.now() > deadline) return missing;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function newFilesProperty(o: NewFilesOptions): Promise<NewFilesResult> {
  const out: NewFilesResult = { tried: 0, failed: 0, lost: 0, files: 0, errors: [] };
  const dev = shmDevice('newfiles', 8 * GiB);
  famfs(o.master, ['mkfs', dev]);
  const model = fs.mkdtempSync(`/dev/shm/famfs-rel-model-${process.pid}-`);
  const mp = mountAs(o.master, dev);
  let cmp: string | undefined;
  try {
    const jobs = Array.from({ length: o.procs }, (_, i) => ({ dir: path.join(mp, `p${i}`), model: path.join(model, `p${i}`), seed: o.seed * 1000 + i, files: o.files, ops: o.ops }));
    const results = await Promise.all(jobs.map((j) => waitChild(spawn(process.execPath, [CHILD, JSON.stringify(j)], { stdio: ['ignore', 'pipe', 'pipe'] }))));
    results.forEach((r, i) => {
      const line = r.stdout.trim().split('\n').pop() ?? '';
      if (r.code !== 0 || !line.startsWith('{')) {
        out.failed++;
        out.errors.push(`process ${i} (seed ${jobs[i]!.seed}) exit ${r.code ?? r.signal}: ${r.stderr.slice(-500)}`);
        return;
      }
      const res = JSON.parse(line) as { steps: number; errors: string[] };
      out.tried += res.steps;
      out.failed += res.errors.length;
      out.errors.push(...res.errors.map((e) => `seed ${jobs[i]!.seed}: ${e}`));
    });
    const rel = jobs.flatMap((j, i) => Array.from({ length: o.files }, (_, k) => `p${i}/f${k}`));
    out.files = rel.length;
    const missing = await waitLogged(o.master, dev, rel, 10_000);
    for (const m of missing) out.errors.push(`${m}: not logged 10 s after its last close`);
    out.lost += missing.length;
    cmp = mountAs(o.client, dev);
    for (const r of rel) {
      if (missing.includes(r)) continue;
      const want = fs.readFileSync(path.join(model, r));
      for (const [where, root] of [['master', mp], ['client', cmp]] as const) {
        const got = fs.readFileSync(path.join(root, r));
        if (!got.equals(want)) {
          out.lost++;
          out.errors.push(`${r} on the ${where}: ${got.length} bytes, model ${want.length}${got.length === want.length ? ', contents differ' : ''}`);
        }
      }
    }
    const report = asHost(o.master, () => {
      const f = Famfs.open(dev);
      try {
        return fsck(f);
      } finally {
        f.close();
      }
    });
    if (!report.clean) {
      out.failed++;
      out.errors.push(`fsck: ${JSON.stringify(report.problems).slice(0, 300)}`);
    }
  } finally {
    if (cmp) umount(o.client, cmp);
    umount(o.master, mp);
    fs.rmSync(model, { recursive: true, force: true });
  }
  return out;
}
