import type { Command } from 'commander';
import { famfsMounts } from '../fs/daemon.js';
import { getxattr } from '../sys/libc.js';
import { daxDriver } from '../device/daxmode.js';
import { printJson } from './context.js';

export function register(program: Command): void {
  program
    .command('status')
    .description("list this host's famfs mounts: device, role, data path, daemon pid")
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
        return { device: m.device, mountpoint: m.mountpoint, role: x('role') ?? 'unreachable', dataPath: x('data_path') ?? 'unknown', pid: pid ? Number(pid) : null, daxDriver: daxDriver(m.device) ?? null };
      });
      if (o.json) return printJson(rows);
      if (!rows.length) process.stdout.write('no famfs mounted\n');
      for (const r of rows) process.stdout.write(`${r.mountpoint}: ${r.device} role=${r.role} data-path=${r.dataPath}${r.daxDriver ? ` driver=${r.daxDriver}` : ''} pid=${r.pid ?? '-'}\n`);
    });
}
