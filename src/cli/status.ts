import type { Command } from 'commander';
import { FamfsError } from '../api/errors.js';
import { famfsMountList, findMounted } from '../api/locate.js';
import { famfsMountInfoAt, mountDaemon } from '../api/mountrecord.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DaemonStatus } from '../fs/status.js';
import type { ProbeAnswer } from './status-probe.js';
import { printJson } from './context.js';
import { humanSize } from './longlist.js';
import { daxDriver } from '../device/daxmode.js';

type Row = { device: string; mountpoint: string; role: string; dataPath: string; pid: number | null; daxDriver?: string } & Partial<Omit<DaemonStatus, 'role' | 'dataPath' | 'pid'>>;

/** How long one mount may take to answer before it is reported unresponsive. */
const PROBE_TIMEOUT_MS = Number(process.env.FAMFS_STATUS_TIMEOUT_MS) || 5000;
const PROBE_JS = fileURLToPath(new URL('./status-probe.js', import.meta.url));

/** Run the probe child over `mps` until it answers them all, or stalls on one (then it is killed). */
function probeRun(mps: string[], answers: Map<string, ProbeAnswer>): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PROBE_JS, ...mps], { stdio: ['ignore', 'pipe', 'ignore'] });
    let buf = '';
    let timer: NodeJS.Timeout;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS);
    };
    arm();
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const a = JSON.parse(buf.slice(0, nl)) as ProbeAnswer;
        answers.set(a.mountpoint, a);
        buf = buf.slice(nl + 1);
        arm();
      }
    });
    child.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Ask every mount's daemon in a child process: a hung FUSE mount (its daemon stopped, or
 * gone with the connection left open) blocks getxattr forever, and must not hang status.
 */
async function probeAll(mounts: { mountpoint: string }[]): Promise<Map<string, ProbeAnswer>> {
  const answers = new Map<string, ProbeAnswer>();
  let left = mounts.map((m) => m.mountpoint);
  while (left.length) {
    await probeRun(left, answers);
    const i = left.findIndex((mp) => !answers.has(mp));
    if (i < 0) break;
    answers.set(left[i]!, { mountpoint: left[i]!, error: `no answer within ${PROBE_TIMEOUT_MS} ms` });
    left = left.slice(i + 1);
  }
  return answers;
}

function rowOf(m: { device: string; mountpoint: string }, a: ProbeAnswer | undefined): Row {
  if (a?.status) return { device: m.device, mountpoint: m.mountpoint, ...(JSON.parse(a.status) as DaemonStatus) };
  const role = a?.error?.startsWith('no answer') ? 'unresponsive' : a?.role ?? 'unreachable';
  return { device: m.device, mountpoint: m.mountpoint, role, dataPath: a?.dataPath ?? 'unknown', pid: a?.pid ? Number(a.pid) : null };
}

function duration(s: number): string {
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${Math.floor(s % 60)}s` : `${s.toFixed(1)}s`;
}

function text(r: Row): string[] {
  const L = [`${r.mountpoint}: ${r.device}`];
  L.push(`  role: ${r.role}   data path: ${r.dataPath}${r.daxDriver ? `   driver: ${r.daxDriver}` : ''}   pid: ${r.pid ?? '-'}${r.uptimeS !== undefined ? `   uptime: ${duration(r.uptimeS)}` : ''}${r.version ? `   version: ${r.version}` : ''}`);
  for (const d of r.devices ?? []) {
    L.push(`  device ${d.index}: ${d.path || '(not found on this host)'}   used ${humanSize(d.used)} of ${humanSize(d.capacity)} (${d.capacity ? ((100 * d.used) / d.capacity).toFixed(1) : '0.0'}%), free ${humanSize(d.free)}`);
  }
  if (r.log) L.push(`  log: ${r.log.used} of ${r.log.capacity} entries used`);
  if (r.pendingNodes !== undefined) L.push(`  new nodes waiting for commit: ${r.pendingNodes}`);
  if (r.workerCreates !== undefined) L.push(`  files made by the FUSE workers (no main-thread call): ${r.workerCreates}`);
  if (r.presence) {
    const p = r.presence;
    const live = p.others.filter((o) => o.liveness === 'live'), gone = p.others.filter((o) => o.liveness === 'gone');
    const who = (l: typeof live): string => (l.length ? ` (${l.map((o) => `${o.label || '?'} [slot ${o.slot}]`).join(', ')})` : '');
    L.push(`  presence: slot ${p.slot}, lease ${p.leaseMs / 1000} s${p.stale ? ', STALE (rejoining; serving ESTALE)' : ''}`);
    L.push(`  other hosts seen: ${live.length} live${who(live)}, ${gone.length} gone${who(gone)}`);
  }
  if (r.requests?.length) {
    L.push('  requests:           count     avg µs     max µs');
    for (const q of r.requests) L.push(`    ${q.name.padEnd(14)} ${String(q.count).padStart(9)} ${q.avgUs.toFixed(1).padStart(10)} ${q.maxUs.toFixed(1).padStart(10)}`);
  }
  return L;
}

export function register(program: Command): void {
  program
    .command('status')
    .description("this host's famfs mounts (or the one holding MOUNTPOINT): role, data path, devices and their use, log entries used, new nodes waiting, files the FUSE workers made, requests per opcode with latency, daemon pid, uptime, version")
    .argument('[MOUNTPOINT]', 'a famfs mount point or any path inside one (default: every famfs mount)')
    .option('--json', 'one JSON document: an array with one object per mount')
    .action(async (where: string | undefined, o: { json?: boolean }) => {
      let mounts = famfsMountList();
      if (where !== undefined) {
        const m = findMounted(where);
        if (!m) throw new FamfsError(`${where}: not inside a mounted famfs`, 'EINVAL');
        mounts = mounts.filter((x) => x.mountpoint === m.mountpoint);
      }
      // A stopped daemon (its record says so) is not asked at all: the probe would only time out.
      const stopped = new Map(mounts.flatMap((m) => {
        const mi = famfsMountInfoAt(m.mountpoint);
        const d = mi && mountDaemon(mi);
        return d && d.state === 'stopped' ? [[m.mountpoint, d.record] as const] : [];
      }));
      const answers = await probeAll(mounts.filter((m) => !stopped.has(m.mountpoint)));
      for (const [mp, r] of stopped) answers.set(mp, { mountpoint: mp, role: 'stopped', dataPath: r.dataPath, pid: String(r.pid) });
      // The DAX driver: fsdev_dax while a kernel-mode mount uses the device (docs/fuse.md).
      const rows = mounts.map((m) => ({ ...rowOf(m, answers.get(m.mountpoint)), daxDriver: daxDriver(m.device) || undefined }));
      if (o.json) return printJson(rows);
      if (!rows.length) process.stdout.write('no famfs mounted\n');
      for (const r of rows) process.stdout.write(text(r).join('\n') + '\n');
    });
}
