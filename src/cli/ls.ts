import type { Command } from 'commander';
import type { TreeNode } from '../meta/tree.js';
import { statOf } from '../api/files.js';
import { nodeJson } from './describe.js';
import { longLines } from './longlist.js';
import { printJson, withFamfs, type DeviceOption } from './context.js';

export function register(program: Command): void {
  program
    .command('ls')
    .description('list the replayed tree')
    .argument('[PATH]', 'path in a mounted famfs, or relative to the root with --device')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .option('-l, --long', 'as ls -l: mode, links, owner, group, size, name')
    .option('-n, --numeric-uid-gid', 'with -l: numeric user and group ids')
    .option('-h, --human-readable', 'with -l: sizes as 1.0K, 25M, 4.0G')
    .option('-R, --recursive', 'list subdirectories recursively')
    .option('--json', 'one JSON document: an array of {path, type, size, mode, uid, gid, map}')
    .action((path: string | undefined, o: DeviceOption & { long?: boolean; numericUidGid?: boolean; humanReadable?: boolean; recursive?: boolean; json?: boolean }) => {
      withFamfs(o, path, {}, (fs, rel) => {
        const start = fs.lookup(rel);
        const nodes: TreeNode[] = [];
        if (start.kind !== 'dir') nodes.push(start);
        else if (o.recursive) for (const n of fs.tree.walk(start)) { if (n !== start) nodes.push(n); }
        else nodes.push(...[...start.children.values()].sort((a, b) => (a.name < b.name ? -1 : 1)));
        if (o.json) return printJson(nodes.map(nodeJson));
        const name = (n: { path: string; name: string }): string => (o.recursive || start.kind !== 'dir' ? n.path : n.name);
        const long = o.long || o.numericUidGid; // as ls: -n implies -l
        const lines = long ? longLines(nodes.map(statOf), { numeric: o.numericUidGid, human: o.humanReadable, name }) : nodes.map(name);
        if (lines.length) process.stdout.write(lines.join('\n') + '\n');
      });
    });
}
