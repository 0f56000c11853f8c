/**
 * `npm run torture`: the long versions of the reliability properties (the
 * short ones are in test/reliability). Each property runs in its own child
 * process; one that makes no progress within its limit counts as hung, a
 * failure (lib/watchdog.ts). Each ends with one summary line: tried, failed, lost.
 *
 *   node dist/torture/run.js [--quick] [--only NAME[,NAME]] [--seed N]
 *
 * --quick divides every scale by 20 (a smoke run of the harness itself).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { cleanup, makeHost, onProgress, shmDevice, summary } from './lib/common.js';
import { pointKills, randomKills } from './lib/crash.js';
import { concurrentWriters } from './lib/concurrent.js';
import { followWhileWriting } from './lib/follow.js';
import { fuzzLog } from './lib/fuzz.js';
import { fuzzFuse } from './lib/fusefuzz.js';
import { reformatCycles } from './lib/reformat.js';
import { shrinkGrowCycles } from './lib/shrink.js';
import { newFilesProperty } from './lib/newfiles.js';
import { bigLog } from './lib/biglog.js';
import { reuseProperty } from './lib/reuse.js';
import { PROGRESS_LINE, watchProgress } from './lib/watchdog.js';

interface Outcome {
  tried: number;
  failed: number;
  lost: number;
  extra: string;
  errors: string[];
}

interface Property {
  name: string;
  /** A hang: this long without progress (a case tried, a worker started or ended); the whole run may take up to HARD_CAP times as long on a loaded machine. */
  limitMin: number;
  run: (scale: number, seed: number) => Promise<Outcome>;
}

