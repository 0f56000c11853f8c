/**
 * Real kernel tests: mount the in-memory hello file system (hellofs.ts) through
 * FuseServer with several workers and exercise it with ordinary fs calls.
 * Needs root and /dev/fuse; skipped loudly otherwise. Every mount is undone in
 * after() hooks (lazily if a plain unmount fails).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { FuseServer, findFuseMounts, fuseAvailable, initFlagNames, InitFlag, type WorkerExit } from '../../src/fuse/index.js';
import { BIG_SIZE, SCRATCH_MAX, STATS_INTS, Stat, makePattern } from './hellofs.js';
import { announceUringSkip, uringSkipReason, withUringEnabled } from './uring-param.js';

const canMount = fuseAvailable() && process.getuid?.() === 0;
if (!canMount) {
  console.error('\n!!!!!!!!!! SKIPPING REAL FUSE MOUNT TESTS: /dev/fuse missing or not running as root !!!!!!!!!!\n');
}
const skip = canMount ? false : '/dev/fuse not available (or not root)';
const HELLO = new URL('./hellofs.js', import.meta.url);
const uringSkip = canMount ? uringSkipReason() : '';
announceUringSkip(uringSkip);

function hasPython(): boolean {
  try {
    execFileSync('python3', ['-c', 'import os; os.getxattr'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Unmount for cleanup: plain first, lazy if that fails; never throws. */
async function cleanup(server: FuseServer | undefined, mp: string): Promise<void> {
  if (server) {
    await Promise.race([
      server.unmount().catch(() => server.unmount({ lazy: true })),
      new Promise((r) => setTimeout(r, 5000).unref()),
    ]).catch(() => undefined);
  }
  if (findFuseMounts({ mountpoint: mp }).length) {
    try {
      execFileSync('umount', ['-l', mp]);
    } catch {
      /* best effort */
    }
  }
  fs.rmSync(mp, { recursive: true, force: true });
}

