import type { Command } from 'commander';
import { writeSync } from 'node:fs';
import type { DeviceOption } from './context.js';
import { withReader } from './reader.js';

export function register(program: Command): void {
  program
    .command('cat')
    .description("write a file's contents to standard output")
    .argument('<PATH>', 'path in a mounted famfs, or relative to the root with --device')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .action((path: string, o: DeviceOption) => {
      withReader(o, path, (r, rel) => {
        r.file(rel); // one clear line for a directory, a symlink or a file this user may not read
        for (const s of r.chunks(rel)) {
          for (let off = 0; off < s.length; ) {
            try {
              off += writeSync(1, s, off, Math.min(s.length - off, 1 << 20));
            } catch (e) {
              if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
              if ((e as NodeJS.ErrnoException).code === 'EPIPE') return;
              throw e;
            }
          }
        }
      });
    });
}
