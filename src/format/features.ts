/**
 * Format extensions: the one table of which marks exist and which this version knows.
 *
 * A file system that uses no extension is upstream's format, byte for byte. One that uses
 * any has `ts_version` = EXT_VERSION (every upstream tool refuses a version it does not
 * know, before it reads the log) and a feature block in the unused tail of the superblock
 * region, with its own magic and CRC. Our readers refuse an `incompat` bit they do not know;
 * a `rocompat` bit they do not know lets them read but not write. See docs/format.md.
 */
import { crc32 } from './crc32.js';
import { readU64, writeU64 } from './bytes.js';
import { DEFAULT_LEASE_MS } from './constants.js';

/** ts_version of an extended file system: far from upstream's small consecutive values (42…48). */
export const EXT_VERSION = 0x7473_0030;

/** The feature block sits in the superblock region after the 200-byte struct (upstream never reads there). */
export const FEATURE_BLOCK_OFFSET = 512;
export const FEATURE_BLOCK_SIZE = 128;
export const FEATURE_BLOCK_END = FEATURE_BLOCK_OFFSET + FEATURE_BLOCK_SIZE;
/** "famfsFEA" read as a little-endian u64, low and high words. */
const FEATURE_MAGIC_LO = 0x666d_6166;
const FEATURE_MAGIC_HI = 0x4145_4673;
const FB_INCOMPAT = 8, FB_ROCOMPAT = 16, FB_CRC = 120;

export type FeatureClass = 'incompat' | 'rocompat';

export interface FeatureInfo {
  name: string;
  bit: number;
  class: FeatureClass;
  /** False for bits reserved for later extensions: a reader of this version refuses them. */
  known: boolean;
  what: string;
}

/** Every feature mark; bits are never reused. */
export const FEATURES: readonly FeatureInfo[] = [
  { name: 'long-names', bit: 0, class: 'incompat', known: true, what: 'names up to 255 bytes and paths up to 4,095 bytes (EXT_FILE / EXT_MKDIR entries)' },
  { name: 'symlinks', bit: 1, class: 'incompat', known: true, what: 'symbolic links (SYMLINK entries)' },
  { name: 'small-units', bit: 2, class: 'incompat', known: true, what: 'an allocation unit below 2 MiB for small files; files of 2 MiB or more keep 2 MiB-aligned extents' },
  // Issue 14: mkfs sets all three together (any removal needs the presence area to know when space is free).
  { name: 'delete', bit: 3, class: 'incompat', known: true, what: 'DELETE entries: files, symlinks and empty directories can be removed' },
  { name: 'rename', bit: 4, class: 'incompat', known: true, what: 'RENAME entries: nodes move, and a rename may replace a file' },
  { name: 'presence', bit: 5, class: 'rocompat', known: true, what: 'a per-host presence area (heartbeats, replay position, held files) that says when deleted space may be reused' },
  // Never chosen at mkfs: set by `famfs compact` while it rewrites the log, so that a compact
  // killed half-way leaves a file system every version refuses (this one says why).
  { name: 'compacting', bit: 6, class: 'incompat', known: false, what: 'a famfs compact is rewriting the log (left set by an interrupted one)' },
];

/** Feature names that stand for a set (mkfs --features delete = delete, rename and presence). */
export const FEATURE_GROUPS: Readonly<Record<string, readonly string[]>> = {
  delete: ['delete', 'rename', 'presence'],
  rename: ['delete', 'rename', 'presence'],
};

export function featureByName(name: string): FeatureInfo | undefined {
  return FEATURES.find((f) => f.name === name);
}

export function featureBit(name: string): bigint {
  const f = featureByName(name);
  if (!f) throw new RangeError(`unknown feature ${name}`);
  return 1n << BigInt(f.bit);
}

export const LONG_NAMES = featureBit('long-names');
export const SYMLINKS = featureBit('symlinks');
export const SMALL_UNITS = featureBit('small-units');
export const DELETE = featureBit('delete');
export const RENAME = featureBit('rename');
export const PRESENCE = featureBit('presence');
export const COMPACTING = featureBit('compacting');

