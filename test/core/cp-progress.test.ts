/** `famfs cp -r` progress: a bar of files and bytes on a terminal (a pty via script(1)); nothing in pipes or with --quiet. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { copyTotals } from '../../src/cli/progress.js';
import { FAMFS_BIN, famfs, famfsOk, GiB, makeHost, removeAllShm, removeHost, sparseFile, type Host } from './helpers.js';

const HAVE_SCRIPT = spawnSync('script', ['--version']).status === 0;
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

describe('cp -r progress', () => {
  let host: Host;
  let dev: string;
  let src: string;
  let bytes = 0;

  before(() => {
    host = makeHost('cpprog');
    dev = sparseFile('cpprog', 4 * GiB);
    famfsOk(host, ['mkfs', dev]);
    src = path.join(host.dir, 'src');
    for (const d of ['', 'sub', 'sub/deeper', 'deeper']) fs.mkdirSync(path.join(src, d), { recursive: true });
    for (let i = 1; i <= 40; i++) {
      const b = Buffer.alloc(i * 5000, i);
      fs.writeFileSync(path.join(src, i % 3 ? 'sub' : '', i % 7 ? '' : 'deeper', `f${i}`), b);
      bytes += b.length;
    }
  });
  after(() => {
    removeAllShm();
    removeHost(host);
  });

  it('totals: every regular file and its bytes, recursively only with -r', () => {
    assert.deepEqual(copyTotals([src], true), { files: 40, bytes });
    assert.deepEqual(copyTotals([src], false), { files: 0, bytes: 0 });
    assert.deepEqual(copyTotals([path.join(src, 'f3'), '/nonexistent'], false), { files: 1, bytes: 15000 }); // f3: i % 3 === 0
  });

  it('on a terminal: files and bytes done of the total, ending at 40/40', { skip: HAVE_SCRIPT ? false : 'SKIPPED: script(1) not found' }, () => {
    const cmd = `${q(process.execPath)} ${q(FAMFS_BIN)} cp -r -d ${q(dev)} ${q(src)} tty`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { env: host.env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const mib = (bytes / 2 ** 20).toFixed(1);
    assert.ok(r.stdout.includes('] 0% | 0/40 files | 0.0 MiB/'), 'starts at zero');
    assert.ok(r.stdout.includes(`] 100% | 40/40 files | ${mib} MiB/${mib} MiB`), r.stdout);
    assert.equal(JSON.parse(famfsOk(host, ['ls', '-R', '--json', '-d', dev, 'tty']).stdout).filter((n: { type: string }) => n.type === 'file').length, 40);
    const quiet = spawnSync('script', ['-qec', `${cmd}-quiet --quiet`, '/dev/null'], { env: host.env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(quiet.status, 0);
    assert.equal(quiet.stdout, '', '--quiet prints nothing');
  });

  it('in a pipe: no progress at all', () => {
    const r = famfs(host, ['cp', '-r', '-d', dev, src, 'piped']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, '');
  });
});
