/**
 * Review of issue 14 (stop 22): a reader that is not a presence host — `famfs cat --device`
 * (also `verify`, and `cat` of a path in a mount when run as root, which opens the device) —
 * reads a file's bytes straight from the device while the master deletes the file and a writer
 * reuses its space. No slot says it holds the file, so the space is handed out at once.
 * Either it must get exactly the file's bytes, or it must fail: never the new file's.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { FAMFS_BIN, famfsOk, makeHost, MiB, REPO, removeAllShm, removeHost } from '../core/helpers.js';
import { presenceDevice } from './fixtures.js';

describe('a device reader outside the presence area', () => {
  const master = makeHost('crm');
  const client = makeHost('crc');
  after(() => {
    removeHost(master);
    removeHost(client);
    removeAllShm();
  });

  it('famfs cat of a file deleted and reused under it: the file\'s own bytes or an error, never another file\'s', async () => {
    const SIZE = 16 * MiB;
    const dev = presenceDevice(master, 'cli-reader', 2000);
    famfsOk(master, ['creat', '-d', dev, '-s', String(SIZE), '-r', '-S', '3', 'old']);
    const want = famfsOk(client, ['cat', '-d', dev, 'old'], { binary: true }).raw;
    assert.equal(want.length, SIZE);
    // cat writes into a FIFO read here: after the first bytes it blocks in the middle of the file.
    const fifo = path.join(client.dir, 'out.fifo');
    execFileSync('mkfifo', [fifo]);
    const cat = spawn('sh', ['-c', `exec "${process.execPath}" "${FAMFS_BIN}" cat -d "${dev}" old > "${fifo}"`], { env: client.env, cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    cat.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => cat.once('exit', (c) => resolve(c)));
    const fd = fs.openSync(fifo, 'r');
    const got: Buffer[] = [];
    const take = (limit: number): void => {
      for (let n = 0; n < limit; ) {
        const b = Buffer.alloc(64 * 1024);
        const k = fs.readSync(fd, b);
        if (k === 0) return;
        got.push(b.subarray(0, k));
        n += k;
      }
    };
    take(64 * 1024);
    famfsOk(master, ['rm', '-d', dev, 'old']);
    famfsOk(master, ['creat', '-d', dev, '-s', String(SIZE), '-r', '-S', '9', 'new']);
    take(Infinity);
    fs.closeSync(fd);
    const code = await exited;
    // On the old code cat printed the new file's bytes from 128 KiB on and exited 0. The file
    // is deleted with more than a chunk still to read: cat must stop there, with one line.
    const out = Buffer.concat(got);
    assert.ok(want.subarray(0, out.length).equals(out), 'what it printed is the file\'s');
    assert.ok(out.length < SIZE, `cat printed all ${out.length} bytes of a file deleted under it`);
    assert.equal(code, 1);
    assert.match(err, /old: deleted while being read/);
    assert.equal(err.trim().split('\n').length, 1, err);
  });
});
