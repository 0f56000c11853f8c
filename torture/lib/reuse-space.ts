/**
 * The space side of property 10: an observer that watches the presence area for a whole round
 * (so it can judge hosts gone on its own clock, as any host would) and checks, at any moment,
 * that every allocated byte belongs to a live file or to a deleted file some named host still
 * holds (a live host that has not replayed the delete, holds it open or mapped, or is writing
 * it; a gone kernel-mode host). Everything else must be free: nothing leaks.
 */
import { Famfs } from '../../src/api/famfs.js';
import type { PendingFree } from '../../src/alloc/reclaim.js';
import { leaseMsOf } from '../../src/format/features.js';
import { PresenceArea } from '../../src/presence/area.js';
import { LivenessTracker } from '../../src/presence/liveness.js';
import { holders, type HoldReason } from '../../src/presence/oracle.js';
import type { Extent } from '../../src/format/types.js';
import { SECONDARY_DATA_START } from '../../src/format/devheader.js';

export interface SpaceCheck {
  problems: string[];
  live: number;
  pending: number;
  held: number;
  /** Holders by reason, e.g. { held: 3, 'not replayed': 1 }. */
  reasons: Record<string, number>;
}

function extents(map: PendingFree['map']): Extent[] {
  return map.kind === 'simple' ? map.extents : map.strips;
}

export class SpaceObserver {
  private readonly fs: Famfs;
  private readonly area: PresenceArea;
  private readonly tracker: LivenessTracker;
  private readonly metadata: number;

  constructor(device: string) {
    this.fs = Famfs.open(device);
    this.area = new PresenceArea(this.fs.device);
    this.tracker = new LivenessTracker(leaseMsOf(this.fs.features));
    this.metadata = this.fs.geometry.dataStart;
  }

  /** Read the slots (call often: liveness is judged from what this observer saw change). */
  watch(): void {
    this.tracker.observe(this.area.readAll());
  }

  check(): SpaceCheck {
    this.fs.refresh();
    const slots = this.area.readAll();
    this.tracker.observe(slots);
    const snap = { slots, liveness: slots.map((s) => (s ? this.tracker.judge(s) : 'live' as const)) };
    const pending = this.fs.pendingFrees;
    const why = new Map<number, HoldReason[]>(pending.map((p) => [p.fileId, holders(snap, p)]));
    // The library's bitmaps (one a device), with releases decided by this one snapshot.
    this.fs.releaseOracle = { releasable: (ps) => new Set(ps.filter((p) => why.get(p.fileId)?.length === 0).map((p) => p.fileId)) };
    const ndev = this.fs.geometry.ndevices;
    const built = [this.fs.buildBitmap(), ...Array.from({ length: ndev - 1 }, (_, i) => this.fs.deviceBitmap(i + 1))];
    const au = this.fs.geometry.allocUnit;
    const units = built.map(() => new Set<number>());
    const mark = (es: Extent[]): void => {
      for (const e of es) for (let u = Math.floor(e.offset / au); u < Math.ceil((e.offset + e.length) / au); u++) units[e.devindex]?.add(u);
    };
    let live = 0;
    for (const n of this.fs.tree.walk()) {
      if (n.kind !== 'file') continue;
      live++;
      mark(extents(n.map));
    }
    const problems: string[] = [];
    const reasons: Record<string, number> = {};
    let held = 0;
    for (const p of pending) {
      const hs = why.get(p.fileId)!;
      if (!hs.length) continue;
      held++;
      mark(extents(p.map));
      for (const h of hs) {
        reasons[h.why] = (reasons[h.why] ?? 0) + 1;
        // A slot whose owner is stopped or killed in the middle of an update (its seqlock odd) cannot
        // be read: the oracle holds everything for it, which is safe; counted under its reason. One
        // that stays so would keep its files held after every host left: the round's last check.
        if (h.why === 'unreadable slot') continue;
        if (!h.label || h.label === '?') problems.push(`pending free ${p.path} (file ${p.fileId}) is held by slot ${h.slot}, which names no host (${h.why})`);
      }
    }
    built.forEach(({ bitmap, collisions }, d) => {
      if (collisions) problems.push(`device ${d}: ${collisions} units claimed twice`);
      // Metadata (device 0) or the device header area (devices ≥ 1) is allocated from the start.
      const reserved = d === 0 ? this.metadata : SECONDARY_DATA_START;
      for (let u = 0; u < Math.ceil(reserved / au); u++) units[d]!.add(u);
      const expect = units[d]!.size * au;
      const used = bitmap.usedBytes;
      if (used !== expect) problems.push(`device ${d}: allocated ${used} bytes, but ${d === 0 ? 'metadata' : 'the header area'} + live files + held deleted files cover ${expect} (${live} live, ${held} of ${pending.length} deleted files held)`);
    });
    return { problems, live, pending: pending.length, held, reasons };
  }

  close(): void {
    this.fs.close();
  }
}
