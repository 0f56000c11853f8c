/**
 * The library as users import it (`from 'famfs'`, the package's own exports):
 * open by device or by a path in a mount, list and stat, zero-copy views (one
 * per piece, interleaved too), chunks and streams, writes in place, writer
 * sessions, following the log, typed errors; the examples/ scripts run as-is.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Famfs, FamfsError, isFamfsError, FAMFS_ERROR_CODES, type LogEvent } from 'famfs';
import { asHost, famfsOk, GiB, makeHost, MiB, REPO, removeAllShm, removeHost, sparseFile, type Host } from '../core/helpers.js';

const sha = (bufs: Iterable<Buffer>): string => {
  const h = createHash('sha256');
  for (const b of bufs) h.update(b);
  return h.digest('hex');
};

function example(host: Host, name: string, args: string[]): string {
  const r = spawnSync(process.execPath, [path.join(REPO, 'examples', name), ...args], { env: host.env, cwd: REPO, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`examples/${name} ${args.join(' ')} → exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

describe('library: import { Famfs } from "famfs"', () => {
  let master: Host;
  let client: Host;
  let dev: string;

  before(() => {
    master = makeHost('lib-master');
    client = makeHost('lib-client');
    dev = sparseFile('lib', 4 * GiB);
    famfsOk(master, ['mkfs', dev]);
  });

  after(() => {
    removeAllShm();
    removeHost(master);
    removeHost(client);
  });

  test('examples/writer.mjs creates files; quickstart.mjs reads them as views, chunks and a stream that agree', () => {
    assert.match(example(master, 'writer.mjs', [dev]), /created examples\/hello\.txt and examples\/striped\.bin \(12 pieces\)/);
    const out = example(client, 'quickstart.mjs', [dev, 'examples/striped.bin']);
    assert.match(out, /role client/);
    assert.match(out, /^- 0644  1   25165824 examples\/striped\.bin$/m);
    assert.match(out, /^d 0755  2          0 examples$/m);
    const views = /views: 12 \[(.*)\] sha256 ([0-9a-f]{64})/.exec(out);
    assert.ok(views, out);
    assert.deepEqual(views[1]!.split(', ').map(Number), new Array(12).fill(2 * MiB), 'one view per 2 MiB chunk of the interleaved file');
    const hashes = [...out.matchAll(/sha256 ([0-9a-f]{64})/g)].map((m) => m[1]);
    assert.equal(new Set(hashes).size, 1, 'views, chunks and stream see the same bytes');
    // The bytes the example wrote in place: each 32-bit word holds its own offset.
    const expect = Buffer.alloc(24 * MiB);
    for (let i = 0; i < expect.length; i += 4) expect.writeUInt32LE(i, i);
    assert.equal(hashes[0], sha([expect]));
    assert.match(out, /error code: ENOENT/);
  });

  test('views are zero-copy: a write through one Famfs shows in another’s views', () => {
    const w = asHost(master, () => Famfs.open(dev, { writable: true }));
    const r = asHost(client, () => Famfs.open(dev));
    try {
      const before = r.views('examples/hello.txt');
      assert.equal(Buffer.concat(before).toString(), 'hello, famfs\n');
      w.write('examples/hello.txt', 7, Buffer.from('FAMFS'));
      assert.equal(Buffer.concat(before).toString(), 'hello, FAMFS\n', 'the same Buffer sees the new bytes');
      w.write('examples/hello.txt', 7, Buffer.from('famfs'));
    } finally {
      w.close();
      r.close();
    }
  });

  test('stat and readdir', () => {
    const fs1 = asHost(client, () => Famfs.open(dev));
    try {
      const st = fs1.stat('examples/striped.bin');
      assert.equal(st.type, 'file');
      assert.equal(st.size, 24 * MiB);
      assert.equal(st.nlink, 1);
      assert.equal(st.map?.kind, 'interleave');
      assert.deepEqual(fs1.readdir('examples').map((s) => s.name), ['hello.txt', 'striped.bin']);
      assert.equal(fs1.stat('').nlink, 3, 'root: 2 + one subdirectory');
      assert.equal(Buffer.concat([...fs1.chunks('examples/hello.txt', { start: 7, end: 12 })]).toString(), 'famfs');
    } finally {
      fs1.close();
    }
  });

  test('errors carry stable codes', () => {
    const code = (fn: () => unknown): string => {
      try {
        fn();
      } catch (e) {
        assert.ok(e instanceof FamfsError, String(e));
        assert.ok((FAMFS_ERROR_CODES as readonly string[]).includes(e.code), e.code);
        return e.code;
      }
      return 'no error';
    };
    assert.equal(code(() => Famfs.open('/dev/shm/famfs-lib-does-not-exist.img')), 'ENOENT');
    const c = asHost(client, () => Famfs.open(dev, { writable: true }));
    try {
      assert.equal(code(() => c.stat('nope')), 'ENOENT');
      assert.equal(code(() => c.views('examples')), 'EISDIR');
      assert.equal(code(() => c.write('examples/hello.txt', 10, Buffer.alloc(10))), 'EFBIG');
      assert.equal(code(() => c.writer((w) => w.mkdir('x'))), 'EPERM');
      assert.equal(code(() => [...c.chunks('examples/hello.txt', { start: 5, end: 2 })]), 'EINVAL');
      try {
        c.stat('nope');
      } catch (e) {
        assert.ok(isFamfsError(e, 'ENOENT') && !isFamfsError(e, 'EEXIST'));
      }
    } finally {
      c.close();
    }
  });

  test('follow(): an async iterator of created events, in log order, as the master adds them', async () => {
    const f = asHost(client, () => Famfs.open(dev));
    const stop = new AbortController();
    const events: LogEvent[] = [];
    const done = (async () => {
      for await (const ev of f.follow({ intervalMs: 20, signal: stop.signal })) {
        events.push(ev);
        if (events.length === 3) break;
      }
    })();
    famfsOk(master, ['mkdir', '-d', dev, 'followed']);
    famfsOk(master, ['creat', '-d', dev, '-s', '4096', 'followed/a']);
    famfsOk(master, ['creat', '-d', dev, '-s', '8192', 'followed/b']);
    const timer = setTimeout(() => stop.abort(), 20_000);
    await done;
    clearTimeout(timer);
    f.close();
    assert.deepEqual(events.map((e) => (e.type === 'created' ? [e.kind, e.path, e.stat.size] : e.type)), [['dir', 'followed', 0], ['file', 'followed/a', 4096], ['file', 'followed/b', 8192]]);
    assert.deepEqual(events.map((e) => e.index), [3, 4, 5]);
  });

  test('examples/follow.mjs prints the events of the master’s changes', async () => {
    const child = spawn(process.execPath, [path.join(REPO, 'examples/follow.mjs'), dev, '2'], { env: client.env, cwd: REPO });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number>((r) => child.on('exit', (c) => r(c ?? -1)));
    const deadline = Date.now() + 20_000;
    while (!out.includes('following') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    famfsOk(master, ['mkdir', '-d', dev, 'followed2']);
    famfsOk(master, ['creat', '-d', dev, '-s', '100', 'followed2/x']);
    const timer = setTimeout(() => child.kill(), 20_000);
    assert.equal(await exited, 0, out);
    clearTimeout(timer);
    const lines = out.trim().split('\n').slice(1).map((l) => JSON.parse(l) as unknown);
    assert.deepEqual(lines, [{ type: 'created', kind: 'dir', path: 'followed2', size: 0 }, { type: 'created', kind: 'file', path: 'followed2/x', size: 100 }]);
  });

  test('a device file stays untouched by readers (no writes through read-only opens)', () => {
    const before = fs.statSync(dev).mtimeMs;
    const r = asHost(client, () => Famfs.open(dev));
    assert.equal(r.device.writable, false);
    assert.throws(() => r.write('examples/hello.txt', 0, Buffer.from('x')), /read-only/);
    r.close();
    assert.equal(fs.statSync(dev).mtimeMs, before);
  });
});
