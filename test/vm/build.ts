/**
 * Guest assets for the multi-host VM tests, built from Debian packages and
 * cached (default /var/tmp/famfs-vm, override with FAMFS_VM_CACHE):
 *   - vmlinux: the uncompressed kernel extracted from /boot/vmlinuz-* (PVH boot);
 *   - initramfs.cpio: busybox-static as /init plus the nvdimm/dax/9p/fuse/fw_cfg
 *     modules and their dependencies, loaded in order with insmod;
 *   - devdax.img: a sparse shared file already laid out as devdax (ndctl
 *     create-namespace --mode=devdax run once inside a guest); every run copies it.
 * Packages: qemu-system-x86 linux-image-amd64 busybox-static ndctl daxctl cpio kmod xz-utils.
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const QEMU = 'qemu-system-x86_64';
/** The shared memory file: famfs needs ≥ 4 GiB and devdax takes 2 MiB for its info block. */
export const SHARED_SIZE = 6 * 1024 ** 3;
/** /dev/dax0.0 offset X is shared-file offset X + DAX_OFFSET. */
export const DAX_OFFSET = 2 * 1024 ** 2;

export const MODULES = [
  'libnvdimm', 'nfit', 'nd_pmem', 'nd_btt', 'dax_pmem', 'device_dax', 'nd_e820',
  'virtio_pmem', 'virtio_pci', '9p', '9pnet_virtio', 'fuse', 'qemu_fw_cfg',
];

export function cacheDir(): string {
  return process.env.FAMFS_VM_CACHE || '/var/tmp/famfs-vm';
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export interface Tools {
  qemu: string;
  kernel: string;
  kver: string;
  busybox: string;
  modprobe: string;
  cpio: string;
  xz: string;
}

/** What is missing to run guests (empty when everything is installed), and the tools found. */
export function findTools(): { missing: string[]; tools?: Tools } {
  const missing: string[] = [];
  const need = (cmd: string, pkg: string): string => {
    const p = which(cmd);
    if (!p) missing.push(`${cmd} (Debian package ${pkg})`);
    return p ?? '';
  };
  const qemu = need(QEMU, 'qemu-system-x86');
  const modprobe = need('modprobe', 'kmod');
  const cpio = need('cpio', 'cpio');
  const xz = need('xz', 'xz-utils');
  need('ndctl', 'ndctl');
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p)) ?? '';
  if (!busybox) missing.push('busybox (Debian package busybox-static)');
  if (busybox && fs.readFileSync(busybox).subarray(0, 4096).includes('/lib64/ld-linux')) {
    missing.push('a static busybox (Debian package busybox-static; busybox is dynamically linked)');
  }
  const kernels = fs.existsSync('/boot') ? fs.readdirSync('/boot').filter((f) => /^vmlinuz-.*-amd64$/.test(f)).sort() : [];
  const kernelFile = kernels.find((k) => fs.existsSync(`/lib/modules/${k.slice('vmlinuz-'.length)}/modules.dep`));
  if (!kernelFile) missing.push('a guest kernel /boot/vmlinuz-*-amd64 with its modules (Debian package linux-image-amd64)');
  if (!fs.existsSync('/dev/shm')) missing.push('/dev/shm');
  if (missing.length) return { missing };
  const kver = kernelFile!.slice('vmlinuz-'.length);
  return { missing, tools: { qemu, kernel: `/boot/${kernelFile}`, kver, busybox, modprobe, cpio, xz } };
}

export interface Assets {
  dir: string;
  vmlinux: string;
  initramfs: string;
}

/** Write `file` atomically with the output of `make(tmp)`. */
function atomically(file: string, make: (tmp: string) => void): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    make(tmp);
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true, recursive: true });
  }
}

/** Uncompressed vmlinux from a bzImage (the kernel's extract-vmlinux: find the xz stream, decompress). */
function extractVmlinux(tools: Tools, out: string): void {
  const img = fs.readFileSync(tools.kernel);
  const magic = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
  let pos = img.indexOf(magic);
  while (pos >= 0) {
    const r = spawnSync(tools.xz, ['-dc'], { input: img.subarray(pos), maxBuffer: 1 << 30 });
    if (r.stdout && r.stdout.length > 4 && r.stdout.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
      fs.writeFileSync(out, r.stdout);
      return;
    }
    pos = img.indexOf(magic, pos + 1);
  }
  throw new Error(`${tools.kernel}: no xz-compressed ELF kernel found (CONFIG_KERNEL_XZ expected)`);
}

