/**
 * `famfs mount --transport`: the famfs daemon over FUSE-over-io_uring serves
 * the same bytes and metadata operations as over /dev/fuse; asking for the
 * ring where it is impossible is one clear error and mounts nothing.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { famfs, famfsOk, formattedHost, MiB } from '../core/helpers.js';
import { HAVE_FUSE, NO_FUSE_REASON, isMounted, tempMountpoint, umount, umountAll } from './mounted.js';
import { ENABLE_URING_PARAM } from '../../src/fuse/uring.js';
import { announceUringSkip, uringSkipReason } from '../fuse/uring-param.js';

const uringSkip = HAVE_FUSE ? uringSkipReason() : NO_FUSE_REASON;
announceUringSkip(uringSkip);

/** Run fn with enable_uring set to v, restoring the previous value afterwards (synchronous: the CLI returns once mounted). */
function withParam<T>(v: 'Y' | 'N', fn: () => T): T {
  const before = fs.readFileSync(ENABLE_URING_PARAM, 'utf8').trim();
  if (before !== v) fs.writeFileSync(ENABLE_URING_PARAM, v);
  try {
    return fn();
  } finally {
    if (before !== v) fs.writeFileSync(ENABLE_URING_PARAM, before);
  }
}

describe('famfs mount --transport', { skip: uringSkip || false }, () => {
  const { host: master, dev } = formattedHost('uring', { cleanup: umountAll });
  before(() => {
    famfsOk(master, ['creat', '-d', dev, '-s', String(3 * MiB + 5), '-r', '-S', '7', 'f']);
  });

  test('uring with enable_uring off: one line naming the parameter, exit ≠ 0, nothing mounted', () => {
    const mp = tempMountpoint('uring-off');
    try {
      const r = withParam('N', () => famfs(master, ['mount', '--transport', 'uring', dev, mp]));
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /--transport uring: FUSE over io_uring is disabled \(\/sys\/module\/fuse\/parameters\/enable_uring = N\)/);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(isMounted(mp), false);
    } finally {
      fs.rmdirSync(mp);
    }
  });

  test('uring: data byte-exact, files and directories made through the mount, clean unmount', () => {
    const mp = tempMountpoint('uring');
    const log = path.join(master.dir, 'daemon.log');
    withParam('Y', () => famfsOk(master, ['mount', '--transport', 'uring', '--log', log, dev, mp]));
    try {
      assert.match(fs.readFileSync(log, 'utf8'), /transport: io_uring/);
      assert.equal(famfs(master, ['verify', '-S', '7', path.join(mp, 'f')]).status, 0);
      fs.mkdirSync(path.join(mp, 'd'));
      famfsOk(master, ['creat', '-s', '100000', '-r', '-S', '9', path.join(mp, 'd', 'g')]);
      assert.equal(famfs(master, ['verify', '-S', '9', path.join(mp, 'd', 'g')]).status, 0);
      assert.deepEqual(fs.readdirSync(mp).sort(), ['.meta', 'd', 'f']);
    } finally {
      umount(master, mp);
    }
    assert.equal(isMounted(mp), false);
  });
});
