/**
 * `famfs rm -r` (and rm of several paths) is one log commit (LogView.commitAll): killed at any
 * moment it leaves the whole tree or none of it removed, and fsck finds the log clean; a tree
 * too big for the log's free space is refused before anything changes.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { Famfs } from '../../src/api/famfs.js';
import { mkfs } from '../../src/api/mkfs.js';
import { fsck } from '../../src/api/fsck.js';
import type { NewLogEntry } from '../../src/format/logentry.js';
import type { TreeNode } from '../../src/meta/tree.js';
import { asHost, famfs, FAMFS_BIN, GiB, makeHost, removeAllShm, removeHost, sparseFile } from './helpers.js';

const host = makeHost('rmatomic');
const DIRS = 20, FILES = 5, LINKS = 9;
const NODES = 1 + DIRS * (1 + FILES + LINKS); // 301 with the top directory

function openRw(dev: string): Famfs {
  return asHost(host, () => Famfs.open(dev, { writable: true }));
}

function makeTree(dev: string, top: string): void {
  const f = openRw(dev);
  try {
    f.writer((w) => {
      w.mkdir(top);
      for (let d = 0; d < DIRS; d++) {
        const dir = `${top}/d${d}`;
        w.mkdir(dir);
        const made = w.creatMany(Array.from({ length: FILES }, (_, i) => ({ path: `${dir}/f${i}`, size: 100 + i })));
        assert.ok(made.every((m) => m && !(m instanceof Error)), String(made.find((m) => m instanceof Error)));
        for (let i = 0; i < LINKS; i++) w.symlink(`${dir}/l${i}`, `f${i % FILES}`);
      }
    });
  } finally {
    f.close();
  }
}

function count(n: TreeNode | undefined): number {
  if (!n) return 0;
  let c = 1;
  if (n.kind === 'dir') for (const ch of n.children.values()) c += count(ch);
  return c;
}

/** Nodes of `top` left, after fsck found the log clean. */
function leftAfterFsck(dev: string, top: string, what: string): number {
  const f = openRw(dev);
  try {
    const report = fsck(f);
    assert.ok(report.clean, `${what}: ${JSON.stringify(report.problems?.slice(0, 3))}`);
    return count(f.tree.lookup(top));
  } finally {
    f.close();
  }
}

/** Zombie or gone: the child wrote everything it will write. */
function finished(pid: number): boolean {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^[ZX]/.test(s.slice(s.lastIndexOf(')') + 2));
  } catch {
    return true;
  }
}

describe('famfs rm -r is all or nothing', () => {
  after(() => {
    removeAllShm();
    removeHost(host);
  });

  it('SIGKILL at random moments (and right after the log first moves): the whole tree or none of it is gone, fsck clean', { timeout: 600_000 }, async () => {
    const dev = sparseFile('rmatomic', 8 * GiB);
    asHost(host, () => mkfs(dev, { features: ['delete', 'symlinks'] }));
    // How long one whole rm -r takes here: the random kills spread over that.
    makeTree(dev, 'cal');
    const t0 = Date.now();
    const cal = famfs(host, ['rm', '-r', '-d', dev, 'cal']);
    const runMs = Date.now() - t0;
    assert.equal(cal.status, 0, cal.stderr);
    assert.equal(leftAfterFsck(dev, 'cal', 'after a whole rm -r'), 0);

    const watch = asHost(host, () => Famfs.open(dev));
    let kept = 0, gone = 0;
    try {
      for (let k = 0; k < 10; k++) {
        const top = `t${k}`;
        makeTree(dev, top);
        assert.equal(leftAfterFsck(dev, top, 'made'), NODES);
        const before = watch.log.nextIndex();
        const child = spawn(process.execPath, [FAMFS_BIN, 'rm', '-r', '-d', dev, top], { env: host.env, stdio: 'ignore' });
        const pid = child.pid!;
        if (k % 2 === 0) {
          // The moment the log moves (an old rm had logged its first DELETE of 301 then): kill at once.
          const end = Date.now() + 60_000;
          while (watch.log.nextIndex() === before && !finished(pid) && Date.now() < end);
        } else {
          await new Promise((r) => setTimeout(r, Math.floor(Math.random() * runMs * 1.2)));
        }
        // The rm may have ended on its own already: then 'exit' has fired and will not fire again.
        const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already reaped */
        }
        await exited;
        const left = leftAfterFsck(dev, top, `after kill ${k}`);
        assert.ok(left === 0 || left === NODES, `after kill ${k}: ${left} of ${NODES} nodes left (a half-removed tree)`);
        if (left === 0) gone++;
        else kept++;
      }
    } finally {
      watch.close();
    }
    assert.ok(gone > 0, 'some kills came after the removal');
    assert.ok(kept > 0, 'some kills came before it');
  });

  it('a tree too big for the log free space is refused before anything changes', () => {
    const dev = sparseFile('rmfull', 8 * GiB);
    asHost(host, () => mkfs(dev, { features: ['delete', 'symlinks'] }));
    makeTree(dev, 'big');
    const f = openRw(dev);
    try {
      // Fill the log to 100 slots short of the tree's 301 DELETEs, in one commit.
      const fill = f.log.freeSlots() - 100;
      f.writer(() => {
        const entries: NewLogEntry[] = Array.from({ length: fill }, (_, i) => ({ type: 'mkdir', path: `fill${i}`, mode: 0o755, uid: 0, gid: 0 }));
        f.log.commitAll(entries);
      });
      f.refresh();
      assert.equal(f.log.freeSlots(), 100);
    } finally {
      f.close();
    }
    const r = famfs(host, ['rm', '-r', '-d', dev, 'big']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /log is full: this needs 301 entries and 100 are free/);
    assert.equal(leftAfterFsck(dev, 'big', 'after the refused rm'), NODES);
    const f2 = openRw(dev);
    try {
      assert.equal(f2.log.freeSlots(), 100, 'nothing was logged');
    } finally {
      f2.close();
    }
  });
});
