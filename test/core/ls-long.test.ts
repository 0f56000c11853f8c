/** `famfs ls -l` looks like coreutils `ls -l`: mode string, links, names, -n, -h; --json stays raw. */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { humanSize, modeString } from '../../src/cli/longlist.js';
import { famfs, famfsOk, formattedHost } from './helpers.js';

describe('ls -l', () => {
  it('mode strings carry setuid, setgid and sticky as ls shows them', () => {
    assert.equal(modeString('file', 0o644), '-rw-r--r--');
    assert.equal(modeString('file', 0o4755), '-rwsr-xr-x');
    assert.equal(modeString('file', 0o4644), '-rwSr--r--');
    assert.equal(modeString('file', 0o2750), '-rwxr-s---');
    assert.equal(modeString('file', 0o2640), '-rw-r-S---');
    assert.equal(modeString('dir', 0o1777), 'drwxrwxrwt');
    assert.equal(modeString('dir', 0o1770), 'drwxrwx--T');
    assert.equal(modeString('dir', 0), 'd---------');
  });

  it('-h sizes round up as ls -h does', () => {
    const cases: [number, string][] = [[0, '0'], [1023, '1023'], [1024, '1.0K'], [1025, '1.1K'], [10 * 1024, '10K'], [10 * 1024 + 1, '11K'],
      [24 << 20, '24M'], [(1 << 30) - 1, '1.0G'], [1 << 30, '1.0G'], [4 * 2 ** 30 + 1, '4.1G'], [1023 * 1024 + 1, '1.0M']];
    for (const [n, want] of cases) assert.equal(humanSize(n), want, String(n));
  });

  describe('on a file system', () => {
    const { host, dev } = formattedHost('lsl');
    before(() => {
      famfsOk(host, ['mkdir', '-d', dev, '-m', '1777', 'tmp']);
      famfsOk(host, ['mkdir', '-d', dev, 'tmp/sub']);
      famfsOk(host, ['creat', '-d', dev, '-s', '3000', '-m', '4755', '-u', '0', '-g', '0', 'tmp/tool']);
      famfsOk(host, ['creat', '-d', dev, '-s', String(3 * 2 ** 20), '-u', '65534', '-g', '4242424', 'tmp/big']);
    });

    it('columns: mode, links, user, group, size, name (no trailing /); directories count their subdirectories', () => {
      const lines = famfsOk(host, ['ls', '-d', dev, '-l']).stdout.trimEnd().split('\n');
      assert.deepEqual(lines, ['drwxrwxrwt 3 root root 0 tmp']);
      const sub = famfsOk(host, ['ls', '-d', dev, '-l', 'tmp']).stdout.trimEnd().split('\n');
      const nobody = /^nobody:x?:65534:/m.test(fs.readFileSync('/etc/passwd', 'utf8')) ? 'nobody' : '65534';
      const u = (name: string): string => name.padEnd(Math.max(nobody.length, 4));
      assert.deepEqual(sub, [
        `-rw-r--r-- 1 ${u(nobody)} 4242424 3145728 big`,
        `drwxr-xr-x 2 ${u('root')} root          0 sub`,
        `-rwsr-xr-x 1 ${u('root')} root       3000 tool`,
      ]);
    });

    it('-n is numeric (and implies -l); -h is human; --json keeps raw numbers', () => {
      const n = famfsOk(host, ['ls', '-d', dev, '-n', 'tmp']).stdout;
      assert.match(n, /^-rw-r--r-- 1 65534 4242424 3145728 big$/m);
      assert.match(n, /^-rwsr-xr-x 1 0     0          3000 tool$/m);
      const h = famfsOk(host, ['ls', '-d', dev, '-lhn', 'tmp']).stdout;
      assert.match(h, /^-rw-r--r-- 1 65534 4242424 3.0M big$/m);
      assert.match(h, /^-rwsr-xr-x 1 0     0       3.0K tool$/m);
      const j = JSON.parse(famfsOk(host, ['ls', '-d', dev, '-l', '--json', 'tmp']).stdout) as { path: string; mode: number; uid: number; size: number }[];
      assert.deepEqual(j.map((x) => [x.path, x.mode, x.uid, x.size]), [['tmp/big', 0o644, 65534, 3 * 2 ** 20], ['tmp/sub', 0o755, 0, 0], ['tmp/tool', 0o4755, 0, 3000]]);
    });

    it('bad input: one line, non-zero exit', () => {
      const r = famfs(host, ['ls', '-d', dev, '-l', 'nope']);
      assert.equal(r.status, 1);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      const u = famfs(host, ['ls', '-d', dev, '--bogus']);
      assert.equal(u.status, 2);
    });
  });
});
