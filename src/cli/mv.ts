import type { Command } from 'commander';
import { FamfsError } from '../api/errors.js';
import { basename } from '../meta/paths.js';
import { lockWait, target, withTarget, type DeviceOption } from './context.js';

export function register(program: Command): void {
  program
    .command('mv')
    .description('rename SRC to DST (master only; needs mkfs --features delete). An existing file DST is replaced atomically for every host; an existing directory DST receives SRC')
    .argument('<SRC>', 'path in a mounted famfs, or relative to the root with --device')
    .argument('<DST>', 'new path')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .option('-n, --no-clobber', 'do not replace an existing DST (EEXIST)')
    .action((src: string, dst: string, o: DeviceOption & { clobber?: boolean }) => {
      const from = target(o, src);
      const to = target(o, dst);
      if (from.device !== to.device) throw new FamfsError('mv: SRC and DST must be in the same famfs', 'EINVAL', 2);
      withTarget(from, { writable: true }, (fs) =>
        fs.writer((w) => {
          // mv semantics: into an existing directory (other than SRC itself).
          const rel = fs.relpath(to.rel);
          const there = fs.tree.lookup(rel);
          const srcRel = fs.relpath(from.rel);
          const dest = there?.kind === 'dir' && rel !== srcRel && srcRel !== '' ? (rel === '' ? basename(srcRel) : `${rel}/${basename(srcRel)}`) : rel;
          w.rename(srcRel, dest, { noReplace: o.clobber === false });
        }, lockWait),
      );
    });
}
