/**
 * `famfs cp -r` plans the whole copy first (issue 11, item 11): a tree with a path famfs
 * cannot hold, a name conflict, or more data than fits logs nothing; --keep-going copies
 * the rest byte for byte and names what it did not copy; symbolic links, fifos and sockets
 * are one summary line, not a failure.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOG_OFFSET, MAX_RELPATH_BYTES } from '../../src/format/constants.js';
import { RandomStream } from '../../src/format/prng.js';
import { famfs, famfsOk, makeHost, MiB, readRange, removeAllShm, removeHost, shmPath, type Host } from './helpers.js';

const LOG_LEN = 8 * MiB;
let master: Host;
let src: string;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const logBytes = (dev: string): Buffer => readRange(dev, LOG_OFFSET, LOG_LEN);

function put(rel: string, size: number, seed: number): string {
  const p = path.join(src, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  const b = Buffer.alloc(size);
  new RandomStream(seed).fill(b);
  fs.writeFileSync(p, b);
  return sha(b);
}

function newFs(tag: string): string {
  const dev = shmPath(tag);
  famfsOk(master, ['mkfs', dev, '--size', '4g']);
  return dev;
}

/** Every path under famfs `dir` with its type. */
function listing(dev: string, dir: string): string[] {
  return (JSON.parse(famfsOk(master, ['ls', '-R', '--json', '-d', dev, dir]).stdout) as { path: string; type: string }[]).map((n) => `${n.type} ${n.path}`).sort();
}