const PROPERTIES: Property[] = [
  {
    name: '1a crash: random SIGKILL',
    limitMin: 8,
    run: async (s, seed) => {
      const h = makeHost('t-crash');
      const r = await randomKills({ master: h, cycles: Math.ceil(220 * s), seed, maxDelayMs: 80, dir: h.dir });
      return { tried: r.tried, failed: r.failed, lost: r.lost, extra: `kill cycles; ${r.entries} entries in the last log; ${r.tornCounters} kills between the counter stores`, errors: r.errors };
    },
  },
  {
    name: '1b crash: exact points',
    limitMin: 4,
    run: async (s, seed) => {
      const h = makeHost('t-points');
      const r = await pointKills({ master: h, rounds: Math.ceil(25 * s), seed, dir: h.dir });
      return { tried: r.tried, failed: r.failed, lost: r.lost, extra: `kills at 6 commit points incl. between data copy and entry; ${r.tornCounters} left next_seqnum ahead`, errors: r.errors };
    },
  },
  {
    name: '2 concurrent writers',
    limitMin: 3,
    run: async (s, seed) => {
      const h = makeHost('t-conc');
      const rounds = s < 1 ? 1 : 2;
      const out: Outcome = { tried: 0, failed: 0, lost: 0, extra: '', errors: [] };
      const ms: string[] = [];
      for (let i = 0; i < rounds; i++) {
        const r = await concurrentWriters({ master: h, workers: 8, ops: Math.ceil(1000 * s), seed: seed + i, dir: h.dir });
        out.tried += r.tried;
        out.failed += r.failed;
        out.lost += r.lost;
        out.errors.push(...r.errors);
        ms.push(`${(r.ms / 1000).toFixed(1)} s`);
      }
      out.extra = `creates; ${rounds} × (8 processes × ${Math.ceil(1000 * s)}), ${ms.join(', ')}`;
      return out;
    },
  },
  {
    name: '3 readers while writing',
    limitMin: 3,
    run: async (s, seed) => {
      const h = makeHost('t-follow');
      const out: Outcome = { tried: 0, failed: 0, lost: 0, extra: '', errors: [] };
      let refreshes = 0;
      for (let i = 0; i < 3; i++) {
        const r = await followWhileWriting({ master: h, ops: Math.ceil(5000 * s), seed: seed + i, dir: h.dir });
        out.tried += r.tried;
        out.failed += r.failed;
        out.lost += r.lost;
        out.errors.push(...r.errors);
        refreshes += r.refreshes;
      }
      out.extra = `committed creates checked at once via replay + daemon LOOKUP; ${refreshes} racing refreshes`;
      return out;
    },
  },
  {
    name: '4 fuzzed log',
    limitMin: 10,
    run: async (s, seed) => {
      const h = makeHost('t-fuzz');
      const t0 = performance.now();
      const r = fuzzLog({ host: h, mutations: Math.ceil(1_000_000 * s), seed, fullEvery: 16 });
      return {
        tried: r.tried, failed: r.failed, lost: r.lost, errors: r.errors,
        extra: `mutations in ${r.runs} replays, ${r.openRefused} opens refused (bad header), ${r.problems} refusals counted by replay/fsck, slowest replay ${r.maxMs.toFixed(1)} ms, ${((performance.now() - t0) / 1000).toFixed(0)} s`,
      };
    },
  },
  {
    name: '5 hostile FUSE input',
    limitMin: 5,
    run: async (s, seed) => {
      const m = makeHost('t-fm'), c = makeHost('t-fc');
      // Half through the /dev/fuse framing, half through the io_uring entry framing.
      const n = Math.ceil(100_000 * s);
      const d = fuzzFuse({ master: m, client: c, messages: n, seed });
      const u = fuzzFuse({ master: m, client: c, messages: n, seed: seed + 1, transport: 'uring' });
      return {
        tried: d.tried + u.tried, failed: d.failed + u.failed, lost: d.lost + u.lost, errors: [...d.errors, ...u.errors],
        extra: `messages (${d.tried} /dev/fuse framing, ${u.tried} io_uring framing), ${d.errnoReplies + u.errnoReplies} errno replies, a valid GETATTR/LOOKUP/READ probe after each`,
      };
    },
  },
  {
    name: '6 re-format detection',
    limitMin: 3,
    run: async (s) => {
      const r = await reformatCycles(Math.ceil(20 * s));
      return { tried: r.tried, failed: r.failed, lost: r.lost, errors: r.errors, extra: r.skipped ? `SKIPPED: ${r.skipped}` : `re-formats under a client mount, slowest ESTALE after ${r.maxMs.toFixed(0)} ms (deadline 2000)` };
    },
  },
  {
    name: '8 new files on the master mount',
    limitMin: 10,
    run: async (s, seed) => {
      const m = makeHost('t-nfm'), c = makeHost('t-nfc');
      const out: Outcome = { tried: 0, failed: 0, lost: 0, extra: '', errors: [] };
      const rounds = Math.max(1, Math.ceil(4 * s));
      let files = 0;
      for (let i = 0; i < rounds; i++) {
        const r = await newFilesProperty({ master: m, client: c, procs: 4, files: 3, ops: Math.ceil(1500 * Math.min(1, s * 4)), seed: seed + i });
        out.tried += r.tried;
        out.failed += r.failed;
        out.lost += r.lost;
        out.errors.push(...r.errors);
        files += r.files;
      }
      out.extra = `random open(O_TRUNC)/pwrite/ftruncate/close steps, 4 processes at once, ${files} files compared with tmpfs on the master and a client after commit`;
      return out;
    },
  },
  {
    name: '7 big log',
    limitMin: 6,
    run: async (s) => {
      const m = makeHost('t-big-m'), c = makeHost('t-big-c');
      const entries = Math.max(10_000, Math.round(1_000_000 * Math.min(s, 1)));
      const r = bigLog({ entries, master: m, client: c, device: shmDevice('biglog') });
      return {
        tried: 1, failed: r.errors.length ? 1 : 0, lost: 0, errors: r.errors,
        extra: `${entries.toLocaleString('en-US')} entries in a ${r.logLen / 2 ** 20} MiB log: mkfs ${(r.mkfsMs / 1000).toFixed(1)} s, fill ${(r.fillMs / 1000).toFixed(1)} s, replay ${(r.replayMs / 1000).toFixed(1)} s, fsck ${(r.fsckMs / 1000).toFixed(1)} s, rss ${(r.rss / 2 ** 20).toFixed(0)} MiB`,
      };
    },
  },
  {
    name: '9 device shrink/grow',
    limitMin: 10,
    run: async (s, seed) => {
      const r = await shrinkGrowCycles(Math.ceil(30 * s), seed);
      return {
        tried: r.tried, failed: r.failed, lost: r.lost, errors: r.errors,
        extra: r.skipped ? `SKIPPED: ${r.skipped}` : `truncates under master+client mounts with I/O running (${r.shrinks} shrinks, ${r.grows} grows, ${r.ioOps} I/O answers, all ok/EIO/ESTALE); slowest ESTALE after ${r.maxStaleMs.toFixed(0)} ms (deadline 2000); lost = daemons dead`,
      };
    },
  },
  {
    name: '10 delete/reuse across hosts',
    limitMin: 10,
    run: async (s, seed) => {
      const rounds = Math.max(1, Math.round(10 * s));
      // Stop 23: writable shared mappings on every round; a nearly full device (32 MiB free), a second
      // device (spread placement) with 4 interleaved files, and both, in turn by round.
      const r = await reuseProperty({ ops: Math.max(1000, Math.ceil(11_000 * s)), rounds, seed, clients: 2, leaseMs: 1000, chaos: true, heldWrites: true, mapWrites: true, freeBytes: 32 * 1024 * 1024, secondDevice: 4 * 1024 ** 3, interleaved: 4, rotateDevices: true });
      return {
        tried: r.tried, failed: r.failed, lost: r.violations, errors: r.errors,
        extra: `steps on 3 hosts (master writer + a reader per host that also writes held files back, through pwrite and writable mappings) in ${rounds} rounds, ${r.okOps} of them operations that succeeded, ${r.violations} wrong bytes; ${r.reused} files placed on reused space; ${r.checkedOpens} client opens checked against the log; ${r.stops} SIGSTOPs past the lease, ${r.kills} SIGKILLs; writable mappings: ${r.counts['map-write:ok'] ?? 0} dirtied ranges (${r.counts['map-write:of-deleted'] ?? 0} of deleted or replaced files, ${r.counts['map-write:fd-closed'] ?? 0} after close), ${r.counts['map-sync:ok'] ?? 0} msyncs; full device: ${r.enospc} ENOSPC answers, ${r.fullHeld} space checks out of space with deleted files held, space came back ${r.spaceBack} times (longest wait ${r.spaceBackMaxMs} ms); two devices: ${r.onSecondDevice} files on device 1, ${r.interleavedEntries} interleaved, ${r.reusedFromOther} placements over their freed space; features: ${r.features}${r.unsupported.length ? `; not in this build: ${r.unsupported.join(', ')}` : ''}; ${opsLine(r.counts)}`,
      };
    },
  },
];

