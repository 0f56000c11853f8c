/**
 * `famfs cat` into a non-blocking stdout that nobody drains waits for room (poll) instead of
 * retrying the write at once: its CPU time stays flat while the pipe is full, and every byte
 * arrives once the reader starts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { FAMFS_BIN, famfsOk, formattedHost, MiB, REPO } from './helpers.js';
import { ioctlU32, pipe } from '../../src/sys/libc.js';

const O_NONBLOCK = 0o4000;
const FIONREAD = 0x541b;
const TICK_MS = 10; // USER_HZ is 100 on Linux

/** utime + stime of pid in ms (fields 14 and 15 of /proc/PID/stat). */
function cpuMs(pid: number): number {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('famfs cat into a full non-blocking pipe', () => {
  const data = randomBytes(8 * MiB);
  const fx = formattedHost('catpipe', {
    populate: (dev, host) => {
      const src = path.join(host.dir, 'src.bin');
      fs.writeFileSync(src, data);
      famfsOk(host, ['cp', '-d', dev, src, 'big']);
    },
  });

  test('waits without spinning, then delivers every byte', { timeout: 120_000 }, async (t) => {
    const [rfd, wfd] = pipe(O_NONBLOCK); // O_NONBLOCK on the open pipe: the child's stdout is non-blocking too
    const child = spawn(process.execPath, [FAMFS_BIN, 'cat', '-d', fx.dev, 'big'], { env: fx.host.env, cwd: REPO, stdio: ['ignore', wfd, 'pipe'] });
    fs.closeSync(wfd);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      // Wait until the pipe is full (the child started and ran into EAGAIN).
      const cap = 64 * 1024;
      const t0 = Date.now();
      while (ioctlU32(rfd, FIONREAD, 0) < cap) {
        assert.ok(Date.now() - t0 < 60_000, `the pipe never filled (${ioctlU32(rfd, FIONREAD, 0)} bytes); stderr: ${stderr}`);
        await sleep(20);
      }
      await sleep(100); // let it reach its wait
      const before = cpuMs(child.pid!);
      await sleep(1000); // nobody reads
      const used = cpuMs(child.pid!) - before;
      t.diagnostic(`CPU while stdout was full for 1 s: ${used} ms`);
      assert.equal(child.exitCode, null, 'still waiting to write');
      // A retry loop burns about the whole second (or whatever share of a loaded CPU it gets).
      assert.ok(used <= 100, `famfs cat used ${used} ms of CPU in 1 s while its stdout was full`);
    } finally {
      // Drain: every byte, in order.
      const got: Buffer[] = [];
      const sock = new net.Socket({ fd: rfd, readable: true, writable: false });
      sock.on('data', (d: Buffer) => got.push(d));
      await new Promise<void>((r) => sock.on('close', () => r()));
      const code = await exited;
      assert.equal(code, 0, stderr);
      assert.ok(Buffer.concat(got).equals(data), 'cat delivered the file exactly');
    }
  });
});
