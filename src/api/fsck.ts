/** The fsck report: superblock, log and capacity, as upstream prints them, plus what replay refused. */
import { PresenceOracle } from '../presence/oracle.js';
import { ALLOC_UNIT, LOG_ENTRY_SIZE, LOG_HEADER_SIZE } from '../format/constants.js';
import { featureNames } from '../format/features.js';
import type { Famfs, HeldSpace } from './famfs.js';
import type { Extent, FileMap } from '../format/types.js';

const pieces = (m: FileMap): Extent[] => (m.kind === 'simple' ? m.extents : m.strips);
import type { ReplayProblem } from '../meta/replay.js';
import { fmapKernelProblem } from '../map/export/famfs.js';

export interface FsckReport {
  device: string;
  superblock: {
    uuid: string; deviceUuid: string; systemUuid: string; role: 'Owner' | 'Client';
    version: number; allocUnit: number; omfMajor: number; omfMinor: number; logLen: number; primary: { name: string; size: number };
  };
  log: { entriesUsed: number; slots: number; bytesInUse: number; bytesTotal: number };
  capacity: {
    deviceCapacity: number; bitmapCapacity: number; sumOfFileSizes: number; allocatedBytes: number;
    freeSpace: number; spaceAmplification: number; percentUsed: number;
  };
  files: number;
  directories: number;
  symlinks: number;
  /** Format extensions in use (docs/format.md); empty for an upstream file system. */
  features: string[];
  badEntries: number;
  rejectedEntries: number;
  collisions: number;
  /** Every pair of files that claim the same space: paths, the device, and the bytes they share. */
  collisionPairs: CollisionPair[];
  /** Every device of the file system: recorded and real size, use; `problem` when it cannot hold its files. */
  devices: DeviceReport[];
  /** Deleted files still holding space (the release oracle has not let them go). */
  pending: PendingReport[];
  problems: ReplayProblem[];
  /**
   * Files a famfs kernel would refuse to map (GET_FMAP answers EIO for them, their open fails
   * in kernel mode): beyond the kernel's extent/strip/alignment/u32-chunk limits. Sound for
   * famfs and the daemon data path, so they do not make the report unclean.
   */
  kernelRefused: { path: string; problem: string }[];
  clean: boolean;
}

export interface CollisionPair {
  a: string;
  b: string;
  device: number;
  bytes: number;
}

export interface DeviceReport {
  index: number;
  /** This host's path, or null when the device is not found here. */
  path: string | null;
  /** Size recorded in the file system (superblock / ADD_DAXDEV). */
  size: number;
  /** Size of the device as it is now (null: not found on this host). */
  realSize: number | null;
  capacity: number;
  allocated: number;
  /** Bytes of deleted files not yet released (feature delete; part of `allocated`). */
  pending: number;
  free: number;
  problem?: string;
}

/** A deleted or replaced file whose space is not reusable yet. */
export interface PendingReport {
  path: string;
  /** Its creation slot (its id) and the slot of the DELETE/RENAME that removed it. */
  fileId: number;
  deleteIndex: number;
  bytes: number;
  /** Presence area: who keeps it (slot, host label, why: held, not replayed, write intent, kernel mapping). */
  heldBy?: { slot: number; label: string; why: string }[];
}

/** The hosts that keep a pending free, when the file system's oracle is the presence area's. */
function heldBy(fs: Famfs, fileId: number): PendingReport['heldBy'] {
  const o = fs.releaseOracle;
  if (!(o instanceof PresenceOracle)) return undefined;
  const p = fs.pendingFrees.find((x) => x.fileId === fileId);
  return p ? o.holders(p) : undefined;
}

