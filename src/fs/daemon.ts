/**
 * `famfs mount`: check the device and the mount point, mount through the
 * generic FUSE server with FamfsFs in every worker, and follow the log.
 */
import fs from 'node:fs';
import { ALLOC_UNIT } from '../format/constants.js';
import os from 'node:os';
import { Famfs } from '../api/famfs.js';
import { FamfsError, asFamfsError } from '../api/errors.js';
import { FuseServer } from '../fuse/server.js';
import { kernelMaxPagesLimit } from '../fuse/negotiate.js';
import { uringSupport, type TransportChoice } from '../fuse/uring.js';
import { checkMountpoint, findFuseMounts, fuseAvailable, type MountInfo, type MountOptions } from '../fuse/mount.js';
import { StateFlag, type FamfsMountConfig } from './config.js';
import { DEFAULT_LOCK_WAIT_MS, MasterService } from './master-service.js';
import { createNewFileSlots } from './newslots.js';
import { createRpcChannel, RpcServer } from './rpc.js';
import { LogWatcher } from './watcher.js';
import { Notifier } from './notifier.js';
import { trySystemUuid } from '../api/sysuuid.js';
import { getxattr } from '../sys/libc.js';
import type { Placement } from '../alloc/space.js';
import { createOpStats } from '../fuse/opstats.js';
import { famfsKernelPresent, FUSE_DAX_FMAP, type DataPath, type DataPathChoice } from './kernel.js';
import { ensureDevdax, enterKernelMode, kernelModeIntended, leaveKernelMode, snapshotMeta } from './kernel-mount.js';
import { daxMode } from '../device/daxmode.js';
import { PresenceService } from '../presence/service.js';
import { probeFamfs } from '../api/probe.js';
import { hasFeature, PRESENCE } from '../format/features.js';
import { createSharedStatfs } from './shared-statfs.js';
import { famfsMountInfoAt, mountDaemon, removeMountRecord, writeMountRecord } from '../api/mountrecord.js';

export const FS_SUBTYPE = 'famfs';
export const FS_TYPE = `fuse.${FS_SUBTYPE}`;
/** Long enough for tar/rsync/cp -p to set modes after closing a file, short enough to feel immediate. */
export const DEFAULT_COMMIT_DELAY_MS = 300;

/** How long a create through the master's mount waits for a log lock held by a CLI writer ($FAMFS_LOCK_WAIT_MS, for tests). */
function lockWaitMs(): number | undefined {
  const v = Number(process.env.FAMFS_LOCK_WAIT_MS);
  return Number.isInteger(v) && v > 0 && v <= DEFAULT_LOCK_WAIT_MS ? v : undefined;
}

export interface MountRequest {
  device: string;
  mountpoint: string;
  forceClient?: boolean;
  /** Entry/attribute cache timeout (s). famfs metadata never changes once logged. */
  timeout?: number;
  verbose?: boolean;
  workers?: number;
  /** Idle time before files and directories made through a master mount are logged (ms). */
  commitDelayMs?: number;
  /** -o options: allow_other, default_permissions, ro, … (unknown ones are passed to the kernel). */
  options?: string[];
  /** 'auto' (default): famfs kernel extensions when the kernel is famfs-enabled and offers them; 'kernel': insist; 'daemon': never. */
  dataPath?: DataPathChoice;
  /** Candidate paths of devices 1.. (besides this host's device list). */
  devices?: string[];
  /** Master: where files made through the mount are placed on a multi-device famfs. */
  placement?: Placement;
  log?: (msg: string) => void;
  /** FUSE transport: 'dev' (default), 'uring' (FUSE over io_uring, or fail), 'auto'. */
  transport?: TransportChoice;
}

/** The famfs mounts of this host, from /proc/self/mountinfo. */
export function famfsMounts(): { device: string; mountpoint: string }[] {
  return findFuseMounts({ type: FS_TYPE }).map((m) => ({ device: m.source, mountpoint: m.mountpoint }));
}

export interface ParsedOptions {
  mount: MountOptions;
  /** meta_group=GID: this group may read the .meta files. */
  metaGroup?: number;
  /** cache: logged files are read through the page cache (FamfsMountConfig.cache). */
  cache?: boolean;
}

