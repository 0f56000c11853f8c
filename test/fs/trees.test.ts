/**
 * Real trees on an extended famfs (docs/format.md): a Hugging Face-style cache copied
 * into the master's mount M with cp -a, rsync -a, tar -x and famfs cp -r (and -L), then
 * compared on a client mount C (content through links, readlink, modes); and random
 * trees (names up to 255 bytes, symlinks, sizes) through the mount and the CLI, replayed
 * on another host with fsck clean.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { famfs, famfsOk, GiB, makeHost, removeHost, sparseFile } from '../core/helpers.js';
import { HAVE_FUSE, mount, NO_FUSE_REASON, twoHosts, waitFor } from './mounted.js';
import { hfCache, randomTree, treeSignature } from './treegen.js';

function sh(cmd: string, args: string[], cwd?: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} → ${r.status}: ${r.stderr}`);
}

/** Wait until `dir` on the client shows the same tree as `src` (the master logs new nodes after an idle window). */
async function sameOnClient(src: string, dir: string, opts: { followLinks?: boolean } = {}): Promise<void> {
  const want = treeSignature(src, opts);
  let got = '';
  try {
    await waitFor(() => {
      try {
        got = treeSignature(dir, opts);
      } catch {
        return false;
      }
      return got === want;
    }, 30_000, 100);
  } catch {
    assert.equal(got, want, `${dir} differs from ${src}`);
  }
}