describe('famfs cp -r: plan first, --keep-going, skipped node kinds', () => {
  // A directory name long enough that its famfs path cannot be stored (79 bytes today).
  const longName = 'L'.repeat(Math.min(200, MAX_RELPATH_BYTES + 1));
  const want = new Map<string, string>();
  before(() => {
    master = makeHost('cpplan');
    src = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-cpplan-'));
    want.set('a.bin', put('tree/a.bin', 3 * MiB + 17, 1));
    want.set('d1/b.bin', put('tree/d1/b.bin', 100_000, 2));
    want.set('d1/d2/c.bin', put('tree/d1/d2/c.bin', 1, 3));
    want.set('z/empty', put('tree/z/empty', 0, 4));
    fs.mkdirSync(path.join(src, 'tree/d1/emptydir'));
    fs.cpSync(path.join(src, 'tree'), path.join(src, 'longtree'), { recursive: true });
    put(`longtree/${longName}/lost.bin`, 1000, 5);
  });
  after(() => {
    removeAllShm();
    removeHost(master);
    fs.rmSync(src, { recursive: true, force: true });
  });

  it('a path famfs cannot hold: nothing is logged, one line names it, exit 1', { skip: MAX_RELPATH_BYTES >= 200 && 'paths up to 200 bytes fit this format' }, () => {
    const dev = newFs('long');
    famfsOk(master, ['mkdir', '-d', dev, 'copy']);
    const log = logBytes(dev);
    const r = famfs(master, ['cp', '-r', '-d', dev, path.join(src, 'longtree'), 'copy']);
    assert.equal(r.status, 1, r.stdout);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`${longName}.*path longer than ${MAX_RELPATH_BYTES} bytes.*nothing copied; --keep-going copies the rest`));
    assert.ok(logBytes(dev).equals(log), 'the refused copy changed the log');
    assert.deepEqual(listing(dev, 'copy'), []);
  });

  it('--keep-going copies everything else byte-exact and names what it did not copy', { skip: MAX_RELPATH_BYTES >= 200 && 'paths up to 200 bytes fit this format' }, () => {
    const dev = newFs('keep');
    const r = famfs(master, ['cp', '-r', '--keep-going', '-d', dev, path.join(src, 'longtree'), 'copy']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${longName}: cannot be stored as copy/${longName}`));
    assert.match(r.stderr, /1 requested file or directory was not copied/);
    assert.equal(r.stderr.trimEnd().split('\n').length, 2, r.stderr);
    for (const [rel, h] of want) assert.equal(sha(famfsOk(master, ['cat', '-d', dev, `copy/${rel}`]).raw), h, rel);
    assert.ok(!listing(dev, 'copy').some((l) => l.includes(longName)));
    assert.equal(JSON.parse(famfsOk(master, ['fsck', '--json', '-d', dev]).stdout).clean, true);
  });

  it('a name conflict deep in the tree: nothing logged; --keep-going copies around it', () => {
    const dev = newFs('conflict');
    famfsOk(master, ['mkdir', '-p', '-d', dev, 'copy/tree']);
    famfsOk(master, ['creat', '-d', dev, '-s', '1m', 'copy/tree/d1']); // a file where the tree has a directory
    const log = logBytes(dev);
    const r = famfs(master, ['cp', '-r', '-d', dev, path.join(src, 'tree'), 'copy']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /copy\/tree\/d1: exists and is not a directory/);
    assert.ok(logBytes(dev).equals(log), 'the refused copy changed the log');
    const k = famfs(master, ['cp', '-r', '-k', '-d', dev, path.join(src, 'tree'), 'copy']);
    assert.equal(k.status, 1);
    assert.match(k.stderr, /copy\/tree\/d1: exists and is not a directory/);
    assert.equal(sha(famfsOk(master, ['cat', '-d', dev, 'copy/tree/a.bin']).raw), want.get('a.bin'));
    assert.equal(famfs(master, ['ls', '-d', dev, 'copy/tree/d1/b.bin']).status, 1);
  });

  it('more data than fits: nothing logged, out of space named before anything is copied', () => {
    const dev = newFs('space');
    famfsOk(master, ['creat', '-d', dev, '-s', String(4096 * MiB - 10 * MiB - 4 * MiB), 'filler']); // leaves 4 MiB: a.bin fits, not all
    const log = logBytes(dev);
    const r = famfs(master, ['cp', '-r', '-d', dev, path.join(src, 'tree'), 'copy']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /out of space: the copy needs/);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.ok(logBytes(dev).equals(log), 'the refused copy changed the log');
  });

  it('symbolic links (without the symlinks extension), fifos and sockets are skipped with one summary line; exit 0', () => {
    const dev = newFs('kinds');
    const t = path.join(src, 'kinds');
    fs.mkdirSync(t);
    fs.writeFileSync(path.join(t, 'real'), 'data\n');
    fs.symlinkSync('real', path.join(t, 'link1'));
    fs.symlinkSync('/nonexistent', path.join(t, 'link2'));
    assert.equal(spawnSync('mkfifo', [path.join(t, 'pipe')]).status, 0);
    const r = famfs(master, ['cp', '-r', '-d', dev, t, 'k']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stderr.trimEnd().split('\n'), ['famfs cp: skipped 3 host nodes famfs cannot hold (2 symlinks, 1 fifo; symbolic links need famfs mkfs --features symlinks)']);
    assert.equal(famfsOk(master, ['cat', '-d', dev, 'k/real']).stdout, 'data\n');
    assert.deepEqual(listing(dev, 'k'), ['file k/real']);
  });

  it('with long-names and symlinks: long paths are planned and copied, links are jobs (kept as links), fifos still skipped', () => {
    const dev = shmPath('ext');
    famfsOk(master, ['mkfs', dev, '--size', '4g', '--features', 'long-names,symlinks']);
    const t = path.join(src, 'ext');
    fs.cpSync(path.join(src, 'longtree'), t, { recursive: true });
    fs.symlinkSync('a.bin', path.join(t, 'rel-link'));
    fs.symlinkSync('/nonexistent/' + 'x'.repeat(150), path.join(t, longName, 'dangling-long'));
    assert.equal(spawnSync('mkfifo', [path.join(t, 'pipe')]).status, 0);
    const r = famfs(master, ['cp', '-r', '-v', '-d', dev, t, 'e']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stderr.trimEnd().split('\n'), ['famfs cp: skipped 1 host node famfs cannot hold (1 fifo)']);
    assert.match(r.stdout, /, 2 symlinks, /);
    const ls = listing(dev, 'e');
    assert.ok(ls.includes(`file e/${longName}/lost.bin`), ls.join('\n'));
    assert.ok(ls.includes('symlink e/rel-link'), ls.join('\n'));
    assert.ok(ls.includes(`symlink e/${longName}/dangling-long`), ls.join('\n'));
    assert.ok(famfsOk(master, ['cat', '-d', dev, `e/${longName}/lost.bin`], { binary: true }).raw.equals(fs.readFileSync(path.join(t, longName, 'lost.bin'))));
  });

  it('the log-slot check counts multi-slot records (long paths, symlinks): a copy that would overflow logs nothing', () => {
    const dev = shmPath('extfull');
    // 8 MiB log: about 15,400 slots. 8,000 symlinks with 500-byte targets need 2 slots each.
    famfsOk(master, ['mkfs', dev, '--size', '4g', '--features', 'symlinks']);
    const t = path.join(src, 'manylinks');
    fs.mkdirSync(t);
    const target = 'T'.repeat(500);
    for (let i = 0; i < 8000; i++) fs.symlinkSync(target, path.join(t, `l${i}`));
    const log = logBytes(dev);
    const r = famfs(master, ['cp', '-r', '-d', dev, t, 'm']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /log full: the copy needs 16001 log entries/);
    assert.ok(logBytes(dev).equals(log), 'the refused copy changed the log');
  });

  it('a missing source among several: nothing copied; --keep-going copies the others', () => {
    const dev = newFs('missing');
    famfsOk(master, ['mkdir', '-d', dev, 'into']);
    const log = logBytes(dev);
    const args = ['cp', '-d', dev, path.join(src, 'tree/a.bin'), path.join(src, 'nope'), 'into'];
    const r = famfs(master, args);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /nope: no such file or directory \(nothing copied; --keep-going copies the rest\)/);
    assert.ok(logBytes(dev).equals(log));
    const k = famfs(master, [...args.slice(0, 1), '--keep-going', ...args.slice(1)]);
    assert.equal(k.status, 1);
    assert.match(k.stderr, /nope: no such file or directory/);
    assert.equal(sha(famfsOk(master, ['cat', '-d', dev, 'into/a.bin']).raw), want.get('a.bin'));
  });
});
