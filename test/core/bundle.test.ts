/**
 * The bins run the bundled CLI (scripts/bundle-cli.mjs → dist/src/cli/famfs.cjs,
 * with a V8 code cache) when it is current, the ES modules otherwise: checked on
 * the real build, and on a scratch copy of bin/load-cli.js whose dist/ holds a
 * stand-in bundle and main.js with chosen times.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FAMFS_BIN, GiB, REPO, removeFile, sparseFile } from './helpers.js';
import { mkfs } from '../../src/api/mkfs.js';

const CLI = path.join(REPO, 'dist/src/cli');

/** A resolve hook that reports every ES module a process loads from dist/src/. */
const REPORT_ESM = `data:text/javascript,${encodeURIComponent(
  'import{register}from"node:module";register("data:text/javascript,"+encodeURIComponent(\'export async function resolve(s,c,n){const r=await n(s,c);if(r.url.includes("/dist/src/"))process.stderr.write("ESM "+r.url+"\\\\n");return r}\'));',
)}`;

function famfs(args: string[], nodeArgs: string[] = []): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [...nodeArgs, FAMFS_BIN, ...args], { encoding: 'utf8' });
}

describe('bundled CLI', () => {
  it('the build made a bundle at least as new as main.js, and its code cache', () => {
    const bundle = fs.statSync(path.join(CLI, 'famfs.cjs'));
    assert.ok(bundle.mtimeMs >= fs.statSync(path.join(CLI, 'main.js')).mtimeMs, 'bundle older than main.js: build with `npm run build`');
    const id = /^\/\/ famfs-cli-bundle ([0-9a-f]+)\n/.exec(fs.readFileSync(path.join(CLI, 'famfs.cjs'), 'utf8'))?.[1];
    assert.ok(id, 'bundle has a build id');
    assert.ok(fs.statSync(path.join(CLI, `famfs.cjs.${id}.cache`)).size > 0, 'code cache of this build');
  });

  it('every file the bundle names relative to itself exists (worker entry points, helpers, package.json)', () => {
    const src = fs.readFileSync(path.join(CLI, 'famfs.cjs'), 'utf8');
    const named = [...src.matchAll(/new URL\("([^"]+)", __famfsBundleUrl\)/g)].map((m) => m[1]!);
    for (const f of ['../fuse/worker.js', '../fs/handler-module.js', '../presence/beat-thread.js', '../../../package.json']) assert.ok(named.includes(f), `${f} not named`);
    for (const f of named) assert.ok(fs.existsSync(path.join(CLI, f)), `${f}: named by the bundle, missing beside it`);
  });

  it('famfs ls of a real device runs from the bundle: no ES module of dist/src loaded, same output', () => {
    const dev = sparseFile('bundle', 4 * GiB);
    try {
      mkfs(dev);
      const viaBin = famfs(['ls', '-l', '-d', dev], ['--import', REPORT_ESM]);
      assert.equal(viaBin.status, 0, viaBin.stderr);
      assert.doesNotMatch(viaBin.stderr, /^ESM /m);
      const viaEsm = spawnSync(process.execPath, ['--input-type=module', '-e', `import { main } from ${JSON.stringify(path.join(CLI, 'main.js'))}; process.exitCode = await main(${JSON.stringify(['ls', '-l', '-d', dev])});`], { encoding: 'utf8' });
      assert.equal(viaEsm.status, 0, viaEsm.stderr);
      assert.equal(viaBin.stdout, viaEsm.stdout);
    } finally {
      removeFile(dev);
    }
  });

  it('errors and usage keep their one line and exit status through the bundle', () => {
    const bad = famfs(['ls', '-d', '/nonexistent/famfs-bundle-test']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^famfs ls: .*\n$/);
    const usage = famfs(['no-such-verb']);
    assert.equal(usage.status, 2);
    const version = famfs(['--version']);
    assert.equal(version.stdout, `${(JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version}\n`);
  });

  describe('bin/load-cli.js chooses', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-bundle-'));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const cli = path.join(dir, 'dist/src/cli');
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.mkdirSync(cli, { recursive: true });
    for (const f of ['load-cli.js', 'famfs.js', 'package.json']) fs.copyFileSync(path.join(REPO, 'bin', f), path.join(dir, 'bin', f));
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'x', version: '9.8.7', type: 'module' }));
    fs.writeFileSync(path.join(cli, 'main.js'), 'export async function main(a) { process.stdout.write("esm " + a.join(" ")); return 3; }\n');
    const id = 'abcdef0123456789';
    fs.writeFileSync(path.join(cli, 'famfs.cjs'), `// famfs-cli-bundle ${id}\nexports.main = async (a) => { process.stdout.write("bundle " + a.join(" ")); return 4; };\n`);
    const setTimes = (file: string, s: number): void => fs.utimesSync(path.join(cli, file), s, s);
    const runIt = (args: string[]) => spawnSync(process.execPath, [path.join(dir, 'bin/famfs.js'), ...args], { encoding: 'utf8' });

    it('the bundle when it is as new as main.js (npm pack gives every file one time)', () => {
      setTimes('main.js', 1_000_000);
      setTimes('famfs.cjs', 1_000_000);
      const r = runIt(['ls', 'x']);
      assert.deepEqual([r.stdout, r.status], ['bundle ls x', 4], r.stderr);
    });

    it('main.js when the bundle is older (a `tsc` since the last bundle)', () => {
      setTimes('famfs.cjs', 1_000_000);
      setTimes('main.js', 2_000_000);
      const r = runIt(['ls', 'x']);
      assert.deepEqual([r.stdout, r.status], ['esm ls x', 3], r.stderr);
    });

    it('a code cache that does not fit is rejected by V8, not run', () => {
      fs.writeFileSync(path.join(cli, `famfs.cjs.${id}.cache`), Buffer.alloc(4096, 0x5a));
      setTimes('main.js', 1_000_000);
      setTimes('famfs.cjs', 2_000_000);
      const r = runIt(['cp']);
      assert.deepEqual([r.stdout, r.status], ['bundle cp', 4], r.stderr);
    });

    it('--version from package.json without loading either', () => {
      fs.writeFileSync(path.join(cli, 'famfs.cjs'), 'throw new Error("loaded");\n');
      fs.writeFileSync(path.join(cli, 'main.js'), 'throw new Error("loaded");\n');
      const r = runIt(['--version']);
      assert.deepEqual([r.stdout, r.status], ['9.8.7\n', 0], r.stderr);
    });
  });
});
