/**
 * Property 4 — fuzzed log. A varied base log (good entries plus crafted,
 * valid-CRC hostile ones) is mutated at random (bit flips, byte runs,
 * truncated/extended next_index, swapped/copied slots, re-sequenced slots,
 * freshly crafted hostile entries) and replayed. Invariants, judged
 * independently of the library's own checks:
 *  - open either works or fails with one FamfsError (only for a bad header);
 *    nothing else is ever thrown, and one replay takes well under a second;
 *  - every committed slot is either applied or reported exactly once, and a
 *    slot with a wrong seqnum or CRC is never applied;
 *  - no accepted file maps a byte outside [data start, device end), is
 *    unaligned, overlaps itself or is larger than its map; every accepted
 *    path obeys the path rules under a directory;
 *  - fsck counts every refusal (bad + refused = problems) and is clean only
 *    when nothing was refused and no two files share space.
 */
import fs from 'node:fs';
import fc from 'fast-check';
import { encodeLogEntry, type NewLogEntry } from '../../src/format/logentry.js';
import { encodeLogHeader } from '../../src/format/logheader.js';
import { LOG_ENTRY_SIZE, LOG_OFFSET } from '../../src/format/constants.js';
import type { Extent } from '../../src/format/types.js';
import { mkfs } from '../../src/api/mkfs.js';
import { Famfs } from '../../src/api/famfs.js';
import { FamfsError } from '../../src/api/errors.js';
import { fsck } from '../../src/api/fsck.js';
import { Device } from '../../src/device/device.js';
import { Replayer, type ProblemKind, type ReplayProblem } from '../../src/meta/replay.js';
import { LogView } from '../../src/meta/log.js';
import type { Geometry } from '../../src/meta/validate.js';
import type { FileNode, Tree } from '../../src/meta/tree.js';
import { resolveRange } from '../../src/map/resolve.js';
import { asHost, AU, GiB, MiB, overlappingFiles, pieces, progress, shmDevice, type Host } from './common.js';

/** The file is formatted at 4 GiB (mkfs's minimum) and then cut to this: smaller mappings, much less GC per open. */
export const DEV_SIZE = 256 * MiB;
export const DATA = 10 * MiB;
const SLOTS = 15420;

