import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { copyIn } from '../api/copy.js';
import { parseId, parseMode } from './args.js';
import { addInterleaveOptions, interleaveFrom, type InterleaveOpts } from './creat.js';
import { lockWait, withFamfs, type DeviceOption } from './context.js';

/** Copies smaller than this in total get no progress bar. */
const BAR_THRESHOLD = 64 * 1024 * 1024;

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
    .option('-v, --verbose', 'print each file copied');
  addInterleaveOptions(cmd).action((args: string[], o: DeviceOption & InterleaveOpts & { recursive?: boolean; dereference?: boolean; mode?: number; uid?: number; gid?: number; verbose?: boolean }) => {
    if (args.length < 2) {
      process.stderr.write('famfs cp: need at least one source and a destination\n');
      process.exitCode = 2;
      return;
    }
    const dest = args[args.length - 1]!;
    const sources = args.slice(0, -1);
    const interleave = interleaveFrom(o);
    let bar: cliProgress.SingleBar | undefined;
    let total = 0;
    withFamfs(o, dest, { writable: true }, (fs, destRel) => {
      const r = copyIn(fs, sources, destRel, {
        recursive: o.recursive, dereference: o.dereference, mode: o.mode, uid: o.uid, gid: o.gid, interleave,
        onFile: (src, d, size) => {
          if (o.verbose) process.stdout.write(`famfs cp: ${src} -> ${d}\n`);
          if (process.stderr.isTTY && size >= BAR_THRESHOLD) {
            bar?.stop();
            total = size;
            bar = new cliProgress.SingleBar({ format: `${d} [{bar}] {percentage}% {value}/{total} MiB`, stream: process.stderr }, cliProgress.Presets.shades_classic);
            bar.start(Math.ceil(size / 2 ** 20), 0);
          }
        },
        onProgress: (n) => {
          if (bar) {
            total -= n;
            bar.increment(n / 2 ** 20);
          }
        },
        onError: (src, err) => process.stderr.write(`famfs cp: ${err.message}\n`),
        onWait: lockWait.onWait,
      });
      bar?.stop();
      if (o.verbose) process.stdout.write(`famfs cp: ${r.files} files, ${r.dirs} directories, ${r.symlinks} symlinks, ${r.bytes} bytes, ${r.errors} errors\n`);
      if (r.errors) process.exitCode = 1;
    });
  });
}
