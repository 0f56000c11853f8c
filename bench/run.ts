/**
 * `npm run bench`: run the bench modules in sequence and print each figure
 * next to a reference measured in the same run, and their ratio.
 *
 *   node dist/bench/run.js            all modules
 *   node dist/bench/run.js replay cp  only the modules named
 *   node dist/bench/run.js kernel     famfs kernel mode vs daemon mode in a qemu guest (only when named)
 *   node dist/bench/run.js issue15    only the modules that measure issue 15's rows (bench/goals.ts)
 *   node dist/bench/run.js --json     rows as one JSON document at the end
 *   FAMFS_BENCH_RUNS=1                one run per figure in the fuse module (default 2; best kept)
 *
 * Adding a module: write bench/<name>.ts exporting `run: BenchFn` (see
 * types.ts) and add one line to MODULES below.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMounted, readMountInfo } from '../src/fuse/mountinfo.js';
import { MNT_DETACH, umount2 } from '../src/sys/libc.js';
import { ISSUE15, issue15Goal } from './goals.js';
import { formatRow, issue15Summary } from './report.js';
import type { BenchContext, BenchFn, BenchRow } from './types.js';

const MODULES: Record<string, () => Promise<{ run: BenchFn }>> = {
  startup: () => import('./startup.js'),
  replay: () => import('./replay.js'),
  biglog: () => import('./biglog.js'),
  creat: () => import('./creat.js'),
  cp: () => import('./cp.js'),
  fuse: () => import('./fuse.js'), create: () => import('./create.js'), ceiling: () => import('./ceiling.js'),
  trees: () => import('./trees.js'),
  coherency: () => import('./coherency.js'),
  kernel: () => import('./kernel.js'),
  uring: () => import('./uring.js'),
  reclaim: () => import('./reclaim.js'),
};
/** Modules run only when named (`npm run bench kernel`): they boot VM guests. */
const ON_REQUEST = new Set(['kernel']);

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const USAGE = `usage: node dist/bench/run.js [--json] [MODULE|issue15 ...]
  modules: ${Object.keys(MODULES).join(', ')} (${[...ON_REQUEST].join(', ')} only when named)
  FAMFS_BENCH_RUNS=N runs per figure in the fuse module (default 2)
`;

/** Unmount what a module left mounted under its scratch dir (a failed module may not have); never throws. */
function unmountLeftovers(dir: string, env: NodeJS.ProcessEnv, log: (l: string) => void): void {
  const left = readMountInfo().filter((m) => m.mountpoint === dir || m.mountpoint.startsWith(`${dir}/`)).reverse();
  for (const m of left) {
    const r = spawnSync(process.execPath, [path.join(REPO, 'bin/famfs.js'), 'umount', m.mountpoint], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
    if (r.status === 0 || !isMounted(m.mountpoint)) log(`unmounted ${m.mountpoint}, left mounted by the module`);
    else {
      try {
        umount2(m.mountpoint, MNT_DETACH);
        log(`detached ${m.mountpoint}, left mounted by the module (famfs umount: ${r.stderr?.toString().trim() || r.signal})`);
      } catch (e) {
        log(`could not unmount ${m.mountpoint}: ${(e as Error).message}`);
      }
    }
  }
}

/** Remove a scratch dir; a failure is one line, never the end of the bench. */
function removeDir(d: string, log: (l: string) => void): void {
  try {
    fs.rmSync(d, { recursive: true, force: true });
  } catch (e) {
    log(`could not remove ${d}: ${(e as Error).message}`);
  }
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const unknown = argv.find((a) => a.startsWith('-') && a !== '--json');
  if (unknown) {
    process.stderr.write(`bench: unknown option ${unknown} (--help for usage)\n`);
    return 2;
  }
  const asJson = argv.includes('--json');
  const named = argv.filter((a) => !a.startsWith('--'));
  const wanted = named.includes('issue15')
    ? Object.keys(MODULES).filter((m) => named.includes(m) || ISSUE15.some((g) => g.module === m))
    : named;
  for (const w of wanted) if (!MODULES[w]) {
    process.stderr.write(`bench: unknown module ${w} (have: ${Object.keys(MODULES).join(', ')})\n`);
    return 2;
  }
  const names = wanted.length ? wanted : Object.keys(MODULES).filter((m) => !ON_REQUEST.has(m));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-bench-'));
  let uuidFile = process.env.FAMFS_SYSTEM_UUID_FILE;
  if (!uuidFile) {
    uuidFile = path.join(tmp, 'system_uuid');
    fs.writeFileSync(uuidFile, `${randomUUID()}\0`, { mode: 0o444 });
  }
  const env = { ...process.env, FAMFS_SYSTEM_UUID_FILE: uuidFile };
  const scratch: string[] = [];
  const say = (l: string): void => void process.stderr.write(`bench: ${l}\n`);
  const cleanup = (): void => {
    for (const d of scratch) {
      unmountLeftovers(d, env, say);
      removeDir(d, say);
    }
    removeDir(tmp, say);
  };
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  process.on('exit', cleanup);

  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(`famfs bench: node ${process.version}, ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM; devices are sparse files on tmpfs (/dev/shm)\n\n`);
  const rows: (BenchRow & { module: string })[] = [];
  let failed = 0;
  const failedModules = new Set<string>();
  const tAll = Date.now();
  for (const name of names) {
    const shmDir = fs.mkdtempSync(`/dev/shm/famfs-bench-${name}-`);
    scratch.push(shmDir);
    const ctx: BenchContext = { shmDir, env, repo: REPO, log: (l) => process.stdout.write(`  [${name}] ${l}\n`) };
    const t0 = Date.now();
    try {
      const mod = await MODULES[name]!();
      for (const r of await mod.run(ctx)) {
        r.goal ??= issue15Goal(name, r);
        rows.push({ module: name, ...r });
        process.stdout.write(formatRow(r) + '\n');
      }
      ctx.log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } catch (e) {
      failed++;
      failedModules.add(name);
      process.stdout.write(`[${name}] FAILED: ${(e as Error).stack ?? e}\n`);
    } finally {
      unmountLeftovers(shmDir, env, ctx.log);
      removeDir(shmDir, ctx.log);
    }
  }
  process.stdout.write(issue15Summary(rows, names, failedModules));
  process.stdout.write(`\nbench: ${names.length} modules in ${((Date.now() - tAll) / 60_000).toFixed(1)} min\n`);
  if (asJson) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
