import type { Command } from 'commander';
import type { FamfsStat } from '../api/files.js';
import { statJson } from './describe.js';
import { longLines } from './longlist.js';
import { printJson, type DeviceOption } from './context.js';
import { withReader } from './reader.js';

export function register(program: Command): void {
  program
    .command('ls')
    .description('list the replayed tree (as a user who cannot open the device: what the mount shows them)')
    .argument('[PATH]', 'path in a mounted famfs, or relative to the root with --device')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .option('-l, --long', 'as ls -l: mode, links, owner, group, size, name')
    .option('-n, --numeric-uid-gid', 'with -l: numeric user and group ids')
    .option('-h, --human-readable', 'with -l: sizes as 1.0K, 25M, 4.0G')
    .option('-R, --recursive', 'list subdirectories recursively')
    .option('--json', 'one JSON document: an array of {path, type, size, mode, uid, gid, map} (map null for a file this user may not read)')
    .action((path: string | undefined, o: DeviceOption & { long?: boolean; numericUidGid?: boolean; humanReadable?: boolean; recursive?: boolean; json?: boolean }) => {
      withReader(o, path, (r, rel) => {
        const start = r.stat(rel);
        const nodes: FamfsStat[] = [];
        // A directory this user may not list or search: one line, the rest is still listed (as ls).
        const denied = (e: Error): void => {
          process.stderr.write(`famfs ls: ${e.message}\n`);
          process.exitCode = 1;
        };
        const need = { xattrs: !!o.json }; // only --json shows maps
        if (start.type !== 'dir') nodes.push(start);
        else if (o.recursive) nodes.push(...r.walk(rel, denied, need));
        else nodes.push(...r.readdir(rel, need));
        if (o.json) return printJson(nodes.map(statJson));
        const name = (n: { path: string; name: string }): string => (o.recursive || start.type !== 'dir' ? n.path : n.name);
        const long = o.long || o.numericUidGid; // as ls: -n implies -l
        const lines = long ? longLines(nodes, { numeric: o.numericUidGid, human: o.humanReadable, name }) : nodes.map(name);
        if (lines.length) process.stdout.write(lines.join('\n') + '\n');
      });
    });
}
