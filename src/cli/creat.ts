import type { Command } from 'commander';
import { randomize } from '../api/data.js';
import { FamfsError } from '../api/errors.js';
import type { InterleaveParams } from '../alloc/allocator.js';
import { parseCount, parseId, parseMode, parseSeed, parseSize, placementOption } from './args.js';
import type { Placement } from '../alloc/space.js';
import { lockWait, withFamfs, type DeviceOption } from './context.js';

export interface InterleaveOpts {
  nstrips?: number;
  nbuckets?: number;
  chunksize?: number;
}

/** -N/-B/-C: any of them turns interleave on; -N and -B are then required, -C defaults to 2m. */
export function interleaveFrom(o: InterleaveOpts): InterleaveParams | undefined {
  if (o.nstrips === undefined && o.nbuckets === undefined && o.chunksize === undefined) return undefined;
  if (o.nstrips === undefined || o.nbuckets === undefined) throw new FamfsError('interleave needs both -N/--nstrips and -B/--nbuckets', 'EINVAL', 2);
  return { nstrips: o.nstrips, nbuckets: o.nbuckets, chunkSize: o.chunksize ?? 2 * 1024 * 1024 };
}

export function addInterleaveOptions(cmd: Command): Command {
  return cmd
    .option('-N, --nstrips <N>', 'interleave: strips per file (1..16)', parseCount)
    .option('-B, --nbuckets <N>', 'interleave: buckets the device is split into (1..64, each ≥ 1 GiB)', parseCount)
    .option('-C, --chunksize <SIZE>', 'interleave: chunk size, a power-of-two multiple of 2m (default 2m)', parseSize);
}

export function register(program: Command): void {
  const cmd = program
    .command('creat')
    .description('allocate and log a file of SIZE bytes (master only)')
    .argument('<PATH>', 'path in a mounted famfs, or relative to the root with --device')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .requiredOption('-s, --size <SIZE>', 'file size (k/m/g suffixes)', parseSize)
    .option('-m, --mode <MODE>', 'octal mode (default 0644)', parseMode)
    .option('-u, --uid <UID>', 'owner (default: caller)', parseId)
    .option('-g, --gid <GID>', 'group (default: caller)', parseId)
    .option('-r, --randomize', 'fill the file with the PRNG stream of --seed (as upstream)')
    .option('-S, --seed <SEED>', 'PRNG seed for --randomize (1..2^32-1)', parseSeed)
    .option('-D, --across-devices', 'multi-device famfs: interleave with one strip per device (chunk size -C, default 2m)')
    .addOption(placementOption('several devices: where the file goes'));
  addInterleaveOptions(cmd).action((path: string, o: DeviceOption & InterleaveOpts & { size: number; mode?: number; uid?: number; gid?: number; randomize?: boolean; seed?: number; acrossDevices?: boolean; placement: Placement }) => {
    if (o.seed !== undefined && !o.randomize) throw new FamfsError('--seed needs --randomize', 'EINVAL', 2);
    if (o.randomize && o.seed === undefined) throw new FamfsError('--randomize needs --seed', 'EINVAL', 2);
    const acrossDevices = o.acrossDevices ? { chunkSize: o.chunksize ?? 2 * 1024 * 1024 } : undefined;
    const interleave = acrossDevices ? undefined : interleaveFrom(o);
    withFamfs(o, path, { writable: true }, (fs, rel) => {
      const file = fs.writer((w) => w.creat(rel, o.size, { mode: o.mode, uid: o.uid, gid: o.gid, interleave, acrossDevices }, o.seed ? (f) => randomize(fs, f, o.seed!) : undefined), { ...lockWait, placement: o.placement });
      if (o.seed) process.stdout.write(`randomized ${file.size} bytes: ${file.path}\n`);
    });
  });
}
