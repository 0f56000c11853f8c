import type { Command } from 'commander';
import { parseId, parseMode } from './args.js';
import { lockWait, withFamfs, type DeviceOption } from './context.js';

export function register(program: Command): void {
  program
    .command('mkdir')
    .description('create a directory (master only)')
    .argument('<PATH>', 'path in a mounted famfs, or relative to the root with --device')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .option('-p, --parents', 'create missing parents; no error if it exists')
    .option('-m, --mode <MODE>', 'octal mode (default 0755)', parseMode)
    .option('-u, --uid <UID>', 'owner (default: caller)', parseId)
    .option('-g, --gid <GID>', 'group (default: caller)', parseId)
    .action((path: string, o: DeviceOption & { parents?: boolean; mode?: number; uid?: number; gid?: number }) => {
      withFamfs(o, path, { writable: true }, (fs, rel) => fs.writer((w) => w.mkdir(rel, { parents: o.parents, mode: o.mode, uid: o.uid, gid: o.gid }), lockWait));
    });
}
