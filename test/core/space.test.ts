/** DeviceSpace: placement over several devices (fill, spread, stripe), splitting, growth, trial copies. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AllocBitmap } from '../../src/alloc/bitmap.js';
import { AllocError } from '../../src/alloc/allocator.js';
import { DeviceSpace } from '../../src/alloc/space.js';
import type { Extent, FileMap } from '../../src/format/types.js';

const MiB = 1024 * 1024;
const AU = 2 * MiB;

/** Device 0: 64 MiB with 10 MiB reserved (superblock + log); devices 1..: `sizes` MiB with 2 MiB reserved (header). */
function space(placement: 'fill' | 'spread' | 'stripe', ...sizes: number[]): DeviceSpace {
  return new DeviceSpace([new AllocBitmap(64 * MiB, AU, 10 * MiB), ...sizes.map((s) => new AllocBitmap(s * MiB, AU, AU))], placement);
}

const pieces = (m: FileMap): Extent[] => (m.kind === 'simple' ? m.extents : m.strips);
const devs = (m: FileMap): number[] => pieces(m).map((e) => e.devindex);

describe('DeviceSpace placement', () => {
  it('fill: device 0 until it is full, then device 1; capacity and use count both', () => {
    const s = space('fill', 32);
    assert.equal(s.capacity, 96 * MiB);
    assert.equal(s.freeBytes, 54 * MiB + 30 * MiB);
    const a = s.place(50 * MiB);
    assert.deepEqual(devs(a), [0]);
    const b = s.place(4 * MiB); // 4 MiB left on device 0: fits
    assert.deepEqual(devs(b), [0]);
    const c = s.place(1); // device 0 full: spill over
    assert.deepEqual(pieces(c), [{ devindex: 1, offset: AU, length: AU }]);
    assert.deepEqual(s.perDevice().map((d) => [d.index, d.free]), [[0, 0], [1, 28 * MiB]]);
  });

  it('fill: a file larger than any one device is split over both, device 0 first; ENOSPC marks nothing', () => {
    const s = space('fill', 32);
    const m = s.place(70 * MiB);
    assert.equal(m.kind, 'simple');
    assert.deepEqual(pieces(m), [{ devindex: 0, offset: 10 * MiB, length: 54 * MiB }, { devindex: 1, offset: AU, length: 16 * MiB }]);
    const before = s.freeBytes;
    assert.throws(() => s.place(15 * MiB), (e: AllocError) => e.code === 'ENOSPC' && /out of space/.test(e.message));
    assert.equal(s.freeBytes, before);
    s.freeMap(m);
    assert.equal(s.freeBytes, 84 * MiB);
  });

  it('spread: each file on the device with the most free space', () => {
    const s = space('spread', 128);
    assert.deepEqual(devs(s.place(4 * MiB)), [1]);
    assert.deepEqual(devs(s.place(100 * MiB)), [1]); // device 1 has 122 MiB free, device 0 54
    assert.deepEqual(devs(s.place(4 * MiB)), [0]); // now device 0 has more
  });

  it('stripe: files of at least one chunk per device get one strip per device; small ones are spread', () => {
    const s = space('stripe', 32, 32);
    const m = s.place(12 * MiB);
    assert.equal(m.kind, 'interleave');
    assert.deepEqual(devs(m), [0, 1, 2]);
    assert.deepEqual(pieces(m).map((e) => e.length), [4 * MiB, 4 * MiB, 4 * MiB]);
    assert.equal(s.place(1).kind, 'simple');
  });

  it('-N/-B interleave lands on the first device where it fits', () => {
    const s = new DeviceSpace([new AllocBitmap(4 * 1024 * MiB, AU, 10 * MiB), new AllocBitmap(8 * 1024 * MiB, AU, AU)], 'fill');
    s.place(4 * 1024 * MiB - 12 * MiB); // device 0 nearly full
    const m = s.place(64 * MiB, { interleave: { nstrips: 2, nbuckets: 4, chunkSize: AU } });
    assert.equal(m.kind, 'interleave');
    assert.deepEqual(devs(m), [1, 1]);
  });

  it('a growing file: in place while free, then a new extent where the placement says; a trial copy leaves the original alone', () => {
    const s = space('fill', 32);
    const e = s.take(AU)!;
    assert.deepEqual(e, { devindex: 0, offset: 10 * MiB, length: AU });
    assert.equal(s.growInPlace(e, 4 * MiB), true);
    assert.equal(e.length, 6 * MiB);
    const trial = s.clone();
    trial.place(48 * MiB);
    assert.equal(trial.freeBytes, s.freeBytes - 48 * MiB);
    s.take(48 * MiB);
    assert.equal(s.growInPlace(e, AU), false);
    assert.equal(s.take(AU)!.devindex, 1);
  });

  it('a device this host cannot reach gets no new pieces', () => {
    const s = new DeviceSpace([new AllocBitmap(64 * MiB, AU, 10 * MiB), new AllocBitmap(32 * MiB, AU, AU)], 'fill', [true, false]);
    s.place(54 * MiB);
    assert.throws(() => s.place(1), (e: AllocError) => e.code === 'ENOSPC');
    assert.equal(s.take(AU), undefined);
  });
});
