import { Option, type Command } from 'commander';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FamfsError } from '../api/errors.js';
import { preflight, startMount, type MountRequest } from '../fs/daemon.js';
import { countIn, parseCount, placementOption } from './args.js';
import type { Placement } from '../alloc/space.js';
import { clearDeadMount } from './deadmount.js';
import { famfsMountInfoAt } from '../api/mountrecord.js';
import { warmUp } from '../fs/warmup.js';

/** Beyond this, more FUSE threads only cost memory (each maps the device); 100 made workers die. */
export const MAX_WORKERS = 16;
/** A minute: no timer overflow, and closed files are logged within the 1 s bound whatever the delay (docs/fuse.md). */
export const MAX_COMMIT_DELAY_MS = 60_000;
import { DATA_PATHS, isDataPathChoice } from '../fs/kernel.js';
import { TRANSPORT_CHOICES, type TransportChoice } from '../fuse/uring.js';

interface MountOpts {
  foreground?: boolean;
  client?: boolean;
  timeout?: number;
  option: string[];
  verbose?: boolean;
  workers?: number;
  log?: string;
  readyFd?: number;
  commitDelay?: number;
  dataPath: string;
  device: string[];
  placement: Placement;
  transport: string;
  cache?: boolean;
}

const BIN = fileURLToPath(new URL('../../../bin/famfs.js', import.meta.url));

/** Serve in this process until the file system is unmounted. */
async function foreground(req: MountRequest, readyFd: number | undefined): Promise<void> {
  let running;
  try {
    running = await startMount(req);
  } catch (e) {
    if (readyFd !== undefined) fs.writeSync(readyFd, `error ${(e as Error).message}\n`);
    throw e;
  }
  await warmUp(running.config.mountpoint); // the first requests after ready should not pay for the JIT
  try {
    // Joined and fresh (a daemon starved or stopped while starting rejoins first): no ESTALE after ready.
    await running.presence?.serving();
  } catch (e) {
    if (readyFd !== undefined) fs.writeSync(readyFd, `error ${(e as Error).message}\n`);
    await running.server.unmount({ lazy: true }).catch(() => undefined);
    throw e;
  }
  if (readyFd !== undefined) {
    fs.writeSync(readyFd, 'ok\n');
    fs.closeSync(readyFd);
  }
  running.ready();
  const { server, watcher } = running;
  const stop = (): void => {
    server.unmount({ lazy: true }).catch(() => undefined);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGUSR1', () => watcher.tick(true));
  await server.closed;
  watcher.stop();
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
}

/** Start a detached daemon and wait until its mount answers (or it says why not). */
async function background(req: MountRequest, o: MountOpts): Promise<void> {
  preflight(req); // the common errors, reported here and now
  const args = [BIN, 'mount', '--foreground', '--ready-fd', '3'];
  if (o.client) args.push('--client');
  if (o.timeout !== undefined) args.push('--timeout', String(o.timeout));
  if (o.verbose) args.push('--verbose');
  if (o.workers !== undefined) args.push('--workers', String(o.workers));
  if (o.commitDelay !== undefined) args.push('--commit-delay', String(o.commitDelay));
  args.push('--data-path', o.dataPath);
  args.push('--transport', o.transport);
  for (const d of o.device) args.push('--device', d);
  args.push('--placement', o.placement);
  for (const x of o.option) args.push('-o', x);
  args.push(req.device, req.mountpoint);
  const logFd = fs.openSync(o.log ?? '/dev/null', 'a');
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd, 'pipe'], env: process.env });
  fs.closeSync(logFd);
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  let text = '';
  pipe.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number>((r) => child.on('exit', (code) => r(code ?? 1)));
  await new Promise<void>((r) => pipe.on('end', () => r()));
  if (text.startsWith('ok')) {
    child.unref();
    (pipe as unknown as { destroy(): void }).destroy();
    return;
  }
  const code = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(1), 2000))]);
  throw new FamfsError(text.replace(/^error /, '').trim() || `the famfs daemon exited (status ${code}) before the mount answered${o.log ? `; see ${o.log}` : ''}`, 'EIO');
}

export function register(program: Command): void {
  program
    .command('mount')
    .description('mount a famfs with the TypeScript FUSE daemon (root); returns once the mount answers')
    .argument('<DEV>', 'famfs device or image file')
    .argument('<MOUNTPOINT>', 'an existing empty directory')
    .option('-f, --foreground', 'serve in this process until unmounted (Ctrl-C unmounts)')
    .option('-c, --client', 'mount as a client even on the master host (no metadata changes through it)')
    .option('-t, --timeout <S>', 'kernel entry/attribute cache timeout in seconds (default: 1 year, as upstream)', parseCount)
    .option('-o, --option <OPTS>', 'mount options (allow_other and default_permissions are on by default; ro, noatime, noallow_other, nodefault_permissions (needs noallow_other), meta_group=GID (may read .meta/*))', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--cache', 'read logged files through the page cache and keep it across opens (-o cache; read-mostly data: docs/fuse.md)')
    .option('--commit-delay <MS>', `master: idle time before files and directories made through the mount are logged (0..${MAX_COMMIT_DELAY_MS}, default 300)`, countIn(0, MAX_COMMIT_DELAY_MS, '--commit-delay (ms)'))
    .addOption(new Option('--data-path <PATH>', 'where file data is served: auto (famfs kernel extensions when the kernel is famfs-enabled), kernel, daemon').choices([...DATA_PATHS]).default('auto'))
    .option('--device <PATH>', 'a candidate path for devices 1.. of a multi-device famfs (repeatable; besides $FAMFS_DEVICE_LIST or /etc/famfs/devices)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .addOption(placementOption('master, several devices: where files made through the mount go'))
    .addOption(new Option('--transport <HOW>', 'how FUSE requests travel: dev (/dev/fuse), uring (FUSE over io_uring: Linux ≥ 6.14 with fuse.enable_uring=Y, else a clear error), auto (uring when the kernel offers it, else dev)').choices([...TRANSPORT_CHOICES]).default('dev'))
    .option('-w, --workers <N>', `FUSE worker threads (1..${MAX_WORKERS}, default 2-4)`, countIn(1, MAX_WORKERS, '--workers'))
    .option('-v, --verbose', 'log every FUSE request (with --foreground, to stderr)')
    .option('--log <FILE>', 'daemon log file when not in the foreground (default: none)')
    .addOption(new Option('--ready-fd <FD>', 'internal: report readiness on this fd').hideHelp().argParser(parseCount))
    .action(async (device: string, mountpoint: string, o: MountOpts) => {
      if (o.cache) o.option.push('cache');
      const req: MountRequest = { device, mountpoint, forceClient: o.client, timeout: o.timeout, verbose: o.verbose, workers: o.workers, options: o.option, commitDelayMs: o.commitDelay, dataPath: isDataPathChoice(o.dataPath) ? o.dataPath : 'auto', devices: o.device, placement: o.placement, transport: o.transport as TransportChoice };
      // A famfs left on the mount point by a dead or wedged daemon: abort and detach it first (a stat there could hang).
      const stale = famfsMountInfoAt(mountpoint);
      if (stale) await clearDeadMount(stale, (l) => process.stderr.write(`${l}\n`));
      if (o.foreground) await foreground(req, o.readyFd);
      else await background(req, o);
    });
}
