/**
 * famfs on separate hosts: qemu guests (each its own Linux kernel, its own
 * system UUID) sharing one emulated NVDIMM as /dev/dax0.0, running our CLI and
 * FUSE daemon from this checkout. Two guests by default; three with
 * FAMFS_VM_THREE=1. Skips loudly when qemu or the guest kernel is missing.
 * See docs/multihost.md.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { killAllGuests } from './qemu.js';
import { prepareAssets, removeRun, replaceExtraMs, runScenario, vmSkipReason } from './scenario.js';

const reason = vmSkipReason();
if (reason) console.error(`\n*** ${reason} ***\n`);
const THREE = process.env.FAMFS_VM_THREE === '1';
const log = (s: string): void => console.error(`# vm: ${s}`);
/** A replace phase larger than the default (FAMFS_VM_REPLACE_MB) gets the time it needs. */
const EXTRA = replaceExtraMs();

describe('famfs on several hosts (qemu guests sharing one devdax)', () => {
  let prepared: Error | undefined;

  before(async () => {
    if (reason) return;
    const t0 = Date.now();
    try {
      await prepareAssets(log);
    } catch (e) {
      prepared = e as Error;
    }
    log(`kernel, initramfs and devdax image ready in ${Date.now() - t0} ms`);
  }, { timeout: 600_000 });

  const scenario = (clients: string[], timeoutMs: number) => async (t: { skip: (m: string) => void; diagnostic: (m: string) => void }): Promise<void> => {
    if (reason) {
      console.error(`\n*** ${reason} ***\n`);
      t.skip(reason);
      return;
    }
    if (prepared) throw prepared;
    try {
      const r = await runScenario({ clients, timeoutMs, log });
      t.diagnostic(`${1 + clients.length} guests: ${r.ms} ms (${r.results.map((g) => `${g.name} ${g.ms} ms`).join(', ')})`);
      if (process.env.FAMFS_VM_VERBOSE === '1') console.error(r.report);
      assert.ok(r.ok, `multi-host scenario failed; logs kept in ${r.workDir}\n${r.report}`);
      removeRun(r.workDir);
    } finally {
      killAllGuests();
    }
  };

  test('two hosts: master A formats and populates, client B follows the log, writes data, is refused metadata, sees the re-format as ESTALE',
    { timeout: 960_000 + EXTRA }, scenario(['B'], 900_000 + EXTRA));

  test('three hosts: master A, clients B and C (FAMFS_VM_THREE=1)', { timeout: 1_260_000 + EXTRA, skip: THREE || reason ? false : 'set FAMFS_VM_THREE=1 to run the slower three-guest variant' },
    scenario(['B', 'C'], 1_200_000 + EXTRA));
});
