/** Format a device (or a plain file) as famfs, byte-compatible with upstream mkfs.famfs. */
import fs from 'node:fs';
import { ALLOC_UNIT, DEFAULT_LOG_LEN, PRESENCE_OFFSET, PRESENCE_SIZE, LOG_ENTRY_SIZE, LOG_HEADER_SIZE, LOG_OFFSET, MIN_DEVICE_SIZE, MIN_LOG_LEN, SUPERBLOCK_SIZE } from '../format/constants.js';
import { checkSuperblock, decodeSuperblock, encodeSuperblock, extAllocUnitOk, SUPERBLOCK_STRUCT_SIZE } from '../format/superblock.js';
import { encodeFeatureBlock, EXT_VERSION, FEATURE_BLOCK_OFFSET, FEATURE_GROUPS, FEATURES, featureBit, featureByName, PRESENCE, SMALL_UNITS } from '../format/features.js';
import { encodeLogHeader } from '../format/logheader.js';
import { newUuid } from '../format/uuid.js';
import { Device, probeDevice } from '../device/device.js';
import { FamfsError, asFamfsError } from './errors.js';
import { systemUuid } from './sysuuid.js';
import { refuseIfMounted } from './inuse.js';

export interface MkfsOptions {
  force?: boolean;
  /** Zero the superblock magic and stop (needs `force`). */
  kill?: boolean;
  logLen?: number;
  /** Create (sparse) or grow a regular file to this size first. */
  size?: number;
  /** Size the log for this many entries (the next power of two ≥ 8 MiB); instead of logLen. */
  files?: number;
  /** Format extensions to enable, by name (docs/format.md); none keeps the upstream format. */
  features?: string[];
  /** Allocation unit below 2 MiB (a power of two ≥ 4 KiB; enables small-units). */
  allocUnit?: number;
  /** Format even though a mount on this host uses the device (it will answer ESTALE). */
  evenIfMounted?: boolean;
  /** Presence lease in ms (feature `delete`/`rename`; default DEFAULT_LEASE_MS), kept in the feature block. */
  leaseMs?: number;
}

/** Bounds of --lease: long enough for a busy host to beat, short enough that space comes back. */
export const MIN_LEASE_MS = 1000;
export const MAX_LEASE_MS = 3_600_000;

/** The smallest valid log (a power of two ≥ 8 MiB) with `n` entry slots. */
export function logLenForEntries(n: number): number {
  let len = MIN_LOG_LEN;
  while (Math.floor((len - LOG_HEADER_SIZE) / LOG_ENTRY_SIZE) < n) len *= 2;
  return len;
}

/** The feature mask and allocation unit that options ask for; throws a usage error for anything invalid. */
function chooseFormat(opts: MkfsOptions): Format {
  let incompat = 0n;
  let rocompat = 0n;
  for (const name of (opts.features ?? []).flatMap((n) => FEATURE_GROUPS[n] ?? [n])) {
    const f = featureByName(name);
    if (!f || !f.known) {
      const known = FEATURES.filter((x) => x.known).map((x) => x.name).join(', ');
      throw new FamfsError(`unknown feature ${JSON.stringify(name)} (known: ${known})`, 'EINVAL', 2);
    }
    if (f.class === 'rocompat') rocompat |= featureBit(name);
    else incompat |= featureBit(name);
  }
  if (opts.leaseMs !== undefined) {
    if (!(rocompat & PRESENCE)) throw new FamfsError('--lease applies only with --features delete (or rename, or all)', 'EINVAL', 2);
    if (!Number.isSafeInteger(opts.leaseMs) || opts.leaseMs < MIN_LEASE_MS || opts.leaseMs > MAX_LEASE_MS) throw new FamfsError(`lease ${opts.leaseMs} ms must be ${MIN_LEASE_MS} to ${MAX_LEASE_MS} ms`, 'EINVAL', 2);
  }
  const au = opts.allocUnit ?? ((incompat & SMALL_UNITS) ? 4096 : ALLOC_UNIT);
  if (!extAllocUnitOk(au)) throw new FamfsError(`allocation unit ${au} must be a power of two from 4096 to 2 MiB`, 'EINVAL', 2);
  if (au !== ALLOC_UNIT) incompat |= SMALL_UNITS;
  else if (incompat & SMALL_UNITS) throw new FamfsError('small-units needs an allocation unit below 2 MiB', 'EINVAL', 2);
  return { incompat, rocompat, allocUnit: au, leaseMs: opts.leaseMs ?? 0 };
}

interface Format {
  incompat: bigint;
  rocompat: bigint;
  allocUnit: number;
  leaseMs: number;
}

export interface MkfsResult {
  killed: boolean;
  deviceSize: number;
  uuid?: string;
}