export function fsck(fs: Famfs): FsckReport {
  fs.refresh();
  const h = fs.log.readHeader();
  const { bitmap, collisions: collisions0 } = fs.buildBitmap();
  // Devices 1.. of a multi-device file system have bitmaps of their own.
  let collisions = collisions0;
  for (let d = 1; d < fs.geometry.ndevices; d++) collisions += fs.deviceBitmap(d).collisions;
  let fsizeSum = 0;
  const held = fs.heldSpace();
  for (const h of held) if (!h.pending) fsizeSum += h.size;
  const st = fs.stats;
  const devices = deviceReports(fs, bitmap, held);
  // Several devices: capacity counts all of them (one device: upstream's figures).
  const sum = (f: (d: DeviceReport) => number): number => devices.reduce((s, d) => s + f(d), 0);
  const allocated = sum((d) => d.allocated);
  const capacity = sum((d) => d.capacity);
  return {
    device: fs.device.path,
    superblock: {
      uuid: fs.sb.uuid, deviceUuid: fs.sb.devUuid, systemUuid: fs.sb.systemUuid, role: fs.role === 'master' ? 'Owner' : 'Client',
      version: fs.sb.version, allocUnit: fs.sb.allocUnit, omfMajor: fs.sb.omfMajor, omfMinor: fs.sb.omfMinor, logLen: fs.sb.logLen,
      primary: { name: fs.sb.daxdev.name, size: fs.sb.daxdev.size },
    },
    log: { entriesUsed: h.nextIndex, slots: h.lastIndex + 1, bytesInUse: LOG_HEADER_SIZE + h.nextIndex * LOG_ENTRY_SIZE, bytesTotal: h.logLen },
    capacity: {
      deviceCapacity: fs.device.size + sum((d) => (d.index ? d.realSize ?? d.size : 0)),
      bitmapCapacity: capacity,
      sumOfFileSizes: fsizeSum,
      allocatedBytes: allocated,
      freeSpace: capacity - allocated,
      spaceAmplification: fsizeSum ? allocated / fsizeSum : 0,
      percentUsed: (100 * allocated) / capacity,
    },
    files: fs.tree.files,
    directories: fs.tree.dirs,
    symlinks: fs.tree.symlinks,
    features: featureNames(fs.features.incompat | fs.features.rocompat),
    badEntries: st.badEntries,
    rejectedEntries: st.rejected,
    collisions,
    collisionPairs: collisions ? collisionPairs(fs) : [],
    devices,
    pending: held.filter((h) => h.pending).map((h) => ({ path: h.path, fileId: h.index, deleteIndex: fs.pendingFrees.find((p) => p.fileId === h.index)?.deleteIndex ?? -1, bytes: pieces(h.map).reduce((n, e) => n + e.length, 0), heldBy: heldBy(fs, h.index) })),
    problems: [...fs.problems],
    kernelRefused: kernelRefused(fs),
    clean: collisions === 0 && st.badEntries === 0 && st.rejected === 0 && devices.every((d) => !d.problem),
  };
}

/**
 * Data space taken over data held: the bytes of every sound file's extents divided by the
 * sum of the file sizes (the superblock and log are left out; 0 for no data).
 */
export function dataAmplification(fs: Famfs): { allocated: number; held: number; ratio: number } {
  let allocated = 0, held = 0;
  for (const h of fs.heldSpace()) {
    if (h.pending) continue;
    held += h.size;
    for (const e of pieces(h.map)) allocated += e.length;
  }
  return { allocated, held, ratio: held ? allocated / held : 0 };
}

/** Who shares space with whom: one owner per allocation unit per device, each later claimer paired with it. */
export function collisionPairs(fs: Famfs): CollisionPair[] {
  const au = fs.geometry.allocUnit;
  const owners = new Map<number, Int32Array>();
  const ownerOf = (d: number): Int32Array => {
    let o = owners.get(d);
    if (!o) owners.set(d, (o = new Int32Array(Math.ceil((d === 0 ? fs.geometry.deviceSize : fs.geometry.deviceSizes?.[d] ?? 0) / au))));
    return o;
  };
  const holders = fs.heldSpace();
  const name = (h: HeldSpace): string => (h.pending ? `${h.path} (deleted, not released)` : h.path);
  const pairs = new Map<string, CollisionPair>();
  for (const [i, h] of holders.entries()) {
    for (const e of pieces(h.map)) {
      const own = ownerOf(e.devindex);
      for (let u = e.offset / au; u < Math.min(own.length, (e.offset + e.length) / au); u++) {
        const prev = own[u]! - 1;
        if (prev < 0) {
          own[u] = i + 1;
          continue;
        }
        const key = `${prev}:${i}:${e.devindex}`;
        const p = pairs.get(key);
        if (p) p.bytes += au;
        else pairs.set(key, { a: name(holders[prev]!), b: name(h), device: e.devindex, bytes: au });
      }
    }
  }
  return [...pairs.values()];
}