/** "op ok/other…" per op kind, short. */
function opsLine(counts: Record<string, number>): string {
  const by = new Map<string, string[]>();
  for (const [k, v] of Object.entries(counts).sort()) {
    const [op, outcome] = k.split(':') as [string, string];
    by.set(op, [...(by.get(op) ?? []), `${outcome} ${v}`]);
  }
  return [...by].map(([op, xs]) => `${op}: ${xs.join(' ')}`).join('; ');
}
/** How many times its no-progress limit a property may run in all, however steadily it progresses. */
const HARD_CAP = 4;

async function child(name: string, scale: number, seed: number): Promise<void> {
  const p = PROPERTIES.find((x) => x.name === name)!;
  let last = 0;
  onProgress(() => {
    const now = Date.now();
    if (now - last < 1000) return;
    last = now;
    process.stdout.write(`\n${PROGRESS_LINE}\n`);
  });
  try {
    const o = await p.run(scale, seed);
    process.stdout.write(`\nRESULT ${JSON.stringify(o)}\n`);
  } finally {
    cleanup();
  }
}

function runChild(p: Property, scale: number, seed: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', p.name, '--scale', String(scale), '--seed', String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    const limit = Math.max(1, p.limitMin * Math.max(scale, 0.2)) * 60_000;
    const killedFor = watchProgress(c, limit, HARD_CAP * limit);
    c.on('close', (code, signal) => {
      // a child killed on timeout could not clean up: remove its devices and host dirs
      for (const dir of ['/dev/shm', os.tmpdir()]) {
        for (const f of fs.readdirSync(dir)) if (f.startsWith('famfs-rel-') && f.includes(`-${c.pid}-`)) fs.rmSync(`${dir}/${f}`, { recursive: true, force: true });
      }
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (line) resolve(JSON.parse(line.slice(7)) as Outcome);
      else resolve({ tried: 0, failed: 1, lost: 0, extra: killedFor() ? `HUNG: ${killedFor()}` : `crashed (exit ${code ?? signal})`, errors: [out.split('\n').filter((l) => l && l !== PROGRESS_LINE).join('\n').slice(-2000)] });
    });
  });
}