// ---- an independent CRC-32 (table built here, not the codec's) ----
const TABLE = new Int32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  return c;
});
export function crcRef(b: Uint8Array, start: number, end: number): number {
  let c = -1;
  for (let i = start; i < end; i++) c = TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

const ext = (offset: number, length = AU, devindex = 0): Extent => ({ devindex, offset, length });
const fileE = (path: string, over: Partial<Extract<NewLogEntry, { type: 'file' }>> = {}): NewLogEntry => ({
  type: 'file', path, size: 4096, flags: 2, uid: 0, gid: 0, mode: 0o644, map: { kind: 'simple', extents: [ext(DATA)] }, ...over,
});
const dirE = (path: string): NewLogEntry => ({ type: 'mkdir', path, uid: 0, gid: 0, mode: 0o755 });

function fixCrc(b: Buffer): Buffer {
  b.writeBigUInt64LE(BigInt(crcRef(b, 0, 536)), 536);
  return b;
}
/** Encode e at seq, patch bytes, then make the CRC right again. */
function raw(e: NewLogEntry, patch: (b: Buffer) => void = () => {}): (seq: number) => Buffer {
  return (seq) => {
    const b = encodeLogEntry(e, seq);
    patch(b);
    return fixCrc(b);
  };
}
const setPath = (at: number, bytes: Buffer) => (b: Buffer) => {
  b.fill(0, at, at + 80);
  bytes.copy(b, at, 0, Math.min(80, bytes.length));
};
const FILE_PATH = 40, MKDIR_PATH = 28, FMAP_TYPE = 120, FMAP_COUNT = 128, EXT0 = 136, IE_NSTRIPS = 136, IE_CHUNK = 144;

export type Expect = 'ok' | ProblemKind;
export interface Crafted {
  name: string;
  make: (seq: number) => Buffer;
  expect: Expect;
}

/** Hostile entries with a valid seqnum and CRC (each may rely on the base log's d0, d0/f0 and a free area). */
export function craftedCatalogue(free: number): Crafted[] {
  const u = (k: number): number => free + k * AU;
  const il = (path: string, strips: Extent[], chunk = AU, size = AU): NewLogEntry => fileE(path, { size, map: { kind: 'interleave', chunkSize: chunk, strips } });
  return [
    { name: '".." component', make: raw(fileE('d0/../esc', { map: { kind: 'simple', extents: [ext(u(0))] } })), expect: 'bad-path' },
    { name: '".." as dir', make: raw(dirE('..')), expect: 'bad-path' },
    { name: 'empty component', make: raw(fileE('d0//e', { map: { kind: 'simple', extents: [ext(u(1))] } })), expect: 'bad-path' },
    { name: 'trailing slash dir', make: raw(dirE('d0/')), expect: 'bad-path' },
    { name: '"." component', make: raw(dirE('./dot')), expect: 'bad-path' },
    { name: 'absolute path', make: raw(fileE('/etc/passwd', { map: { kind: 'simple', extents: [ext(u(2))] } })), expect: 'bad-path' },
    { name: 'empty path', make: raw(dirE('x'), setPath(MKDIR_PATH, Buffer.alloc(0))), expect: 'bad-path' },
    { name: '79-byte path (fits)', make: raw(fileE('d0/' + 'p'.repeat(76), { map: { kind: 'simple', extents: [ext(u(3))] } })), expect: 'ok' },
    { name: '80-byte path (no NUL)', make: raw(dirE('x'), setPath(MKDIR_PATH, Buffer.alloc(80, 0x71))), expect: 'bad-entry' },
    { name: 'non-UTF-8 name', make: raw(dirE('x'), setPath(MKDIR_PATH, Buffer.from([0x64, 0x30, 0x2f, 0xff, 0xfe, 0x80]))), expect: 'bad-entry' },
    { name: 'extent over the superblock', make: raw(fileE('sb', { map: { kind: 'simple', extents: [ext(0)] } })), expect: 'bad-map' },
    { name: 'extent over the log', make: raw(fileE('lg', { map: { kind: 'simple', extents: [ext(4 * MiB)] } })), expect: 'bad-map' },
    { name: 'extent straddling data start', make: raw(fileE('ds', { map: { kind: 'simple', extents: [ext(8 * MiB, 4 * MiB)] } })), expect: 'bad-map' },
    { name: 'extent past the device end', make: raw(fileE('end', { map: { kind: 'simple', extents: [ext(DEV_SIZE - AU, 2 * AU)] } })), expect: 'bad-map' },
    { name: 'extent far past the end (2^52)', make: raw(fileE('far', { map: { kind: 'simple', extents: [ext(2 ** 52)] } })), expect: 'bad-map' },
    { name: 'offset+length wraps 2^64', make: raw(fileE('wrap', { map: { kind: 'simple', extents: [ext(u(4))] } }), (b) => b.writeBigUInt64LE(0xffffffffffe00000n, EXT0 + 16)), expect: 'bad-entry' },
    { name: 'misaligned extent', make: raw(fileE('mis', { map: { kind: 'simple', extents: [ext(u(5) + 4096)] } })), expect: 'bad-map' },
    { name: 'zero-length extent', make: raw(fileE('zl', { map: { kind: 'simple', extents: [ext(u(6), 0)] } })), expect: 'bad-map' },
    { name: 'extents overlapping each other', make: raw(fileE('ov', { size: 2 * AU, map: { kind: 'simple', extents: [ext(u(7), 2 * AU), ext(u(8))] } })), expect: 'bad-map' },
    { name: 'device index 1', make: raw(fileE('dev1', { map: { kind: 'simple', extents: [ext(u(9), AU, 1)] } })), expect: 'bad-map' },
    { name: 'nextents 17', make: raw(fileE('n17'), (b) => b.writeUInt32LE(17, FMAP_COUNT)), expect: 'bad-entry' },
    { name: 'unknown extent type', make: raw(fileE('xt'), (b) => b.writeUInt32LE(7, FMAP_TYPE)), expect: 'bad-entry' },
    { name: 'nstrips 0', make: raw(il('s0', [ext(u(10))]), (b) => b.writeBigUInt64LE(0n, IE_NSTRIPS)), expect: 'bad-map' },
    { name: 'nstrips 17', make: raw(il('s17', [ext(u(11))]), (b) => b.writeBigUInt64LE(17n, IE_NSTRIPS)), expect: 'bad-entry' },
    { name: 'chunk 0', make: raw(il('c0', [ext(u(12)), ext(u(13))]), (b) => b.writeBigUInt64LE(0n, IE_CHUNK)), expect: 'bad-map' },
    { name: 'chunk 3 MiB (not a power of two)', make: raw(il('c3', [ext(u(14), 6 * MiB), ext(u(17), 6 * MiB)], 3 * MiB)), expect: 'bad-map' },
    { name: 'chunk 1 MiB (below the alloc unit)', make: raw(il('c1', [ext(u(20)), ext(u(21))], MiB)), expect: 'bad-map' },
    { name: 'strips of different lengths', make: raw(il('sd', [ext(u(22)), ext(u(23), 2 * AU)])), expect: 'bad-map' },
    { name: 'size larger than the extents', make: raw(fileE('big', { size: AU + 1, map: { kind: 'simple', extents: [ext(u(25))] } })), expect: 'bad-map' },
    { name: 'size 0 (fine)', make: raw(fileE('zero', { size: 0, map: { kind: 'simple', extents: [ext(u(26))] } })), expect: 'ok' },
    { name: 'size 2^53+ (undecodable)', make: raw(fileE('huge'), (b) => b.writeBigUInt64LE(1n << 60n, 16)), expect: 'bad-entry' },
    { name: 'parent is a file', make: raw(dirE('d0/f0/sub')), expect: 'no-parent' },
    { name: 'file under a file', make: raw(fileE('d0/f0/g', { map: { kind: 'simple', extents: [ext(u(27))] } })), expect: 'no-parent' },
    { name: 'missing parent', make: raw(fileE('nope/g', { map: { kind: 'simple', extents: [ext(u(28))] } })), expect: 'no-parent' },
    { name: 'duplicate directory', make: raw(dirE('d0')), expect: 'exists' },
    { name: 'duplicate file', make: raw(fileE('d0/f0', { map: { kind: 'simple', extents: [ext(u(29))] } })), expect: 'exists' },
    { name: 'file over a directory name', make: raw(fileE('d1', { map: { kind: 'simple', extents: [ext(u(30))] } })), expect: 'exists' },
    { name: 'unknown entry type', make: raw(dirE('x'), (b) => b.writeUInt32LE(99, 8)), expect: 'ok' },
  ];
}

/** A formatted device of DEV_SIZE bytes (the superblock still says 4 GiB; the smaller real size wins). */
export function fuzzDevice(host: Host): string {
  const device = shmDevice('fuzz', 4 * GiB);
  asHost(host, () => mkfs(device, { force: true }));
  fs.truncateSync(device, DEV_SIZE);
  return device;
}

export interface Base {
  area: Buffer;
  n: number;
  expected: Map<number, Expect>;
  /** A slot whose file shares space with d0/f0 (valid, so fsck must report a collision). */
  collisionSlot: number;
}

/** Good entries, every crafted one, a sharer, and a sentinel, written as one committed log. */
export function buildBase(): Base {
  const slots: ((seq: number) => Buffer)[] = [];
  const expected = new Map<number, Expect>();
  let unit = DATA / AU;
  const take = (k: number): Extent => ext((unit += k) * AU - k * AU, k * AU);
  const good = (e: NewLogEntry): void => {
    expected.set(slots.length, 'ok');
    slots.push(raw(e));
  };
  for (let d = 0; d < 4; d++) {
    good(dirE(`d${d}`));
    good(fileE(`d${d}/f0`, { size: 3000 + d, map: { kind: 'simple', extents: [take(1)] } }));
    good(fileE(`d${d}/f1`, { size: 3 * AU, map: { kind: 'interleave', chunkSize: AU, strips: [take(2), take(2)] } }));
    good(dirE(`d${d}/s`));
    good(fileE(`d${d}/s/g`, { size: AU * 2, mode: 0o600, map: { kind: 'simple', extents: [take(1), take(1)] } }));
  }
  const free = (unit + 4) * AU;
  for (const c of craftedCatalogue(free)) {
    expected.set(slots.length, c.expect);
    slots.push(c.make);
  }
  const collisionSlot = slots.length;
  good(fileE('sharer', { size: 10, map: { kind: 'simple', extents: [ext(DATA)] } }));
  good(fileE('sentinel', { size: 1, map: { kind: 'simple', extents: [ext(DEV_SIZE - AU)] } }));
  const n = slots.length;
  const area = Buffer.alloc(48 + (n + 2) * LOG_ENTRY_SIZE);
  encodeLogHeader(0x800000, n, n).copy(area);
  slots.forEach((s, i) => s(i).copy(area, 48 + i * LOG_ENTRY_SIZE));
  // two uncommitted slots after the end, holding plausible entries
  fixCrc(encodeLogEntry(dirE('uncommitted'), n)).copy(area, 48 + n * LOG_ENTRY_SIZE);
  fixCrc(encodeLogEntry(dirE('uncommitted2'), n + 1)).copy(area, 48 + (n + 1) * LOG_ENTRY_SIZE);
  return { area, n, expected, collisionSlot };
}

// ---- mutations ----

export type Mutation =
  | { k: 'flip'; at: number; mask: number }
  | { k: 'run'; at: number; len: number; v: number }
  | { k: 'index'; v: number; seq: boolean }
  | { k: 'swap'; a: number; b: number }
  | { k: 'copy'; from: number; to: number }
  | { k: 'reseq'; slot: number; seq: number }
  | { k: 'craft'; slot: number; which: number }
  | { k: 'field'; slot: number; at: number; v: bigint; width: 1 | 4 | 8 };

const INTERESTING64 = [0n, 1n, 2n, 16n, 17n, 0x1000n, 0x1fffffn, 0x200000n, 0x400000n, 0xa00000n, 0x100000000n, 1n << 52n, (1n << 53n) - 1n, 1n << 53n, 1n << 63n, 0xffffffffffffffffn, BigInt(DEV_SIZE), BigInt(DEV_SIZE - AU)];

export function mutationArb(n: number, areaLen: number, ncrafted: number): fc.Arbitrary<Mutation> {
  const slot = fc.nat({ max: n + 1 });
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ k: fc.constant('flip' as const), at: fc.integer({ min: 32, max: areaLen - 1 }), mask: fc.integer({ min: 1, max: 255 }) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('run' as const), at: fc.integer({ min: 48, max: areaLen - 1 }), len: fc.integer({ min: 1, max: 96 }), v: fc.constantFrom(0, 0xff, 0x2f, 0x2e, 0x41) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('index' as const), v: fc.oneof(fc.nat({ max: n + 2 }), fc.constantFrom(0, SLOTS, SLOTS + 1, 0xffffffff, 2 ** 40)), seq: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('swap' as const), a: slot, b: slot }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('copy' as const), from: slot, to: slot }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('reseq' as const), slot, seq: fc.nat({ max: n + 4 }) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('craft' as const), slot, which: fc.nat({ max: ncrafted - 1 }) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        k: fc.constant('field' as const),
        slot,
        // any 8-aligned (or 4-aligned for u32) field in the payload, re-CRC'd: hostile but valid-CRC
        at: fc.integer({ min: 1, max: 66 }).map((w) => w * 8),
        v: fc.oneof(fc.constantFrom(...INTERESTING64), fc.bigInt({ min: 0n, max: 0xffffffffffffffffn })),
        width: fc.constantFrom(1 as const, 4 as const, 8 as const),
      }),
    },
  );
}

