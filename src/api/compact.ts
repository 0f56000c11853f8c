/**
 * `famfs compact DEV`: rewrite the log without dead entries (deleted and replaced nodes, the
 * DELETE/RENAME entries themselves, entries replay refused), offline only. Every live node is
 * logged again, parents first, under its current path, with its map: file bytes do not move.
 * Node ids are log slots, so ids (inode numbers) change: no host may have the file system
 * mounted. Online compaction would need an id-remap entry (docs/format.md).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOG_OFFSET, PRESENCE_OFFSET, PRESENCE_SLOT_SIZE, PRESENCE_SLOTS } from '../format/constants.js';
import { COMPACTING, encodeFeatureBlock, EXT_VERSION, FEATURE_BLOCK_END, FEATURE_BLOCK_OFFSET, FEATURE_BLOCK_SIZE, hasFeature, PRESENCE } from '../format/features.js';
import { SUPERBLOCK_CRC_END, SUPERBLOCK_STRUCT_SIZE, superblockCrc } from '../format/superblock.js';
import { writeU64 } from '../format/bytes.js';
import { entrySlots, type NewLogEntry } from '../format/logentry.js';
import { Famfs } from './famfs.js';
import { FamfsError, asFamfsError } from './errors.js';
import { mountsUsing } from './inuse.js';

export interface CompactResult {
  /** Log slots in use before and after. */
  before: number;
  after: number;
  /** Deleted files whose space became free. */
  released: number;
  /** Where the old superblock region and log were saved first ('' when nothing was to compact). */
  backup: string;
}

/** Bytes of a presence slot that say whether a host uses it (zero: free). */
const SLOT_HEADER = 64;

/**
 * A presence slot that is not free, or undefined. A slot counts as free only when its header is
 * all zero (what mkfs and a clean unmount leave); anything else may be a live host or a host that
 * still holds a deleted file, so compact refuses (`famfs hosts --evict` frees a gone host's slot).
 */
export function busyPresenceSlot(f: Famfs): number | undefined {
  if (!hasFeature(f.features, PRESENCE)) return undefined;
  for (let i = 0; i < PRESENCE_SLOTS; i++) {
    const off = PRESENCE_OFFSET + i * PRESENCE_SLOT_SIZE;
    f.device.invalidate(off, SLOT_HEADER);
    if (f.device.view(off, SLOT_HEADER).some((b) => b !== 0)) return i;
  }
  return undefined;
}

/** The entries of a log holding exactly the live tree (devices first, then parents before children). */
export function liveEntries(f: Famfs): NewLogEntry[] {
  const out: NewLogEntry[] = f.daxdevs.map((d) => ({ type: 'add_daxdev', size: d.size, uuid: d.uuid, index: d.index }));
  const walk = (dir = f.tree.root): void => {
    for (const n of dir.order) {
      if (!n) continue;
      if (n.kind === 'dir') {
        out.push({ type: 'mkdir', path: n.path, mode: n.mode, uid: n.uid, gid: n.gid });
        walk(n);
      } else if (n.kind === 'symlink') out.push({ type: 'symlink', path: n.path, target: n.target, uid: n.uid, gid: n.gid });
      else out.push({ type: 'file', path: n.path, size: n.size, flags: n.flags, mode: n.mode, uid: n.uid, gid: n.gid, map: n.map });
    }
  };
  walk();
  return out;
}

/**
 * Mark the file system as being compacted (feature bit `compacting`, which every version
 * refuses) until the returned function puts the superblock region back as it was: a compact
 * killed between the log reset and its last append leaves a log missing files, whose space
 * a writer would hand out, so nothing may use it until the backup is restored. An upstream-format
 * file system gets the extension mark for that time too (upstream then refuses it as well).
 */
