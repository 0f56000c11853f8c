/**
 * `famfs mount --cache` (-o cache): logged files are read through the page cache and kept
 * there across opens, so a second read of a file sends the daemon no READ; the .meta files
 * stay direct (they change as the log grows). Also: -o cache is ours, not the kernel's, and
 * max_pages is asked as the kernel's fs.fuse.max_pages_limit.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { famfsOk, formattedHost, GiB, makeHost, MiB, removeHost, type Host } from '../core/helpers.js';
import { HAVE_FUSE, mount, NO_FUSE_REASON, umount, umountAll, waitFor } from './mounted.js';
import { parseMountOptions } from '../../src/fs/daemon.js';
import { kernelMaxPagesLimit } from '../../src/fuse/negotiate.js';
import { warmUp } from '../../src/fs/warmup.js';

/** READ (or another opcode's) requests the daemon behind mp has answered (famfs status --json). */
function reads(host: Host, mp: string, op = 'READ'): number {
  const rows = JSON.parse(famfsOk(host, ['status', '--json']).stdout) as { mountpoint: string; requests: { name: string; count: number }[] }[];
  const row = rows.find((r) => r.mountpoint === mp);
  if (!row) throw new Error(`no status for ${mp}`);
  return row.requests.find((q) => q.name === op)?.count ?? 0;
}

/** A request counter once it stopped moving (a worker counts a request after its reply is written). */
async function settled(count: () => number): Promise<number> {
  let last = count();
  for (;;) {
    await new Promise((r) => setTimeout(r, 150));
    const now = count();
    if (now === last) return now;
    last = now;
  }
}

/** True if, in one of three attempts, `act` moved `count` by at most `slack` (nothing, by default, reached the daemon). */
async function cleanTry(count: () => number, act: () => void, slack = 0): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    act(); // (again) fills the cache
    const before = await settled(count);
    act();
    if ((await settled(count)) - before <= slack) return true;
  }
  return false;
}

test('-o cache is a famfs option (not passed to the kernel); max_pages_limit is read, with a default', () => {
  assert.equal(parseMountOptions(['ro,cache']).cache, true);
  assert.deepEqual(parseMountOptions(['ro,cache']).mount.extra, []);
  assert.equal(parseMountOptions(['cache', 'nocache']).cache, false);
  assert.equal(parseMountOptions([]).cache, undefined);
  assert.equal(kernelMaxPagesLimit(() => '4096\n'), 4096);
  assert.equal(kernelMaxPagesLimit(() => { throw new Error('ENOENT'); }), 256);
  assert.equal(kernelMaxPagesLimit(() => 'junk'), 256);
});

describe('famfs mount --cache', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  const { host: master, dev } = formattedHost('cache', { size: 8 * GiB, cleanup: umountAll });
  let mp: string;

  before(() => {
    famfsOk(master, ['creat', '-d', dev, '-s', String(3 * MiB + 5), '-r', '-S', '41', 'data']);
    mp = mount(master, dev, 'cache', ['--cache']);
  });

  test('the daemon warmed its request path before it reported ready, and left nothing behind', async () => {
    const lookups = reads(master, mp, 'LOOKUP');
    assert.ok(lookups >= 100, `${lookups} LOOKUPs answered at mount`);
    assert.ok(await warmUp(mp, { lookups: 50 }) >= 1);
    assert.ok(reads(master, mp, 'LOOKUP') > lookups, 'warm-up lookups reach the daemon (nothing cached)');
    assert.deepEqual(fs.readdirSync(mp).sort(), ['.meta', 'data']);
  });

  test('a second read of a file is served from the page cache, byte-exact', async () => {
    const first = fs.readFileSync(path.join(mp, 'data'));
    const firstReads = await settled(() => reads(master, mp));
    assert.ok(firstReads > 0, 'the first read reached the daemon');
    // The kernel may drop a few cached pages meanwhile (a machine shared with other tests): a read
    // of the cached file must cost at most a few READs, where a direct-I/O read costs as many again.
    assert.ok(await cleanTry(() => reads(master, mp), () => assert.ok(fs.readFileSync(path.join(mp, 'data')).equals(first)), Math.floor(firstReads / 3)), `a read of a cached file sent more than ${Math.floor(firstReads / 3)} READs`);
    assert.equal(famfsOk(master, ['verify', '-S', '41', path.join(mp, 'data')]).status, 0);
  });

  test('directory listings are cached by the kernel, and dropped when the directory changes (here, or logged by another host)', async () => {
    const client = makeHost('cache-client');
    const cmp = mount(client, dev, 'cache-client', ['--cache']);
    const listings = (): number => reads(master, mp, 'READDIRPLUS') + reads(master, mp, 'READDIR');
    const ls = (d: string): string[] => fs.readdirSync(d).sort();
    try {
      famfsOk(master, ['mkdir', path.join(mp, 'listed')]); // a logged directory
      assert.deepEqual(ls(path.join(mp, 'listed')), []);
      assert.ok(await cleanTry(listings, () => assert.deepEqual(ls(path.join(mp, 'listed')), [])), 'a listing from the kernel cache');
      await waitFor(() => fs.existsSync(path.join(cmp, 'listed')), 5000, 20);
      assert.deepEqual(ls(path.join(cmp, 'listed')), []); // the client caches it empty
      fs.writeFileSync(path.join(mp, 'listed/a'), 'x'); // through the master's mount
      assert.deepEqual(ls(path.join(mp, 'listed')), ['a']);
      await waitFor(() => ls(path.join(cmp, 'listed')).length === 1, 5000, 20); // logged after the commit delay
      famfsOk(master, ['creat', '-s', '4096', path.join(mp, 'listed/b')]); // logged by the CLI
      await waitFor(() => ls(path.join(cmp, 'listed')).length === 2 && ls(path.join(mp, 'listed')).length === 2, 5000, 20);
      assert.deepEqual(ls(path.join(cmp, 'listed')), ['a', 'b']);
      assert.deepEqual(ls(path.join(mp, 'listed')), ['a', 'b']);
      // A directory made through the master's mount is never cached there: it keeps its new id.
      fs.mkdirSync(path.join(mp, 'made'));
      fs.writeFileSync(path.join(mp, 'made/c'), 'y');
      famfsOk(master, ['creat', '-s', '4096', path.join(mp, 'made/d')]);
      await waitFor(() => ls(path.join(mp, 'made')).length === 2, 5000, 20);
    } finally {
      umount(client, cmp);
      removeHost(client);
    }
  });

  test('writes through the mount are seen by later reads; .meta/.log stays direct', () => {
    const fd = fs.openSync(path.join(mp, 'data'), 'r+');
    fs.writeSync(fd, Buffer.from('cached-write'), 0, 12, MiB);
    fs.closeSync(fd);
    const b = fs.readFileSync(path.join(mp, 'data'));
    assert.equal(b.subarray(MiB, MiB + 12).toString(), 'cached-write');
    const logBefore = fs.readFileSync(path.join(mp, '.meta/.log'));
    famfsOk(master, ['mkdir', path.join(mp, 'newdir')]);
    const logAfter = fs.readFileSync(path.join(mp, '.meta/.log'));
    assert.ok(!logAfter.equals(logBefore), 'the log read through the mount shows the new entry');
  });
});