export function applyMutation(area: Buffer, m: Mutation, crafted: Crafted[]): void {
  const at = (i: number): number => 48 + i * LOG_ENTRY_SIZE;
  const slotBuf = (i: number): Buffer => area.subarray(at(i), at(i) + LOG_ENTRY_SIZE);
  switch (m.k) {
    case 'flip':
      area[m.at]! ^= m.mask;
      break;
    case 'run':
      area.fill(m.v, m.at, Math.min(area.length, m.at + m.len));
      break;
    case 'index':
      area.writeBigUInt64LE(BigInt(m.v), m.seq ? 32 : 40);
      break;
    case 'swap': {
      const a = Buffer.from(slotBuf(m.a));
      slotBuf(m.b).copy(area, at(m.a));
      a.copy(area, at(m.b));
      break;
    }
    case 'copy':
      area.copy(area, at(m.to), at(m.from), at(m.from) + LOG_ENTRY_SIZE);
      break;
    case 'reseq':
      area.writeBigUInt64LE(BigInt(m.seq), at(m.slot));
      fixCrc(slotBuf(m.slot));
      break;
    case 'craft':
      crafted[m.which]!.make(m.slot).copy(area, at(m.slot));
      break;
    case 'field': {
      const s = slotBuf(m.slot);
      const off = Math.min(m.at, 536 - m.width);
      if (m.width === 8) s.writeBigUInt64LE(m.v, off);
      else if (m.width === 4) s.writeUInt32LE(Number(m.v & 0xffffffffn), off);
      else s[off] = Number(m.v & 0xffn);
      fixCrc(s);
      break;
    }
  }
}

