/**
 * Boot several TCG guests at once, all mapping one shared memory file as an
 * emulated NVDIMM (/dev/dax0.0 in each), each running one shell script of ours
 * chrooted into the host root (read-only over 9p). Collects each guest's script
 * output (second serial port) and exit code; the kernel log goes to the first.
 *
 * Teardown is unconditional: every qemu is started in its own process group,
 * tracked by pid, killed on timeout, on any error and on process exit.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { QEMU, SHARED_SIZE, type Assets } from './build.js';

/** The checkout the guests run (kept visible in the guest even under /tmp or /root, where CI may clone it). */
const KEEP_DIR = process.env.FAMFS_VM_REPO || path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface GuestSpec {
  name: string;
  /** Shell script run as root in the guest (cwd /, PATH set, host root read-only, tmpfs on /tmp /run /root /mnt). */
  script: string;
  /** This guest's kernel (default: the assets' Debian kernel), e.g. the famfs kernel. */
  vmlinux?: string;
}

export interface GuestResult {
  name: string;
  /** Script exit code; undefined when the guest never reported one (crash, timeout). */
  code: number | undefined;
  /** Script stdout+stderr. */
  output: string;
  /** Kernel console log path. */
  consoleLog: string;
  outputLog: string;
  timedOut: boolean;
  ms: number;
}

export interface RunOptions {
  assets: Assets;
  /** The shared memory file every guest maps. */
  sharedFile: string;
  /** Where logs and scripts go (must be visible in the guests only if scripts refer to it). */
  workDir: string;
  timeoutMs: number;
  /** When a guest reports a non-zero exit code, kill the others after this long (default 15 s). */
  failGraceMs?: number;
  memMiB?: number;
  /** qemu -cpu model (default: FAMFS_VM_CPU or max). */
  cpu?: string;
  /** vCPUs per guest (default: FAMFS_VM_SMP or 1). */
  smp?: number;
  log?: (s: string) => void;
}

const live = new Set<ChildProcess>();

function killGroup(p: ChildProcess, sig: NodeJS.Signals): void {
  if (p.pid === undefined || p.exitCode !== null || p.signalCode !== null) return;
  try {
    process.kill(-p.pid, sig);
  } catch {
    try {
      p.kill(sig);
    } catch {
      /* gone */
    }
  }
}

/** Kill every guest still running (SIGKILL: a TCG guest has nothing worth saving). */
export function killAllGuests(): void {
  for (const p of live) killGroup(p, 'SIGKILL');
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllGuests);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAllGuests();
      process.kill(process.pid, sig);
    });
  }
}

export function qemuArgs(o: RunOptions, g: GuestSpec, scriptFile: string, consoleLog: string, outputLog: string): string[] {
  const mem = o.memMiB ?? 1024;
  const sizeG = SHARED_SIZE / 1024 ** 3;
  return [
    '-accel', 'tcg', '-cpu', o.cpu ?? (process.env.FAMFS_VM_CPU || 'max'), '-smp', String(o.smp ?? (Number(process.env.FAMFS_VM_SMP) || 1)),
    '-machine', 'pc,nvdimm=on',
    '-m', `${mem}M,slots=2,maxmem=${mem + SHARED_SIZE / 1024 ** 2 + 1024}M`,
    '-nodefaults', '-display', 'none', '-monitor', 'none', '-no-reboot',
    '-kernel', g.vmlinux ?? o.assets.vmlinux, '-initrd', o.assets.initramfs,
    '-append', `console=ttyS0 panic=-1 quiet loglevel=4 ${process.env.FAMFS_VM_APPEND ?? ''} famfs_vm_keep=${KEEP_DIR} famfs_vm_name=${g.name} famfs_vm_timeout=${Math.max(10, Math.floor(o.timeoutMs / 1000) - 15)}`,
    '-object', `memory-backend-file,id=mem1,share=on,mem-path=${o.sharedFile},size=${sizeG}G`,
    '-device', 'nvdimm,id=nv1,memdev=mem1',
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-fw_cfg', `name=opt/famfs/script,file=${scriptFile}`,
    '-serial', `file:${consoleLog}`, '-serial', `file:${outputLog}`,
  ];
}

const EXIT_RE = /@@FAMFS-VM-EXIT (\d+)@@/;