const USAGE = `usage: node dist/torture/run.js [--quick] [--only NAME[,NAME]] [--seed N]
  --quick      every scale divided by 20 (a smoke run of the harness)
  --only       properties whose names start with one of these (e.g. --only 1a,10)
  --seed N     random seed (default 20240601)
  properties: ${PROPERTIES.map((p) => p.name).join('; ')}
`;

/** Options and whether each takes a value (--child and --scale: the parent starting a property). */
const OPTIONS: Record<string, boolean> = { '--quick': false, '--only': true, '--seed': true, '--child': true, '--scale': true };

/** One line naming what is wrong with the command line, or undefined. */
function badArgs(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!(a in OPTIONS)) return a.startsWith('-') ? `unknown option ${a}` : `unexpected argument ${a}`;
    if (OPTIONS[a]) {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) return `${a} needs a value`;
      if ((a === '--seed' || a === '--scale') && !Number.isFinite(Number(v))) return `${a} ${v}: a number expected`;
    }
  }
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const wrong = badArgs(argv);
  if (wrong) {
    process.stderr.write(`torture: ${wrong} (--help for usage)\n`);
    return 2;
  }
  const arg = (k: string): string | undefined => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const seed = Number(arg('--seed') ?? 20240601);
  if (argv.includes('--child')) {
    await child(arg('--child')!, Number(arg('--scale') ?? 1), seed);
    return 0;
  }
  const scale = argv.includes('--quick') ? 0.05 : 1;
  const only = arg('--only')?.split(',');
  const none = only?.find((o) => !PROPERTIES.some((p) => p.name.startsWith(o)));
  if (none !== undefined) {
    process.stderr.write(`torture: --only ${none}: no property starts so (--help lists them)\n`);
    return 2;
  }
  const t0 = performance.now();
  let bad = 0;
  console.log(`famfs torture: seed ${seed}, scale ${scale}`);
  for (const p of PROPERTIES) {
    if (only && !only.some((o) => p.name.startsWith(o))) continue;
    const t = performance.now();
    const o = await runChild(p, scale, seed);
    console.log(summary(p.name, o.tried, o.failed, o.lost, `${o.extra}; ${((performance.now() - t) / 1000).toFixed(0)} s`));
    for (const e of o.errors.slice(0, 5)) console.log(`    ${e.slice(0, 400)}`);
    if (o.failed || o.lost) bad++;
  }
  console.log(`total ${((performance.now() - t0) / 60000).toFixed(1)} min; ${bad ? `${bad} properties FAILED` : 'all properties held'}`);
  return bad ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
