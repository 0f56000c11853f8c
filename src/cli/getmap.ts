import { Option, type Command } from 'commander';
import { mapText, statJson } from './describe.js';
import { printJson, type DeviceOption } from './context.js';
import { withReader } from './reader.js';
import { EXPORT_FORMATS, exportMap, isExportFormat, mapExportJson, type MapExport } from '../map/export/index.js';

/** Text form of one export: the wire bytes as hex (16 bytes a line) or the table rows. */
function exportText(e: MapExport): string[] {
  const hex = (n: number): string => `0x${n.toString(16)}`;
  const L: string[] = [`  format: ${e.format}`];
  if (e.layout) L.push(`  layout: ${e.layout}`);
  if (e.cyclic !== undefined) L.push(`  cyclic: ${e.cyclic}`);
  if (e.problem) L.push(`  kernel would refuse: ${e.problem}`);
  if (e.rows) {
    L.push(`  rows: ${e.rows.length}`);
    for (const r of e.rows) L.push(`    file ${hex(r.fileOffset)}  dev ${r.devindex}  offset ${hex(r.offset)}  length ${r.length}`);
  }
  if (e.bytes) {
    L.push(`  bytes: ${e.bytes.length}`);
    for (let i = 0; i < e.bytes.length; i += 16) L.push(`    ${i.toString(16).padStart(4, '0')}  ${e.bytes.subarray(i, i + 16).toString('hex').replace(/(.{8})(?=.)/g, '$1 ')}`);
  }
  return L;
}

export function register(program: Command): void {
  program
    .command('getmap')
    .description("print a file's size and map: its extents, or its interleave (chunk size, strips); --format: a kernel-facing export of it")
    .argument('<PATH>', 'path in a mounted famfs, or relative to the root with --device')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .addOption(new Option('--format <FMT>', 'export the map: famfs (GET_FMAP reply), extmap (FUSE_NOTIFY_MAP payload), bpf (blob), table (file-ordered rows); see docs/mapping.md').choices([...EXPORT_FORMATS]))
    .option('--json', 'one JSON document {path, type, size, mode, uid, gid, map}; with --format, {format, fileSize, size, hex | rows, problem, ...}')
    .action((path: string, o: DeviceOption & { json?: boolean; format?: string }) => {
      withReader(o, path, (r, rel) => {
        const f = r.file(rel);
        if (o.format !== undefined && isExportFormat(o.format)) {
          const e = exportMap(o.format, f.map, f.size);
          if (o.json) return printJson({ path: f.path, ...mapExportJson(e) });
          process.stdout.write([`File: ${f.path}`, `  size: ${f.size}`, ...exportText(e)].join('\n') + '\n');
          return;
        }
        if (o.json) return printJson(statJson(f));
        process.stdout.write([`File: ${f.path}`, `  size: ${f.size}`, ...mapText(f.map)].join('\n') + '\n');
      });
    });
}
