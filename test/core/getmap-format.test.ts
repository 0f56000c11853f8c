/** `famfs getmap --format famfs|extmap|bpf|table [--json]` through the real CLI. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeGetFmapReply, encodeGetFmapReply, mapTable } from '../../src/map/export/index.js';
import { famfs, famfsOk, GiB, makeHost, MiB, removeAllShm, removeHost, sparseFile, type Host } from './helpers.js';

describe('getmap --format', () => {
  let master: Host, dev: string;
  before(() => {
    master = makeHost('gm');
    dev = sparseFile('gm', 4 * GiB);
    famfsOk(master, ['mkfs', dev]);
    famfsOk(master, ['creat', '-d', dev, '-s', '3m', 'f']);
    famfsOk(master, ['creat', '-d', dev, '-s', '8m', '-N', '2', '-B', '2', '-C', '2m', 'il']);
  });
  after(() => {
    removeAllShm();
    removeHost(master);
  });
  const json = (args: string[]) => JSON.parse(famfsOk(master, args).stdout);

  it('default output is unchanged; famfs --json is the GET_FMAP reply as hex', () => {
    const plain = json(['getmap', '-d', dev, '--json', 'f']);
    assert.deepEqual(Object.keys(plain), ['path', 'type', 'size', 'mode', 'uid', 'gid', 'map']);
    const e = json(['getmap', '-d', dev, '--format', 'famfs', '--json', 'f']);
    assert.equal(e.path, 'f');
    assert.equal(e.format, 'famfs');
    assert.equal(e.fileSize, 3 * MiB);
    assert.equal(e.size, 56);
    assert.equal(e.hex, encodeGetFmapReply(plain.map, 3 * MiB).toString('hex'));
    assert.deepEqual(decodeGetFmapReply(Buffer.from(e.hex, 'hex')).map, plain.map);
    assert.equal(e.problem, undefined);
  });

  it('table rows, extmap and bpf exports; text output', () => {
    const il = json(['getmap', '-d', dev, '--json', 'il']);
    const t = json(['getmap', '-d', dev, '--format', 'table', '--json', 'il']);
    assert.deepEqual(t.rows, mapTable(il.map, 8 * MiB));
    const x = json(['getmap', '-d', dev, '--format', 'extmap', '--json', 'il']);
    assert.equal(x.format, 'extmap');
    assert.ok(x.size > 0 && x.hex.length === 2 * x.size);
    const b = json(['getmap', '-d', dev, '--format', 'bpf', '--json', 'il']);
    assert.equal(b.format, 'bpf');
    assert.ok(typeof b.layout === 'string');
    const text = famfsOk(master, ['getmap', '-d', dev, '--format', 'famfs', 'f']).stdout;
    assert.match(text, /format: famfs/);
    assert.match(text, /bytes: 56/);
    assert.match(text, /^ {4}0000 {2}00000100 00000000 01000000 00000000$/m);
    assert.match(famfsOk(master, ['getmap', '-d', dev, '--format', 'table', 'il']).stdout, /rows: 4/);
  });

  it('an unknown format is refused', () => {
    const r = famfs(master, ['getmap', '-d', dev, '--format', 'nope', 'f']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /nope/);
  });
});
