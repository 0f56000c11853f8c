import type { Command } from 'commander';
import { hardFlush } from '../api/data.js';
import { withFamfs, type DeviceOption } from './context.js';

export function register(program: Command): void {
  program
    .command('flush')
    .description("write back and drop this host's cached lines of a file, a directory's files, or the whole file system (no PATH)")
    .argument('[PATH]', 'path in a mounted famfs, or relative to the root with --device (default: the root)')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .action((path: string | undefined, o: DeviceOption) => {
      withFamfs(o, path, {}, (fs, rel) => {
        const r = hardFlush(fs, rel);
        process.stdout.write(`famfs flush: ${r.files} files, ${r.bytes} bytes written back (${fs.device.coherence})\n`);
      });
    });
}
