/**
 * What the CLI end-to-end tests share: a refused command must exit non-zero with one clear
 * stderr line and leave the log and superblock byte-for-byte unchanged.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOG_OFFSET } from '../../src/format/constants.js';
import { RandomStream } from '../../src/format/prng.js';
import { famfs, famfsOk, makeHost, MiB, readRange, removeAllShm, removeHost, shmPath, type CliResult, type Host } from './helpers.js';

/** The log length mkfs gives a 4 GiB device by default. */
export const LOG_LEN = 8 * MiB;

export const logBytes = (dev: string): Buffer => readRange(dev, LOG_OFFSET, LOG_LEN);
export const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The one stderr line of a command (asserted: exactly one, and not a terse one). */
export function oneLine(r: CliResult): string {
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one stderr line, got:\n${r.stderr}`);
  assert.ok(lines[0]!.length > 8, `stderr too terse: ${JSON.stringify(r.stderr)}`);
  return lines[0]!;
}

/** Run a command that must fail: exit ≠ 0, one stderr line matching `re`, log (and superblock) unchanged. */
export function refused(host: Host, dev: string, args: string[], re: RegExp): string {
  const log = logBytes(dev);
  const sb = readRange(dev, 0, 4096);
  const r = famfs(host, args);
  assert.notEqual(r.status, 0, `famfs ${args.join(' ')} should fail\n${r.stdout}`);
  const line = oneLine(r);
  assert.match(line, re, `famfs ${args.join(' ')}`);
  assert.ok(logBytes(dev).equals(log), `famfs ${args.join(' ')} changed the log`);
  assert.ok(readRange(dev, 0, 4096).equals(sb), `famfs ${args.join(' ')} changed the superblock`);
  return line;
}

export function json<T = any>(host: Host, args: string[]): T {
  return JSON.parse(famfsOk(host, args).stdout) as T;
}

/** A fresh 4 GiB famfs in /dev/shm, formatted by `master`. */
export function newFs(master: Host, tag: string): string {
  const dev = shmPath(tag);
  famfsOk(master, ['mkfs', dev, '--size', '4g']);
  return dev;
}

/** Write a host file below `dir` of `size` deterministic bytes (PRNG seed), returning its sha256. */
export function hostFile(dir: string, rel: string, size: number, seed: number): string {
  const p = path.join(dir, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  const b = Buffer.alloc(size);
  new RandomStream(seed).fill(b);
  fs.writeFileSync(p, b);
  return sha(b);
}

/**
 * A master host, a client host and a host directory for source files (`hostFile`), for the
 * describe block that calls this; after it they are removed, with every /dev/shm device.
 */
export function cliHosts(tag: string): { master: Host; client: Host; hostDir: string } {
  const h = { master: makeHost(`${tag}-master`), client: makeHost(`${tag}-client`), hostDir: fs.mkdtempSync(path.join(os.tmpdir(), `famfs-${tag}-src-`)) };
  after(() => {
    removeAllShm();
    removeHost(h.master);
    removeHost(h.client);
    fs.rmSync(h.hostDir, { recursive: true, force: true });
  });
  return h;
}
