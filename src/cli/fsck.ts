import type { Command } from 'commander';
import { fsck, formatFsck } from '../api/fsck.js';
import { printJson, targetOrDevice, withTarget, type DeviceOption } from './context.js';

export function register(program: Command): void {
  program
    .command('fsck')
    .description('check the superblock, the log and the allocation (exit 1 if anything is wrong)')
    .argument('[PATH]', 'a path inside a mounted famfs, or the device itself (instead of --device)')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .option('--json', 'print the report as one JSON document')
    .option('-H, --human', 'sizes in GiB')
    .option('-v, --verbose', 'list every problem and the log geometry')
    .action((path: string | undefined, o: DeviceOption & { json?: boolean; human?: boolean; verbose?: boolean }) => {
      withTarget(targetOrDevice(o, path), {}, (fs) => {
        const r = fsck(fs);
        if (o.json) printJson(r);
        else process.stdout.write(formatFsck(r, { human: o.human, verbose: o.verbose }));
        if (!r.clean) process.exitCode = 1;
      });
    });
}
