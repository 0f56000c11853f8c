import type { Command } from 'commander';
import { FamfsError } from '../api/errors.js';
import { lockWait, target, withTarget, type DeviceOption } from './context.js';

export function register(program: Command): void {
  program
    .command('clone')
    .description('testing aid: log DST with the same extents as SRC (fsck then reports the collision)')
    .argument('<SRC>', 'existing famfs file')
    .argument('<DST>', 'new name')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .action((src: string, dst: string, o: DeviceOption) => {
      const from = target(o, src);
      const to = target(o, dst);
      if (from.device !== to.device) throw new FamfsError('clone: SRC and DST must be in the same famfs', 'EINVAL', 2);
      withTarget(from, { writable: true }, (fs) => fs.writer((w) => w.clone(from.rel, to.rel), lockWait));
    });
}
