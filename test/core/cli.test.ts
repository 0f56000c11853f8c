/**
 * The famfs CLI end to end: real `node bin/famfs.js` processes on sparse
 * device files in /dev/shm, one system-UUID file per simulated host.
 * Every refused command must exit non-zero with one clear stderr line and
 * leave the log byte-for-byte unchanged (cli-kit.ts). Limits (1 GiB window,
 * a client host, a missing device, a full log or device): cli-limits.test.ts.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { checkSuperblock, decodeSuperblock } from '../../src/format/superblock.js';
import { checkLogHeader, decodeLogHeader } from '../../src/format/logheader.js';
import { RandomStream } from '../../src/format/prng.js';
import { Famfs } from '../../src/api/famfs.js';
import { asHost, famfs, famfsOk, GiB, MiB, readRange, shmPath, sparseFile } from './helpers.js';
import { cliHosts, hostFile, json, LOG_LEN, logBytes, newFs, oneLine, refused, sha } from './cli-kit.js';

describe('famfs CLI end to end', () => {
  const { master, client, hostDir } = cliHosts('cli');

  describe('mkfs', () => {
    it('refuses devices below 4 GiB, with or without --size', () => {
      const small = sparseFile('small', 1 * GiB);
      const r = famfs(master, ['mkfs', small]);
      assert.notEqual(r.status, 0);
      assert.match(oneLine(r), /4 GiB/);
      assert.equal(checkSuperblock(readRange(small, 0, 200)), 'bad-magic');
      const p = shmPath('small2');
      const r2 = famfs(master, ['mkfs', p, '--size', '2g']);
      assert.notEqual(r2.status, 0);
      assert.match(oneLine(r2), /4 GiB/);
      assert.equal(fs.existsSync(p), false, 'a refused --size must not create the file');
    });

    it('--size creates a sparse file and formats it as this host’s file system', () => {
      const dev = shmPath('size');
      const r = famfsOk(master, ['mkfs', dev, '--size', '4g']);
      assert.match(r.stdout, /devsize: 4294967296/);
      const st = fs.statSync(dev);
      assert.equal(st.size, 4 * GiB);
      assert.ok(st.blocks * 512 <= 16 * MiB, `not sparse: ${st.blocks * 512} bytes allocated`);
      const sbBuf = readRange(dev, 0, 200);
      assert.equal(checkSuperblock(sbBuf), 'ok');
      const sb = decodeSuperblock(sbBuf);
      assert.equal(sb.systemUuid, master.uuid);
      assert.deepEqual([sb.version, sb.logOffset, sb.logLen, sb.allocUnit, sb.daxdev.size, sb.daxdev.name], [48, 0x200000, LOG_LEN, 0x200000, 4 * GiB, dev]);
      const log = logBytes(dev);
      assert.equal(checkLogHeader(log, LOG_LEN), 'ok');
      assert.equal(decodeLogHeader(log).nextIndex, 0);
      assert.ok(log.subarray(48).every((b) => b === 0), 'mkfs zeroes the log');
      famfsOk(master, ['fsck', '-d', dev]);
    });

    it('log length: 1, 11m and 1m are refused; 16m works', () => {
      const dev = sparseFile('loglen', 4 * GiB);
      for (const l of ['1', '11m', '1m', '12m', 'abc']) {
        const r = famfs(master, ['mkfs', dev, '-l', l]);
        assert.notEqual(r.status, 0, `loglen ${l}`);
        oneLine(r);
        assert.equal(checkSuperblock(readRange(dev, 0, 200)), 'bad-magic');
      }
      famfsOk(master, ['mkfs', dev, '-l', '16m']);
      assert.equal(decodeSuperblock(readRange(dev, 0, 200)).logLen, 16 * MiB);
      const r = json(master, ['fsck', '-d', dev, '--json']);
      assert.equal(r.log.slots, 30840);
    });

    it('an existing superblock needs --force; --force makes a new, empty file system', () => {
      const dev = newFs(master, 'force');
      famfsOk(master, ['mkdir', '-d', dev, 'keep']);
      const uuid = decodeSuperblock(readRange(dev, 0, 200)).uuid;
      refused(master, dev, ['mkfs', dev], /already holds a famfs file system.*--force/);
      famfsOk(master, ['mkfs', '-f', dev]);
      assert.notEqual(decodeSuperblock(readRange(dev, 0, 200)).uuid, uuid);
      assert.deepEqual(json(master, ['ls', '-d', dev, '--json']), []);
    });

    it('another host’s superblock needs --force, which makes the caller the master', () => {
      const dev = newFs(master, 'other');
      refused(client, dev, ['mkfs', dev], /owned by another host/);
      famfsOk(client, ['mkfs', '--force', dev]);
      assert.equal(decodeSuperblock(readRange(dev, 0, 200)).systemUuid, client.uuid);
      assert.equal(json(client, ['fsck', '-d', dev, '--json']).superblock.role, 'Owner');
      assert.equal(json(master, ['fsck', '-d', dev, '--json']).superblock.role, 'Client');
    });

    it('--kill needs --force and then zeroes only the magic', () => {
      const dev = newFs(master, 'kill');
      famfsOk(master, ['mkdir', '-d', dev, 'd']);
      refused(master, dev, ['mkfs', '-k', dev], /--force/);
      const before = readRange(dev, 0, 2 * MiB + LOG_LEN);
      famfsOk(master, ['mkfs', '-f', '-k', dev]);
      const afterKill = readRange(dev, 0, 2 * MiB + LOG_LEN);
      assert.ok(afterKill.subarray(0, 8).every((b) => b === 0));
      assert.ok(afterKill.subarray(8).equals(before.subarray(8)), 'kill changed more than the magic');
      const r = famfs(master, ['ls', '-d', dev]);
      assert.notEqual(r.status, 0);
      assert.match(oneLine(r), /no famfs superblock/);
      famfsOk(master, ['mkfs', dev]); // nothing valid left: no --force needed
    });

    it('a missing device is a clear error', () => {
      const r = famfs(master, ['mkfs', '/dev/shm/famfs-core-does-not-exist.img']);
      assert.notEqual(r.status, 0);
      assert.match(oneLine(r), /no such device or file/);
      assert.equal(fs.existsSync('/dev/shm/famfs-core-does-not-exist.img'), false);
    });
  });

  describe('mkdir, creat, cp, ls, getmap, cat, verify, logplay, clone on one file system', () => {
    let dev: string;
    before(() => {
      dev = newFs(master, 'ns');
    });

    it('mkdir: -p, missing parent, exists, mode/owner', () => {
      famfsOk(master, ['mkdir', '-d', dev, '-p', 'a/b/c']);
      famfsOk(master, ['mkdir', '-d', dev, 'a/b2', '-m', '0700', '-u', '5', '-g', '6']);
      refused(master, dev, ['mkdir', '-d', dev, 'x/y'], /x\/y: parent directory does not exist/);
      refused(master, dev, ['mkdir', '-d', dev, 'a'], /a: already exists/);
      const log = logBytes(dev);
      famfsOk(master, ['mkdir', '-d', dev, '-p', 'a/b/c']);
      famfsOk(master, ['mkdir', '-d', dev, '-p', 'a']);
      assert.ok(logBytes(dev).equals(log), 'mkdir -p of existing directories logs nothing');
      const nodes = json<any[]>(master, ['ls', '-d', dev, '-R', '--json']);
      assert.deepEqual(nodes.map((n) => n.path), ['a', 'a/b', 'a/b/c', 'a/b2']);
      const b2 = nodes.find((n) => n.path === 'a/b2');
      assert.deepEqual([b2.mode, b2.uid, b2.gid, b2.type, b2.map], [0o700, 5, 6, 'dir', null]);
    });

    it('creat: sizes are exact, maps round up to 2 MiB units', () => {
      const sizes: [string, number][] = [['1', 1], ['4096', 4096], ['2m', 2 * MiB], ['2097153', 2 * MiB + 1], ['0x300000', 3 * MiB], ['1g', GiB], ['1K', 1024]];
      for (const [arg, size] of sizes) {
        famfsOk(master, ['creat', '-d', dev, '-s', arg, `a/s${size}`]);
        const m = json(master, ['getmap', '-d', dev, '--json', `a/s${size}`]);
        assert.deepEqual(Object.keys(m), ['path', 'type', 'size', 'mode', 'uid', 'gid', 'map']);
        assert.equal(m.size, size);
        assert.equal(m.type, 'file');
        assert.equal(m.mode, 0o644);
        assert.equal(m.map.kind, 'simple');
        assert.equal(m.map.extents.length, 1);
        assert.equal(m.map.extents[0].length, Math.ceil(size / (2 * MiB)) * 2 * MiB);
        assert.equal(m.map.extents[0].offset % (2 * MiB), 0);
      }
      famfsOk(master, ['creat', '-d', dev, '-s', '10', '-m', '0600', '-u', '1000', '-g', '1001', 'a/owned']);
      const o = json(master, ['getmap', '-d', dev, '--json', 'a/owned']);
      assert.deepEqual([o.mode, o.uid, o.gid], [0o600, 1000, 1001]);
      const long = famfsOk(master, ['ls', '-d', dev, '-n', 'a']).stdout;
      assert.match(long, /^-rw------- 1 1000 1001 +10 owned$/m);
      assert.match(long, /\s1073741824 s1073741824/);
    });

    it('creat -r -S then verify: right seed ok, wrong seed fails; cat matches the stream', () => {
      const size = 3 * MiB + 3;
      const r = famfsOk(master, ['creat', '-d', dev, '-s', String(size), '-r', '-S', '7', 'rand']);
      assert.match(r.stdout, /randomized/);
      assert.match(famfsOk(master, ['verify', '-d', dev, '-S', '7', 'rand']).stdout, /Success/);
      const bad = famfs(master, ['verify', '-d', dev, '-S', '8', 'rand']);
      assert.equal(bad.status, 1);
      assert.match(bad.stdout, /Verify fail: rand at offset 0/);
      const want = Buffer.alloc(size);
      new RandomStream(7).fill(want);
      assert.ok(famfsOk(master, ['cat', '-d', dev, 'rand']).raw.equals(want));
    });

    it('creat -r -S on an existing file of the same size re-randomizes it (restartable, as upstream)', () => {
      const size = 2 * MiB;
      famfsOk(master, ['creat', '-d', dev, '-s', String(size), '-r', '-S', '11', 'rerand']);
      const log = logBytes(dev);
      famfsOk(master, ['creat', '-d', dev, '-s', String(size), '-r', '-S', '12', 'rerand']);
      assert.ok(logBytes(dev).equals(log), 'no second entry');
      assert.match(famfsOk(master, ['verify', '-d', dev, '-S', '12', 'rerand']).stdout, /Success/);
      refused(master, dev, ['creat', '-d', dev, '-s', String(size + 1), 'rerand'], /already exists with size/);
    });

    it('creat interleaved: -N -B -C give strips in distinct buckets; data round-trips', () => {
      famfsOk(master, ['creat', '-d', dev, '-s', '64m', '-N', '2', '-B', '4', '-C', '4m', '-r', '-S', '99', 'il']);
      const m = json(master, ['getmap', '-d', dev, '--json', 'il']);
      assert.equal(m.map.kind, 'interleave');
      assert.equal(m.map.chunkSize, 4 * MiB);
      assert.equal(m.map.strips.length, 2);
      const buckets = m.map.strips.map((s: any) => Math.floor(s.offset / GiB));
      assert.notEqual(buckets[0], buckets[1]);
      for (const s of m.map.strips) assert.equal(s.length, 32 * MiB);
      assert.match(famfsOk(master, ['verify', '-d', dev, '-S', '99', 'il']).stdout, /Success/);
      famfsOk(master, ['creat', '-d', dev, '-s', '20m', '-N', '3', '-B', '4', 'il3']);
      const m3 = json(master, ['getmap', '-d', dev, '--json', 'il3']);
      assert.equal(m3.map.chunkSize, 2 * MiB); // default chunk
      assert.equal(m3.map.strips.length, 3);
      assert.match(famfsOk(master, ['getmap', '-d', dev, 'il3']).stdout, /interleave: 3 strips, chunk size 2097152/);
    });

    it('creat: bad sizes, modes, seeds, interleave parameters and paths are refused cleanly', () => {
      const x80 = 'x'.repeat(80);
      const cases: [string[], RegExp][] = [
        [['-s', '-5', 'f'], /not a size/],
        [['-s', '10x', 'f'], /not a size/],
        [['-s', '', 'f'], /not a size/],
        [['-s', '99999999999999999999', 'f'], /too large|not a size/],
        [['-s', '10', '-m', '999', 'f'], /octal mode/],
        [['-s', '10', '-m', 'rw', 'f'], /octal mode/],
        [['-s', '10', '-u', 'root', 'f'], /numeric id/],
        [['-s', '10', '-r', 'f'], /--seed/],
        [['-s', '10', '-S', '5', 'f'], /--randomize/],
        [['-s', '10', '-r', '-S', '0', 'f'], /seed/],
        [['-s', '64m', '-N', '17', '-B', '32', 'f'], /nstrips/],
        [['-s', '64m', '-N', '0', '-B', '4', 'f'], /nstrips/],
        [['-s', '64m', '-N', '2', '-B', '0', 'f'], /nbuckets/],
        [['-s', '64m', '-N', '2', '-B', '65', 'f'], /nbuckets/],
        [['-s', '64m', '-N', '5', '-B', '4', 'f'], /exceed nbuckets/],
        [['-s', '64m', '-N', '2', '-B', '4', '-C', '3m', 'f'], /chunk size/],
        [['-s', '64m', '-N', '2', '-B', '4', '-C', '1m', 'f'], /chunk size/],
        [['-s', '64m', '-N', '2', '-B', '8', 'f'], /1 GiB/],
        [['-s', '64m', '-N', '2', 'f'], /-B/],
        [['-s', '10', 'a/../f'], /"\.\." is not allowed/],
        [['-s', '10', '..'], /"\.\." is not allowed/],
        [['-s', '10', x80], /longer than 79 bytes/],
        [['-s', '10', `a/${'y'.repeat(78)}`], /longer than 79 bytes/],
        [['-s', '10', 'é'.repeat(40)], /longer than 79 bytes/],
        [['-s', '10', 'nodir/f'], /parent directory does not exist/],
        [['-s', '10', 'rand/f'], /parent is not a directory/],
        [['-s', '10', 'a'], /already exists as a directory/],
        [['-s', '10', '/'], /root/],
        [['f'], /size/],
        [['-s', '10'], /PATH|argument/],
      ];
      for (const [args, re] of cases) refused(master, dev, ['creat', '-d', dev, ...args], re);
      for (const [args, re] of [[[x80], /longer than 79/], [['a/../z'], /"\.\."/], [['rand/d'], /not a directory/]] as [string[], RegExp][]) {
        refused(master, dev, ['mkdir', '-d', dev, ...args], re);
      }
      famfsOk(master, ['creat', '-d', dev, '-s', '1', 'p'.repeat(79)]); // 79 bytes is the limit, inclusive
    });

    it('cp: one file, byte-exact; a same-size re-copy logs nothing', () => {
      const h = hostFile(hostDir, 'single.bin', 3_000_001, 5);
      famfsOk(master, ['cp', '-d', dev, path.join(hostDir, 'single.bin'), 'single']);
      const out = famfsOk(master, ['cat', '-d', dev, 'single']).raw;
      assert.equal(out.length, 3_000_001);
      assert.equal(sha(out), h);
      const log = logBytes(dev);
      famfsOk(master, ['cp', '-d', dev, path.join(hostDir, 'single.bin'), 'single']);
      assert.ok(logBytes(dev).equals(log));
      const m = json(master, ['getmap', '-d', dev, '--json', 'single']);
      assert.equal(m.mode, fs.statSync(path.join(hostDir, 'single.bin')).mode & 0o777);
    });

    it('cp: several files into an existing directory', () => {
      hostFile(hostDir, 'multi/one', 10, 1);
      hostFile(hostDir, 'multi/two', 5 * MiB, 2);
      famfsOk(master, ['mkdir', '-d', dev, 'into']);
      famfsOk(master, ['cp', '-d', dev, path.join(hostDir, 'multi/one'), path.join(hostDir, 'multi/two'), 'into']);
      assert.deepEqual(famfsOk(master, ['ls', '-d', dev, 'into']).stdout.trim().split('\n'), ['one', 'two']);
      assert.ok(famfsOk(master, ['cat', '-d', dev, 'into/two']).raw.equals(fs.readFileSync(path.join(hostDir, 'multi/two'))));
      // a single file into an existing directory keeps its name
      famfsOk(master, ['cp', '-d', dev, path.join(hostDir, 'single.bin'), 'into']);
      assert.equal(json(master, ['getmap', '-d', dev, '--json', 'into/single.bin']).size, 3_000_001);
    });

    it('cp -r: a tree with known sha256 sums', () => {
      const want = new Map<string, string>();
      const files: [string, number][] = [['top.txt', 17], ['d1/a', 4096], ['d1/b', 2 * MiB], ['d1/d2/c', 2 * MiB + 1], ['d1/d2/d3/deep', 123457], ['e/f', 1]];
      files.forEach(([rel, size], i) => want.set(rel, hostFile(hostDir, `tree/${rel}`, size, 100 + i)));
      fs.mkdirSync(path.join(hostDir, 'tree/emptydir'));
      famfsOk(master, ['cp', '-d', dev, '-r', path.join(hostDir, 'tree'), 'copy']);
      const listed = json<any[]>(master, ['ls', '-d', dev, '-R', '--json', 'copy']);
      const filesListed = listed.filter((n) => n.type === 'file').map((n) => n.path).sort();
      assert.deepEqual(filesListed, [...want.keys()].map((k) => `copy/${k}`).sort());
      assert.deepEqual(listed.filter((n) => n.type === 'dir').map((n) => n.path).sort(), ['copy/d1', 'copy/d1/d2', 'copy/d1/d2/d3', 'copy/e', 'copy/emptydir']);
      for (const [rel, h] of want) assert.equal(sha(famfsOk(master, ['cat', '-d', dev, `copy/${rel}`]).raw), h, rel);
      // into an existing directory: lands in copy/tree
      famfsOk(master, ['cp', '-d', dev, '-r', path.join(hostDir, 'tree'), 'copy']);
      assert.equal(sha(famfsOk(master, ['cat', '-d', dev, 'copy/tree/d1/d2/d3/deep']).raw), want.get('d1/d2/d3/deep'));
    });

    it('cp: destination rules', () => {
      const one = path.join(hostDir, 'multi/one');
      const two = path.join(hostDir, 'multi/two');
      refused(master, dev, ['cp', '-d', dev, one, two, 'nodir'], /nodir: no such directory/);
      refused(master, dev, ['cp', '-d', dev, one, two, 'single'], /single: not a directory/);
      refused(master, dev, ['cp', '-d', dev, '-r', path.join(hostDir, 'tree'), 'single'], /not a directory/);
      refused(master, dev, ['cp', '-d', dev, path.join(hostDir, 'tree'), 'newtree'], /is a directory \(use -r\)/);
      refused(master, dev, ['cp', '-d', dev, path.join(hostDir, 'nope'), 'x'], /no such file or directory/);
      refused(master, dev, ['cp', '-d', dev, one], /source and a destination/);
      refused(master, dev, ['cp', '-d', dev, two, 'single'], /already exists with size/);
      refused(master, dev, ['cp', '-d', dev, one, 'a/../x'], /"\.\."/);
    });

    it('cp: messages name the verb once', () => {
      const r = famfs(master, ['cp', '-d', dev, path.join(hostDir, 'multi/one'), path.join(hostDir, 'multi/two'), 'nodir']);
      assert.doesNotMatch(oneLine(r), /cp: cp:/);
    });

    it('ls, ls --json and getmap --json agree on the shape {path,type,size,mode,uid,gid,map}', () => {
      const top = json<any[]>(master, ['ls', '-d', dev, '--json']);
      for (const n of top) assert.deepEqual(Object.keys(n), ['path', 'type', 'size', 'mode', 'uid', 'gid', 'map']);
      assert.deepEqual(top.map((n) => n.path), [...top.map((n) => n.path)].sort());
      const f = json<any[]>(master, ['ls', '-d', dev, '--json', 'single']);
      assert.deepEqual(f, [json(master, ['getmap', '-d', dev, '--json', 'single'])]);
      assert.deepEqual(famfsOk(master, ['ls', '-d', dev]).stdout.trim().split('\n'), top.map((n) => n.path));
      refused(master, dev, ['ls', '-d', dev, 'nothere'], /no such file or directory/);
      refused(master, dev, ['getmap', '-d', dev, 'a'], /is a directory/);
      refused(master, dev, ['cat', '-d', dev, 'a'], /is a directory/);
    });

    it('logplay --json reports every entry; the library sees the same tree', () => {
      const lp = json(master, ['logplay', '-d', dev, '--json']);
      assert.equal(lp.role, 'master');
      assert.deepEqual(lp.problems, []);
      assert.equal(lp.badEntries, 0);
      assert.equal(lp.rejected, 0);
      const all = json<any[]>(master, ['ls', '-d', dev, '-R', '--json']);
      assert.deepEqual(lp.nodes, all);
      assert.equal(lp.files, all.filter((n) => n.type === 'file').length);
      assert.equal(lp.dirs, all.filter((n) => n.type === 'dir').length);
      assert.equal(lp.entries, lp.files + lp.dirs);
      const h = decodeLogHeader(logBytes(dev));
      assert.equal(lp.entries, h.nextIndex);
      const f = asHost(master, () => Famfs.open(dev));
      try {
        assert.equal(f.stats.files, lp.files);
      } finally {
        f.close();
      }
      assert.match(famfsOk(master, ['logplay', '-d', dev]).stdout, new RegExp(`${lp.entries} log entries; ${lp.files} files`));
      assert.equal(json(client, ['logplay', '-d', dev, '--json']).role, 'client');
    });

    it('fsck is clean; clone makes fsck fail with ALLOCATION COLLISIONS', () => {
      assert.match(famfsOk(master, ['fsck', '-d', dev]).stdout, /No allocation errors found/);
      famfsOk(master, ['clone', '-d', dev, 'single', 'single-clone']);
      assert.ok(famfsOk(master, ['cat', '-d', dev, 'single-clone']).raw.equals(famfsOk(master, ['cat', '-d', dev, 'single']).raw));
      const r = famfs(master, ['fsck', '-d', dev]);
      assert.notEqual(r.status, 0);
      assert.match(r.stdout, /ALLOCATION COLLISIONS/);
      const j = famfs(master, ['fsck', '-d', dev, '--json']);
      assert.notEqual(j.status, 0);
      assert.equal(JSON.parse(j.stdout).collisions, 2); // 3,000,001 bytes = 2 units
      refused(master, dev, ['clone', '-d', dev, 'nothere', 'x'], /no such file/);
      refused(master, dev, ['clone', '-d', dev, 'single', 'single-clone'], /already exists/);
    });
  });
});