for (const transport of ['dev', 'uring'] as const) {
describe(`hellofs on a real FUSE mount (3 workers, ${transport === 'dev' ? '/dev/fuse' : 'io_uring'})`, { skip: skip || (transport === 'uring' && uringSkip ? uringSkip : false) }, () => {
  let mp = '';
  let server: FuseServer | undefined;
  const stats = new SharedArrayBuffer(STATS_INTS * 4);
  const scratch = new SharedArrayBuffer(SCRATCH_MAX);
  const st = new Int32Array(stats);
  const big = makePattern(BIG_SIZE);
  let exits: WorkerExit[] | null = null;

  before(async () => {
    mp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuse-hello-'));
    server = new FuseServer({
      mountpoint: mp,
      handlerModule: HELLO,
      handlerData: { stats, scratch },
      workers: 3,
      source: 'hellotest',
      subtype: 'hellotest',
      debug: !!process.env.FUSE_DEBUG,
      transport,
    });
    if (transport === 'uring') await withUringEnabled(() => server!.start());
    else await server.start();
    assert.equal(server.transport, transport);
  });

  after(async () => {
    await cleanup(server, mp);
  });

  test('INIT negotiated with the kernel', () => {
    const c = server!.conn!;
    assert.ok(c, 'start() resolves with the connection');
    assert.equal(c.major, 7);
    assert.ok(c.minor >= 36, `minor ${c.minor}`);
    assert.equal(c.maxWrite, 1 << 20);
    assert.ok(c.flags & InitFlag.MAX_PAGES);
    assert.ok(c.flags & InitFlag.DO_READDIRPLUS);
    assert.equal(c.flags & ~c.kernelFlags, 0n, 'never claims a flag the kernel did not offer');
    console.log(`# kernel ${c.kernelMajor}.${c.kernelMinor} offered: ${initFlagNames(c.kernelFlags).join(' ')}`);
    console.log(`# agreed 7.${c.minor}: ${initFlagNames(c.flags).join(' ')} max_write=${c.maxWrite} max_pages=${c.maxPages} max_readahead=${c.maxReadahead}`);
    const m = findFuseMounts({ mountpoint: mp });
    assert.equal(m.length, 1);
    assert.equal(m[0]!.fstype, 'fuse.hellotest');
    assert.equal(m[0]!.source, 'hellotest');
    assert.match(m[0]!.mountOptions, /nosuid/);
  });

  test('readdir and stat', () => {
    assert.deepEqual(fs.readdirSync(mp).sort(), ['big.bin', 'boom', 'direct.bin', 'hello.txt', 'scratch.bin', 'sub']);
    const types = Object.fromEntries(fs.readdirSync(mp, { withFileTypes: true }).map((d) => [d.name, d.isDirectory()]));
    assert.equal(types['sub'], true);
    assert.equal(types['hello.txt'], false);
    assert.deepEqual(fs.readdirSync(path.join(mp, 'sub')), ['nested.txt']);
    const s = fs.statSync(path.join(mp, 'hello.txt'));
    assert.equal(s.size, 14);
    assert.equal(s.mode, 0o100644);
    assert.equal(s.ino, 2);
    assert.equal(s.nlink, 1);
    assert.equal(s.mtimeMs, Date.UTC(2024, 0, 2, 3, 4, 5) + 0.678);
    assert.equal(fs.statSync(path.join(mp, 'big.bin')).size, BIG_SIZE);
    assert.ok(fs.statSync(path.join(mp, 'sub')).isDirectory());
    assert.equal(fs.statSync(mp).ino, 1);
  });

  test('readFile: small file, nested file, multi-MiB files (cached and direct I/O)', () => {
    assert.equal(fs.readFileSync(path.join(mp, 'hello.txt'), 'utf8'), 'Hello, world!\n');
    assert.equal(fs.readFileSync(path.join(mp, 'sub', 'nested.txt'), 'utf8'), 'nested\n');
    assert.ok(fs.readFileSync(path.join(mp, 'big.bin')).equals(big));
    assert.ok(fs.readFileSync(path.join(mp, 'direct.bin')).equals(big));
  });

  test('reads at odd offsets, across page and MiB boundaries, and at EOF', () => {
    for (const name of ['big.bin', 'direct.bin']) {
      const fd = fs.openSync(path.join(mp, name), 'r');
      try {
        const cases: [number, number][] = [
          [1, 10],
          [4095, 2],
          [4097, 8191],
          [(1 << 20) - 3, 7],
          [(1 << 20) + 12345, 1 << 20],
          [2 * (1 << 20) - 1, 1_500_000],
          [BIG_SIZE - 3, 100],
          [BIG_SIZE, 10],
          [BIG_SIZE + 4096, 10],
        ];
        for (const [pos, len] of cases) {
          const b = Buffer.alloc(len);
          const n = fs.readSync(fd, b, 0, len, pos);
          const want = Math.max(0, Math.min(len, BIG_SIZE - pos));
          assert.equal(n, want, `${name} @${pos}+${len}`);
          assert.ok(b.subarray(0, n).equals(big.subarray(pos, pos + n)), `${name} @${pos}+${len} content`);
        }
      } finally {
        fs.closeSync(fd);
      }
    }
  });

  test('errors: ENOENT, ENOSYS for an unimplemented op, EPERM from the handler, EIO from a throwing handler', () => {
    assert.throws(() => fs.statSync(path.join(mp, 'nope')), { code: 'ENOENT' });
    assert.throws(() => fs.readFileSync(path.join(mp, 'sub', 'nope')), { code: 'ENOENT' });
    assert.throws(() => fs.mkdirSync(path.join(mp, 'newdir')), { code: 'ENOSYS' });
    assert.throws(() => fs.rmdirSync(path.join(mp, 'sub')), { code: 'EPERM' });
    assert.throws(() => fs.readFileSync(path.join(mp, 'boom')), { code: 'EIO' });
    // still serving afterwards
    assert.equal(fs.readFileSync(path.join(mp, 'hello.txt'), 'utf8'), 'Hello, world!\n');
  });

  test('xattrs (through python3 os.getxattr/listxattr)', { skip: !hasPython() && 'python3 not available' }, () => {
    const py = (code: string) => execFileSync('python3', ['-c', code, mp], { encoding: 'utf8' }).trim();
    assert.equal(py('import os,sys; print(os.getxattr(sys.argv[1] + "/hello.txt", "user.greeting").decode())'), 'hi');
    assert.equal(py('import os,sys; print(",".join(os.listxattr(sys.argv[1] + "/hello.txt")))'), 'user.greeting');
    assert.equal(
      py('import os,sys\ntry:\n  os.getxattr(sys.argv[1] + "/hello.txt", "user.none")\nexcept OSError as e:\n  print(e.errno)'),
      String(os.constants.errno.ENODATA),
    );
  });

  test('writes: 1 MiB WRITE payloads decoded from the shared read buffer, truncate, read back', () => {
    const f = path.join(mp, 'scratch.bin');
    const data = big.subarray(7, 7 + 2 * 1024 * 1024 + 4321);
    fs.writeFileSync(f, data); // O_TRUNC → SETATTR size 0, then WRITEs
    assert.equal(fs.statSync(f).size, data.length);
    assert.ok(fs.readFileSync(f).equals(data));
    const fd = fs.openSync(f, 'r+');
    try {
      assert.equal(fs.writeSync(fd, Buffer.from('XYZ'), 0, 3, 4097), 3);
      fs.ftruncateSync(fd, 5000);
    } finally {
      fs.closeSync(fd);
    }
    const back = fs.readFileSync(f);
    assert.equal(back.length, 5000);
    assert.equal(back.toString('latin1', 4097, 4100), 'XYZ');
    assert.ok(back.subarray(0, 4097).equals(data.subarray(0, 4097)));
    assert.throws(() => fs.writeFileSync(path.join(mp, 'hello.txt'), 'no'), { code: 'EACCES' });
    console.log(`# WRITE: ${st[Stat.WRITES]} requests, largest ${st[Stat.MAX_WRITE_SEEN]} B`);
    assert.equal(st[Stat.MAX_WRITE_SEEN], 1 << 20);
  });

  test('statfs', () => {
    const s = fs.statfsSync(mp);
    assert.equal(s.bsize, 4096);
    assert.equal(s.blocks, 1000);
    assert.equal(s.bfree, 100);
    assert.equal(s.bavail, 50);
    assert.equal(s.files, 10);
    assert.equal(s.ffree, 3);
  });

  test('concurrent requests are spread over several workers', async () => {
    const reads = [];
    for (let i = 0; i < 64; i++) {
      reads.push(fs.promises.readFile(path.join(mp, i % 2 ? 'hello.txt' : 'direct.bin')));
      reads.push(fs.promises.stat(path.join(mp, 'sub', 'nested.txt')));
    }
    await Promise.all(reads);
    const perThread = Array.from(st.subarray(Stat.PER_THREAD, Stat.PER_THREAD + 16)).filter((n) => n > 0);
    assert.ok(perThread.length >= 2, `requests per worker: ${perThread}`);
    console.log(`# requests per worker: ${perThread.join(', ')}; handler.init calls: ${st[Stat.INITS]}`);
  });

  test('notifications from the main thread', () => {
    fs.statSync(path.join(mp, 'hello.txt')); // make sure the dentry and inode are cached
    assert.equal(server!.notifyInvalInode(2, 0, 0), true);
    assert.equal(server!.notifyInvalInode(2, -1, 0), true);
    assert.equal(server!.notifyInvalEntry(1, 'hello.txt'), true);
    assert.equal(server!.notifyInvalEntry(1, 'not-cached-name'), false);
    if (server!.conn!.minor >= 44) assert.equal(server!.notifyIncEpoch(), true);
    assert.equal(fs.readFileSync(path.join(mp, 'hello.txt'), 'utf8'), 'Hello, world!\n');
  });

  test('read sizes seen by the handler', () => {
    console.log(
      `# READ sizes: page cache ${st[Stat.READS_CACHED]} reads, max ${st[Stat.MAX_READ_CACHED]} B; ` +
        `FOPEN_DIRECT_IO ${st[Stat.READS_DIRECT]} reads, max ${st[Stat.MAX_READ_DIRECT]} B, min ${st[Stat.MIN_READ_DIRECT]} B; ` +
        `READDIRPLUS ${st[Stat.READDIRPLUS]}, READDIR ${st[Stat.READDIR]}`,
    );
    assert.ok(st[Stat.MAX_READ_DIRECT]! >= 1 << 20, 'direct I/O reads come in max_write-sized chunks');
    assert.ok(st[Stat.MAX_READ_CACHED]! > 0);
  });

  test('requests really travelled over the chosen transport', () => {
    const t = server!.transportStats();
    if (transport === 'dev') {
      assert.equal(t, null);
      return;
    }
    console.log(`# io_uring: ${t!.ringRequests} requests over the ring, ${t!.devRequests} over /dev/fuse`);
    assert.ok(t!.ringRequests > 100, `ring requests: ${t!.ringRequests}`);
  });

  test('unmount: every worker sees ENODEV and exits cleanly; the mount is gone', async () => {
    exits = await server!.unmount();
    assert.equal(exits.length, 3);
    for (const e of exits) {
      assert.equal(e.reason, 'unmounted', JSON.stringify(e));
      assert.equal(e.exitCode, 0);
    }
    assert.equal(findFuseMounts({ mountpoint: mp }).length, 0);
    assert.ok(!fs.readFileSync('/proc/mounts', 'utf8').includes(mp));
    assert.equal(server!.masterFd, -1);
    const forgets = st[Stat.FORGETS]!;
    console.log(`# FORGETs received before/at unmount: ${forgets}`);
  });
});

}

