/**
 * famfs kernel mode on real famfs kernels (qemu guests booted with the shared famfs kernel):
 * a kernel-mode master, a kernel-mode client and a daemon-mode client on the stock kernel,
 * one shared devdax. Skips loudly without qemu or the famfs kernel. See docs/multihost.md.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { killAllGuests } from './qemu.js';
import { removeRun } from './scenario.js';
import { kernelVmSkipReason, runKernelScenario } from './kscenario.js';

const reason = kernelVmSkipReason();
if (reason) console.error(`\n*** ${reason} ***\n`);
const log = (s: string): void => console.error(`# vm: ${s}`);

describe('famfs kernel mode on famfs kernels (qemu guests sharing one devdax)', () => {
  test('A (famfs kernel, master, kernel mode) populates; B (famfs kernel, client, kernel mode) and C (stock kernel, client, daemon mode) see, read, mmap and store; A reads the stores back',
    { timeout: 1_260_000 }, async (t) => {
      if (reason) {
        console.error(`\n*** ${reason} ***\n`);
        t.skip(reason);
        return;
      }
      try {
        const r = await runKernelScenario({ clients: [{ name: 'B', kernel: 'famfs' }, { name: 'C', kernel: 'stock' }], timeoutMs: 1_200_000, log });
        t.diagnostic(`3 guests: ${r.ms} ms (${r.results.map((g) => `${g.name} ${g.ms} ms`).join(', ')})`);
        if (process.env.FAMFS_VM_VERBOSE === '1') console.error(r.report);
        assert.ok(r.ok, `kernel-mode scenario failed; logs kept in ${r.workDir}\n${r.report}`);
        removeRun(r.workDir);
      } finally {
        killAllGuests();
      }
    });
});
