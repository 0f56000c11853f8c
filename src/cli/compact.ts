import type { Command } from 'commander';
import { compact } from '../api/compact.js';

export function register(program: Command): void {
  program
    .command('compact')
    .description('rewrite the log of an UNMOUNTED famfs without the entries of deleted and renamed nodes (offline only: node ids change). The old log is saved to a file first')
    .argument('<DEV>', 'famfs device or image file (not mounted on any host)')
    .option('--backup <FILE>', 'where to save the old superblock region and log (default: a new file in the temp directory)')
    .action((dev: string, o: { backup?: string }) => {
      const r = compact(dev, { backup: o.backup });
      if (!r.backup) {
        process.stdout.write(`nothing to compact: all ${r.before} log entries are live\n`);
        return;
      }
      process.stdout.write(`log entries: ${r.before} → ${r.after}; ${r.released} deleted files' space released\n`);
      process.stdout.write(`old superblock region and log saved in ${r.backup} (restore: dd if=${r.backup} of=${dev} conv=notrunc)\n`);
      process.stdout.write('node ids (inode numbers) changed: hosts see the files under new ids when they mount\n');
    });
}