/** Why a file system left by an interrupted `famfs compact` is refused. */
export const INTERRUPTED_COMPACT = 'a famfs compact is rewriting the log, or was interrupted while it did (files are missing from it): if none runs now, restore the backup it saved first (the path it printed, by default famfs-compact-<uuid>-<time>.img in the temp directory) with dd if=BACKUP of=DEVICE conv=notrunc';

function knownMask(cls: FeatureClass): bigint {
  let m = 0n;
  for (const f of FEATURES) if (f.known && f.class === cls) m |= 1n << BigInt(f.bit);
  return m;
}
export const KNOWN_INCOMPAT = knownMask('incompat');
export const KNOWN_ROCOMPAT = knownMask('rocompat');

export interface Features {
  incompat: bigint;
  rocompat: bigint;
  /** Feature block bytes 24..27: the presence lease in ms (0 = DEFAULT_LEASE_MS). */
  leaseMs?: number;
}

export const NO_FEATURES: Features = { incompat: 0n, rocompat: 0n };
const FB_LEASE = 24;

export function hasFeature(f: Features, bit: bigint): boolean {
  return ((f.incompat | f.rocompat) & bit) !== 0n;
}

/** The presence lease of a file system (mkfs --lease; DEFAULT_LEASE_MS when the block says 0). */
export function leaseMsOf(f: Features): number {
  return f.leaseMs || DEFAULT_LEASE_MS;
}

/** Names of the bits set in a mask ("bit N" for bits no table row describes). */
export function featureNames(mask: bigint): string[] {
  const out: string[] = [];
  for (let b = 0; b < 64; b++) {
    if (!(mask & (1n << BigInt(b)))) continue;
    out.push(FEATURES.find((f) => f.bit === b)?.name ?? `bit ${b}`);
  }
  return out;
}

/** Encode the 128-byte feature block (zero-filled, CRC over its first 120 bytes). */
export function encodeFeatureBlock(f: Features): Buffer {
  const buf = Buffer.alloc(FEATURE_BLOCK_SIZE);
  buf.writeUInt32LE(FEATURE_MAGIC_LO, 0);
  buf.writeUInt32LE(FEATURE_MAGIC_HI, 4);
  buf.writeBigUInt64LE(f.incompat, FB_INCOMPAT);
  buf.writeBigUInt64LE(f.rocompat, FB_ROCOMPAT);
  buf.writeUInt32LE(f.leaseMs ?? 0, FB_LEASE);
  writeU64(buf, FB_CRC, crc32(buf, 0, FB_CRC));
  return buf;
}

export type FeatureCheck = { ok: true; features: Features } | { ok: false; reason: string };

/** Decode and check a feature block: magic, CRC, then every incompat bit must be known here. */
export function checkFeatureBlock(buf: Buffer, opts: { forWrite?: boolean } = {}): FeatureCheck {
  if (buf.length < FEATURE_BLOCK_SIZE) return { ok: false, reason: 'feature block missing' };
  if (buf.readUInt32LE(0) !== FEATURE_MAGIC_LO || buf.readUInt32LE(4) !== FEATURE_MAGIC_HI) return { ok: false, reason: 'extended famfs superblock without a feature block' };
  if (readU64(buf, FB_CRC) !== crc32(buf, 0, FB_CRC)) return { ok: false, reason: 'feature block with a bad CRC' };
  const features: Features = { incompat: buf.readBigUInt64LE(FB_INCOMPAT), rocompat: buf.readBigUInt64LE(FB_ROCOMPAT) };
  const lease = buf.readUInt32LE(FB_LEASE);
  if (lease) features.leaseMs = lease;
  if (features.incompat & COMPACTING) return { ok: false, reason: INTERRUPTED_COMPACT };
  const unknown = features.incompat & ~KNOWN_INCOMPAT;
  if (unknown) return { ok: false, reason: `uses famfs features this version does not know: ${featureNames(unknown).join(', ')}` };
  const unknownRo = features.rocompat & ~KNOWN_ROCOMPAT;
  if (unknownRo && opts.forWrite) return { ok: false, reason: `uses famfs features this version can read but not change: ${featureNames(unknownRo).join(', ')}` };
  return { ok: true, features };
}