/** Boot all guests at once and wait for all of them (or the deadline, then kill). */
export async function runGuests(o: RunOptions, guests: GuestSpec[]): Promise<GuestResult[]> {
  hookExit();
  const log = o.log ?? (() => {});
  fs.mkdirSync(o.workDir, { recursive: true });
  if (!fs.existsSync(o.sharedFile) || fs.statSync(o.sharedFile).size !== SHARED_SIZE) {
    throw new Error(`${o.sharedFile}: shared file missing or not ${SHARED_SIZE} bytes`);
  }
  const procs: ChildProcess[] = [];
  const t0 = Date.now();
  let graceTimer: NodeJS.Timeout | undefined;
  const onGuestFailed = (name: string): void => {
    if (graceTimer) return;
    const grace = o.failGraceMs ?? 15_000;
    log(`guest ${name} failed: stopping the others in ${grace} ms`);
    graceTimer = setTimeout(() => procs.forEach((p) => killGroup(p, 'SIGKILL')), grace);
  };
  try {
    const waits = guests.map((g) => {
      const scriptFile = path.join(o.workDir, `${g.name}.sh`);
      const consoleLog = path.join(o.workDir, `${g.name}.console.log`);
      const outputLog = path.join(o.workDir, `${g.name}.out.log`);
      fs.writeFileSync(scriptFile, g.script);
      for (const f of [consoleLog, outputLog]) fs.rmSync(f, { force: true });
      const p = spawn(QEMU, qemuArgs(o, g, scriptFile, consoleLog, outputLog), { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
      procs.push(p);
      live.add(p);
      let stderr = '';
      p.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      log(`guest ${g.name}: qemu pid ${p.pid}`);
      return new Promise<GuestResult>((resolve) => {
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          log(`guest ${g.name}: timeout after ${o.timeoutMs} ms, killing qemu pid ${p.pid}`);
          killGroup(p, 'SIGKILL');
        }, o.timeoutMs);
        const done = (why: string): void => {
          clearTimeout(timer);
          live.delete(p);
          const read = (f: string): string => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
          let output = read(outputLog);
          const m = EXIT_RE.exec(output);
          output = output.replace(EXIT_RE, '').replace(/\r/g, '');
          if (stderr.trim()) output += `\n[qemu stderr] ${stderr.trim()}`;
          if (!m) output += `\n[harness] guest ${g.name} reported no exit code (${why}); console tail:\n${read(consoleLog).split('\n').slice(-30).join('\n')}`;
          if (!m || m[1] !== '0') onGuestFailed(g.name);
          resolve({ name: g.name, code: m ? Number(m[1]) : undefined, output, consoleLog, outputLog, timedOut, ms: Date.now() - t0 });
        };
        p.on('error', (e) => done(`spawn error: ${e.message}`));
        p.on('exit', (code, sig) => done(`qemu exited ${sig ?? code}`));
      });
    });
    return await Promise.all(waits);
  } finally {
    clearTimeout(graceTimer);
    for (const p of procs) killGroup(p, 'SIGKILL');
    for (const p of procs) live.delete(p);
  }
}

/**
 * The cached devdax-formatted shared file (sparse, SHARED_SIZE bytes), made once
 * by booting a guest that runs `ndctl create-namespace --mode=devdax` on the
 * label-less NVDIMM. Returns its path.
 */
export async function ensureDevdaxImage(assets: Assets, log: (s: string) => void = () => {}): Promise<string> {
  const cached = path.join(assets.dir, 'devdax.img');
  if (fs.existsSync(cached)) return cached;
  const t0 = Date.now();
  const tmp = `${cached}.tmp-${process.pid}`;
  const workDir = path.join(assets.dir, `format-${process.pid}`);
  try {
    fs.rmSync(tmp, { force: true });
    fs.writeFileSync(tmp, '');
    fs.truncateSync(tmp, SHARED_SIZE);
    const script = [
      'set -e',
      'ndctl create-namespace -f -e namespace0.0 --mode=devdax --map=mem >/dev/null',
      'test -c /dev/dax0.0',
      'echo "dax0.0 size $(cat /sys/bus/dax/devices/dax0.0/size) align $(cat /sys/bus/dax/devices/dax0.0/align 2>/dev/null)"',
    ].join('\n') + '\n';
    const [r] = await runGuests({ assets, sharedFile: tmp, workDir, timeoutMs: 120_000, log }, [{ name: 'format', script }]);
    if (r!.code !== 0) throw new Error(`devdax format guest failed (code ${r!.code}):\n${r!.output}`);
    log(`formatted the shared file as devdax: ${r!.output.trim()} (${Date.now() - t0} ms)`);
    fs.renameSync(tmp, cached);
    return cached;
  } finally {
    fs.rmSync(tmp, { force: true });
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

/** A fresh shared file for one run at `dest` (a sparse copy of the cached devdax image). */
export async function prepareSharedFile(assets: Assets, dest: string, log: (s: string) => void = () => {}): Promise<void> {
  const cached = await ensureDevdaxImage(assets, log);
  fs.rmSync(dest, { force: true });
  execFileSync('cp', ['--sparse=always', cached, dest]);
}
