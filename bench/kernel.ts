/**
 * `npm run bench kernel` (run only when named: it boots a qemu guest on the famfs kernel).
 * In one guest: sequential (1 MiB) and random 4 KiB read(2) of the same 64 MiB file, through
 * a kernel-mode mount (the famfs kernel maps the file through DAX) and then through a
 * daemon-mode mount (every READ served by our daemon). TCG makes absolute numbers
 * meaningless; the ratio is the figure. The same guest records two observations for
 * docs/fuse.md: a 16-extent map (the log's maximum) read through DAX, and what open(2)
 * does with a map the daemon refuses.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { BenchFn, BenchRow } from './types.js';
import { cacheDir } from '../test/vm/build.js';
import { prepareSharedFile, runGuests } from '../test/vm/qemu.js';
import { DEV, MNT, prepareAssets, REPO } from '../test/vm/scenario.js';
import { famfsKernelFile, kernelVmSkipReason } from '../test/vm/kscenario.js';

const SECONDS = Number(process.env.FAMFS_KBENCH_SECONDS) || 5;

const script = (uuid: string): string => `#!/bin/sh
set -u
export FAMFS_SYSTEM_UUID_FILE=/run/famfs/system_uuid FAMFS_INIT_TIMEOUT_MS=120000 FAMFS_STATUS_TIMEOUT_MS=120000
mkdir -p /run/famfs; printf '%s\\0' ${uuid} > $FAMFS_SYSTEM_UUID_FILE
F="node ${REPO}/bin/famfs.js"; GT="node ${REPO}/dist/test/vm/guest-tool.js"
$F mkfs ${DEV} >/dev/null || exit 1
$F creat -s 64m -r -S 1 --device ${DEV} bench.rnd || exit 1
$GT craft-observations ${DEV} || exit 1
$F mount --log /run/k.log ${DEV} ${MNT} || exit 1
$F status
echo "OBS many: $($F verify -S 2 ${MNT}/many 2>&1)"
echo "OBS refused: $(head -c 1 ${MNT}/refused 2>&1 >/dev/null)"
echo "OBS daemon log: $(grep -i refused /run/k.log)"
echo "KERNEL $($GT readbench ${MNT}/bench.rnd ${SECONDS})"
$F umount ${MNT} || exit 1
$F mount --data-path daemon ${DEV} ${MNT} || exit 1
$F status
echo "DAEMON $($GT readbench ${MNT}/bench.rnd ${SECONDS})"
$F umount ${MNT}
`;

export const run: BenchFn = async (ctx) => {
  const skip = kernelVmSkipReason();
  if (skip) {
    ctx.log(skip);
    return [];
  }
  const assets = await prepareAssets(ctx.log);
  const vmlinux = famfsKernelFile(ctx.log);
  fs.mkdirSync(path.join(cacheDir(), 'runs'), { recursive: true });
  const workDir = fs.mkdtempSync(path.join(cacheDir(), 'runs', 'kbench-'));
  const shared = path.join(ctx.shmDir, 'shared.img');
  try {
    await prepareSharedFile(assets, shared, ctx.log);
    const [r] = await runGuests({ assets, sharedFile: shared, workDir, timeoutMs: 900_000 }, [{ name: 'K', script: script(randomUUID()), vmlinux }]);
    for (const line of r!.output.split('\n')) if (/^(OBS|KERNEL|DAEMON|\/mnt| +role)/.test(line)) ctx.log(line);
    if (r!.code !== 0) throw new Error(`guest failed (${r!.code}):\n${r!.output}`);
    const fig = (tag: string): { seqMBs: number; randIops: number } => {
      const line = r!.output.split('\n').find((l) => l.startsWith(`${tag} {`));
      if (!line) throw new Error(`no ${tag} figures in:\n${r!.output}`);
      return JSON.parse(line.slice(tag.length + 1)) as { seqMBs: number; randIops: number };
    };
    const k = fig('KERNEL'), d = fig('DAEMON');
    const note = `one famfs-kernel TCG guest, 64 MiB file, ${SECONDS} s each; TCG makes absolute numbers meaningless, compare the ratio`;
    const rows: BenchRow[] = [
      { name: 'kernel mode: sequential 1 MiB read(2)', value: k.seqMBs, unit: 'MB/s', ref: 'daemon mode, same file, same guest', refValue: d.seqMBs, note },
      { name: 'kernel mode: random 4 KiB read(2)', value: k.randIops, unit: 'IOPS', ref: 'daemon mode, same file, same guest', refValue: d.randIops, better: 'higher', note },
    ];
    fs.rmSync(workDir, { recursive: true, force: true });
    return rows;
  } finally {
    fs.rmSync(shared, { force: true });
  }
};
