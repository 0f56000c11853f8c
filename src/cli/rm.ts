import type { Command } from 'commander';
import { FamfsError } from '../api/errors.js';
import { lockWait, target, withTarget, type DeviceOption } from './context.js';

export function register(program: Command): void {
  program
    .command('rm')
    .description('delete files, symbolic links and (with -r) directories (master only; needs mkfs --features delete). All or nothing: every path and everything below it goes in one log commit, so a killed rm or another host never sees part of it done; a removal needing more log entries than are free is refused before anything changes (famfs compact frees entries). Space comes back once no host holds the files')
    .argument('<PATH...>', 'paths in a mounted famfs, or relative to the root with --device')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .option('-r, --recursive', 'remove directories and everything below them')
    .action((paths: string[], o: DeviceOption & { recursive?: boolean }) => {
      const ts = paths.map((p) => target(o, p));
      if (ts.some((t) => t.device !== ts[0]!.device)) throw new FamfsError('rm: all PATHs must be in the same famfs', 'EINVAL', 2);
      withTarget(ts[0]!, { writable: true }, (fs) => fs.writer((w) => w.remove(ts.map((t) => t.rel), { recursive: o.recursive }), lockWait));
    });
}
