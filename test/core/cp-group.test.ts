/**
 * famfs cp of many small files commits up to MAX_GROUP file entries per log append
 * (src/api/creatgroup.ts). Checked: the grouping itself (appends counted), the bytes of
 * every file, a file that fails mid-group (the others logged, its space not leaked), a
 * log that fills mid-group, and SIGKILLs of a `famfs cp -r` at random moments: each
 * leaves a log that fsck finds clean, whose every file holds its source's bytes.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Famfs } from '../../src/api/famfs.js';
import { mkfs } from '../../src/api/mkfs.js';
import { copyIn } from '../../src/api/copy.js';
import { fsck } from '../../src/api/fsck.js';
import { MAX_GROUP } from '../../src/meta/log.js';
import { asHost, FAMFS_BIN, GiB, makeHost, removeAllShm, removeHost, sparseFile } from './helpers.js';

const host = makeHost('cpgroup');
const dirs: string[] = [];

/** A source tree of `n` files of 1..8,191 random bytes (and one subdirectory of 3), in /dev/shm. */
function sourceTree(n: number): { dir: string; files: Map<string, Buffer> } {
  const dir = fs.mkdtempSync('/dev/shm/famfs-cpgroup-src-');
  dirs.push(dir);
  const files = new Map<string, Buffer>();
  for (let i = 0; i < n; i++) {
    const b = randomBytes(1 + ((i * 2654435761) % 8191));
    fs.writeFileSync(path.join(dir, `f${String(i).padStart(4, '0')}`), b);
    files.set(`f${String(i).padStart(4, '0')}`, b);
  }
  fs.mkdirSync(path.join(dir, 'sub'));
  for (let i = 0; i < 3; i++) {
    const b = randomBytes(100 + i);
    fs.writeFileSync(path.join(dir, 'sub', `g${i}`), b);
    files.set(`sub/g${i}`, b);
  }
  return { dir, files };
}

function bytesOf(f: Famfs, rel: string): Buffer {
  return Buffer.concat(f.slices(f.file(rel), 0, Infinity).map((s) => Buffer.from(s)));
}

/** Every file under `dest` in the log holds its source's bytes; returns how many there are. */
function checkFiles(f: Famfs, dest: string, files: Map<string, Buffer>): number {
  let n = 0;
  for (const [rel, b] of files) {
    const node = f.tree.lookup(`${dest}/${rel}`);
    if (!node) continue;
    assert.equal(node.kind, 'file');
    assert.ok(bytesOf(f, `${dest}/${rel}`).equals(b), `${dest}/${rel}: bytes differ`);
    n++;
  }
  return n;
}

function openRw(dev: string): Famfs {
  return asHost(host, () => Famfs.open(dev, { writable: true }));
}

