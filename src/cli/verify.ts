import type { Command } from 'commander';
import { verifyChunks } from '../api/data.js';
import { parseSeed } from './args.js';
import type { DeviceOption } from './context.js';
import { withReader } from './reader.js';

export function register(program: Command): void {
  program
    .command('verify')
    .description("compare a file's bytes with the PRNG stream of SEED (as written by creat -r)")
    .argument('<PATH>', 'path in a mounted famfs, or relative to the root with --device')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .requiredOption('-S, --seed <SEED>', 'PRNG seed', parseSeed)
    .action((path: string, o: DeviceOption & { seed: number }) => {
      withReader(o, path, (r, rel) => {
        const f = r.file(rel);
        const at = verifyChunks(r.chunks(rel), o.seed);
        if (at < 0) process.stdout.write(`Success: verified ${f.size} bytes in file ${f.path}\n`);
        else {
          process.stdout.write(`Verify fail: ${f.path} at offset ${at} of ${f.size} bytes\n`);
          process.exitCode = 1;
        }
      });
    });
}