describe('real trees through the mount', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  const { master, client } = twoHosts('trees');
  let dev: string;
  let M: string;
  let C: string;
  let work: string;
  let hf: string;

  before(() => {
    dev = sparseFile('trees', 8 * GiB);
    famfsOk(master, ['mkfs', '--features', 'all', dev]);
    M = mount(master, dev, 'trees-m', ['--commit-delay', '1000']);
    C = mount(client, dev, 'trees-c');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-trees-'));
    hf = path.join(work, 'hub');
    hfCache(hf, { seed: 7, models: 2, smallFiles: 15, bigFiles: 2 });
  });

  after(() => fs.rmSync(work, { recursive: true, force: true }));

  test('cp -a: links, long names and big files arrive on the client as on the source', async () => {
    sh('cp', ['-a', hf, path.join(M, 'cpa')]);
    await sameOnClient(hf, path.join(C, 'cpa'));
    await sameOnClient(hf, path.join(C, 'cpa'), { followLinks: true });
    const snap = fs.readdirSync(path.join(C, 'cpa')).map((m) => path.join(C, 'cpa', m, 'snapshots'));
    const rev = fs.readdirSync(snap[0]!)[0]!;
    assert.match(fs.readlinkSync(path.join(snap[0]!, rev, 'config.json')), /^\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/);
    assert.equal(fs.readlinkSync(path.join(snap[0]!, rev, 'absolute-link')), '/etc/hostname');
    // Big files written through the mount end in 2 MiB-aligned extents; small ones in 4 KiB units.
    type N = { path: string; type: string; size: number; map: { extents: { offset: number; length: number }[] } | null };
    const nodes = JSON.parse(famfsOk(client, ['ls', '-R', '--json', '-d', dev, 'cpa']).stdout) as N[];
    const files = nodes.filter((n) => n.type === 'file');
    const big = files.filter((n) => n.size >= 2 * 1024 * 1024);
    assert.ok(big.length >= 4, `${big.length} big files`);
    for (const n of big) assert.ok(n.map!.extents.every((e) => e.offset % (2 * 1024 * 1024) === 0 && e.length % (2 * 1024 * 1024) === 0), `${n.path}: ${JSON.stringify(n.map)}`);
    for (const n of files.filter((f) => f.size < 2 * 1024 * 1024)) assert.equal(n.map!.extents.reduce((s, e) => s + e.length, 0), Math.max(1, Math.ceil(n.size / 4096)) * 4096, n.path);
  });

  test('rsync -a and tar -x into the master mount', async () => {
    sh('rsync', ['-a', `${hf}/`, path.join(M, 'rsync')]);
    fs.mkdirSync(path.join(M, 'tar'));
    const tar = spawnSync('bash', ['-c', `tar -C '${hf}' -cf - . | tar -C '${path.join(M, 'tar')}' -xf -`], { encoding: 'utf8' });
    assert.equal(tar.status, 0, tar.stderr);
    await sameOnClient(hf, path.join(C, 'rsync'));
    await sameOnClient(hf, path.join(C, 'tar'));
  });

  test('famfs cp -r keeps links; -L follows them', async () => {
    famfsOk(master, ['cp', '-r', hf, path.join(M, 'famfscp')]);
    await sameOnClient(hf, path.join(C, 'famfscp'));
    famfsOk(master, ['cp', '-r', '-L', hf, path.join(M, 'deref')]);
    await sameOnClient(hf, path.join(C, 'deref'), { followLinks: true });
    const files = spawnSync('find', [path.join(C, 'deref'), '-type', 'l'], { encoding: 'utf8' }).stdout.trim();
    assert.equal(files, '', 'no links left with -L');
  });

  test('find -L … | sha256sum agrees between the source and the client', () => {
    const sum = (dir: string): string => spawnSync('bash', ['-c', `cd '${dir}' && find -L . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum`], { encoding: 'utf8' }).stdout;
    const want = sum(hf);
    assert.match(want, /^[0-9a-f]{64}/);
    for (const d of ['cpa', 'rsync', 'tar', 'famfscp', 'deref']) assert.equal(sum(path.join(C, d)), want, d);
  });

  test('kernel mode: a small-units famfs refuses --data-path kernel with one clear error; auto serves from the daemon', () => {
    const mp = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-mnt-kernel-'));
    const other = makeHost('trees-k');
    try {
      const r = famfs(other, ['mount', '--data-path', 'kernel', dev, mp]);
      assert.equal(r.status, 1);
      // (with --features all the presence area is refused in kernel mode first: either reason, one line)
      assert.match(r.stderr, /4096-byte allocation units .*famfs kernel maps only 2 MiB-aligned extents; mount it with --data-path daemon|presence area .*only in daemon mode; mount with --data-path daemon/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.deepEqual(fs.readdirSync(mp), []);
      const rows = JSON.parse(famfsOk(client, ['status', '--json', C]).stdout) as { mountpoint: string; dataPath: string }[];
      assert.deepEqual(rows.map((r) => [r.mountpoint, r.dataPath]), [[C, 'daemon']]);
    } finally {
      fs.rmdirSync(mp);
      removeHost(other);
    }
  });

  test('a client cannot make links; with --features all (delete included) the master may remove a logged one', () => {
    const r = spawnSync('ln', ['-s', 'x', path.join(C, 'nope')], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Read-only file system/);
    const snapDir = path.join(M, 'cpa');
    const model = fs.readdirSync(snapDir)[0]!;
    const rev = fs.readdirSync(path.join(snapDir, model, 'snapshots'))[0]!;
    const l = path.join(snapDir, model, 'snapshots', rev, 'config.json');
    assert.throws(() => fs.unlinkSync(path.join(C, 'cpa', model, 'snapshots', rev, 'config.json')), /EROFS/);
    const target = fs.readlinkSync(l);
    fs.unlinkSync(l);
    assert.ok(!fs.existsSync(l));
    fs.symlinkSync(target, l); // as it was, for the tests below
  });

  test('property: random trees (names to 255 bytes, links, sizes) via cp -a and famfs cp -r; replay elsewhere; fsck clean', async () => {
    // Room for the longest of the host prefixes (PATH_MAX 4096 counts the mount point too).
    const prefix = Math.max(Buffer.byteLength(path.join(M, 'rand-x-99')), Buffer.byteLength(path.join(work, 'rand-99')));
    for (let seed = 1; seed <= 4; seed++) {
      const src = path.join(work, `rand-${seed}`);
      randomTree(src, seed, { maxPath: 4095 - prefix - 1, nodes: 120, maxSize: 3 * 1024 * 1024 });
      sh('cp', ['-a', src, path.join(M, `rand-a-${seed}`)]);
      famfsOk(master, ['cp', '-r', src, path.join(M, `rand-f-${seed}`)]);
      await sameOnClient(src, path.join(C, `rand-a-${seed}`));
      await sameOnClient(src, path.join(C, `rand-f-${seed}`));
    }
    // Replay on a third host from the device alone, and fsck there.
    const third = makeHost('trees-3');
    try {
      const r = famfs(third, ['fsck', '-d', dev]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /0 bad log entries detected/);
      assert.match(r.stdout, /0 entries refused by replay/);
      assert.match(r.stdout, /features: +long-names, symlinks, small-units/);
      const ls = famfsOk(third, ['ls', '-R', '--json', '-d', dev, 'rand-f-1']).stdout;
      const links = (JSON.parse(ls) as { type: string; target?: string }[]).filter((n) => n.type === 'symlink');
      assert.ok(links.length > 0 && links.every((n) => typeof n.target === 'string' && n.target.length > 0));
    } finally {
      removeHost(third);
    }
  });
});