// ---- the independent verdicts ----

const validSlot = (area: Buffer, i: number): boolean => {
  const o = 48 + i * LOG_ENTRY_SIZE;
  if (o + LOG_ENTRY_SIZE > area.length) return false; // zeroed device bytes past the area: seqnum 0, CRC 0
  return area.readBigUInt64LE(o) === BigInt(i) && area.readBigUInt64LE(o + 536) === BigInt(crcRef(area, o, o + 536));
};

function pathProblem(p: string): string | undefined {
  if (!p || p.startsWith('/')) return 'empty or absolute';
  if (Buffer.byteLength(p) > 79) return 'too long';
  if (p.split('/').some((c) => c === '' || c === '.' || c === '..' || c.includes('\0'))) return 'bad component';
  return undefined;
}

export interface RunVerdict {
  openRefused: boolean;
  sentinel: 'applied' | 'exists' | 'missing';
  violations: string[];
  problems: number;
  ms: number;
}

/** A device kept open and mapped across runs (re-mapping per run costs mostly GC). */
export interface JudgeContext {
  device: string;
  host: Host;
  dev: Device;
  log: LogView;
  geometry: Geometry;
}

export function judgeContext(device: string, host: Host): JudgeContext {
  const dev = Device.open(device, { writable: true });
  return { device, host, dev, log: new LogView(dev, 0x800000), geometry: { deviceSize: DEV_SIZE, allocUnit: AU, dataStart: DATA, ndevices: 1 } };
}

