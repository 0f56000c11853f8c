/**
 * What `famfs mount` must know before it starts the workers — role, format extensions,
 * allocation unit, log size and the devices of a multi-device famfs — read from the
 * superblock, the log header and the ADD_DAXDEV slots only. Famfs.open would replay the
 * whole log for that (seconds for 100,000 entries); the workers replay it anyway.
 */
import { SUPERBLOCK_STRUCT_SIZE, type Superblock } from '../format/superblock.js';
import type { Features } from '../format/features.js';
import { scanDaxdevs, type DaxdevInfo } from '../meta/daxdevs.js';
import type { Role } from './famfs.js';
import { openHead, openLog, readFeatures } from './openhead.js';
import { asFamfsError } from './errors.js';
import { trySystemUuid } from './sysuuid.js';
import { listedDevices, resolveDaxdev } from './devices.js';

export interface FamfsProbe {
  sb: Superblock;
  role: Role;
  features: Features;
  /** Devices 1.. (ADD_DAXDEV entries), as replay would list them. */
  daxdevs: DaxdevInfo[];
  /** This host's paths of devices 0.. by index ('' = not found here). */
  devicePaths: string[];
  /** The log's committed next_index when probed: every later replay holds at least these slots. */
  nextIndex: number;
  /** A copy of the superblock's bytes as probed (to notice a re-format from then on). */
  superblock: Buffer;
}

/** Check superblock, feature block and log header of `devicePath` (the errors Famfs.open gives) and find its devices. */
export function probeFamfs(devicePath: string, opts: { devices?: string[] } = {}): FamfsProbe {
  const { device, sb } = openHead(devicePath);
  try {
    const role: Role = trySystemUuid() === sb.systemUuid ? 'master' : 'client';
    const features = readFeatures(device, sb);
    const log = openLog(device, sb);
    const superblock = Buffer.from(device.view(0, SUPERBLOCK_STRUCT_SIZE));
    const nextIndex = log.nextIndex();
    const daxdevs = scanDaxdevs(log, sb.daxdev.uuid);
    const candidates = [...(opts.devices ?? []), ...(daxdevs.length ? listedDevices() : [])];
    const devicePaths = [device.path, ...daxdevs.map((d) => resolveDaxdev(sb.uuid, d, candidates) ?? '')];
    return { sb, role, features, daxdevs, devicePaths, nextIndex, superblock };
  } catch (e) {
    throw asFamfsError(e);
  } finally {
    device.close();
  }
}
