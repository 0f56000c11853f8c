/**
 * Shared fixtures for the core tests: sparse device files in /dev/shm, one
 * system-UUID file per simulated host, and the real CLI as a child process.
 * Not a test file itself (node --test runs it, finds no tests, and passes).
 */
import { after, before } from 'node:test';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root: this file compiles to dist/test/core/helpers.js. */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const FAMFS_BIN = path.join(REPO, 'bin/famfs.js');

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

let counter = 0;
const created = new Set<string>();

/** A fresh, unused path in /dev/shm (nothing is created). */
export function shmPath(tag: string): string {
  const p = `/dev/shm/famfs-core-${tag}-${process.pid}-${++counter}.img`;
  created.add(p);
  return p;
}

/** A sparse file of `size` bytes in /dev/shm. */
export function sparseFile(tag: string, size: number): string {
  return sparseAt(shmPath(tag), size);
}

/** Make the sparse file `p` (a path from shmPath; removed by removeAllShm even if it ran in between). */
function sparseAt(p: string, size: number): string {
  created.add(p);
  fs.writeFileSync(p, '');
  fs.truncateSync(p, size);
  return p;
}

export function removeFile(p: string): void {
  fs.rmSync(p, { force: true });
  created.delete(p);
}

/** Delete every file this process made in /dev/shm (call from after hooks). */
export function removeAllShm(): void {
  for (const p of [...created]) removeFile(p);
}

process.on('exit', () => {
  for (const p of created) fs.rmSync(p, { force: true });
});

/** A simulated host: its own temp dir and system-UUID file (36 chars + NUL, as upstream). */
export interface Host {
  dir: string;
  uuidFile: string;
  uuid: string;
  env: NodeJS.ProcessEnv;
}

export function makeHost(name: string): Host {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `famfs-core-${name}-`));
  const uuid = randomUUID();
  const uuidFile = path.join(dir, 'system_uuid');
  fs.writeFileSync(uuidFile, `${uuid}\0`, { mode: 0o444 });
  return { dir, uuidFile, uuid, env: { ...process.env, FAMFS_SYSTEM_UUID_FILE: uuidFile } };
}

export function removeHost(h: Host): void {
  fs.rmSync(h.dir, { recursive: true, force: true });
}

/** formattedHost(): a host and the path of the device it formats. */
export interface FormattedHost {
  host: Host;
  /** Made and formatted by a before() hook: use it in hooks and tests, not while the block is collected. */
  dev: string;
}

/**
 * One host and a famfs it formats (`famfs mkfs`), for the describe block that calls this:
 * a before() hook makes the sparse device (`size`, default 4 GiB), formats it and runs
 * `populate`; an after() hook runs `cleanup` (unmount, say), then removes the devices and
 * the host. Hooks the block registers later run after these.
 */
export function formattedHost(tag: string, o: { size?: number; populate?: (dev: string, host: Host) => void; cleanup?: (host: Host) => void } = {}): FormattedHost {
  const host = makeHost(tag);
  const dev = shmPath(tag);
  before(() => {
    sparseAt(dev, o.size ?? 4 * GiB);
    famfsOk(host, ['mkfs', dev]);
    o.populate?.(dev, host);
  });
  after(() => {
    o.cleanup?.(host);
    removeAllShm();
    removeHost(host);
  });
  return { host, dev };
}

/** Run library code as `host` (the library reads FAMFS_SYSTEM_UUID_FILE on every open). */
export function asHost<T>(h: Host, fn: () => T): T {
  const old = process.env.FAMFS_SYSTEM_UUID_FILE;
  process.env.FAMFS_SYSTEM_UUID_FILE = h.uuidFile;
  try {
    return fn();
  } finally {
    if (old === undefined) delete process.env.FAMFS_SYSTEM_UUID_FILE;
    else process.env.FAMFS_SYSTEM_UUID_FILE = old;
  }
}

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run `node bin/famfs.js ...args` as `host`; stdout kept as latin1 when `binary` so bytes survive. */
export function famfs(host: Host, args: string[], opts: { binary?: boolean; input?: string; cwd?: string } = {}): CliResult & { raw: Buffer } {
  const r = spawnSync(process.execPath, [FAMFS_BIN, ...args], {
    env: host.env,
    cwd: opts.cwd ?? REPO,
    input: opts.input,
    maxBuffer: 256 * MiB,
  });
  if (r.error) throw r.error;
  return {
    status: r.status ?? -1,
    stdout: r.stdout.toString(opts.binary ? 'latin1' : 'utf8'),
    stderr: r.stderr.toString('utf8'),
    raw: r.stdout,
  };
}

/** Same, and fail loudly with the child's stderr when it does not exit 0. */
export function famfsOk(host: Host, args: string[], opts: { binary?: boolean; cwd?: string } = {}): CliResult & { raw: Buffer } {
  const r = famfs(host, args, opts);
  if (r.status !== 0) throw new Error(`famfs ${args.join(' ')} → exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** Read [offset, offset+length) of a file without mapping it. */
export function readRange(file: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(fd, b, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

export function writeRange(file: string, offset: number, data: Uint8Array): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, data, 0, data.length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Independent CRC-32 (bit by bit, no table), so tests don't check the
 * codec's CRC with itself.
 */
export function crc32Ref(buf: Uint8Array, start = 0, end = buf.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) {
    c ^= buf[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** mulberry32: small and seedable, for reproducible choices (names, sizes, kill times, mutations) — never file bytes. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
