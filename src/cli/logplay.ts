import type { Command } from 'commander';
import { nodeJson } from './describe.js';
import { printJson, target, withTarget, type DeviceOption } from './context.js';
import { pokeDaemon } from '../api/mounted.js';

export function register(program: Command): void {
  program
    .command('logplay')
    .description('replay the log and report what it holds: entries, files, directories, bad entries')
    .argument('[PATH]', 'a path inside a mounted famfs (instead of --device); its daemon replays at once')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .option('--json', 'one JSON document')
    .option('-v, --verbose', 'list every file and directory')
    .action((path: string | undefined, o: DeviceOption & { json?: boolean; verbose?: boolean }) => {
      const t = target(o, path);
      if (t.mountpoint) pokeDaemon(t.mountpoint);
      withTarget(t, {}, (fs) => {
        const st = fs.stats;
        const nodes = [...fs.tree.walk()].filter((n) => n !== fs.tree.root);
        if (o.json) {
          printJson({ ...st, role: fs.role, problems: fs.problems, nodes: nodes.map(nodeJson) });
        } else {
          process.stdout.write(`famfs logplay: ${st.entries} log entries; ${st.files} files; ${st.dirs} directories; ${st.badEntries} bad entries; ${st.rejected} refused\n`);
          for (const p of fs.problems) process.stdout.write(`  entry ${p.index}: ${p.kind}: ${p.message}\n`);
          if (o.verbose) for (const n of nodes) process.stdout.write(`  ${n.kind} ${n.path}\n`);
        }
        if (st.badEntries || st.rejected) process.exitCode = 1;
      });
    });
}
