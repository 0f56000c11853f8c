import type { Command } from 'commander';
import { famfsMounts } from '../fs/daemon.js';
import { getxattr } from '../sys/libc.js';
import { printJson } from './context.js';
import { Famfs } from '../api/famfs.js';
import type { DeviceUse } from '../alloc/space.js';

/** Capacity and use of each device of the famfs on `device` (null: it cannot be read here). */
function deviceUse(device: string): DeviceUse[] | null {
  let f: Famfs | undefined;
  try {
    f = Famfs.open(device);
    return f.usage();
  } catch {
    return null;
  } finally {
    f?.close();
  }
}

const mib = (n: number): string => `${(n / 2 ** 20).toFixed(0)}M`;

export function register(program: Command): void {
  program
    .command('status')
    .description("list this host's famfs mounts: device, role, data path, daemon pid, and each device's use")
    .option('--json', 'one JSON document')
    .action((o: { json?: boolean }) => {
      const rows = famfsMounts().map((m) => {
        const x = (name: string): string | undefined => {
          try {
            return getxattr(m.mountpoint, `user.famfs.${name}`);
          } catch {
            return undefined; // a dead daemon (ENOTCONN)
          }
        };
        const pid = x('pid');
        return { device: m.device, mountpoint: m.mountpoint, role: x('role') ?? 'unreachable', dataPath: x('data_path') ?? 'unknown', pid: pid ? Number(pid) : null, devices: deviceUse(m.device) };
      });
      if (o.json) return printJson(rows);
      if (!rows.length) process.stdout.write('no famfs mounted\n');
      for (const r of rows) {
        process.stdout.write(`${r.mountpoint}: ${r.device} role=${r.role} data-path=${r.dataPath} pid=${r.pid ?? '-'}\n`);
        for (const d of r.devices ?? []) process.stdout.write(`  device ${d.index}: ${mib(d.used)} used of ${mib(d.capacity)}, ${mib(d.free)} free\n`);
      }
    });
}
