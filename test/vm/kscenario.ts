/**
 * famfs kernel mode on real famfs kernels: guest A (famfs kernel, master, kernel mode) and
 * guest B (famfs kernel, client, kernel mode) share one devdax, and in the same run guest C
 * (stock Debian kernel, client, daemon mode) — the mixed case. One boot covers both
 * scenarios (each boot costs tens of seconds under TCG). See guest-kmaster.sh and
 * guest-kclient.sh; the shared kernel is found by famfsKernelXz().
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cacheDir, famfsKernelXz, famfsVmlinux, findTools } from './build.js';
import { prepareSharedFile, runGuests, type GuestResult, type GuestSpec } from './qemu.js';
import { DEV, guestScript, makeFixture, MNT, prepareAssets, REPO, vmSkipReason, type ScenarioResult } from './scenario.js';

/** Why the kernel-mode VM test cannot run here, or undefined. */
export function kernelVmSkipReason(): string | undefined {
  const r = vmSkipReason();
  if (r) return r.replace('the multi-host VM test', 'the famfs kernel-mode VM test');
  if (!famfsKernelXz(REPO)) return 'SKIPPED: the famfs kernel-mode VM test needs the famfs guest kernel shared/famfs-kernel/vmlinux-famfs.xz next to the checkout (or $FAMFS_VM_FAMFS_KERNEL)';
  return undefined;
}

export interface KernelGuest {
  name: string;
  /** famfs kernel (kernel mode) or the stock kernel (daemon mode). */
  kernel: 'famfs' | 'stock';
}

export interface KernelScenarioOptions {
  clients: KernelGuest[];
  bigSize?: number;
  waitSeconds?: number;
  timeoutMs?: number;
  log?: (s: string) => void;
}

/** The famfs kernel, uncompressed into the cache. */
export function famfsKernelFile(log: (s: string) => void = () => {}): string {
  const { tools } = findTools();
  return famfsVmlinux(famfsKernelXz(REPO)!, tools!, log);
}

export async function runKernelScenario(o: KernelScenarioOptions): Promise<ScenarioResult> {
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const assets = await prepareAssets(log);
  const famfsKernel = famfsKernelFile(log);
  const bigSize = o.bigSize ?? 8 * 1024 * 1024;
  const names = o.clients.map((c) => c.name);
  const runs = path.join(cacheDir(), 'runs');
  fs.mkdirSync(runs, { recursive: true });
  const workDir = fs.mkdtempSync(path.join(runs, `K${['A', ...names].join('')}-`));
  fs.chmodSync(workDir, 0o755);
  const shared = `/dev/shm/famfs-vm-${process.pid}-${path.basename(workDir)}.img`;
  try {
    const fx = makeFixture(path.join(workDir, 'fixture'), names, bigSize, [{ path: 'viamount', type: 'dir', mode: 0o755, uid: 0, gid: 0 }]);
    await prepareSharedFile(assets, shared, log);
    const common = {
      REPO, DEV, MNT, FIX: path.dirname(fx.dir), MANIFEST: fx.manifest, SEED: 4243, WAIT: o.waitSeconds ?? 600,
      FAMFS_SYSTEM_UUID_FILE: '/run/famfs/system_uuid', FAMFS_INIT_TIMEOUT_MS: 120_000, FAMFS_STATUS_TIMEOUT_MS: 120_000,
    };
    const perClient: Record<string, number> = {};
    for (const [c, off] of fx.offsets) perClient[`CLIENT_${c}_MOFF`] = off.moff;
    const guests: GuestSpec[] = [
      {
        name: 'A', vmlinux: famfsKernel,
        script: guestScript({ ...common, ME: 'A', SYSTEM_UUID: randomUUID(), BIG_SIZE: bigSize, CLIENTS: names.join(' '), KCLIENTS: o.clients.filter((c) => c.kernel === 'famfs').map((c) => c.name).join(' '), NFILES: fx.nfiles, NDIRS: fx.ndirs, TARGET_SHA: fx.targetSha, ...perClient }, ['guest-lib.sh', 'guest-kmaster.sh']),
      },
      ...o.clients.map((c) => ({
        name: c.name, vmlinux: c.kernel === 'famfs' ? famfsKernel : undefined,
        script: guestScript({ ...common, ME: c.name, SYSTEM_UUID: randomUUID(), TOFF: fx.offsets.get(c.name)!.toff, MOFF: fx.offsets.get(c.name)!.moff, EXPECT_PATH: c.kernel === 'famfs' ? 'kernel' : 'daemon' }, ['guest-lib.sh', 'guest-kclient.sh']),
      })),
    ];
    const results: GuestResult[] = await runGuests({ assets, sharedFile: shared, workDir, timeoutMs: o.timeoutMs ?? 600_000, failGraceMs: 30_000, log }, guests);
    log(`guests: ${results.map((r) => `${r.name}=${r.code ?? 'none'} (${r.ms} ms${r.timedOut ? ', timed out' : ''})`).join(', ')}`);
    const ok = results.every((r) => r.code === 0);
    const report = results.map((r) => `===== guest ${r.name}: exit ${r.code ?? 'none'}${r.timedOut ? ' (timed out)' : ''}, ${r.ms} ms; kernel log ${r.consoleLog}\n${r.output.trimEnd()}`).join('\n');
    return { ok, results, workDir, ms: Date.now() - t0, report };
  } finally {
    fs.rmSync(shared, { force: true });
  }
}
