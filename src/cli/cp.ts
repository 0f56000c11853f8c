import type { Command } from 'commander';
import { copyIn } from '../api/copy.js';
import { parseId, parseMode, placementOption } from './args.js';
import type { Placement } from '../alloc/space.js';
import type { CopyResult } from '../api/copy.js';
import { addInterleaveOptions, interleaveFrom, type InterleaveOpts } from './creat.js';
import { lockWait, withFamfs, type DeviceOption } from './context.js';
import { CopyProgress, copyTotals, loadBars } from './progress.js';

export function register(program: Command): void {
  const cmd = program
    .command('cp')
    .description('copy host files (or trees with -r) into famfs (master only; one log lock for the whole run)')
    .argument('<SRC...>', 'host files or directories, then the destination: a path in a mounted famfs, or relative to the root with --device')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .option('-r, --recursive', 'copy directories recursively (symbolic links stay links, targets as given; needs --features symlinks)')
    .option('-L, --dereference', 'follow symbolic links in the sources and copy what they point to')
    .option('-m, --mode <MODE>', 'octal mode for new files (default: the source mode)', parseMode)
    .option('-u, --uid <UID>', 'owner (default: caller)', parseId)
    .option('-g, --gid <GID>', 'group (default: caller)', parseId)
    .option('-v, --verbose', 'print each file copied')
    .option('-q, --quiet', 'no progress bar (it is shown only when stderr is a terminal)')
    .option('-k, --keep-going', 'copy what can be copied and list what was not (default: plan first, copy nothing if anything is wrong)')
    .addOption(placementOption('several devices: where the files go'));
  addInterleaveOptions(cmd).action(async (args: string[], o: DeviceOption & InterleaveOpts & { recursive?: boolean; dereference?: boolean; mode?: number; uid?: number; gid?: number; verbose?: boolean; quiet?: boolean; keepGoing?: boolean; placement: Placement }) => {
    if (args.length < 2) {
      process.stderr.write('famfs cp: need at least one source and a destination\n');
      process.exitCode = 2;
      return;
    }
    const dest = args[args.length - 1]!;
    const sources = args.slice(0, -1);
    const interleave = interleaveFrom(o);
    const showBar = process.stderr.isTTY === true && !o.quiet;
    if (showBar) await loadBars();
    withFamfs(o, dest, { writable: true }, (fs, destRel) => {
      const progress = new CopyProgress(showBar ? copyTotals(sources, !!o.recursive) : { files: 0, bytes: 0 }, showBar);
      let r;
      try {
        r = copyIn(fs, sources, destRel, {
          recursive: o.recursive, dereference: o.dereference, mode: o.mode, uid: o.uid, gid: o.gid, interleave, keepGoing: o.keepGoing, placement: o.placement,
          onFile: (src, d) => {
            if (o.verbose) process.stdout.write(`famfs cp: ${src} -> ${d}\n`);
            progress.fileStarted();
          },
          onProgress: (n) => progress.copied(n),
          onError: (src, err) => process.stderr.write(`famfs cp: ${err.message}\n`),
          onWait: lockWait.onWait,
        });
      } finally {
        progress.stop();
      }
      if (o.verbose) process.stdout.write(`famfs cp: ${r.files} files, ${r.dirs} directories, ${r.symlinks} symlinks, ${r.bytes} bytes, ${r.errors} errors\n`);
      const skipped = skippedLine(r);
      if (skipped) process.stderr.write(`famfs cp: ${skipped}\n`);
      if (r.errors) {
        process.stderr.write(`famfs cp: ${r.errors} requested file${r.errors > 1 ? 's or directories were' : ' or directory was'} not copied (listed above)\n`);
        process.exitCode = 1;
      }
    });
  });
}

/** One line for everything skipped because famfs has no such node kind (not an error). */
function skippedLine(r: CopyResult): string | undefined {
  const parts = Object.entries(r.skipped).map(([kind, n]) => `${n} ${kind}${n > 1 ? 's' : ''}`);
  if (!parts.length) return undefined;
  const total = Object.values(r.skipped).reduce((a, b) => a + b, 0);
  const hint = r.skipped.symlink ? '; symbolic links need famfs mkfs --features symlinks' : '';
  return `skipped ${total} host node${total > 1 ? 's' : ''} famfs cannot hold (${parts.join(', ')}${hint})`;
}
