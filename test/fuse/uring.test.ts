/**
 * FUSE over io_uring: the entry framing (pure), the raw ring, and the real
 * kernel paths the mount suite does not cover: clear refusals, auto fallback,
 * and a daemon killed while its rings are registered.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { FuseServer, findFuseMounts, fuseAvailable } from '../../src/fuse/index.js';
import { IoUring, closeFd, createEventFd } from '../../src/sys/uring.js';
import { ENABLE_URING_PARAM, possibleCpus } from '../../src/fuse/uring.js';
import {
  PAYLOAD_SZ_OFFSET,
  RING_HEADER_SIZE,
  messageToRing,
  messageToRingRequest,
  payloadSizeFromInitOut,
  ringReplyToMessage,
  ringRequestToMessage,
} from '../../src/fuse/uring-frame.js';
import { STATS_INTS } from './hellofs.js';
import { announceUringSkip, uringSkipReason, withUringEnabled } from './uring-param.js';

function request(opcode: number, unique: bigint, args: Buffer): Buffer {
  const b = Buffer.alloc(40 + args.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt32LE(opcode, 4);
  b.writeBigUInt64LE(unique, 8);
  b.writeBigUInt64LE(1n, 16);
  args.copy(b, 40);
  return b;
}

describe('ring entry framing', () => {
  const header = Buffer.alloc(RING_HEADER_SIZE);
  const payload = Buffer.alloc(8192);
  const out = Buffer.alloc(70000);

  test('a request split over in_out / op_in / payload comes back byte for byte', () => {
    const write = request(16, 7n, Buffer.concat([Buffer.alloc(40, 0xab), Buffer.alloc(5000, 0xcd)]));
    const lookup = request(1, 8n, Buffer.from('nofile0\0'));
    for (const [msg, arg0] of [[write, 40], [lookup, 0], [request(3, 9n, Buffer.alloc(16, 1)), 16]] as const) {
      messageToRingRequest(msg, msg.length, arg0, header, payload, 1234n);
      assert.equal(header.readUInt32LE(PAYLOAD_SZ_OFFSET), msg.length - 40 - arg0);
      const n = ringRequestToMessage(header, payload, out);
      assert.equal(n, msg.length);
      assert.ok(out.subarray(0, msg.length).equals(msg));
    }
  });

  test('inconsistent entries are refused with a reason, never read out of bounds', () => {
    const msg = request(1, 8n, Buffer.from('abc\0'));
    messageToRingRequest(msg, msg.length, 0, header, payload, 1n);
    header.writeUInt32LE(20, 0); // len < in_header
    assert.match(String(ringRequestToMessage(header, payload, out)), /does not match/);
    header.writeUInt32LE(40 + 4 + 129, 0); // arg 0 would exceed op_in
    assert.match(String(ringRequestToMessage(header, payload, out)), /does not match/);
    header.writeUInt32LE(44, 0);
    header.writeUInt32LE(payload.length + 1, PAYLOAD_SZ_OFFSET);
    assert.match(String(ringRequestToMessage(header, payload, out)), /exceeds the 8192-byte payload/);
    header.writeUInt32LE(8000 + 40, 0);
    header.writeUInt32LE(8000, PAYLOAD_SZ_OFFSET);
    assert.match(String(ringRequestToMessage(header, payload, Buffer.alloc(100))), /exceeds the 100-byte read buffer/);
  });

  test('replies: header copied, payload_sz counts the payload only; errors and oversized replies carry none', () => {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(16 + 104, 0);
    h.writeBigUInt64LE(77n, 8);
    assert.equal(messageToRing([h, Buffer.alloc(100, 1), Buffer.alloc(4, 2)], header, payload), 104);
    const back = ringReplyToMessage(header, payload);
    assert.equal(back.length, 120);
    assert.equal(back.readBigUInt64LE(8), 77n);
    assert.equal(back[16 + 103], 2);
    const e = Buffer.alloc(16);
    e.writeUInt32LE(16, 0);
    e.writeInt32LE(-2, 4);
    assert.equal(messageToRing([e], header, payload), 0);
    assert.equal(header.readInt32LE(4), -2);
    assert.equal(messageToRing([h, Buffer.alloc(payload.length + 1)], header, payload), 0);
    assert.equal(header.readInt32LE(4), -5, 'a reply larger than the entry becomes EIO');
    assert.equal(header.readUInt32LE(PAYLOAD_SZ_OFFSET), 0);
  });

  test('payload size = max(8192, max_write, max_pages × 4 KiB), 32 pages without MAX_PAGES', () => {
    const init = Buffer.alloc(64);
    init.writeUInt32LE(1 << 22, 12);
    init.writeUInt32LE(1 << 20, 20);
    init.writeUInt16LE(256, 28);
    assert.equal(payloadSizeFromInitOut(init), 1 << 20);
    init.writeUInt16LE(512, 28);
    assert.equal(payloadSizeFromInitOut(init), 2 << 20);
    init.writeUInt32LE(0, 12);
    init.writeUInt32LE(4096, 20);
    assert.equal(payloadSizeFromInitOut(init), 128 << 10);
  });

  test('possible CPUs: ranges and lists', () => {
    assert.equal(possibleCpus('0\n'), 1);
    assert.equal(possibleCpus('0-1\n'), 2);
    assert.equal(possibleCpus('0-3,8-11'), 8);
    assert.ok(possibleCpus() >= os.cpus().length);
  });

  test('raw io_uring: 128-byte SQEs, a POLL_ADD on an eventfd completes with POLLIN', () => {
    const r = new IoUring(4, { cqEntries: 8 });
    const efd = createEventFd();
    try {
      assert.equal(r.sqes.length, 128 * r.sqEntries);
      r.pollIn(efd, 42);
      assert.equal(r.enter(0), 0);
      assert.equal(r.reap(), null);
      const one = Buffer.alloc(8);
      one.writeBigUInt64LE(1n);
      fs.writeSync(efd, one);
      r.enter(1);
      assert.deepEqual(r.reap(), { tag: 42, res: 1, flags: 0 });
    } finally {
      r.close();
      closeFd(efd);
    }
  });
});

const canMount = fuseAvailable() && process.getuid?.() === 0;
const uringSkip = canMount ? uringSkipReason() : '/dev/fuse not available (or not root)';
announceUringSkip(uringSkip);
const HELLO = new URL('./hellofs.js', import.meta.url);

/** Run fn with enable_uring forced to N (restored after). */
async function withUringDisabled<T>(fn: () => Promise<T>): Promise<T> {
  const before = fs.readFileSync(ENABLE_URING_PARAM, 'utf8').trim();
  if (before !== 'N') fs.writeFileSync(ENABLE_URING_PARAM, 'N');
  try {
    return await fn();
  } finally {
    if (before !== 'N') fs.writeFileSync(ENABLE_URING_PARAM, before);
  }
}

