/**
 * Opening a famfs device up to its log: the device, its superblock, feature block and log
 * header, with the errors every opener gives. Famfs.open goes on to replay the log;
 * probeFamfs (what `famfs mount` needs before its workers start) stops here.
 */
import { LOG_OFFSET } from '../format/constants.js';
import { checkSuperblock, decodeSuperblock, describeSuperblockCheck, SUPERBLOCK_STRUCT_SIZE, type Superblock } from '../format/superblock.js';
import { checkFeatureBlock, EXT_VERSION, FEATURE_BLOCK_END, FEATURE_BLOCK_OFFSET, NO_FEATURES, type Features } from '../format/features.js';
import { Device } from '../device/device.js';
import { LogView } from '../meta/log.js';
import { FamfsError, asFamfsError } from './errors.js';

/** Read and check the superblock of an open device; throws FamfsError when it is not a usable famfs. */
export function readSuperblock(device: Device): Superblock {
  if (device.size < SUPERBLOCK_STRUCT_SIZE) throw new FamfsError(`${device.path}: too small to hold a famfs superblock`, 'EINVAL');
  device.invalidate(0, SUPERBLOCK_STRUCT_SIZE); // fcc-site: superblock-invalidate
  const buf = device.view(0, SUPERBLOCK_STRUCT_SIZE);
  const check = checkSuperblock(buf);
  if (check !== 'ok') throw new FamfsError(`${device.path}: ${describeSuperblockCheck(check)}`, 'EINVAL');
  const sb = decodeSuperblock(buf);
  if (sb.logOffset !== LOG_OFFSET) throw new FamfsError(`${device.path}: unsupported log offset ${sb.logOffset}`, 'EINVAL');
  if (LOG_OFFSET + sb.logLen > device.size) throw new FamfsError(`${device.path}: the log extends past the end of the device`, 'EINVAL');
  return sb;
}

/** The extensions an (already checked) superblock declares; throws on a feature this version does not know. */
export function readFeatures(device: Device, sb: Superblock, opts: { forWrite?: boolean } = {}): Features {
  if (sb.version !== EXT_VERSION) return NO_FEATURES;
  if (device.size < FEATURE_BLOCK_END) throw new FamfsError(`${device.path}: extended famfs superblock without a feature block`, 'EINVAL');
  const c = checkFeatureBlock(device.view(FEATURE_BLOCK_OFFSET, FEATURE_BLOCK_END - FEATURE_BLOCK_OFFSET), opts);
  if (!c.ok) throw new FamfsError(`${device.path}: ${c.reason}`, 'EINVAL');
  return c.features;
}

/** The log of a device whose superblock was checked; throws FamfsError when its header is not valid. */
export function openLog(device: Device, sb: Superblock): LogView {
  const log = new LogView(device, sb.logLen);
  const check = log.check();
  if (check !== 'ok') throw new FamfsError(`${device.path}: invalid log header (${check})`, 'EINVAL');
  return log;
}

/**
 * Open `devicePath` and check its superblock. The superblock and log are served by small
 * mappings of the device's start (no 1 GiB window: see Device.mapHead). The caller owns the
 * device (closes it); on an error it is closed here and the error is a FamfsError.
 */
export function openHead(devicePath: string, opts: { writable?: boolean } = {}): { device: Device; sb: Superblock } {
  let device: Device;
  try {
    device = Device.open(devicePath, { writable: opts.writable });
  } catch (e) {
    throw asFamfsError(e);
  }
  try {
    device.mapHead(LOG_OFFSET);
    const sb = readSuperblock(device);
    device.mapHead(LOG_OFFSET + sb.logLen);
    return { device, sb };
  } catch (e) {
    device.close();
    throw asFamfsError(e);
  }
}
