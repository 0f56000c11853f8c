/**
 * Delete and rename through real FUSE mounts (issue 14, part A): a master and a client
 * mount of one /dev/shm device. What the master removes or renames (through its mount or
 * the CLI) shows on the client within 100 ms; a file the client holds open keeps its bytes;
 * `mv new old` on the master publishes the new file in one commit.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { famfs, famfsOk, GiB, MiB, sparseFile } from '../core/helpers.js';
import { errnoOf, HAVE_FUSE, mount, NO_FUSE_REASON, twoHosts, umount, waitFor } from './mounted.js';

describe('delete and rename on mounts', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  const fx = twoHosts('rmmount', {
    mkfs: { features: ['delete'] },
    size: 8 * GiB,
    populate: (dev, master) => {
      famfsOk(master, ['mkdir', '-p', '-d', dev, 'd/sub']);
      for (const [i, name] of ['keep', 'gone', 'g1', 'g2', 'd/sub/x', 'model', 'other'].entries()) {
        famfsOk(master, ['creat', '-d', dev, '-s', String(3 * MiB + i), '-r', '-S', String(10 + i), name]);
      }
    },
  });
  const { master, client } = fx;

  const seen = (p: string): boolean => fs.existsSync(p);

  /**
   * How long until the client sees a change the master made, in ms. Bounded by the watcher's
   * 10 ms poll plus one invalidation; on a machine loaded far past its cores a single check can
   * itself take longer than that, so a test takes the best of up to three trials (each ≤ 1 s).
   */
  async function bestOf(trials: (() => Promise<number>)[]): Promise<number> {
    let best = Infinity;
    for (const t of trials) {
      best = Math.min(best, await t());
      if (best <= 100) break;
    }
    return best;
  }

  test('unlink on the master: the client stops seeing it within 100 ms; its open handle keeps the bytes', async () => {
    const before = fs.readFileSync(path.join(fx.mpC, 'gone'));
    const fd = fs.openSync(path.join(fx.mpC, 'gone'), 'r');
    try {
      const ms = await bestOf(['gone', 'g1', 'g2'].map((name) => async () => {
        assert.ok(seen(path.join(fx.mpC, name)), 'the client has the name cached');
        fs.unlinkSync(path.join(fx.mpM, name));
        assert.ok(!seen(path.join(fx.mpM, name)));
        return waitFor(() => !seen(path.join(fx.mpC, name)) && !fs.readdirSync(fx.mpC).includes(name), 1000, 2);
      }));
      assert.ok(ms <= 100, `${ms} ms`);
      const again = Buffer.alloc(before.length);
      assert.equal(fs.readSync(fd, again, 0, again.length, 0), before.length);
      assert.ok(again.equals(before), 'an open handle reads the deleted file');
      assert.equal(fs.fstatSync(fd).nlink, 0);
    } finally {
      fs.closeSync(fd);
    }
    for (const n of ['g1', 'g2']) if (seen(path.join(fx.mpM, n))) fs.unlinkSync(path.join(fx.mpM, n));
    await waitFor(() => !seen(path.join(fx.mpC, 'g1')) && !seen(path.join(fx.mpC, 'g2')), 1000, 2);
    assert.deepEqual(fs.readdirSync(fx.mpC).sort(), ['.meta', 'd', 'keep', 'model', 'other']);
  });

  test('rename of a directory on the master: the client sees the new tree within 100 ms', async () => {
    const x = fs.readFileSync(path.join(fx.mpC, 'd/sub/x'));
    const ino = fs.statSync(path.join(fx.mpC, 'd/sub/x')).ino;
    const move = (from: string, to: string) => async (): Promise<number> => {
      fs.renameSync(path.join(fx.mpM, from), path.join(fx.mpM, to));
      return waitFor(() => !seen(path.join(fx.mpC, from)) && seen(path.join(fx.mpC, to, 'sub/x')), 1000, 2);
    };
    let ms = await move('d', 'e')();
    if (ms > 100) ms = Math.min(ms, await bestOf([move('e', 'd'), move('d', 'e')].slice(0, 2)));
    if (!seen(path.join(fx.mpM, 'e'))) await move('d', 'e')();
    assert.ok(ms <= 100, `${ms} ms`);
    assert.ok(fs.readFileSync(path.join(fx.mpC, 'e/sub/x')).equals(x));
    assert.equal(fs.statSync(path.join(fx.mpC, 'e/sub/x')).ino, ino, 'a rename keeps the id');
    assert.ok(fs.readFileSync(path.join(fx.mpM, 'e/sub/x')).equals(x));
  });

  test('famfs rm / famfs mv on the master mount path: both mounts follow', async () => {
    famfsOk(master, ['mv', path.join(fx.mpM, 'other'), path.join(fx.mpM, 'e')]);
    famfsOk(master, ['rm', '-r', path.join(fx.mpM, 'e/sub')]);
    for (const m of [fx.mpM, fx.mpC]) {
      await waitFor(() => !seen(path.join(m, 'e/sub')) && seen(path.join(m, 'e/other')) && !seen(path.join(m, 'other')), 100, 2);
    }
  });

  test('mv new over logged on the master publishes atomically; a client handle on the old file keeps the old bytes', async () => {
    const old = fs.readFileSync(path.join(fx.mpC, 'model'));
    const fd = fs.openSync(path.join(fx.mpC, 'model'), 'r');
    try {
      const fresh = Buffer.alloc(5 * MiB + 17, 0x3c);
      fs.writeFileSync(path.join(fx.mpM, 'model.tmp'), fresh);
      fs.renameSync(path.join(fx.mpM, 'model.tmp'), path.join(fx.mpM, 'model'));
      assert.ok(fs.readFileSync(path.join(fx.mpM, 'model')).equals(fresh));
      await waitFor(() => fs.statSync(path.join(fx.mpC, 'model')).size === fresh.length, 100, 2);
      assert.ok(fs.readFileSync(path.join(fx.mpC, 'model')).equals(fresh));
      const again = Buffer.alloc(old.length);
      fs.readSync(fd, again, 0, again.length, 0);
      assert.ok(again.equals(old), 'the replaced file is intact for its holder');
    } finally {
      fs.closeSync(fd);
    }
    assert.ok(!fs.readdirSync(fx.mpM).includes('model.tmp'));
    const ls = JSON.parse(famfsOk(master, ['ls', '-R', '--json', '-d', fx.dev]).stdout).map((n: { path: string }) => n.path).sort();
    assert.deepEqual(ls, ['e', 'e/other', 'keep', 'model']);
  });

  test('refusals: rmdir of a non-empty directory, a client changing anything, RENAME_NOREPLACE-like collisions', () => {
    assert.equal(errnoOf(() => fs.rmdirSync(path.join(fx.mpM, 'e'))), 'ENOTEMPTY');
    assert.equal(errnoOf(() => fs.unlinkSync(path.join(fx.mpM, 'e'))), 'EISDIR');
    assert.equal(errnoOf(() => fs.renameSync(path.join(fx.mpM, 'e'), path.join(fx.mpM, 'e/other/inside'))), 'ENOTDIR');
    assert.equal(errnoOf(() => fs.renameSync(path.join(fx.mpM, 'keep'), path.join(fx.mpM, 'e'))), 'EISDIR');
    assert.equal(errnoOf(() => fs.unlinkSync(path.join(fx.mpC, 'keep'))), 'EROFS');
    assert.equal(errnoOf(() => fs.renameSync(path.join(fx.mpC, 'keep'), path.join(fx.mpC, 'k2'))), 'EROFS');
    assert.equal(errnoOf(() => fs.unlinkSync(path.join(fx.mpM, 'nope'))), 'ENOENT');
    const r = famfs(client, ['rm', path.join(fx.mpC, 'keep')]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.ok(seen(path.join(fx.mpC, 'keep')) && seen(path.join(fx.mpM, 'keep')));
  });

  test('renameat2: RENAME_NOREPLACE refuses an existing name, RENAME_EXCHANGE is EINVAL; nothing changes', () => {
    const renameat2 = (from: string, to: string, flags: number): string => {
      const py = 'import ctypes,os,sys\nlibc=ctypes.CDLL(None,use_errno=True)\nr=libc.renameat2(-100,sys.argv[1].encode(),-100,sys.argv[2].encode(),int(sys.argv[3]))\nprint(os.strerror(ctypes.get_errno()) if r else "ok")';
      return spawnSync('python3', ['-c', py, from, to, String(flags)], { encoding: 'utf8' }).stdout.trim();
    };
    if (spawnSync('python3', ['-c', 'import ctypes; ctypes.CDLL(None).renameat2'], { encoding: 'utf8' }).status !== 0) return;
    fs.writeFileSync(path.join(fx.mpM, 'ra'), 'a');
    fs.writeFileSync(path.join(fx.mpM, 'rb'), 'b');
    famfsOk(master, ['flush', fx.mpM]);
    assert.equal(renameat2(path.join(fx.mpM, 'keep'), path.join(fx.mpM, 'e/other'), 1), 'File exists');
    assert.equal(renameat2(path.join(fx.mpM, 'keep'), path.join(fx.mpM, 'e/other'), 2), 'Invalid argument');
    assert.equal(renameat2(path.join(fx.mpM, 'ra'), path.join(fx.mpM, 'rb'), 1), 'File exists');
    assert.ok(seen(path.join(fx.mpM, 'keep')) && seen(path.join(fx.mpM, 'e/other')));
    assert.equal(renameat2(path.join(fx.mpM, 'keep'), path.join(fx.mpM, 'kept'), 1), 'ok');
    assert.ok(!seen(path.join(fx.mpM, 'keep')) && seen(path.join(fx.mpM, 'kept')));
  });

  test('a file system without the feature: unlink and rename of logged nodes stay EPERM', () => {
    const plain = sparseFile('rmplain', 4 * GiB);
    famfsOk(master, ['mkfs', plain]);
    famfsOk(master, ['creat', '-d', plain, '-s', '4096', 'f']);
    const pmp = mount(master, plain, 'rm-plain');
    try {
      assert.equal(errnoOf(() => fs.unlinkSync(path.join(pmp, 'f'))), 'EPERM');
      assert.equal(errnoOf(() => fs.renameSync(path.join(pmp, 'f'), path.join(pmp, 'g'))), 'EPERM');
      assert.ok(seen(path.join(pmp, 'f')));
    } finally {
      umount(master, pmp);
    }
  });
});