function markCompacting(f: Famfs): () => void {
  const dev = f.device;
  const saved = Buffer.from(dev.view(0, FEATURE_BLOCK_END));
  encodeFeatureBlock({ ...f.features, incompat: f.features.incompat | COMPACTING }).copy(dev.view(FEATURE_BLOCK_OFFSET, FEATURE_BLOCK_SIZE));
  dev.flush(FEATURE_BLOCK_OFFSET, FEATURE_BLOCK_SIZE);
  if (f.sb.version !== EXT_VERSION) {
    const sb = dev.view(0, SUPERBLOCK_STRUCT_SIZE);
    sb.writeUInt32LE(EXT_VERSION, 8);
    writeU64(sb, SUPERBLOCK_CRC_END, superblockCrc(sb));
    dev.flush(0, SUPERBLOCK_STRUCT_SIZE);
  }
  return () => {
    // The superblock first: an upstream-format one then ignores the feature block again.
    saved.copy(dev.view(0, SUPERBLOCK_STRUCT_SIZE), 0, 0, SUPERBLOCK_STRUCT_SIZE);
    dev.flush(0, SUPERBLOCK_STRUCT_SIZE);
    saved.copy(dev.view(FEATURE_BLOCK_OFFSET, FEATURE_BLOCK_SIZE), 0, FEATURE_BLOCK_OFFSET, FEATURE_BLOCK_END);
    dev.flush(FEATURE_BLOCK_OFFSET, FEATURE_BLOCK_SIZE);
  };
}

/** A sequentially consistent read-modify-write: a full fence (stores before it are visible before loads after it). */
const fenceWord = new Int32Array(new SharedArrayBuffer(4));
function fullFence(): void {
  Atomics.add(fenceWord, 0, 0);
}

function inUse(devicePath: string, slot: number): FamfsError {
  return new FamfsError(`${devicePath}: presence slot ${slot} is in use (a host has it mounted, or left without a clean unmount and may hold deleted files); unmount it everywhere first (nothing was changed)`, 'EBUSY');
}

export function compact(devicePath: string, opts: { backup?: string } = {}): CompactResult {
  const mounted = fs.existsSync(devicePath) ? mountsUsing(devicePath) : [];
  if (mounted.length) throw new FamfsError(`${devicePath}: mounted at ${mounted.join(', ')}; compact runs only on an unmounted file system (node ids change)`, 'EBUSY');
  const f = Famfs.open(devicePath, { writable: true });
  try {
    return f.writer(() => {
      if (f.headerProblem) throw new FamfsError(`${devicePath}: the log header is not valid (${f.headerProblem}); run famfs fsck`, 'EIO');
      const before = f.log.readHeader().nextIndex;
      const entries = liveEntries(f);
      const need = entries.reduce((n, e) => n + entrySlots(e), 0);
      const released = f.pendingFrees.length;
      if (need >= before) {
        const slot = busyPresenceSlot(f);
        if (slot !== undefined) throw inUse(devicePath, slot);
        return { before, after: before, released: 0, backup: '' };
      }
      const backup = opts.backup ?? path.join(os.tmpdir(), `famfs-compact-${f.sb.uuid}-${Date.now()}.img`);
      // The old superblock region and used log, so a crash in the middle can be undone with dd
      // (copied before the compacting bit is set: the backup must not carry it).
      const keep = LOG_OFFSET + 48 + before * 544;
      const copy = Buffer.alloc(keep);
      let at = 0;
      for (const piece of f.device.slices(0, keep)) at += piece.copy(copy, at);
      // Dekker with a host that mounts meanwhile (PresenceService.start joins its slot, then looks
      // at this bit): the bit first, then the slots. Whichever of the two looks second sees the
      // other, so they never both go on.
      const restore = markCompacting(f);
      fullFence();
      const slot = busyPresenceSlot(f);
      if (slot !== undefined) {
        restore();
        throw inUse(devicePath, slot);
      }
      try {
        fs.writeFileSync(backup, copy, { mode: 0o600, flag: 'wx' });
      } catch (e) {
        restore();
        throw asFamfsError(e);
      }
      f.log.reset();
      for (const e of entries) f.log.append(e);
      restore();
      return { before, after: f.log.readHeader().nextIndex, released, backup };
    });
  } finally {
    f.close();
  }
}
