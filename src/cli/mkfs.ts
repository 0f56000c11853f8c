import type { Command } from 'commander';
import { mkfs } from '../api/mkfs.js';
import { Famfs } from '../api/famfs.js';
import { fsck, formatFsck } from '../api/fsck.js';
import { parseCount, parseDuration, parseSize } from './args.js';
import { FEATURES } from '../format/features.js';
import { addDevice, checkAddablePath } from '../api/devices.js';

/** `--features a,b` or `all` (every extension this version knows). */
function parseFeatures(text: string): string[] {
  const names = text.split(',').map((x) => x.trim()).filter(Boolean);
  return names.includes('all') ? FEATURES.filter((f) => f.known).map((f) => f.name) : names;
}

export function register(program: Command): void {
  program
    .command('mkfs')
    .alias('mkfs.famfs')
    .description('format DEV (a DAX char device or a regular file) as famfs; this host becomes its master. More devices: each becomes device 1, 2, … (ADD_DAXDEV; see docs/mapping.md)')
    .argument('<DEV>', 'device or image file')
    .argument('[MORE...]', 'further devices of the same file system')
    .option('-f, --force', 'overwrite an existing famfs superblock (also one owned by another host)')
    .option('-k, --kill', 'with --force: zero the superblock magic only, destroying the file system, and stop')
    .option('-l, --loglen <SIZE>', 'log length: a power of two of at least 8m', parseSize)
    .option('-s, --size <SIZE>', 'create DEV as a sparse file of SIZE (or grow it) first; at least 4g', parseSize)
    .option('-n, --files <N>', 'size the log for N entries (each file, directory or short-named link takes one; a long path or a symlink takes 2 or more)', parseCount)
    .option('--features <LIST>', `format extensions, comma-separated, or all: ${FEATURES.filter((f) => f.known).map((f) => f.name).join(', ')} (delete or rename turns on delete, rename and presence together). Upstream famfs refuses a file system that uses any (docs/format.md)`, parseFeatures)
    .option('--alloc-unit <SIZE>', 'allocation unit below 2m for small files (a power of two ≥ 4k; implies --features small-units; kernel data path unavailable)', parseSize)
    .option('--lease <TIME>', 'with --features delete: how long a host may stay silent before it counts as gone (default 10s; e.g. 3s, 1m)', parseDuration)
    .option('--even-if-mounted', 'format even when a mount on this host uses a device (that mount then answers ESTALE)')
    .action((dev: string, more: string[], o: { force?: boolean; kill?: boolean; loglen?: number; size?: number; files?: number; features?: string[]; allocUnit?: number; evenIfMounted?: boolean; lease?: number }) => {
      // Every further device is checked before device 0 is touched: a refused one changes nothing.
      for (const m of more) checkAddablePath(m, { force: o.force, evenIfMounted: o.evenIfMounted });
      const r = mkfs(dev, { force: o.force, kill: o.kill, logLen: o.loglen, size: o.size, files: o.files, features: o.features, allocUnit: o.allocUnit, evenIfMounted: o.evenIfMounted, leaseMs: o.lease });
      if (r.killed) {
        process.stdout.write(`famfs superblock on ${dev} destroyed\n`);
        return;
      }
      process.stdout.write(`devsize: ${r.deviceSize}\n`);
      if (more.length) {
        const w = Famfs.open(dev, { writable: true });
        try {
          for (const m of more) {
            const a = addDevice(w, m, { force: o.force, evenIfMounted: o.evenIfMounted });
            process.stdout.write(`device ${a.index}: ${m} uuid ${a.uuid} size ${a.size}\n`);
          }
        } finally {
          w.close();
        }
      }
      const fs = Famfs.open(dev);
      try {
        process.stdout.write(formatFsck(fsck(fs)));
      } finally {
        fs.close();
      }
    });
}
