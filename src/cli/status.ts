import type { Command } from 'commander';
import { FamfsError } from '../api/errors.js';
import { famfsMountList, findMounted } from '../api/locate.js';
import { STATUS_XATTR, type DaemonStatus } from '../fs/status.js';
import { getxattr } from '../sys/libc.js';
import { printJson } from './context.js';
import { humanSize } from './longlist.js';

type Row = { device: string; mountpoint: string; role: string; dataPath: string; pid: number | null } & Partial<Omit<DaemonStatus, 'role' | 'dataPath' | 'pid'>>;

/** Ask one mount's daemon (the root's xattrs: readable by anyone who may read the mount). */
function rowOf(m: { device: string; mountpoint: string }): Row {
  const x = (name: string): string | undefined => {
    try {
      return getxattr(m.mountpoint, name);
    } catch {
      return undefined; // a dead daemon (ENOTCONN)
    }
  };
  const text = x(STATUS_XATTR);
  if (text) {
    const s = JSON.parse(text) as DaemonStatus;
    return { device: m.device, mountpoint: m.mountpoint, ...s };
  }
  const pid = x('user.famfs.pid');
  return { device: m.device, mountpoint: m.mountpoint, role: x('user.famfs.role') ?? 'unreachable', dataPath: x('user.famfs.data_path') ?? 'unknown', pid: pid ? Number(pid) : null };
}

function duration(s: number): string {
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${Math.floor(s % 60)}s` : `${s.toFixed(1)}s`;
}

function text(r: Row): string[] {
  const L = [`${r.mountpoint}: ${r.device}`];
  L.push(`  role: ${r.role}   data path: ${r.dataPath}   pid: ${r.pid ?? '-'}${r.uptimeS !== undefined ? `   uptime: ${duration(r.uptimeS)}` : ''}${r.version ? `   version: ${r.version}` : ''}`);
  for (const d of r.devices ?? []) {
    L.push(`  device ${d.index}: ${d.path || '(not found on this host)'}   used ${humanSize(d.used)} of ${humanSize(d.capacity)} (${d.capacity ? ((100 * d.used) / d.capacity).toFixed(1) : '0.0'}%), free ${humanSize(d.free)}`);
  }
  if (r.log) L.push(`  log: ${r.log.used} of ${r.log.capacity} entries used`);
  if (r.pendingNodes !== undefined) L.push(`  new nodes waiting for commit: ${r.pendingNodes}`);
  if (r.requests?.length) {
    L.push('  requests:           count     avg µs     max µs');
    for (const q of r.requests) L.push(`    ${q.name.padEnd(14)} ${String(q.count).padStart(9)} ${q.avgUs.toFixed(1).padStart(10)} ${q.maxUs.toFixed(1).padStart(10)}`);
  }
  return L;
}

export function register(program: Command): void {
  program
    .command('status')
    .description("this host's famfs mounts (or the one holding MOUNTPOINT): role, data path, devices and their use, log entries used, new nodes waiting, requests per opcode with latency, daemon pid, uptime, version")
    .argument('[MOUNTPOINT]', 'a famfs mount point or any path inside one (default: every famfs mount)')
    .option('--json', 'one JSON document: an array with one object per mount')
    .action((where: string | undefined, o: { json?: boolean }) => {
      let mounts = famfsMountList();
      if (where !== undefined) {
        const m = findMounted(where);
        if (!m) throw new FamfsError(`${where}: not inside a mounted famfs`, 'EINVAL');
        mounts = mounts.filter((x) => x.mountpoint === m.mountpoint);
      }
      const rows = mounts.map(rowOf);
      if (o.json) return printJson(rows);
      if (!rows.length) process.stdout.write('no famfs mounted\n');
      for (const r of rows) process.stdout.write(text(r).join('\n') + '\n');
    });
}
