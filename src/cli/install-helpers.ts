/**
 * `famfs install-helpers`: make fstab and mount(8) work with famfs by placing
 * /sbin/mount.fuse.famfs (fstab type fuse.famfs) and /sbin/mount.famfs (type
 * famfs): two-line scripts running this package's bin/mount.famfs.js with this
 * node. Files we did not write are left alone unless --force.
 */
import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FamfsError } from '../api/errors.js';
import { printJson } from './context.js';

export const HELPER_NAMES = ['mount.fuse.famfs', 'mount.famfs'];
const MARK = '# famfs mount helper (famfs install-helpers)';
const HELPER_JS = fileURLToPath(new URL('../../../bin/mount.famfs.js', import.meta.url));

function script(): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\n${MARK}\nexec ${q(process.execPath)} ${q(HELPER_JS)} "$@"\n`;
}

function ours(file: string): boolean {
  try {
    return fs.readFileSync(file, 'utf8').includes(MARK);
  } catch {
    return false;
  }
}

export function register(program: Command): void {
  program
    .command('install-helpers')
    .description('install the mount(8) helpers /sbin/mount.fuse.famfs and /sbin/mount.famfs, so fstab lines of type fuse.famfs (or famfs) work with mount, mount -a and systemd (root)')
    .option('--dir <DIR>', 'where to put them (mount(8) looks in /sbin)', '/sbin')
    .option('--remove', 'remove the helpers this command installed')
    .option('--force', 'replace helpers that famfs did not write')
    .option('--json', 'one JSON document {installed | removed: [paths]}')
    .action((o: { dir: string; remove?: boolean; force?: boolean; json?: boolean }) => {
      if (!fs.existsSync(o.dir) || !fs.statSync(o.dir).isDirectory()) throw new FamfsError(`${o.dir}: not a directory`, 'ENOTDIR');
      const files = HELPER_NAMES.map((n) => path.join(o.dir, n));
      const done: string[] = [];
      if (o.remove) {
        for (const f of files) {
          if (!fs.existsSync(f)) continue;
          if (!ours(f) && !o.force) throw new FamfsError(`${f}: not written by famfs install-helpers; left alone (--force removes it)`, 'EEXIST');
          fs.rmSync(f);
          done.push(f);
        }
      } else {
        const foreign = files.find((f) => fs.existsSync(f) && !ours(f));
        if (foreign && !o.force) throw new FamfsError(`${foreign}: exists and was not written by famfs install-helpers; --force replaces it`, 'EEXIST');
        for (const f of files) {
          const tmp = `${f}.famfs-${process.pid}`;
          fs.writeFileSync(tmp, script(), { mode: 0o755 });
          fs.renameSync(tmp, f);
          done.push(f);
        }
      }
      if (o.json) return printJson(o.remove ? { removed: done } : { installed: done });
      for (const f of done) process.stdout.write(`${o.remove ? 'removed' : 'installed'} ${f}\n`);
      if (!o.remove) process.stdout.write(`fstab example:\n  /dev/dax0.0  /mnt/famfs  fuse.famfs  defaults,_netdev  0 0\n`);
    });
}
