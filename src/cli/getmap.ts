import type { Command } from 'commander';
import { mapText, nodeJson } from './describe.js';
import { printJson, withFamfs, type DeviceOption } from './context.js';

export function register(program: Command): void {
  program
    .command('getmap')
    .description("print a file's size and map: its extents, or its interleave (chunk size, strips)")
    .argument('<PATH>', 'path in a mounted famfs, or relative to the root with --device')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .option('--json', 'one JSON document {path, type, size, mode, uid, gid, map}')
    .action((path: string, o: DeviceOption & { json?: boolean }) => {
      withFamfs(o, path, {}, (fs, rel) => {
        const f = fs.file(rel);
        if (o.json) return printJson(nodeJson(f));
        process.stdout.write([`File: ${f.path}`, `  size: ${f.size}`, ...mapText(f.map)].join('\n') + '\n');
      });
    });
}
