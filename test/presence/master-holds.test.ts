/**
 * Deleted files and new files on the master's own mount (issue 14, stop 21 item 4):
 * - a new file logged while still open (fsync logs it at once) keeps its handles as holds:
 *   deleted then, its space stays taken until the last close;
 * - a busy master keeps its log lock (and so its free-space bitmap) for as long as new files
 *   are open: space that deleted files give back meanwhile is still reused;
 * - df answers from one figure for all the daemon's threads: it does not go up and back down.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Famfs } from '../../src/api/famfs.js';
import { asHost, makeHost, MiB, removeAllShm, removeHost, type Host } from '../core/helpers.js';
import { HAVE_FUSE, mount, NO_FUSE_REASON, umountAll, waitFor } from '../fs/mounted.js';
import { presenceDevice } from './fixtures.js';

const SIZE = 8 * MiB;

describe('holds and reuse on the master\'s mount', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  let master: Host, dev: string, mp: string;

  before(() => {
    master = makeHost('mh');
    dev = presenceDevice(master, 'master-holds', 2000);
    mp = mount(master, dev, 'mh', ['--data-path', 'daemon', '--commit-delay', '0']);
  });

  after(() => {
    umountAll(master);
    removeAllShm();
    removeHost(master);
  });

  const look = <T>(fn: (f: Famfs) => T): T => asHost(master, () => {
    const f = Famfs.open(dev);
    try {
      return fn(f);
    } finally {
      f.close();
    }
  });
  const logged = (p: string): boolean => look((f) => !!f.tree.lookup(p));
  const offsetOf = (p: string): number => look((f) => (f.file(p).map as { extents: { offset: number }[] }).extents[0]!.offset);
  const freeBytes = (): number => {
    const s = fs.statfsSync(mp);
    return s.bfree * s.bsize;
  };
  const pattern = (seed: number): Buffer => Buffer.alloc(SIZE, seed);

  test('a new file logged while open (fsync), then deleted: held until its last close', async () => {
    const free0 = freeBytes();
    const file = path.join(mp, 'synced');
    const fd = fs.openSync(file, 'w+');
    try {
      fs.writeSync(fd, pattern(0x5a), 0, SIZE, 0);
      fs.fsyncSync(fd); // logs it now, while this handle is open
      assert.ok(logged('synced'), 'fsync logged the file');
      fs.unlinkSync(file); // a DELETE entry: this host still has it open
      await new Promise((r) => setTimeout(r, 600)); // several presence publishes
      assert.ok(freeBytes() <= free0 - SIZE, `space of the open deleted file came back: free ${freeBytes()} of ${free0} before`);
      const back = Buffer.alloc(SIZE);
      assert.equal(fs.readSync(fd, back, 0, SIZE, 0), SIZE);
      assert.ok(back.equals(pattern(0x5a)), 'the open handle still reads its bytes');
    } finally {
      fs.closeSync(fd);
    }
    await waitFor(() => freeBytes() >= free0, 5000);
    assert.ok(freeBytes() >= free0, 'after the last close the space came back');
  });

  test('df after a delete: every thread answers the same figure, it never goes back down', async () => {
    fs.writeFileSync(path.join(mp, 'dropped'), pattern(3));
    await waitFor(() => logged('dropped'), 5000);
    await new Promise((r) => setTimeout(r, 200));
    const free0 = freeBytes();
    fs.unlinkSync(path.join(mp, 'dropped'));
    const seen: number[] = [];
    for (const end = Date.now() + 800; Date.now() < end; ) {
      seen.push(freeBytes());
      await new Promise((r) => setTimeout(r, 2));
    }
    const down = seen.findIndex((v, i) => i > 0 && v < seen[i - 1]!);
    assert.equal(down, -1, `df went down from ${seen[down - 1]} to ${seen[down]} (sample ${down} of ${seen.length})`);
    assert.ok(seen[seen.length - 1]! >= free0 + SIZE, 'nobody holds it: df shows it free');
  });

  test('a master that keeps new files open still reuses the space of deleted files', async () => {
    const keep = fs.openSync(path.join(mp, 'keep-open'), 'w'); // a new node all along: the log lock stays held
    try {
      fs.writeFileSync(path.join(mp, 'first'), pattern(1));
      await waitFor(() => logged('first'), 5000);
      const firstAt = offsetOf('first');
      const free0 = freeBytes();
      fs.unlinkSync(path.join(mp, 'first'));
      await waitFor(() => freeBytes() >= free0 + SIZE, 5000); // released (nobody holds it)
      await new Promise((r) => setTimeout(r, 300));
      fs.writeFileSync(path.join(mp, 'second'), pattern(2));
      await waitFor(() => logged('second'), 5000);
      assert.equal(offsetOf('second'), firstAt, 'the next file went on the deleted file\'s (lowest free) units');
      assert.ok(fs.readFileSync(path.join(mp, 'second')).equals(pattern(2)));
    } finally {
      fs.closeSync(keep);
    }
  });
});
