import type { Command } from 'commander';
import { fsck, formatFsck } from '../api/fsck.js';
import { printJson, targetOrDevice, withTarget, type DeviceOption } from './context.js';
import { renderSvg, renderText, spaceMaps } from '../api/spacemap.js';
import { FamfsError } from '../api/errors.js';
import nodeFs from 'node:fs';
import nodePath from 'node:path';

/** Refuse an --svg FILE that cannot be written (missing or unwritable directory, a directory) up front. */
function svgWritable(file: string): void {
  const bad = (why: string, code: string): never => { throw new FamfsError(`--svg ${file}: ${why}`, code); };
  if (file === '') bad('empty file name', 'EINVAL');
  const st = nodeFs.statSync(file, { throwIfNoEntry: false });
  if (st?.isDirectory()) bad('is a directory', 'EISDIR');
  try {
    nodeFs.accessSync(st ? file : nodePath.dirname(nodePath.resolve(file)), nodeFs.constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    bad(code === 'ENOENT' ? 'its directory does not exist' : code === 'EACCES' ? 'permission denied' : (e as Error).message, code);
  }
}

export function register(program: Command): void {
  program
    .command('fsck')
    .description('check the superblock, the log and the allocation (exit 1 if anything is wrong)')
    .argument('[PATH]', 'a path inside a mounted famfs, or the device itself (instead of --device)')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .option('--json', 'print the report as one JSON document')
    .option('-H, --human', 'sizes in GiB')
    .option('-v, --verbose', 'list every problem and the log geometry')
    .option('--map', "after the report, draw each device's allocation: files, free space, metadata, collisions (block characters and colours on a terminal)")
    .option('--svg <FILE>', 'write the same picture as SVG to FILE (one rect per run of units)')
    .action((path: string | undefined, o: DeviceOption & { json?: boolean; human?: boolean; verbose?: boolean; map?: boolean; svg?: string }) => {
      if (o.json && o.map) throw new FamfsError('--map draws text; it cannot be combined with --json (use --svg FILE)', 'EINVAL', 2);
      if (o.svg !== undefined) svgWritable(o.svg); // before the report: a bad FILE is one line, nothing else
      withTarget(targetOrDevice(o, path), {}, (fs) => {
        const r = fsck(fs);
        if (o.json) printJson(r);
        else process.stdout.write(formatFsck(r, { human: o.human, verbose: o.verbose }));
        if (o.map || o.svg !== undefined) {
          const spaces = spaceMaps(fs);
          if (o.svg !== undefined) {
            try {
              nodeFs.writeFileSync(o.svg, renderSvg(spaces));
            } catch (e) {
              throw new FamfsError(`--svg ${o.svg}: ${(e as Error).message}`, (e as NodeJS.ErrnoException).code ?? 'EIO');
            }
          }
          if (o.map) {
            const tty = process.stdout.isTTY === true;
            process.stdout.write('\n' + renderText(spaces, { color: tty, width: tty ? Math.max(16, Math.min(128, (process.stdout.columns ?? 80) - 4)) : 64 }));
          }
        }
        if (!r.clean) process.exitCode = 1;
      });
    });
}