type Checked = { tree: Tree; problems: readonly ReplayProblem[]; entries: number; slices: (file: FileNode) => number };

/**
 * Write `area` to the device's log and check every invariant. The fast path
 * replays with a fresh Replayer over the mapped device; with `full`, the
 * library's own Famfs.open and fsck are used too (and must agree).
 */
export function judge(area: Buffer, ctx: JudgeContext, full: boolean): RunVerdict {
  const logView = ctx.dev.view(LOG_OFFSET, area.length + 2 * LOG_ENTRY_SIZE);
  area.copy(logView);
  logView.fill(0, area.length); // nothing stale beyond the area
  const v: string[] = [];
  const t0 = performance.now();
  const headerFine = area.readBigUInt64LE(40) <= BigInt(SLOTS) && area.readBigUInt64LE(32) < 1n << 53n;
  const refused = (msg: string): RunVerdict => {
    if (headerFine) v.push(`open refused a log whose header is fine: ${msg}`);
    return { openRefused: true, sentinel: 'missing', violations: v, problems: 0, ms: performance.now() - t0 };
  };
  let f: Famfs | undefined;
  let c: Checked;
  try {
    if (full) {
      try {
        f = asHost(ctx.host, () => Famfs.open(ctx.device));
      } catch (e) {
        if (!(e instanceof FamfsError)) throw e;
        return refused(e.message);
      }
      const ff = f;
      c = { tree: ff.tree, problems: ff.problems, entries: ff.stats.entries, slices: (n) => ff.slices(n, 0, n.size).reduce((s, b) => s + b.length, 0) };
    } else {
      const hc = ctx.log.check();
      if (hc !== 'ok') return refused(hc);
      const r = new Replayer(ctx.log, ctx.geometry);
      r.catchUp();
      c = {
        tree: r.tree, problems: r.problems, entries: r.stats.entries,
        slices: (n) => {
          let got = 0;
          resolveRange(n.map, n.size, 0, n.size, (_d, off, len) => {
            for (const b of ctx.dev.slices(off, len)) got += b.length;
          });
          return got;
        },
      };
    }
  } catch (e) {
    f?.close();
    return { openRefused: false, sentinel: 'missing', violations: [`replay threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`], problems: 0, ms: performance.now() - t0 };
  }
  try {
    const committed = Math.min(Number(area.readBigUInt64LE(40)), SLOTS);
    if (c.entries !== committed) v.push(`replayed ${c.entries} of ${committed} committed slots`);
    const reported = new Map<number, ProblemKind>();
    for (const p of c.problems) {
      if (reported.has(p.index)) v.push(`slot ${p.index} reported twice`);
      reported.set(p.index, p.kind);
      if (p.index >= committed) v.push(`uncommitted slot ${p.index} was read`);
    }
    const inTree = new Set<number>();
    const files: FileNode[] = [];
    for (const node of c.tree.walk()) {
      if (node === c.tree.root) continue;
      inTree.add(node.entryIndex);
      if (node.entryIndex >= committed) v.push(`uncommitted slot ${node.entryIndex} applied`);
      if (reported.has(node.entryIndex)) v.push(`slot ${node.entryIndex} both applied and reported`);
      const pp = pathProblem(node.path);
      if (pp) v.push(`accepted path ${JSON.stringify(node.path)}: ${pp}`);
      if (node.parent?.kind !== 'dir') v.push(`${node.path}: parent is not a directory`);
      if (node.kind === 'file') {
        files.push(node);
        const ps = pieces(node);
        let cap = 0;
        for (const e of ps) {
          cap += e.length;
          if (e.devindex !== 0 || e.length <= 0 || e.offset % AU || e.length % AU || e.offset < DATA || e.offset + e.length > DEV_SIZE) {
            v.push(`${node.path}: accepted out-of-bounds extent ${JSON.stringify(e)}`);
          }
        }
        const sorted = [...ps].sort((a, b) => a.offset - b.offset);
        for (let i = 1; i < sorted.length; i++) if (sorted[i - 1]!.offset + sorted[i - 1]!.length > sorted[i]!.offset) v.push(`${node.path}: self-overlap accepted`);
        if (node.map.kind === 'interleave') {
          const ch = node.map.chunkSize;
          if (ps.length < 1 || ps.length > 16 || ch < AU || (ch & (ch - 1)) !== 0) v.push(`${node.path}: bad interleave accepted`);
        }
        if (node.size > cap) v.push(`${node.path}: size ${node.size} > mapped ${cap}`);
        const got = c.slices(node);
        if (got !== node.size) v.push(`${node.path}: slices give ${got} of ${node.size} bytes`);
      }
    }
    for (let i = 0; i < committed; i++) {
      if (!validSlot(area, i)) {
        if (inTree.has(i)) v.push(`slot ${i} has a bad seqnum/CRC but was applied`);
        if (reported.get(i) !== 'bad-entry') v.push(`slot ${i} has a bad seqnum/CRC but is reported as ${reported.get(i)}`);
      }
    }
    if (f) {
      const r = fsck(f);
      if (r.badEntries + r.rejectedEntries !== c.problems.length) v.push(`fsck counts ${r.badEntries}+${r.rejectedEntries}, replay has ${c.problems.length} problems`);
      if (r.problems.length !== c.problems.length) v.push('fsck lists a different number of problems');
      const overlaps = overlappingFiles(f);
      if (overlaps && !r.collisions) v.push(`${overlaps} overlapping files, fsck reports no collision`);
      if (r.clean !== (c.problems.length === 0 && r.collisions === 0)) v.push('fsck clean flag disagrees');
    }
    const sentinel = c.tree.lookup('sentinel') ? 'applied' : c.problems.some((p) => p.kind === 'exists' && p.path === 'sentinel') ? 'exists' : 'missing';
    return { openRefused: false, sentinel, violations: v, problems: c.problems.length, ms: performance.now() - t0 };
  } finally {
    f?.close();
  }
}

