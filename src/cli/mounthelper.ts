/**
 * mount(8) helper: `mount /mnt/famfs` with an fstab line such as
 *   /dev/dax0.0  /mnt/famfs  fuse.famfs  defaults,_netdev  0 0
 * runs `/sbin/mount.fuse.famfs SPEC DIR [-sfnv] [-N NS] [-o OPTS] [-t TYPE]`
 * (`/sbin/mount.famfs` for type `famfs`). This turns that calling convention
 * into `famfs mount` arguments; `famfs install-helpers` puts the helpers there.
 */
import { FamfsError } from '../api/errors.js';
import { DATA_PATHS } from '../fs/kernel.js';

/** Options that only mean something to mount(8), fstab or systemd: never passed on. */
const FSTAB_ONLY = new Set(['defaults', '_netdev', 'auto', 'noauto', 'nofail', 'user', 'nouser', 'users', 'owner', 'group', 'rw', 'suid', 'dev', 'exec', 'async', 'loud', 'silent']);
const FSTAB_ONLY_PREFIX = ['x-', 'comment=', 'X-', 'helper='];

export interface HelperCall {
  /** Arguments for `famfs`: ['mount', ..., DEV, DIR]. */
  argv: string[];
  /** -f: pretend (mount(8) --fake): do nothing, succeed. */
  fake: boolean;
}

const bad = (msg: string): never => {
  throw new FamfsError(msg, 'EINVAL', 2);
};

/** Parse a mount helper's argv (after the program name). */
export function helperArgs(args: string[]): HelperCall {
  const pos: string[] = [];
  const opts: string[] = [];
  let fake = false, verbose = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-o') {
      if (i + 1 >= args.length) bad('-o needs an option list');
      opts.push(...args[++i]!.split(',').filter(Boolean));
    } else if (a.startsWith('-o') && a.length > 2) opts.push(...a.slice(2).split(',').filter(Boolean));
    else if (a === '-t' || a === '-N') {
      if (i + 1 >= args.length) bad(`${a} needs a value`);
      i++; // the type (fuse.famfs) and the namespace are mount(8)'s business
    } else if (/^-[sfnvr]+$/.test(a)) {
      if (a.includes('f')) fake = true;
      if (a.includes('v')) verbose = true;
      if (a.includes('r')) opts.push('ro');
    } else if (a.startsWith('-')) bad(`unknown option ${a}`);
    else pos.push(a);
  }
  if (pos.length !== 2) bad(`usage: mount.famfs DEVICE MOUNTPOINT [-o OPTIONS] (got ${pos.length} operands)`);
  const argv = ['mount'];
  for (const o of opts) {
    const [k, v] = o.includes('=') ? [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)] : [o, undefined];
    if (FSTAB_ONLY.has(o) || FSTAB_ONLY_PREFIX.some((p) => o.startsWith(p))) continue;
    const num = (name: string): string => (v !== undefined && /^[0-9]+$/.test(v) ? v : bad(`${k}=${v ?? ''}: ${name} must be a number`));
    switch (k) {
      case 'client': argv.push('--client'); break;
      case 'data_path':
        if (!v || !(DATA_PATHS as readonly string[]).includes(v)) bad(`data_path=${v ?? ''}: must be one of ${DATA_PATHS.join(', ')}`);
        argv.push('--data-path', v!);
        break;
      case 'commit_delay': argv.push('--commit-delay', num('commit_delay (ms)')); break;
      case 'timeout': argv.push('--timeout', num('timeout (s)')); break;
      case 'workers': argv.push('--workers', num('workers')); break;
      case 'log': argv.push('--log', v || bad('log= needs a file')); break;
      case 'device': argv.push('--device', v || bad('device= needs a path')); break;
      default: argv.push('-o', o); // allow_other, default_permissions, ro, noatime, …: famfs mount and the kernel decide
    }
  }
  if (verbose) process.stderr.write(`mount.famfs: famfs ${[...argv, ...pos].join(' ')}\n`);
  argv.push(...pos);
  return { argv, fake };
}

/** The helper's whole life: parse, then run `famfs mount`; one line on stderr when refused. */
export async function runMountHelper(args: string[]): Promise<number> {
  let call: HelperCall;
  try {
    call = helperArgs(args);
  } catch (e) {
    process.stderr.write(`mount.famfs: ${(e as Error).message}\n`);
    return (e as FamfsError).exitCode ?? 2;
  }
  if (call.fake) return 0;
  const { main } = await import('./main.js');
  return main(call.argv);
}
