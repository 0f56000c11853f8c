import type { Command } from 'commander';
import { withFamfs, type DeviceOption } from './context.js';

export function register(program: Command): void {
  program
    .command('clone')
    .description('testing aid: log DST with the same extents as SRC (fsck then reports the collision)')
    .argument('<SRC>', 'existing famfs file')
    .argument('<DST>', 'new name')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .action((src: string, dst: string, o: DeviceOption) => {
      withFamfs(o, { writable: true }, (fs) => fs.writer((w) => w.clone(src, dst)));
    });
}