export interface FuzzResult {
  tried: number;
  runs: number;
  failed: number;
  lost: number;
  openRefused: number;
  problems: number;
  maxMs: number;
  errors: string[];
}

/**
 * `mutations` random mutations in runs of 1..8, each run judged. `lost` counts
 * runs where an untouched, valid slot of the base that replayed fine stopped
 * replaying although nothing it depends on changed — approximated by the
 * sentinel: a valid last slot must always be applied unless it was mutated or
 * hidden by a shorter next_index.
 */
export function fuzzLog(opts: { host: Host; mutations: number; seed: number; maxPerRun?: number; /** Famfs.open + fsck on every n-th run (1 = all). */ fullEvery?: number; onProgress?: (r: FuzzResult) => void }): FuzzResult {
  const device = fuzzDevice(opts.host);
  const base = buildBase();
  const crafted = craftedCatalogue(140 * MiB);
  const ctx = judgeContext(device, opts.host);
  const fullEvery = opts.fullEvery ?? 1;
  const res: FuzzResult = { tried: 0, runs: 0, failed: 0, lost: 0, openRefused: 0, problems: 0, maxMs: 0, errors: [] };
  const arb = fc.array(mutationArb(base.n, base.area.length, crafted.length), { minLength: 1, maxLength: opts.maxPerRun ?? 8 });
  const sentinelSlot = base.n - 1;
  try {
    const samples = fc.sample(fc.constant(0), 1); // warm up fast-check
    void samples;
    let seed = opts.seed;
    while (res.tried < opts.mutations) {
      const batch = fc.sample(arb, { seed: seed++, numRuns: 500 });
      for (const muts of batch) {
        const area = Buffer.from(base.area);
        for (const m of muts) applyMutation(area, m, crafted);
        res.tried += muts.length;
        progress();
        res.runs++;
        const verdict = judge(area, ctx, res.runs % fullEvery === 0);
        res.maxMs = Math.max(res.maxMs, verdict.ms);
        res.problems += verdict.problems;
        if (verdict.openRefused) res.openRefused++;
        if (verdict.ms > 5000) verdict.violations.push(`replay took ${verdict.ms.toFixed(0)} ms`);
        const so = 48 + sentinelSlot * LOG_ENTRY_SIZE;
        const sentinelIntact = area.subarray(so, so + LOG_ENTRY_SIZE).equals(base.area.subarray(so, so + LOG_ENTRY_SIZE));
        if (!verdict.openRefused && sentinelIntact && Number(area.readBigUInt64LE(40)) > sentinelSlot && Number(area.readBigUInt64LE(40)) <= SLOTS) {
          // an intact, valid, committed entry must apply unless an earlier (mutated) entry took its name
          if (verdict.sentinel === 'missing') {
            res.lost++;
            verdict.violations.push('an intact valid entry (the sentinel) was not applied');
          }
        }
        if (verdict.violations.length) {
          res.failed++;
          if (res.errors.length < 20) res.errors.push(`${JSON.stringify(muts, (_k, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x))}: ${verdict.violations.slice(0, 3).join('; ')}`);
        }
        if (res.tried >= opts.mutations) break;
      }
      opts.onProgress?.(res);
    }
  } finally {
    ctx.dev.close();
  }
  return res;
}
