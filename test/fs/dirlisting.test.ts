import assert from 'node:assert/strict';
import test from 'node:test';
import { DirListings, type ListedEntry } from '../../src/fs/dirlisting.js';
import { packDirents } from '../../src/fuse/codec.js';
import { S_IFDIR, S_IFLNK, S_IFREG } from '../../src/fuse/protocol.js';

/** '.', '..', then children with holes (removed children) at every 7th place and names of 1..40 bytes, some multibyte. */
function records(n: number): (ListedEntry | null)[] {
  const out: (ListedEntry | null)[] = [{ name: '.', ino: 5, mode: S_IFDIR | 0o755 }, { name: '..', ino: 1, mode: S_IFDIR | 0o755 }];
  for (let k = 0; k < n; k++) {
    if (k % 7 === 3) out.push(null);
    else out.push({ name: `${'é'.repeat(k % 5)}f${'x'.repeat(k % 31)}${k}`, ino: 100 + k, mode: k % 11 === 0 ? S_IFLNK | 0o777 : k % 13 === 0 ? S_IFDIR | 0o700 : S_IFREG | 0o644 });
  }
  return out;
}

/** The reference: what the generic packer makes of the records after `offset` (cookie of record j = j + 1). */
function expected(recs: (ListedEntry | null)[], offset: number, size: number): Buffer {
  const after = recs.map((e, j) => (e ? { ...e, off: j + 1 } : null)).slice(offset).filter((e) => e !== null);
  return packDirents(after, size, offset);
}

test('DirListings: every cookie and reply size gives the bytes the generic packer gives, holes skipped', () => {
  const recs = records(300);
  const l = new DirListings();
  const dir = {};
  let calls = 0;
  const at = (j: number) => {
    calls++;
    return recs[j]!;
  };
  for (const size of [0, 31, 32, 33, 100, 4096, 32768, 1 << 20]) {
    for (let offset = 0; offset <= recs.length + 2; offset++) {
      const got = l.reply(dir, 1, recs.length, at, offset, size);
      assert.ok(got.equals(expected(recs, offset, size)), `size ${size} offset ${offset}`);
      assert.ok(got.length <= size);
    }
  }
  assert.equal(calls, recs.length, 'the listing is encoded once for one stamp');
});

test('DirListings: a new stamp or another directory object rebuilds; the same one reuses', () => {
  const l = new DirListings();
  const dir = {};
  let recs = records(20);
  const first = l.reply(dir, 7, recs.length, (j) => recs[j]!, 0, 1 << 16);
  recs = records(25); // entries applied since: five more children
  assert.ok(l.reply(dir, 7, recs.length, (j) => recs[j]!, 0, 1 << 16).equals(first), 'same stamp: cached listing');
  const next = l.reply(dir, 8, recs.length, (j) => recs[j]!, 0, 1 << 16);
  assert.ok(next.equals(expected(recs, 0, 1 << 16)));
  assert.ok(next.length > first.length);
  const other = l.reply({}, 8, 3, (j) => recs[j]!, 0, 1 << 16);
  assert.ok(other.equals(expected(recs.slice(0, 3), 0, 1 << 16)), 'another directory (e.g. after a replay from scratch) has its own listing');
});