describe('famfs cp: small files committed in groups', () => {
  after(() => {
    removeAllShm();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    removeHost(host);
  });

  it(`commits up to ${MAX_GROUP} files per append, every byte in place`, () => {
    const { dir, files } = sourceTree(3 * MAX_GROUP + 5);
    const dev = sparseFile('cpgroup', 4 * GiB);
    asHost(host, () => mkfs(dev));
    const f = openRw(dev);
    try {
      let appends = 0;
      let records = 0;
      const commit = f.log.commit.bind(f.log);
      f.log.commit = (entries) => {
        appends++;
        records += entries.length;
        return commit(entries);
      };
      const r = copyIn(f, [dir], 'c', { recursive: true });
      assert.equal(r.files, files.size);
      assert.equal(records, files.size + 2, 'one record per file and directory');
      // c, then the top files in groups, then sub and its three files.
      assert.equal(appends, 1 + Math.ceil((3 * MAX_GROUP + 5) / MAX_GROUP) + 1 + 1);
      assert.equal(checkFiles(f, 'c', files), files.size);
      assert.ok(fsck(f).clean);
    } finally {
      f.close();
    }
  });

  it('a source that cannot be read mid-group: the others are logged, its space is not leaked', () => {
    const { dir, files } = sourceTree(MAX_GROUP + 2);
    const unreadable = path.join(dir, 'f0002');
    const dev = sparseFile('cpgroup', 4 * GiB);
    asHost(host, () => mkfs(dev));
    const f = openRw(dev);
    try {
      const errors: string[] = [];
      const free0 = f.writer((w) => w.space.freeBytes);
      // The file vanishes between the plan and its copy (onFile runs just before its data is copied).
      const r = copyIn(f, [dir], 'c', {
        recursive: true,
        keepGoing: true,
        onFile: (src) => {
          if (src === unreadable) fs.rmSync(unreadable);
        },
        onError: (src) => errors.push(src),
      });
      assert.deepEqual(errors, [unreadable]);
      assert.equal(r.files, files.size - 1);
      assert.equal(f.tree.lookup('c/f0002'), undefined);
      files.delete('f0002');
      assert.equal(checkFiles(f, 'c', files), files.size);
      // Each copied file (< 8 KiB) holds one allocation unit; the one that failed holds none.
      assert.equal(f.writer((w) => w.space.freeBytes), free0 - r.files * f.sb.allocUnit, 'the failed file holds no space');
      assert.ok(fsck(f).clean);
    } finally {
      f.close();
    }
  });

  it('a log that fills mid-group: with --keep-going what fits is logged, the rest reported', () => {
    const { dir, files } = sourceTree(2 * MAX_GROUP);
    const dev = sparseFile('cpgroup', 4 * GiB);
    asHost(host, () => mkfs(dev));
    const f = openRw(dev);
    try {
      // Fill the log up to MAX_GROUP + 3 free slots (mkdir entries: one slot each).
      const free = f.log.freeSlots();
      f.writer((w) => {
        w.mkdir('pad');
        for (let i = 0; i < free - 1 - (MAX_GROUP + 3); i++) f.log.append({ type: 'mkdir', path: `pad/d${i}`, mode: 0o755, uid: 0, gid: 0 });
      });
      f.refresh();
      assert.equal(f.log.freeSlots(), MAX_GROUP + 3);
      const errors: string[] = [];
      const r = copyIn(f, [path.join(dir, 'f0000'), ...[...files.keys()].filter((k) => k.startsWith('f')).slice(1).map((k) => path.join(dir, k))], '', {
        keepGoing: true,
        onError: (src, e) => errors.push(`${path.basename(src)} ${e.code}`),
      });
      assert.equal(r.files, MAX_GROUP + 3);
      // The plan reports the log too small (source ''), then each file that did not fit.
      assert.deepEqual(errors.filter((e) => e.startsWith('f')).length, 2 * MAX_GROUP - (MAX_GROUP + 3));
      assert.ok(errors.every((e) => e.endsWith(' ENOSPC')), errors.join(', '));
      assert.equal(f.log.freeSlots(), 0);
      let n = 0;
      for (const [rel, b] of files) {
        const node = f.tree.lookup(rel);
        if (!node) continue;
        assert.ok(bytesOf(f, rel).equals(b));
        n++;
      }
      assert.equal(n, MAX_GROUP + 3);
      assert.ok(fsck(f).clean);
    } finally {
      f.close();
    }
  });

  it('SIGKILL of famfs cp -r at random moments: fsck clean, every logged file holds its bytes, the copy restarts', async () => {
    const { dir, files } = sourceTree(500);
    const dev = sparseFile('cpgroup', 16 * GiB); // 5 copies of 503 files, 2 MiB each
    asHost(host, () => mkfs(dev));
    let partial = 0;
    // The kill lands a random while after the copy has started; a machine fast enough to finish the copy inside that
    // while gets shorter waits, and more tries, until at least one kill lands mid-copy.
    let maxDelay = 40;
    for (let k = 0; k < 5 || (partial === 0 && k < 12); k++) {
      // Into an existing directory, so that the same command run again is a restart (cp -r dir existing/).
      const into = `k${k}`;
      const dest = `${into}/${path.basename(dir)}`;
      const w = openRw(dev);
      w.writer((wr) => wr.mkdir(into));
      w.close();
      const child = spawn(process.execPath, [FAMFS_BIN, 'cp', '-r', '-k', '-d', dev, dir, into], { env: host.env, stdio: 'ignore' });
      // Kill after it has logged something (the directory): its own entries, then a random while more.
      await new Promise<void>((resolve) => {
        const t0 = Date.now();
        const poll = setInterval(() => {
          const f = asHost(host, () => Famfs.open(dev));
          const started = f.tree.lookup(dest) !== undefined;
          f.close();
          if (started || Date.now() - t0 > 60_000) {
            clearInterval(poll);
            setTimeout(resolve, Math.floor(Math.random() * maxDelay));
          }
        }, 5);
      });
      // The copy may have ended on its own already: then 'exit' has fired and will not fire again.
      const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      const f = openRw(dev);
      try {
        const report = fsck(f);
        assert.ok(report.clean, `after kill ${k}: ${JSON.stringify(report.problems?.slice(0, 3))}`);
        const n = checkFiles(f, dest, files);
        if (n < files.size) partial++;
        else maxDelay = Math.max(1, maxDelay >> 1);
        // The next writer carries on: the same copy completes.
        const r = copyIn(f, [dir], into, { recursive: true, keepGoing: true });
        assert.equal(r.errors, 0);
        assert.equal(checkFiles(f, dest, files), files.size);
      } finally {
        f.close();
      }
    }
    assert.ok(partial > 0, 'at least one kill landed mid-copy');
  });
});