function isPow2(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/** Undo for prepareFile: remove the file it created, or give a grown file its old size back. */
type Undo = () => void;

function prepareFile(path: string, size: number): Undo {
  let current: number | undefined;
  try {
    const st = fs.statSync(path);
    if (!st.isFile()) throw new FamfsError(`${path}: --size applies only to regular files`, 'EINVAL');
    current = st.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw asFamfsError(e);
  }
  if (current !== undefined && current > size) {
    throw new FamfsError(`${path}: is ${current} bytes, larger than --size ${size}; famfs never shrinks a device`, 'EINVAL');
  }
  const undo: Undo = current === undefined ? () => fs.rmSync(path, { force: true }) : () => fs.truncateSync(path, current);
  try {
    if (current === undefined) fs.writeFileSync(path, '', { flag: 'wx', mode: 0o600 });
    if (current !== size) fs.truncateSync(path, size);
  } catch (e) {
    undo();
    throw asFamfsError(e);
  }
  return undo;
}

export function mkfs(devicePath: string, opts: MkfsOptions = {}): MkfsResult {
  if (opts.files !== undefined) {
    if (opts.logLen !== undefined) throw new FamfsError('give either a log length or a number of files, not both', 'EINVAL', 2);
    if (!Number.isSafeInteger(opts.files) || opts.files < 1) throw new FamfsError(`invalid number of files ${opts.files}`, 'EINVAL', 2);
  }
  const logLen = opts.logLen ?? (opts.files !== undefined ? logLenForEntries(opts.files) : DEFAULT_LOG_LEN);
  const fmt = chooseFormat(opts);
  if (opts.kill && !opts.force) throw new FamfsError('--kill destroys the file system on the device; add --force to confirm', 'EINVAL', 2);
  if (!isPow2(logLen) || logLen < MIN_LOG_LEN) throw new FamfsError(`log length ${logLen} must be a power of two of at least ${MIN_LOG_LEN} (8 MiB)`, 'EINVAL', 2);
  if (opts.size !== undefined) {
    if (!Number.isSafeInteger(opts.size) || opts.size <= 0) throw new FamfsError(`invalid --size ${opts.size}`, 'EINVAL', 2);
    if (opts.size < MIN_DEVICE_SIZE) throw new FamfsError(`--size ${opts.size} is below the famfs minimum of 4 GiB`, 'EINVAL', 2);
    if (SUPERBLOCK_SIZE + logLen + ALLOC_UNIT > opts.size) throw new FamfsError(`log of ${logLen} bytes leaves no room for data in --size ${opts.size}`, 'EINVAL', 2);
  }
  if (fs.existsSync(devicePath)) refuseIfMounted(devicePath, 'format it', opts.evenIfMounted);
  const undo = opts.size !== undefined ? prepareFile(devicePath, opts.size) : undefined;
  try {
    return format(devicePath, logLen, opts, fmt);
  } catch (e) {
    undo?.();
    throw e;
  }
}

function format(devicePath: string, logLen: number, opts: MkfsOptions, fmt: Format): MkfsResult {
  const info = (() => {
    try {
      return probeDevice(devicePath);
    } catch (e) {
      throw asFamfsError(e);
    }
  })();
  if (info.size < MIN_DEVICE_SIZE && !opts.kill) throw new FamfsError(`${devicePath}: ${info.size} bytes is below the famfs minimum of 4 GiB`, 'EINVAL');
  if (SUPERBLOCK_SIZE + logLen + ALLOC_UNIT > info.size) throw new FamfsError(`${devicePath}: log of ${logLen} bytes leaves no room for data`, 'EINVAL');

  let dev: Device;
  try {
    dev = Device.open(devicePath, { writable: true });
  } catch (e) {
    throw asFamfsError(e);
  }
  try {
    dev.lock({ wait: false });
    dev.invalidate(0, SUPERBLOCK_STRUCT_SIZE); // fcc-site: mkfs-superblock-invalidate
    const sbBuf = dev.view(0, SUPERBLOCK_STRUCT_SIZE);
    const check = checkSuperblock(sbBuf);
    if (opts.kill) {
      sbBuf.fill(0, 0, 8);
      dev.flush(0, 8); // fcc-site: mkfs-kill-flush
      return { killed: true, deviceSize: info.size };
    }
    const local = systemUuid();
    if ((check === 'ok' || check === 'bad-version') && !opts.force) {
      const owner = check === 'ok' ? decodeSuperblock(sbBuf).systemUuid : undefined;
      if (owner && owner !== local) throw new FamfsError(`${devicePath}: holds a famfs file system owned by another host (${owner}); use --force to overwrite it`, 'EEXIST');
      throw new FamfsError(`${devicePath}: already holds a famfs file system; use --force to overwrite it`, 'EEXIST');
    }
    // Log first, superblock last: a crash in between leaves no valid superblock over a half-made log.
    sbBuf.fill(0, 0, 8);
    dev.flush(0, 8);
    // A log of 1 GiB or more spans two mapping windows: zero it piece by piece.
    for (const piece of dev.slices(LOG_OFFSET, logLen)) piece.fill(0);
    encodeLogHeader(logLen).copy(dev.view(LOG_OFFSET, LOG_HEADER_SIZE));
    dev.flush(LOG_OFFSET, logLen); // fcc-site: mkfs-log-flush
    const uuid = newUuid();
    // Extensions: the feature block first, then a superblock whose version upstream refuses.
    const extended = fmt.incompat !== 0n || fmt.rocompat !== 0n;
    if (extended) {
      encodeFeatureBlock({ incompat: fmt.incompat, rocompat: fmt.rocompat, leaseMs: fmt.leaseMs }).copy(dev.view(FEATURE_BLOCK_OFFSET, 128));
      dev.flush(FEATURE_BLOCK_OFFSET, 128);
    }
    // No host is present on a new file system: every presence slot starts free (zero).
    if (fmt.rocompat & PRESENCE) {
      for (const piece of dev.slices(PRESENCE_OFFSET, PRESENCE_SIZE)) piece.fill(0);
      dev.flush(PRESENCE_OFFSET, PRESENCE_SIZE);
    }
    encodeSuperblock({
      logOffset: LOG_OFFSET, logLen, allocUnit: fmt.allocUnit, uuid, devUuid: newUuid(), systemUuid: local, flags: 0,
      daxdev: { size: info.size, uuid: '00000000-0000-0000-0000-000000000000', name: devicePath },
      ...(extended ? { version: EXT_VERSION } : {}),
    }).copy(sbBuf);
    dev.flush(0, SUPERBLOCK_STRUCT_SIZE); // fcc-site: mkfs-superblock-flush
    return { killed: false, deviceSize: info.size, uuid };
  } catch (e) {
    throw asFamfsError(e);
  } finally {
    dev.close();
  }
}
