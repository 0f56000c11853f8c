/** Format a device (or a plain file) as famfs, byte-compatible with upstream mkfs.famfs. */
import fs from 'node:fs';
import { ALLOC_UNIT, DEFAULT_LOG_LEN, LOG_OFFSET, MIN_DEVICE_SIZE, MIN_LOG_LEN, SUPERBLOCK_SIZE } from '../format/constants.js';
import { checkSuperblock, decodeSuperblock, encodeSuperblock, SUPERBLOCK_STRUCT_SIZE } from '../format/superblock.js';
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
  /** Format even though a mount on this host uses the device (it will answer ESTALE). */
  evenIfMounted?: boolean;
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
  const logLen = opts.logLen ?? DEFAULT_LOG_LEN;
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
    return format(devicePath, logLen, opts);
  } catch (e) {
    undo?.();
    throw e;
  }
}

function format(devicePath: string, logLen: number, opts: MkfsOptions): MkfsResult {
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
    const log = dev.view(LOG_OFFSET, logLen);
    sbBuf.fill(0, 0, 8);
    dev.flush(0, 8);
    log.fill(0);
    encodeLogHeader(logLen).copy(log);
    dev.flush(LOG_OFFSET, logLen); // fcc-site: mkfs-log-flush
    const uuid = newUuid();
    encodeSuperblock({
      logOffset: LOG_OFFSET, logLen, allocUnit: ALLOC_UNIT, uuid, devUuid: newUuid(), systemUuid: local, flags: 0,
      daxdev: { size: info.size, uuid: '00000000-0000-0000-0000-000000000000', name: devicePath },
    }).copy(sbBuf);
    dev.flush(0, SUPERBLOCK_STRUCT_SIZE); // fcc-site: mkfs-superblock-flush
    return { killed: false, deviceSize: info.size, uuid };
  } catch (e) {
    throw asFamfsError(e);
  } finally {
    dev.close();
  }
}
