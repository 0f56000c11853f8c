/**
 * The famfs CLI at its limits, end to end: data across a 1 GiB mapping window, a client
 * host, a missing device, a full log and a full device. Every refused command must exit
 * non-zero with one clear stderr line and leave the log byte-for-byte unchanged (cli-kit.ts).
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RandomStream } from '../../src/format/prng.js';
import { Famfs } from '../../src/api/famfs.js';
import { asHost, famfs, famfsOk, GiB, MiB, readRange, removeFile, type Host } from './helpers.js';
import { cliHosts, hostFile, json, newFs, oneLine, refused, sha } from './cli-kit.js';

describe('famfs CLI at its limits', () => {
  const { master, client, hostDir } = cliHosts('clilim');

  describe('data across a 1 GiB mapping window', () => {
    it('creat -r, verify, cat and cp of files that straddle the window boundary', () => {
      const dev = newFs(master, 'window');
      famfsOk(master, ['creat', '-d', dev, '-s', '1010m', 'pad']); // data starts at 10 MiB: next file starts at 1020 MiB
      const size = 9 * MiB + 5;
      famfsOk(master, ['creat', '-d', dev, '-s', String(size), '-r', '-S', '77', 'cross']);
      const m = json(master, ['getmap', '-d', dev, '--json', 'cross']);
      assert.ok(m.map.extents[0].offset < GiB && m.map.extents[0].offset + size > GiB, 'file does not straddle 1 GiB');
      assert.match(famfsOk(master, ['verify', '-d', dev, '-S', '77', 'cross']).stdout, /Success/);
      const want = Buffer.alloc(size);
      new RandomStream(77).fill(want);
      const got = famfsOk(master, ['cat', '-d', dev, 'cross']).raw;
      assert.ok(got.equals(want));
      const src = path.join(hostDir, 'cross.bin');
      fs.writeFileSync(src, Buffer.concat([want, want]));
      famfsOk(master, ['cp', '-d', dev, src, 'cross2']);
      const m2 = json(master, ['getmap', '-d', dev, '--json', 'cross2']);
      assert.ok(m2.map.extents[0].offset < 2 * GiB && m2.map.extents[0].offset > GiB);
      assert.equal(sha(famfsOk(master, ['cat', '-d', dev, 'cross2']).raw), sha(Buffer.concat([want, want])));
      removeFile(dev);
    });
  });

  describe('a client host', () => {
    let dev: string;
    before(() => {
      dev = newFs(master, 'client');
      famfsOk(master, ['mkdir', '-d', dev, 'd']);
      famfsOk(master, ['creat', '-d', dev, '-s', '1m', '-r', '-S', '3', 'd/f']);
      hostFile(hostDir, 'client/src', 100, 4);
    });

    it('cannot mkdir, creat, cp or clone: error, nothing changed', () => {
      const src = path.join(hostDir, 'client/src');
      for (const args of [['mkdir', 'x'], ['mkdir', '-p', 'x/y'], ['creat', '-s', '1m', 'x'], ['cp', src, 'x'], ['cp', '-r', path.join(hostDir, 'client'), 'x'], ['clone', 'd/f', 'x']]) {
        const [verb, ...rest] = args;
        refused(client, dev, [verb!, '-d', dev, ...rest], /client of this file system.*only the master/);
      }
      const before = readRange(dev, 10 * MiB, 4 * MiB);
      refused(client, dev, ['creat', '-d', dev, '-s', '1m', '-r', '-S', '5', 'y'], /only the master/);
      assert.ok(readRange(dev, 10 * MiB, 4 * MiB).equals(before), 'a refused creat -r wrote data');
    });

    it('can read: ls, getmap, cat, verify, fsck (role Client), logplay', () => {
      assert.equal(famfsOk(client, ['ls', '-d', dev, '-R']).stdout, 'd\nd/f\n');
      assert.equal(json(client, ['getmap', '-d', dev, '--json', 'd/f']).size, MiB);
      assert.match(famfsOk(client, ['verify', '-d', dev, '-S', '3', 'd/f']).stdout, /Success/);
      assert.equal(famfsOk(client, ['cat', '-d', dev, 'd/f']).raw.length, MiB);
      assert.match(famfsOk(client, ['fsck', '-d', dev]).stdout, /role of this node: Client/);
    });

    it('a host without a readable system UUID is a client', () => {
      const nouuid: Host = { ...client, env: { ...client.env, FAMFS_SYSTEM_UUID_FILE: path.join(hostDir, 'client/src') } };
      refused(nouuid, dev, ['mkdir', '-d', dev, 'z'], /client|UUID/);
    });
  });

  describe('missing device', () => {
    const nodev = '/dev/shm/famfs-core-missing.img';
    for (const args of [['ls'], ['mkdir', 'x'], ['creat', '-s', '1m', 'x'], ['cp', '/etc/hostname', 'x'], ['fsck'], ['logplay'], ['cat', 'x'], ['getmap', 'x']]) {
      it(`${args[0]} on a missing device fails clearly and creates nothing`, () => {
        const [verb, ...rest] = args;
        const r = famfs(master, [verb!, '-d', nodev, ...rest]);
        assert.notEqual(r.status, 0);
        assert.match(oneLine(r), /no such device or file/);
        assert.equal(fs.existsSync(nodev), false);
      });
    }
    it('no --device at all', () => {
      const r = famfs(master, ['ls']);
      assert.notEqual(r.status, 0);
      assert.match(oneLine(r), /--device/);
    });
  });

  describe('log full (8 MiB log = 15,420 entries)', () => {
    let dev: string;
    before(() => {
      dev = newFs(master, 'logfull');
      asHost(master, () => {
        const f = Famfs.open(dev, { writable: true });
        try {
          f.writer((w) => {
            w.mkdir('d');
            w.creat('d/f', 10);
            for (let i = 2; i < 15420; i++) w.mkdir(`d/${i}`);
          });
          assert.equal(f.log.nextIndex(), 15420);
        } finally {
          f.close();
        }
      });
      hostFile(hostDir, 'logfull/x', 10, 1);
    });

    it('one more mkdir, creat, cp or clone: clear error, log unchanged', () => {
      refused(master, dev, ['mkdir', '-d', dev, 'one-more'], /log full: all 15420 entries are used/);
      refused(master, dev, ['creat', '-d', dev, '-s', '1m', 'one-more'], /log full/);
      refused(master, dev, ['cp', '-d', dev, path.join(hostDir, 'logfull/x'), 'one-more'], /log full/);
      refused(master, dev, ['cp', '-d', dev, '-r', path.join(hostDir, 'logfull'), 'one-more'], /log full/);
      refused(master, dev, ['clone', '-d', dev, 'd/f', 'one-more'], /log full/);
    });

    it('a full log replays and fscks clean; space allocated for the refused creat is not held', () => {
      const r = json(master, ['fsck', '-d', dev, '--json']);
      assert.equal(r.clean, true);
      assert.equal(r.log.entriesUsed, 15420);
      assert.equal(r.directories, 15419);
      assert.equal(r.files, 1);
      assert.equal(r.capacity.allocatedBytes, 10 * MiB + 2 * MiB);
    });
  });

  describe('device full', () => {
    let dev: string;
    before(() => {
      dev = newFs(master, 'devfull');
    });

    it('creat bigger than the free space: ENOSPC error, log unchanged; exact fit works; mkdir still works', () => {
      refused(master, dev, ['creat', '-d', dev, '-s', '4g', 'big'], /out of space/);
      refused(master, dev, ['creat', '-d', dev, '-s', '4g', '-N', '2', '-B', '4', 'big'], /out of space|too large/);
      const free = json(master, ['fsck', '-d', dev, '--json']).capacity.freeSpace;
      assert.equal(free, 4 * GiB - 10 * MiB);
      refused(master, dev, ['creat', '-d', dev, '-s', String(free + 1), 'big'], /out of space/);
      famfsOk(master, ['creat', '-d', dev, '-s', String(free), 'big']);
      refused(master, dev, ['creat', '-d', dev, '-s', '1', 'more'], /out of space/);
      famfsOk(master, ['mkdir', '-d', dev, 'dirs-need-no-space']);
      const r = json(master, ['fsck', '-d', dev, '--json']);
      assert.equal(r.capacity.freeSpace, 0);
      assert.equal(r.clean, true);
    });

    it('cp of a file bigger than the free space: ENOSPC error, log unchanged', () => {
      const dev2 = newFs(master, 'devfull2');
      famfsOk(master, ['creat', '-d', dev2, '-s', String(4 * GiB - 12 * MiB), 'most']);
      const src = path.join(hostDir, 'fourmeg');
      fs.writeFileSync(src, Buffer.alloc(4 * MiB, 1));
      refused(master, dev2, ['cp', '-d', dev2, src, 'x'], /out of space/);
      removeFile(dev2);
    });
  });
});