/** Each device as recorded, as found on this host, and its use. */
function deviceReports(fs: Famfs, bitmap0: { capacity: number; usedBytes: number; freeBytes: number }, held: HeldSpace[]): DeviceReport[] {
  const out: DeviceReport[] = [];
  for (let d = 0; d < fs.geometry.ndevices; d++) {
    const bm = d === 0 ? bitmap0 : fs.deviceBitmap(d).bitmap;
    const size = d === 0 ? fs.sb.daxdev.size || fs.device.size : fs.geometry.deviceSizes?.[d] ?? 0;
    const path = fs.devicePath(d) ?? null;
    let realSize: number | null = null;
    try {
      realSize = d === 0 ? fs.device.size : path ? fs.deviceAt(d).size : null;
    } catch {
      realSize = null;
    }
    let pending = 0;
    for (const h of held) if (h.pending) for (const e of pieces(h.map)) if (e.devindex === d) pending += e.length;
    const r: DeviceReport = { index: d, path, size, realSize, capacity: bm.capacity, allocated: bm.usedBytes, pending, free: bm.freeBytes };
    // Device 0: replay already uses the smaller of the recorded and the real size (files past
    // the real end are refused entries). Devices 1..: their recorded size is what replay and the
    // allocator trust, so a shorter device is a problem in itself.
    const end = highestEnd(fs, d);
    if (d > 0 && realSize !== null && realSize < end) r.problem = `is ${realSize} bytes, but files reach byte ${end}`;
    else if (d > 0 && realSize !== null && realSize < size) r.problem = `is ${realSize} bytes, smaller than the ${size} recorded for it`;
    out.push(r);
  }
  return out;
}

/** One past the last byte any file entry holds on device `d`. */
function highestEnd(fs: Famfs, d: number): number {
  let end = 0;
  fs.forEachHolder((_, map) => {
    for (const e of pieces(map)) if (e.devindex === d) end = Math.max(end, e.offset + e.length);
  });
  return end;
}

function kernelRefused(fs: Famfs): { path: string; problem: string }[] {
  const out: { path: string; problem: string }[] = [];
  // small-units: the whole file system is refused for kernel mode (said once, in formatFsck).
  if (fs.sb.allocUnit < ALLOC_UNIT) return out;
  for (const n of fs.tree.walk()) {
    if (n.kind !== 'file') continue;
    // As GET_FMAP does: the verified V10 kernel also refuses every devindex ≠ 0.
    const problem = fmapKernelProblem(n.map, n.size, { devindexZeroOnly: true });
    if (problem) out.push({ path: n.path, problem });
  }
  return out;
}

const gib = (n: number): string => `${(n / 1024 ** 3).toFixed(2)}G`;

