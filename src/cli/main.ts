/** The `famfs` command: one verb per module; errors become one stderr line and an exit status. */
import { Command, CommanderError } from 'commander';
import { asFamfsError } from '../api/errors.js';
import * as mkfs from './mkfs.js';
import * as fsck from './fsck.js';
import * as mkdir from './mkdir.js';
import * as creat from './creat.js';
import * as cp from './cp.js';
import * as ls from './ls.js';
import * as getmap from './getmap.js';
import * as verify from './verify.js';
import * as cat from './cat.js';
import * as clone from './clone.js';
import * as logplay from './logplay.js';
import * as mount from './mount.js';
import * as umount from './umount.js';
import * as status from './status.js';
import * as devadd from './devadd.js';
import * as installHelpers from './install-helpers.js';
import { VERSION } from '../api/version.js';

const VERBS = [mkfs, fsck, mkdir, creat, cp, ls, getmap, verify, cat, clone, logplay, mount, umount, status, devadd, installHelpers];

/** Exit statuses: 0 success, 1 the operation failed, 2 bad usage. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('famfs')
    .description('famfs: files in memory shared between hosts (byte-compatible with upstream famfs)')
    .version(VERSION)
    .showSuggestionAfterError()
    .exitOverride();
  for (const v of VERBS) v.register(program);
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
