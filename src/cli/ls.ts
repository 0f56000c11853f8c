import type { Command } from 'commander';
import type { TreeNode } from '../meta/tree.js';
import { modeString, nodeJson } from './describe.js';
import { printJson, withFamfs, type DeviceOption } from './context.js';

export function register(program: Command): void {
  program
    .command('ls')
    .description('list the replayed tree')
    .argument('[PATH]', 'path in a mounted famfs, or relative to the root with --device')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .option('-l, --long', 'mode, owner, size')
    .option('-R, --recursive', 'list subdirectories recursively')
    .option('--json', 'one JSON document: an array of {path, type, size, mode, uid, gid, map}')
    .action((path: string | undefined, o: DeviceOption & { long?: boolean; recursive?: boolean; json?: boolean }) => {
      withFamfs(o, path, {}, (fs, rel) => {
        const start = fs.lookup(rel);
        const nodes: TreeNode[] = [];
        if (start.kind !== 'dir') nodes.push(start);
        else if (o.recursive) for (const n of fs.tree.walk(start)) { if (n !== start) nodes.push(n); }
        else nodes.push(...[...start.children.values()].sort((a, b) => (a.name < b.name ? -1 : 1)));
        if (o.json) return printJson(nodes.map(nodeJson));
        const lines = nodes.map((n) => {
          const name = o.recursive || start.kind !== 'dir' ? n.path : n.name;
          const size = n.kind === 'file' ? n.size : n.kind === 'symlink' ? Buffer.byteLength(n.target) : 0;
          return o.long ? `${modeString(n)} ${String(n.uid).padStart(5)} ${String(n.gid).padStart(5)} ${String(size).padStart(12)} ${name}${n.kind === 'dir' ? '/' : n.kind === 'symlink' ? ` -> ${n.target}` : ''}` : name;
        });
        if (lines.length) process.stdout.write(lines.join('\n') + '\n');
      });
    });
}