/** Upstream's layout (smoke tests grep "log_len", "Device capacity", "Free space"). */
export function formatFsck(r: FsckReport, opts: { human?: boolean; verbose?: boolean } = {}): string {
  const num = (n: number): string => (opts.human ? gib(n) : String(n));
  const L: string[] = [];
  L.push('Famfs Superblock:');
  L.push(`  Filesystem UUID:   ${r.superblock.uuid}`);
  L.push(`  Device UUID:       ${r.superblock.deviceUuid}`);
  L.push(`  System UUID:       ${r.superblock.systemUuid}`);
  L.push(`  role of this node: ${r.superblock.role}`);
  L.push(`  alloc_unit:        0x${r.superblock.allocUnit.toString(16)}`);
  L.push(`  OMF major version: ${r.superblock.omfMajor}`);
  L.push(`  OMF minor version: ${r.superblock.omfMinor}`);
  L.push(`  sizeof superblock: 200`);
  L.push(`  log size (bytes):  ${r.superblock.logLen}`);
  L.push(`  primary: ${r.superblock.primary.name}   ${r.superblock.primary.size}`);
  if (r.features.length) {
    L.push(`  features:          ${r.features.join(', ')} (format extensions: upstream famfs refuses this file system)`);
    if (r.superblock.allocUnit < ALLOC_UNIT) L.push('  kernel data path:  unavailable (allocation units below 2 MiB); files are served by the daemon');
  }
  L.push('');
  L.push('Log stats:');
  L.push(`  # of log entries in use: ${r.log.entriesUsed} of ${r.log.slots}`);
  L.push(`  Log size in use:          ${r.log.bytesInUse}`);
  L.push(`  Log size (total bytes)    ${r.log.bytesTotal}`);
  L.push(r.collisions ? `  ERROR: ${r.collisions} ALLOCATION COLLISIONS FOUND` : '  No allocation errors found');
  for (const p of r.collisionPairs) L.push(`    ${p.a} and ${p.b} share ${p.bytes} bytes on device ${p.device}`);
  L.push('');
  L.push('Capacity:');
  L.push(`  Device capacity:        ${num(r.capacity.deviceCapacity)}`);
  L.push(`  Bitmap capacity:        ${num(r.capacity.bitmapCapacity)}`);
  L.push(`  Sum of file sizes:      ${num(r.capacity.sumOfFileSizes)}`);
  L.push(`  ${opts.human ? 'Allocated space:' : 'Allocated bytes:'}        ${num(r.capacity.allocatedBytes)}`);
  L.push(`  Free space:             ${num(r.capacity.freeSpace)}`);
  L.push(`  Space amplification:     ${r.capacity.spaceAmplification.toFixed(2)}`);
  L.push(`  Percent used:            ${r.capacity.percentUsed.toFixed(1)}%`);
  const deletes = r.features.includes('delete');
  if (deletes) L.push(`  Pending (deleted):      ${num(r.pending.reduce((n, p) => n + p.bytes, 0))} in ${r.pending.length} files, reused once every host lets go`);
  if (r.devices.length > 1 || r.devices.some((d) => d.problem) || deletes) {
    L.push('');
    L.push('Devices:');
    for (const d of r.devices) {
      L.push(`  ${d.index}: ${d.path ?? '(not found on this host)'} size ${num(d.size)} allocated ${num(d.allocated)}${deletes ? ` (live ${num(d.allocated - d.pending)}, pending ${num(d.pending)})` : ''} free ${num(d.free)}`);
      if (d.problem) L.push(`    ERROR: device ${d.index} ${d.problem}`);
    }
  }
  L.push('');
  L.push('Famfs log:');
  L.push(`  ${r.log.entriesUsed} of ${r.log.slots} entries used`);
  L.push(`  ${r.badEntries} bad log entries detected`);
  L.push(`  ${r.rejectedEntries} entries refused by replay`);
  L.push(`  ${r.files} files`);
  L.push(`  ${r.directories} directories`);
  if (r.symlinks) L.push(`  ${r.symlinks} symbolic links`);
  if (r.pending.length) {
    L.push('');
    L.push('Deleted files not released yet:');
    for (const p of r.pending.slice(0, opts.verbose ? undefined : 50)) {
      const by = p.heldBy?.length ? `; held by ${p.heldBy.map((h) => `slot ${h.slot} (${h.label || '?'}: ${h.why})`).join(', ')}` : '';
      L.push(`  ${p.path}: ${p.bytes} bytes (file ${p.fileId}, removed by entry ${p.deleteIndex}${by})`);
    }
    if (!opts.verbose && r.pending.length > 50) L.push(`  ... ${r.pending.length - 50} more (use -v)`);
  }
  if (r.problems.length) {
    L.push('');
    L.push('Problems:');
    for (const p of r.problems.slice(0, opts.verbose ? undefined : 50)) L.push(`  entry ${p.index}: ${p.kind}: ${p.message}`);
    if (!opts.verbose && r.problems.length > 50) L.push(`  ... ${r.problems.length - 50} more (use -v)`);
  }
  if (r.kernelRefused.length) {
    L.push('');
    L.push('Files a famfs kernel would refuse to map (open fails with EIO in kernel mode):');
    for (const k of r.kernelRefused.slice(0, opts.verbose ? undefined : 50)) L.push(`  ${k.path}: ${k.problem}`);
    if (!opts.verbose && r.kernelRefused.length > 50) L.push(`  ... ${r.kernelRefused.length - 50} more (use -v)`);
  }
  if (opts.verbose) {
    L.push('');
    L.push('Verbose:');
    L.push(`  log_offset:        ${0x200000}`);
    L.push(`  log_len:           ${r.superblock.logLen}`);
    L.push(`  sizeof(log header) 48`);
    L.push(`  sizeof(log entry)  544`);
    L.push(`  last_log_index:    ${r.log.slots - 1}`);
    L.push(`  superblock version ${r.superblock.version}`);
  }
  return L.join('\n') + '\n';
}
