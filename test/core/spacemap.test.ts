/** `famfs fsck --map` / `--svg`: the picture agrees unit by unit with the allocation bitmap. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Famfs } from '../../src/api/famfs.js';
import { asHost, famfs, famfsOk, GiB, makeHost, MiB, removeAllShm, removeHost, sparseFile, type Host } from './helpers.js';

describe('fsck --map and --svg', () => {
  let host: Host;
  let dev: string;
  let svgFile: string;
  const AU = 2 * MiB;

  before(() => {
    host = makeHost('spacemap');
    dev = sparseFile('spacemap', 4 * GiB);
    famfsOk(host, ['mkfs', dev]);
    famfsOk(host, ['creat', '-d', dev, '-s', String(3 * MiB), 'a']);
    famfsOk(host, ['creat', '-d', dev, '-s', String(40 * MiB), '-N', '3', '-B', '4', '-C', '2m', 'striped']);
    famfsOk(host, ['creat', '-d', dev, '-s', '1', 'tiny']);
    famfsOk(host, ['clone', '-d', dev, 'a', 'a-clone']); // a collision, on purpose
    svgFile = path.join(host.dir, 'space.svg');
  });
  after(() => {
    removeAllShm();
    removeHost(host);
  });

  it('every unit appears in exactly one SVG rect, with the class the bitmap and the log give it', () => {
    const r = famfs(host, ['fsck', '-d', dev, '--svg', svgFile]);
    assert.ok(r.status === 0 || r.status === 1, r.stderr);
    const svg = fs.readFileSync(svgFile, 'utf8');
    assert.match(svg, /^<\?xml[^]*<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^]*<\/svg>\n$/);
    const f = asHost(host, () => Famfs.open(dev));
    try {
      const bitmap = f.buildBitmap().bitmap.units;
      const seen = new Array<string | undefined>(bitmap.length);
      for (const m of svg.matchAll(/<rect class="(\w+)" data-device="0" data-first="(\d+)" data-units="(\d+)"/g)) {
        for (let u = Number(m[2]); u < Number(m[2]) + Number(m[3]); u++) {
          assert.equal(seen[u], undefined, `unit ${u} drawn twice`);
          seen[u] = m[1];
        }
      }
      const clone = f.file('a-clone').map;
      const cloneUnits = new Set<number>();
      if (clone.kind === 'simple') for (const e of clone.extents) for (let u = e.offset / AU; u < (e.offset + e.length) / AU; u++) cloneUnits.add(u);
      const metaUnits = f.geometry.dataStart / AU;
      for (let u = 0; u < bitmap.length; u++) {
        const want = u < metaUnits ? 'meta' : cloneUnits.has(u) ? 'collision' : bitmap[u] ? 'file' : 'free';
        assert.equal(seen[u], want, `unit ${u}`);
      }
      const count = (k: string): number => seen.filter((x) => x === k).length;
      assert.equal(count('collision'), 2);
      assert.equal(count('file'), 21 + 1); // 3 strips of 7 chunks for 40 MiB, and tiny
      assert.match(svg, new RegExp(`file ${count('file')}, free ${count('free')}, metadata ${metaUnits}, collision 2 units of 2M`));
    } finally {
      f.close();
    }
  });

  it('--map in a pipe: plain characters, one per unit, the same counts', () => {
    const out = famfs(host, ['fsck', '-d', dev, '--map']).stdout;
    assert.doesNotMatch(out, /\x1b\[/, 'no colours outside a terminal');
    const i = out.indexOf('device 0: ');
    assert.ok(i > 0, 'the map follows the report');
    const lines = out.slice(i).trimEnd().split('\n');
    assert.match(lines[0]!, new RegExp(`^device 0: ${dev}  4G, 2048 units of 2M; one character = one unit$`));
    assert.equal(lines[1], '  # file 22   . free 2019   m metadata 5   X collision 2');
    const grid = lines.slice(2).map((l) => l.slice(2)).join('');
    assert.equal(grid.length, 2048);
    assert.equal(lines.length - 2, 32, '64 units a line');
    for (const [ch, n] of [['#', 22], ['.', 2019], ['m', 5], ['X', 2]] as const) assert.equal(grid.split(ch).length - 1, n, ch);
    assert.ok(grid.startsWith('mmmmm'));
  });

  it('bad input: one line, non-zero exit, nothing written', () => {
    const j = famfs(host, ['fsck', '-d', dev, '--map', '--json']);
    assert.equal(j.status, 2);
    assert.equal(j.stderr, 'famfs fsck: --map draws text; it cannot be combined with --json (use --svg FILE)\n');
    const bad = famfs(host, ['fsck', '-d', dev, '--svg', '/nonexistent-dir/x.svg']);
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.equal(bad.stderr, 'famfs fsck: --svg /nonexistent-dir/x.svg: its directory does not exist\n');
    assert.equal(bad.stdout, '', 'a bad FILE is refused before the report');
    assert.equal(fs.existsSync('/nonexistent-dir'), false);
    const dir = famfs(host, ['fsck', '-d', dev, '--svg', host.dir]);
    assert.equal(dir.status, 1);
    assert.equal(dir.stdout, '');
    assert.equal(dir.stderr, `famfs fsck: --svg ${host.dir}: is a directory\n`);
  });
});