function lazyUnmount(mp: string): void {
  if (findFuseMounts({ mountpoint: mp }).length) spawnSync('umount', ['-l', mp]);
}

describe('io_uring transport on a real kernel', { skip: uringSkip || false }, () => {
  const dirs: string[] = [];
  const mkdir = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'fuse-uring-'));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) {
      lazyUnmount(d);
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  test('--transport uring with enable_uring off: one clear error, nothing mounted; auto falls back to /dev/fuse', async () => {
    const mp = mkdir();
    await withUringDisabled(async () => {
      const s = new FuseServer({ mountpoint: mp, handlerModule: HELLO, handlerData: { stats: new SharedArrayBuffer(STATS_INTS * 4) }, transport: 'uring' });
      await assert.rejects(s.start(), /--transport uring: FUSE over io_uring is disabled \(\/sys\/module\/fuse\/parameters\/enable_uring = N\); as root: echo Y/);
      assert.deepEqual(await s.closed, []);
      assert.equal(findFuseMounts({ mountpoint: mp }).length, 0);
      const a = new FuseServer({ mountpoint: mp, handlerModule: HELLO, handlerData: { stats: new SharedArrayBuffer(STATS_INTS * 4) }, transport: 'auto' });
      await a.start();
      try {
        assert.equal(a.transport, 'dev');
        assert.equal(a.transportStats(), null);
        assert.equal(fs.readFileSync(path.join(mp, 'hello.txt'), 'utf8'), 'Hello, world!\n');
      } finally {
        await a.unmount();
      }
    });
    await assert.rejects(new FuseServer({ mountpoint: mp, handlerModule: HELLO, transport: 'ring' as 'uring' }).start(), /unknown FUSE transport "ring"/);
  });

  test('auto with enable_uring on serves over the ring; one worker', async () => {
    const mp = mkdir();
    const s = new FuseServer({ mountpoint: mp, handlerModule: HELLO, handlerData: { stats: new SharedArrayBuffer(STATS_INTS * 4) }, transport: 'auto', workers: 1 });
    await withUringEnabled(() => s.start());
    try {
      assert.equal(s.transport, 'uring');
      for (let i = 0; i < 50; i++) assert.equal(fs.readFileSync(path.join(mp, 'sub', 'nested.txt')).length > 0, true);
      assert.ok(s.transportStats()!.ringRequests >= 50);
    } finally {
      const exits = await s.unmount();
      assert.deepEqual(exits.map((e) => e.reason), ['unmounted']);
    }
  });

  test('abort through fusectl ends every io_uring worker (ENODEV, as on /dev/fuse) and the server detaches the mount', async () => {
    const mp = mkdir();
    // fusectl may not be mounted here; mount it for this test only (and put it back).
    const ctl = '/sys/fs/fuse/connections';
    const mountedCtl = !fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${ctl} `) && spawnSync('mount', ['-t', 'fusectl', 'none', ctl]).status === 0;
    const s = new FuseServer({ mountpoint: mp, handlerModule: HELLO, handlerData: { stats: new SharedArrayBuffer(STATS_INTS * 4) }, transport: 'uring', workers: 2 });
    await withUringEnabled(() => s.start());
    try {
      assert.equal(fs.readFileSync(path.join(mp, 'hello.txt'), 'utf8'), 'Hello, world!\n');
      assert.equal(s.abort(), true);
      const exits = await Promise.race([s.closed, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('workers did not exit after abort')), 15_000))]);
      // Without FUSE_ABORT_ERROR negotiated, an aborted connection reads as ENODEV.
      assert.deepEqual(exits.map((e) => e.reason), ['unmounted', 'unmounted']);
      assert.ok(exits.every((e) => e.exitCode === 0));
      assert.equal(findFuseMounts({ mountpoint: mp }).length, 0);
      const r = spawnSync('stat', [mp], { timeout: 15_000 });
      assert.equal(r.status, 0, 'the mount point answers again');
    } finally {
      lazyUnmount(mp);
      if (mountedCtl) spawnSync('umount', [ctl]);
    }
  });

  test('daemon killed (SIGKILL) with rings registered: callers get ENOTCONN, nothing hangs, unmount is clean', async () => {
    const mp = mkdir();
    const child = spawn(process.execPath, [new URL('./uring-child.js', import.meta.url).pathname, mp], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await withUringEnabled(
        () =>
          new Promise<void>((resolve, reject) => {
            let out = '';
            const t = setTimeout(() => reject(new Error(`child not ready: ${out}`)), 20_000);
            child.stdout!.on('data', (d: Buffer) => {
              out += d.toString();
              if (out.includes('\n')) {
                clearTimeout(t);
                if (out.startsWith('ready uring')) resolve();
                else reject(new Error(`child said: ${out}`));
              }
            });
            child.on('exit', (code) => reject(new Error(`child exited ${code}: ${out}`)));
          }),
      );
      assert.equal(fs.readFileSync(path.join(mp, 'hello.txt'), 'utf8'), 'Hello, world!\n');
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      // In a child with a deadline, so a hang fails the test instead of wedging it.
      const r = spawnSync('stat', [path.join(mp, 'sub')], { timeout: 15_000, encoding: 'utf8' });
      assert.notEqual(r.error?.message.includes('ETIMEDOUT'), true, 'stat hung after the daemon died');
      assert.notEqual(r.status, 0);
      // ENOTCONN once the connection is gone; ECONNABORTED if the request was already queued when it went;
      // ECANCELED if it was already on a ring entry the dying daemon had fetched (the ring's teardown cancels it).
      assert.match(r.stderr, /Transport endpoint is not connected|Software caused connection abort|Operation canceled/);
      execFileSync('umount', [mp]);
      assert.equal(findFuseMounts({ mountpoint: mp }).length, 0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