/** Module files in load order (dependencies first), without the install hooks of /etc/modprobe.d. */
function moduleFiles(tools: Tools): string[] {
  const files: string[] = [];
  for (const m of MODULES) {
    const out = execFileSync(tools.modprobe, ['--show-depends', '--ignore-install', '-S', tools.kver, m], { encoding: 'utf8' });
    for (const line of out.split('\n')) {
      const f = /^insmod (\S+)/.exec(line)?.[1];
      if (f && !files.includes(f)) files.push(f);
    }
  }
  return files;
}

/** PID 1 of every guest: load modules, mount the host root over 9p, run our script chrooted in it. */
export const INIT_SCRIPT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /modules/*.ko; do insmod "$m" 2>/dev/null || echo "init: insmod $m failed" >/dev/console; done
OUT=/dev/ttyS1
finish() {
  echo "@@FAMFS-VM-EXIT $1@@" >$OUT
  echo "@@FAMFS-VM-EXIT $1@@" >/dev/console
  sync
  poweroff -f
}
i=0; while [ ! -e /sys/firmware/qemu_fw_cfg/by_name/opt/famfs/script/raw ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host || finish 120
for d in proc sys dev tmp run root mnt; do [ -d /host/$d ] || { echo "init: /$d missing on the host root" >$OUT; finish 121; }; done
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts devpts /host/dev/pts
# The checkout may live under a directory we cover with tmpfs (CI clones anywhere): keep it visible.
KEEP=$(sed -n 's/.*famfs_vm_keep=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
if [ -n "$KEEP" ] && [ -d "/host$KEEP" ]; then mkdir -p /keep && mount -o bind "/host$KEEP" /keep; else KEEP=; fi
for d in tmp run root mnt dev/shm; do mount -t tmpfs -o mode=1777 tmpfs /host/$d; done
if [ -n "$KEEP" ] && [ ! -d "/host$KEEP" ]; then mkdir -p "/host$KEEP" && mount -o bind /keep "/host$KEEP"; fi
chmod 0755 /host/run /host/root /host/mnt
mkdir -p /host/mnt/famfs
cp /sys/firmware/qemu_fw_cfg/by_name/opt/famfs/script/raw /host/run/famfs-vm-script.sh || finish 122
# wait (briefly) for the shared memory device
i=0; while [ ! -e /dev/dax0.0 ] && [ ! -e /dev/pmem0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
hostname "$(sed -n 's/.*famfs_vm_name=\\([^ ]*\\).*/\\1/p' /proc/cmdline)"
# Watchdog: a guest whose harness died still powers off (famfs_vm_timeout= seconds).
T=$(sed -n 's/.*famfs_vm_timeout=\\([0-9]*\\).*/\\1/p' /proc/cmdline)
timeout -s KILL "\${T:-600}" chroot /host /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb \\
  /bin/sh /run/famfs-vm-script.sh >$OUT 2>&1 </dev/null
