/**
 * A deleted file on a client that has it open, as after a local unlink: the name goes at once
 * (NOTIFY_DELETE), the open file reports nlink 0 and keeps reading its bytes, a reopen through
 * /proc/self/fd while it is still held works (and is counted), and once the last handle is
 * released the hold goes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Famfs } from '../../src/api/famfs.js';
import type { PresenceArea } from '../../src/presence/area.js';
import { asHost, famfsOk, makeHost, MiB, removeAllShm, removeHost, type Host } from '../core/helpers.js';
import { HAVE_FUSE, mount, NO_FUSE_REASON, umountAll, waitFor } from '../fs/mounted.js';
import { presenceArea, presenceDevice } from './fixtures.js';

describe('names and reopens of deleted files on a client', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  let master: Host, client: Host, dev: string, mpC: string, area: PresenceArea;

  before(() => {
    master = makeHost('rn-m');
    client = makeHost('rn-c');
    dev = presenceDevice(master, 'removed-names', 5000);
    famfsOk(master, ['creat', '-d', dev, '-s', String(4 * MiB), '-r', '-S', '21', 'a']);
    mpC = mount(client, dev, 'rn-c');
    area = presenceArea(dev);
  });

  after(() => {
    umountAll(client);
    removeAllShm();
    removeHost(master);
    removeHost(client);
  });

  const held = (id: number): boolean => area.readAll().some((s) => s?.state === 'live' && s.systemUuid === client.uuid && s.held.includes(id));

  test('the name goes, the open file lives on (nlink 0), a reopen while held is counted and keeps the hold', async () => {
    const id = asHost(master, () => {
      const f = Famfs.open(dev);
      try {
        return f.file('a').entryIndex;
      } finally {
        f.close();
      }
    });
    const name = path.join(mpC, 'a');
    const fd = fs.openSync(name, 'r');
    const head = Buffer.alloc(4096);
    fs.readSync(fd, head, 0, head.length, 0);
    assert.equal(fs.fstatSync(fd).nlink, 1);
    famfsOk(master, ['rm', '-d', dev, 'a']);
    await waitFor(() => held(id), 10_000);
    // The client's kernel had the name cached (entry timeout of a year): NOTIFY_DELETE drops it.
    await waitFor(() => !fs.existsSync(name), 2000);
    assert.equal(fs.fstatSync(fd).nlink, 0, 'an open deleted file has no link');
    const again = Buffer.alloc(4096);
    fs.readSync(fd, again, 0, again.length, 0);
    assert.ok(again.equals(head), 'it keeps its bytes');
    const fd2 = fs.openSync(`/proc/self/fd/${fd}`, 'r');
    fs.closeSync(fd);
    const third = Buffer.alloc(4096);
    fs.readSync(fd2, third, 0, third.length, 0);
    assert.ok(third.equals(head), 'the reopened handle reads the same file');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(held(id), 'still held through the reopened handle');
    fs.closeSync(fd2);
    await waitFor(() => !held(id), 10_000);
  });
});