/**
 * -o options. The kernel checks modes only with default_permissions, and the daemon
 * does not check them itself: so nodefault_permissions is refused unless
 * noallow_other keeps every other user out of the mount.
 */
export function parseMountOptions(opts: string[] = []): ParsedOptions {
  const o: MountOptions = { allowOther: true, defaultPermissions: true, extra: [] };
  let metaGroup: number | undefined;
  let cache: boolean | undefined;
  for (const raw of opts.flatMap((s) => s.split(',')).filter(Boolean)) {
    if (raw === 'allow_other') o.allowOther = true;
    else if (raw === 'noallow_other') o.allowOther = false;
    else if (raw === 'default_permissions') o.defaultPermissions = true;
    else if (raw === 'nodefault_permissions') o.defaultPermissions = false;
    else if (raw === 'ro') o.readOnly = true;
    else if (raw === 'noatime') o.noatime = true;
    else if (raw === 'cache') cache = true;
    else if (raw === 'nocache') cache = false;
    else if (raw.startsWith('meta_group=')) {
      const v = raw.slice('meta_group='.length);
      if (!/^\d{1,10}$/.test(v) || Number(v) > 0xfffffffe) throw new FamfsError(`-o ${raw}: meta_group takes a numeric group id (0..4294967294)`, 'EINVAL', 2);
      metaGroup = Number(v);
    } else o.extra!.push(raw);
  }
  if (!o.defaultPermissions && o.allowOther) {
    throw new FamfsError('-o nodefault_permissions needs noallow_other: without default_permissions nothing checks file modes, so other users would read and write every file', 'EINVAL', 2);
  }
  return { mount: o, metaGroup, cache };
}

/** The system UUID of a mount's daemon: from its record (never asking a stopped daemon), else from the daemon. */
function mountHostUuid(m: MountInfo): string | undefined {
  const d = mountDaemon(m);
  if (d) return d.state === 'gone' ? undefined : d.record.systemUuid;
  try {
    return getxattr(m.mountpoint, 'user.famfs.system_uuid');
  } catch {
    return undefined; // dead daemon: it can't serve, so it doesn't count
  }
}

export interface Preflight {
  /** Canonical device path and mount point. */
  device: string;
  mountpoint: string;
  role: 'master' | 'client';
  /** Paths of devices 0.. by index, as found on this host ('' = not found). */
  devices: string[];
  /** UUIDs of devices 1.., for messages about missing ones. */
  extraUuids: string[];
  options: ParsedOptions;
  /** The superblock's allocation unit (below 2 MiB: small-units, never kernel mode). */
  allocUnit: number;
  /** The file system has the presence area (issue 14): this host joins it while mounted. */
  presence: boolean;
  /** Bytes of the log (sizes the open-count table). */
  logLen: number;
  /** Where the log stood, and the superblock's bytes, when probed. */
  probe: { nextIndex: number; superblock: Buffer };
}

/** Validate everything that can be checked before mounting, and learn the role and device paths. */
export function preflight(req: MountRequest): Preflight {
  const options = parseMountOptions(req.options);
  if (!fuseAvailable()) throw new FamfsError('/dev/fuse is not available on this host', 'ENODEV');
  if (req.transport === 'uring') {
    const sup = uringSupport();
    if (!sup.ok) throw new FamfsError(`--transport uring: ${sup.reason}`, 'EOPNOTSUPP');
  }
  let device: string, mountpoint: string;
  try {
    device = fs.realpathSync(req.device);
  } catch {
    throw new FamfsError(`${req.device}: no such device or file`, 'ENOENT');
  }
  // One mount per device per host. Hosts simulated on one machine (FAMFS_SYSTEM_UUID_FILE) differ in system UUID.
  const me = trySystemUuid() ?? '';
  const dup = findFuseMounts({ type: FS_TYPE }).find((m) => m.source === device && mountHostUuid(m) === me);
  if (dup) throw new FamfsError(`${device} is already mounted at ${dup.mountpoint} on this host`, 'EBUSY');
  if (daxMode(device) === 'fsdev') {
    if (famfsMounts().some((m) => m.device === device)) throw new FamfsError(`${device} is bound to fsdev_dax for a famfs mount on this host; unmount it first`, 'EBUSY');
    ensureDevdax(device, req.log ?? ((m: string) => process.stderr.write(`famfs: ${m}\n`)));
  }
  // A clear error for a missing or invalid superblock/log; no replay (the workers replay).
  const probe = probeFamfs(device, { devices: req.devices });
  const role = req.forceClient ? 'client' : probe.role;
  const devices = [device, ...probe.devicePaths.slice(1)];
  const extraUuids = probe.daxdevs.map((d) => d.uuid);
  const au = probe.sb.allocUnit;
  const presence = hasFeature(probe.features, PRESENCE);
  const logLen = probe.sb.logLen;
  // The famfs kernel maps only 2 MiB-aligned extents (reference famfs-extensions.md §4) and has no READ fallback.
  if (req.dataPath === 'kernel' && au < ALLOC_UNIT) {
    throw new FamfsError(`${device}: this famfs uses ${au}-byte allocation units (small-units extension) and a famfs kernel maps only 2 MiB-aligned extents; mount it with --data-path daemon (auto chooses daemon)`, 'EINVAL');
  }
  try {
    checkMountpoint(req.mountpoint);
    mountpoint = fs.realpathSync(req.mountpoint);
  } catch (e) {
    throw new FamfsError((e as Error).message, 'EINVAL');
  }
  return { device, mountpoint, role, devices, extraUuids, options, allocUnit: au, presence, logLen, probe: { nextIndex: probe.nextIndex, superblock: probe.superblock } };
}

