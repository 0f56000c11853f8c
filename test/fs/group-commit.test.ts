/**
 * The master's group commit (master.ts commitMany: closed files logged MAX_GROUP entries per
 * append) killed half way: a child master service is SIGKILLed before its first, second or
 * third append. What was appended is whole groups, in order (the directory first), every logged
 * file byte-exact at its size; nothing else is logged; fsck is clean; the next writer carries on.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { asHost, famfsOk, GiB, makeHost, removeAllShm, removeHost, sparseFile } from '../core/helpers.js';
import { Famfs } from '../../src/api/famfs.js';
import { fsck } from '../../src/api/fsck.js';
import { MAX_GROUP } from '../../src/meta/log.js';

const CHILD = new URL('./group-commit-child.js', import.meta.url).pathname;
const FILES = 2 * MAX_GROUP + 8;

describe('group commit of closed files, killed half way', () => {
  const host = makeHost('grpc');
  after(() => {
    removeAllShm();
    removeHost(host);
  });

  for (const killAt of [1, 2, 3]) {
    test(`SIGKILL before append ${killAt}: whole groups logged, bytes exact, fsck clean, the next writer carries on`, () => {
      const dev = sparseFile(`grpc${killAt}`, 4 * GiB);
      famfsOk(host, ['mkfs', dev]);
      const r = spawnSync(process.execPath, [CHILD, dev, String(FILES), String(killAt)], { env: host.env, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.signal, 'SIGKILL', `the child was killed at append ${killAt} (status ${r.status}, ${r.stderr})`);
      // The list is [grp, f0, f1, …]: groups of MAX_GROUP entries, the first holding the directory.
      const entries = (killAt - 1) * MAX_GROUP;
      const files = Math.max(0, entries - 1);
      const f = asHost(host, () => Famfs.open(dev, { writable: true }));
      try {
        const report = fsck(f);
        assert.equal(report.clean, true, JSON.stringify(report.problems));
        assert.equal(report.files, files);
        assert.equal(f.tree.lookup('grp')?.kind, entries > 0 ? 'dir' : undefined);
        for (let i = 0; i < FILES; i++) {
          const n = f.tree.lookup(`grp/f${i}`);
          if (i >= files) {
            assert.equal(n, undefined, `grp/f${i} was in a group not appended`);
            continue;
          }
          assert.ok(n && n.kind === 'file', `grp/f${i}`);
          assert.equal(n.size, 1000 + 37 * i);
          assert.ok(Buffer.concat(f.slices(n, 0, n.size)).equals(Buffer.alloc(n.size, (i % 250) + 1)), `grp/f${i} bytes`);
        }
        asHost(host, () => f.writer((w) => w.creat('after', 5000)));
        assert.equal(fsck(f).clean, true);
      } finally {
        f.close();
      }
    });
  }
});