finish $?
`;

function buildInitramfs(tools: Tools, out: string): void {
  const stage = fs.mkdtempSync(path.join(path.dirname(out), 'initramfs-stage-'));
  try {
    for (const d of ['bin', 'dev', 'proc', 'sys', 'modules', 'tmp']) fs.mkdirSync(path.join(stage, d));
    fs.copyFileSync(tools.busybox, path.join(stage, 'bin/busybox'));
    fs.chmodSync(path.join(stage, 'bin/busybox'), 0o755);
    fs.writeFileSync(path.join(stage, 'init'), INIT_SCRIPT, { mode: 0o755 });
    moduleFiles(tools).forEach((f, i) => {
      const name = `${String(i).padStart(2, '0')}-${path.basename(f).replace(/\.(xz|zst|gz)$/, '')}`;
      const dst = path.join(stage, 'modules', name);
      if (f.endsWith('.xz')) fs.writeFileSync(dst, execFileSync(tools.xz, ['-dc', f], { maxBuffer: 1 << 28 }));
      else if (f.endsWith('.zst')) fs.writeFileSync(dst, execFileSync('zstd', ['-dc', f], { maxBuffer: 1 << 28 }));
      else fs.copyFileSync(f, dst);
    });
    // The kernel opens /dev/console for PID 1 before anything is mounted.
    execFileSync('mknod', ['-m', '600', path.join(stage, 'dev/console'), 'c', '5', '1']);
    const list = execFileSync('find', ['.', '-print0'], { cwd: stage }).toString('latin1').split('\0').filter(Boolean).sort().join('\n') + '\n';
    fs.writeFileSync(out, execFileSync(tools.cpio, ['-o', '-H', 'newc', '--quiet'], { cwd: stage, input: list, maxBuffer: 1 << 28 }));
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

function hashOf(...parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
}

/** Kernel and initramfs, built once and cached under cacheDir()/<kernel version>-<hash>. */
export function buildAssets(tools: Tools, log: (s: string) => void = () => {}): Assets {
  const st = fs.statSync(tools.kernel);
  const key = hashOf(tools.kernel, String(st.size), String(st.mtimeMs), INIT_SCRIPT, MODULES.join(','), tools.busybox, String(fs.statSync(tools.busybox).size));
  const dir = path.join(cacheDir(), `${tools.kver}-${key}`);
  fs.mkdirSync(dir, { recursive: true });
  // Drop assets of older kernels or init scripts (each holds a 6 GiB sparse image).
  for (const old of fs.readdirSync(cacheDir())) {
    if (/^\d.*-[0-9a-f]{16}$/.test(old) && old !== path.basename(dir)) fs.rmSync(path.join(cacheDir(), old), { recursive: true, force: true });
  }
  const vmlinux = path.join(dir, 'vmlinux');
  const initramfs = path.join(dir, 'initramfs.cpio');
  if (!fs.existsSync(vmlinux)) {
    const t0 = Date.now();
    atomically(vmlinux, (tmp) => extractVmlinux(tools, tmp));
    log(`extracted ${vmlinux} in ${Date.now() - t0} ms`);
  }
  if (!fs.existsSync(initramfs)) {
    const t0 = Date.now();
    atomically(initramfs, (tmp) => buildInitramfs(tools, tmp));
    log(`built ${initramfs} (${fs.statSync(initramfs).size} bytes) in ${Date.now() - t0} ms`);
  }
  return { dir, vmlinux, initramfs };
}

/**
 * The famfs guest kernel (Linux with the famfs FUSE V10 patches, built in; see the developers'
 * shared/famfs-kernel/README.md): `$FAMFS_VM_FAMFS_KERNEL`, else `shared/famfs-kernel/vmlinux-famfs.xz`
 * next to the checkout (or one level up). Undefined when there is none.
 */
export function famfsKernelXz(repo: string): string | undefined {
  const env = process.env.FAMFS_VM_FAMFS_KERNEL;
  if (env) return fs.existsSync(env) ? env : undefined;
  for (const up of ['..', '../..']) {
    const p = path.resolve(repo, up, 'shared/famfs-kernel/vmlinux-famfs.xz');
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/** The famfs kernel uncompressed into the cache (once per kernel file). */
export function famfsVmlinux(xzFile: string, tools: Tools, log: (s: string) => void = () => {}): string {
  const st = fs.statSync(xzFile);
  const out = path.join(cacheDir(), `vmlinux-famfs-${hashOf(xzFile, String(st.size), String(st.mtimeMs))}`);
  if (!fs.existsSync(out)) {
    const t0 = Date.now();
    fs.mkdirSync(cacheDir(), { recursive: true });
    atomically(out, (tmp) => fs.writeFileSync(tmp, execFileSync(tools.xz, ['-dc', xzFile], { maxBuffer: 1 << 28 })));
    log(`uncompressed ${xzFile} to ${out} in ${Date.now() - t0} ms`);
  }
  return out;
}