export interface RunningMount {
  server: FuseServer;
  watcher: LogWatcher;
  config: FamfsMountConfig;
  role: string;
  dataPath: DataPath;
  /** This host's presence (file systems with the presence area). */
  presence?: PresenceService;
  /** Call once the mount was announced: the log watcher replays then (a big log takes seconds). */
  ready: () => void;
}

/** Mount and serve; resolves once the kernel has completed INIT. */
export async function startMount(req: MountRequest): Promise<RunningMount> {
  const log = req.log ?? ((m: string) => process.stderr.write(`famfs: ${m}\n`));
  // Devices not found on this host ('' in devices) make only the files on them fail (EIO/ENXIO).
  const { device, mountpoint, role, devices, extraUuids, options, allocUnit, presence, logLen, probe: probed } = preflight(req);
  let probe = probed;
  devices.forEach((p, i) => {
    if (i > 0) log(p ? `device ${i}: ${p}` : `device ${i} (uuid ${extraUuids[i - 1]}) not found on this host: files on it cannot be read`);
  });
  const config: FamfsMountConfig = {
    device, mountpoint,
    timeout: req.timeout ?? 31_536_000,
    forceClient: !!req.forceClient,
    verbose: !!req.verbose,
    mountTimeMs: Date.now(),
    state: new SharedArrayBuffer(16),
    statfs: createSharedStatfs(),
    rpc: createRpcChannel(),
    newFiles: createNewFileSlots(),
    dataPath: req.dataPath ?? 'auto',
    devices,
    metaGroup: options.metaGroup,
    famfsKernel: false,
    cache: options.cache,
    // As many pages per READ as the kernel allows (fewer round trips for large reads). Not over
    // io_uring, where every ring entry is allocated at that size.
    maxPages: (req.transport ?? 'dev') === 'dev' ? kernelMaxPagesLimit() : undefined,
  };
  const workers = req.workers ?? Math.max(2, Math.min(4, os.cpus().length));
  config.opStats = createOpStats(workers);
  // Kernel mode: copy superblock and log while the device is still devdax, then bind it to fsdev_dax.
  // Small allocation units cannot be mapped by a famfs kernel: auto serves them in daemon mode.
  const kernelMode = allocUnit >= ALLOC_UNIT && kernelModeIntended(config.dataPath ?? 'auto', device);
  config.famfsKernel = kernelMode || (config.dataPath === 'kernel' && famfsKernelPresent());
  if (kernelMode) {
    config.metaImage = snapshotMeta(device);
    try {
      enterKernelMode(device, log);
    } catch (e) {
      throw asFamfsError(e);
    }
  }
  const stillMounted = (): boolean => famfsMounts().some((m) => m.device === device);
  if (config.dataPath === 'kernel' && !config.famfsKernel) log('--data-path kernel, but /proc/kallsyms has no famfs_fuse_iomap_begin: the mount fails unless the kernel offers FUSE_DAX_FMAP');
  if (req.verbose) log(`data path: ${config.dataPath} requested; famfs-enabled kernel (/proc/kallsyms famfs_fuse_iomap_begin): ${config.famfsKernel ? 'yes' : 'no'}`);
  const masterOpts = { log, placement: req.placement, commitDelayMs: req.commitDelayMs ?? DEFAULT_COMMIT_DELAY_MS, pendingCount: new Int32Array(config.state, 4 * StateFlag.PENDING, 1), lockWaitMs: lockWaitMs(), newFiles: config.newFiles, openTable: () => presenceSvc?.table ?? kernelShared?.table };
  // In kernel mode the master writes the log through the mount, so it starts once mounted; in
  // daemon mode once joined to the presence area (below), so that it replays no log a compact rewrote.
  let master: MasterService | undefined;
  const rpc = role === 'master' ? new RpcServer(config.rpc, (call) => {
    if (!master) throw new FamfsError('the mount is not ready', 'EAGAIN');
    return master.handle(call);
  }, (e) => log(`internal error: ${(e as Error).stack ?? e}`), () => master?.wake()) : undefined;
  // Join the presence area before any worker serves (workers count opens and check the lease).
  // Kernel mode reaches the area only through the mount: the workers start "joining" (metadata
  // only, no logged file opens) and the service joins right after mounting.
  let presenceSvc: PresenceService | undefined;
  const presenceOpts = { device, role, kernelMode, threads: workers, label: os.hostname(), log };
  const kernelShared = presence && kernelMode ? PresenceService.sharedFor(logLen) : undefined;
  if (kernelShared) config.presence = { control: kernelShared.control.sab, table: kernelShared.table.sab };
  else if (presence) {
    try {
      presenceSvc = await PresenceService.start(presenceOpts);
      // Joined, and no compact runs (PresenceService.refuseWhileCompacting): a compact that ran
      // since the probe has finished, so the watcher starts from the log as it is now.
      const again = probeFamfs(device, { devices: req.devices });
      probe = { nextIndex: again.nextIndex, superblock: again.superblock };
    } catch (e) {
      rpc?.close();
      await presenceSvc?.stop();
      throw asFamfsError(e);
    }
    config.presence = { control: presenceSvc.control.sab, table: presenceSvc.table.sab };
  }
  if (role === 'master' && !kernelMode) {
    try {
      master = new MasterService(device, masterOpts);
    } catch (e) {
      rpc?.close();
      await presenceSvc?.stop();
      throw asFamfsError(e);
    }
  }
  const server = new FuseServer({
    mountpoint,
    // '../fs/': the same file from here and from the CLI bundle (scripts/bundle-cli.mjs).
    handlerModule: new URL('../fs/handler-module.js', import.meta.url),
    handlerData: config,
    workers,
    opStats: config.opStats,
    source: device,
    subtype: FS_SUBTYPE,
    mountOptions: options.mount,
    debug: !!req.verbose,
    log,
    transport: req.transport ?? 'dev',
    // Slow hosts (TCG guests on a loaded machine) may need longer to start the workers.
    initTimeoutMs: Number(process.env.FAMFS_INIT_TIMEOUT_MS) || undefined,
  });
  let dataPath: DataPath;
  try {
    const conn = await server.start();
    dataPath = (conn.flags & FUSE_DAX_FMAP) !== 0n ? 'kernel' : 'daemon';
  } catch (e) {
    rpc?.close();
    master?.close();
    await presenceSvc?.stop();
    if (kernelMode) leaveKernelMode(device, false, log);
    if (config.dataPath === 'kernel') {
      // FamfsFs refuses INIT (EIO) when the kernel does not offer FUSE_DAX_FMAP; say so instead of a bare timeout.
      throw new FamfsError(`--data-path kernel: the kernel did not complete famfs kernel mode (FUSE_DAX_FMAP, INIT bit 43${config.famfsKernel ? '' : '; /proc/kallsyms has no famfs_fuse_iomap_begin'}): ${(e as Error).message}; mount with --data-path auto or daemon`, 'EOPNOTSUPP');
    }
    throw asFamfsError(e);
  }
  const notify = new Notifier(server.masterFd);
  const madeHere = role === 'master' ? (id: number): boolean => master?.madeHere(id) ?? false : undefined;
  const kernelId = role === 'master' ? (id: number): number => master?.kernelId(id) ?? id : undefined;
  let watcher: LogWatcher;
  let detachTimer: NodeJS.Timeout | undefined;
  if (kernelMode) {
    try {
      if (dataPath !== 'kernel') throw new FamfsError('the kernel did not take famfs kernel mode (FUSE_DAX_FMAP) at INIT; mount with --data-path daemon', 'EOPNOTSUPP');
      // Superblock and log through the mount itself (the device cannot be mapped in fsdev mode).
      watcher = new LogWatcher(device, notify, config.state, { log, verbose: req.verbose, famfs: Famfs.openMounted(mountpoint, device), image: Buffer.from(config.metaImage!), madeHere, kernelId });
      watcher.mirror(); // entries logged since the snapshot
      if (role === 'master') master = new MasterService(device, { ...masterOpts, famfs: Famfs.openMounted(mountpoint, device, { writable: true }), afterAppend: () => watcher.mirror() });
      if (kernelShared) {
        try {
          presenceSvc = await PresenceService.start({ ...presenceOpts, kernel: { mountpoint, ...kernelShared, image: Buffer.from(config.metaImage!) } });
        } catch (e) {
          throw new FamfsError(`kernel mode: could not join the presence area through ${mountpoint}/.meta/.superblock (${(e as Error).message}); mount with --data-path daemon`, (e as NodeJS.ErrnoException).code ?? 'EIO');
        }
      }
    } catch (e) {
      rpc?.close();
      master?.close();
      await server.unmount({ lazy: true }).catch(() => undefined);
      leaveKernelMode(device, false, log);
      throw asFamfsError(e);
    }
    // Our own mappings of .meta keep the mount busy: `famfs umount` detaches it lazily, and
    // once it is gone from the mount table we let go of them so the connection can end.
    // The presence slot (and its mapping) stays until no file here is counted open: after a
    // lazy unmount, processes may still map files, and those the master deletes stay held.
    let detached = false;
    detachTimer = setInterval(() => {
      if (famfsMounts().some((m) => m.mountpoint === mountpoint)) return;
      if (!detached) {
        detached = true;
        log(`${mountpoint} was detached: releasing the .meta mappings${presenceSvc?.openCount() ? ` once no file is open here (${presenceSvc.openCount()} handles or mappings left)` : ''}`);
        watcher.stop();
        master?.close();
        master = undefined;
      }
      if (presenceSvc?.openCount()) return;
      clearInterval(detachTimer);
      void presenceSvc?.stop();
    }, 200);
    detachTimer.unref();
  } else {
    // The watcher replays once the mount answers (RunningMount.ready), from where the probe
    // saw the log: the workers' replays hold at least that, so nothing is missed.
    watcher = new LogWatcher(device, notify, config.state, { log, verbose: req.verbose, madeHere, kernelId, deferredFrom: { nextIndex: probe.nextIndex, superblock: probe.superblock } });
  }
  watcher.start();
  // Deletes and renames reach this host's kernel through the notifier: it listens before the mount is announced.
  await notify.ready;
  // Who serves this mount, for `famfs umount` and the CLI, readable without asking us (mountrecord.ts).
  const mi = famfsMountInfoAt(mountpoint);
  const recordFile = mi && writeMountRecord(mi, { systemUuid: trySystemUuid() ?? '', device, mountpoint, dataPath });
  if (!recordFile) log(`could not write this mount's record in ${process.env.FAMFS_RUN_DIR || '/run/famfs/mounts'}: famfs umount of it cannot tell this daemon from other local mounts of ${device}`);
  void server.closed.then(() => {
    if (recordFile) removeMountRecord(recordFile);
    clearInterval(detachTimer);
    rpc?.close();
    master?.close();
    watcher.stop();
    void presenceSvc?.stop();
    void notify.close();
    if (kernelMode) leaveKernelMode(device, stillMounted(), log);
  });

  log(`mounted ${device} on ${mountpoint} as ${role}, data path: ${dataPath === 'kernel' ? 'kernel (famfs GET_FMAP/GET_DAXDEV, data through DAX)' : 'daemon'}, transport: ${server.transport === 'uring' ? 'io_uring' : '/dev/fuse'}`);
  return { server, watcher, config, role, dataPath, presence: presenceSvc, ready: () => watcher.replayDeferred() };
}
