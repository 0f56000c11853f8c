/** The `famfs` command: one verb per module; errors become one stderr line and an exit status. */
import type { Command } from 'commander';
import { asFamfsError } from '../api/errors.js';
import { quietOnClosedStdout } from './stdout.js';
import { VERSION } from '../api/version.js';

interface VerbModule {
  register(program: Command): void;
}

/**
 * Every verb, loaded only when it runs (start-up time is mostly module
 * loading). One line per verb, so that adding one merges cleanly.
 */
const VERBS: [name: string, load: () => Promise<VerbModule>][] = [
  ['mkfs', () => import('./mkfs.js')],
  ['fsck', () => import('./fsck.js')],
  ['mkdir', () => import('./mkdir.js')],
  ['creat', () => import('./creat.js')],
  ['cp', () => import('./cp.js')],
  ['ls', () => import('./ls.js')],
  ['getmap', () => import('./getmap.js')],
  ['verify', () => import('./verify.js')],
  ['cat', () => import('./cat.js')],
  ['clone', () => import('./clone.js')],
  ['rm', () => import('./rm.js')],
  ['mv', () => import('./mv.js')],
  ['hosts', () => import('./hosts.js')],
  ['compact', () => import('./compact.js')],
  ['logplay', () => import('./logplay.js')],
  ['mount', () => import('./mount.js')],
  ['umount', () => import('./umount.js')],
  ['status', () => import('./status.js')],
  ['devadd', () => import('./devadd.js')],
  ['install-helpers', () => import('./install-helpers.js')],
  ['flush', () => import('./flush.js')],
  ['daxdev', () => import('./daxdev.js')],
];

/** The verb modules `argv` needs: the one it names, all for help and errors. */
async function verbsFor(argv: string[]): Promise<VerbModule[]> {
  const first = argv[0] ?? '';
  const named = VERBS.find(([name]) => name === first);
  return Promise.all((named ? [named] : VERBS).map(([, load]) => load()));
}

/** Exit statuses: 0 success, 1 the operation failed, 2 bad usage. */
export async function main(argv: string[]): Promise<number> {
  quietOnClosedStdout();
  // Answered before commander loads (a sixth of start-up), as commander would answer it.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const { Command, CommanderError } = await import('commander');
  const program = new Command('famfs')
    .description('famfs: files in memory shared between hosts (byte-compatible with upstream famfs)')
    .version(VERSION)
    .showSuggestionAfterError()
    .exitOverride();
  for (const v of await verbsFor(argv)) v.register(program);
  program.commands.forEach((c) => c.exitOverride());
  let verb = argv[0] ?? '';
  try {
    await program.parseAsync(argv, { from: 'user' });
    verb = program.args[0] ?? verb;
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0;
      return 2; // commander already printed the message
    }
    const err = asFamfsError(e);
    process.stderr.write(`famfs ${verb}: ${err.message}\n`);
    return err.exitCode;
  }
}