describe('FuseServer failure paths', { skip }, () => {
  test('a handler module without createHandler: start() rejects and nothing stays mounted', async () => {
    const mp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuse-bad-'));
    const server = new FuseServer({ mountpoint: mp, handlerModule: new URL('./wire.js', import.meta.url), workers: 2, log: () => undefined });
    try {
      await assert.rejects(server.start(), /createHandler/);
      const exits = await server.closed;
      assert.equal(exits.length, 2);
      assert.ok(exits.every((e) => e.reason === 'error'));
      assert.equal(findFuseMounts({ mountpoint: mp }).length, 0);
    } finally {
      await cleanup(server, mp);
    }
  });

  test('mount point checks give clear errors', async () => {
    const mp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuse-mp-'));
    try {
      fs.writeFileSync(path.join(mp, 'f'), 'x');
      await assert.rejects(new FuseServer({ mountpoint: mp, handlerModule: HELLO }).start(), /not empty/);
      await assert.rejects(new FuseServer({ mountpoint: path.join(mp, 'f'), handlerModule: HELLO }).start(), /not a directory/);
      await assert.rejects(new FuseServer({ mountpoint: path.join(mp, 'missing'), handlerModule: HELLO }).start(), /does not exist/);
    } finally {
      fs.rmSync(mp, { recursive: true, force: true });
    }
  });

  test('single worker; external umount ends the server', async () => {
    const mp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuse-one-'));
    const stats = new SharedArrayBuffer(STATS_INTS * 4);
    const server = new FuseServer({ mountpoint: mp, handlerModule: HELLO, handlerData: { stats }, workers: 0 });
    try {
      await server.start();
      assert.equal(fs.readFileSync(path.join(mp, 'hello.txt'), 'utf8'), 'Hello, world!\n');
      execFileSync('umount', [mp]);
      const exits = await server.closed;
      assert.deepEqual(
        exits.map((e) => e.reason),
        ['unmounted'],
      );
      assert.equal(new Int32Array(stats)[Stat.INITS], 1);
    } finally {
      await cleanup(server, mp);
    }
  });
});
