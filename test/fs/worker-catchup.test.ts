/**
 * Every FUSE worker thread replays the log on its own, and only requests that call sync()
 * (LOOKUP, OPEN, GETATTR…) catch it up. A READ (or WRITE, FSYNC) of a file logged after a
 * worker's last catch-up reached a worker that did not know the node yet and was answered
 * ENOENT: read(2) failed on an open descriptor, and a page fault of a mapping raised SIGBUS.
 * Found by torture property 10 (a client's reader hit SIGBUS right after a round started,
 * with no stop, kill or stale episode of its daemon). Reads now catch the worker up first.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { famfsOk, formattedHost, MiB } from '../core/helpers.js';
import { HAVE_FUSE, mount, NO_FUSE_REASON, umountAll } from './mounted.js';

const SIZE = 8 * MiB;
const CHUNK = 64 * 1024;

/** A child maps `file` and sums one byte of every page: exits by SIGBUS if any fault fails. */
const MAPPER = `
import fs from 'node:fs';
import { mmap, viewOf, PROT_READ, MAP_SHARED } from ${JSON.stringify(path.resolve('dist/src/sys/libc.js'))};
const fd = fs.openSync(process.argv[1], 'r');
const size = fs.fstatSync(fd).size;
const v = viewOf(mmap(size, PROT_READ, MAP_SHARED, fd, 0), size);
let s = 0;
for (let o = 0; o < size; o += 4096) s += v[o];
process.stdout.write(String(s));
`;

function pattern(seed: number): Buffer {
  const b = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i += 4) b.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  return b;
}

describe('a worker that has not seen a file yet still serves its reads', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
  const { host, dev } = formattedHost('catchup', { cleanup: umountAll });
  let mp: string;
  let src: string;

  before(() => {
    src = path.join(host.dir, 'src.bin');
    // Many workers: a file logged behind the mount's back is known to only the one or two
    // that served its LOOKUP and OPEN.
    mp = mount(host, dev, 'catchup', ['--workers', '8']);
    fs.readdirSync(mp);
  });

  test('parallel pread(2) of a file logged by the CLI after the mount: every read whole and right', async () => {
    for (let round = 0; round < 3; round++) {
      const want = pattern(round);
      fs.writeFileSync(src, want);
      famfsOk(host, ['cp', '-d', dev, src, `r${round}.bin`]);
      const fh = await fs.promises.open(path.join(mp, `r${round}.bin`), 'r');
      try {
        // Many reads in flight at once (the libuv pool) reach several workers.
        const reads = Array.from({ length: SIZE / CHUNK }, async (_, i) => {
          const b = Buffer.alloc(CHUNK);
          const { bytesRead } = await fh.read(b, 0, CHUNK, i * CHUNK);
          assert.equal(bytesRead, CHUNK, `chunk ${i}`);
          assert.ok(b.equals(want.subarray(i * CHUNK, (i + 1) * CHUNK)), `chunk ${i} bytes`);
        });
        await Promise.all(reads);
      } finally {
        await fh.close();
      }
    }
  });

  test('a mapping of a file logged by the CLI after the mount faults every page in (no SIGBUS)', () => {
    for (let round = 0; round < 3; round++) {
      const want = pattern(100 + round);
      fs.writeFileSync(src, want);
      famfsOk(host, ['cp', '-d', dev, src, `m${round}.bin`]);
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', MAPPER, path.join(mp, `m${round}.bin`)], { encoding: 'utf8' });
      assert.equal(r.signal, null, `mapper died by ${r.signal}: ${r.stderr}`);
      let sum = 0;
      for (let o = 0; o < SIZE; o += 4096) sum += want[o]!;
      assert.equal(r.stdout, String(sum), r.stderr);
    }
  });
});
