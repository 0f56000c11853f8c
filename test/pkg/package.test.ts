/**
 * The package as a user gets it: `npm pack`, installed from the tarball into a
 * fresh project (offline, from the npm cache that `npm ci` filled, through a
 * lockfile made from ours; the registry only as a fallback), then imported,
 * type-checked, an example run, and the CLI started as `npx famfs`,
 * `node_modules/.bin/famfs` and every form of mkfs.famfs that README names.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GiB, REPO } from '../core/helpers.js';

const NPM_TIMEOUT = 180_000;

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env, timeout = 60_000): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return r;
}
function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} → exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

interface LockEntry { version: string; integrity?: string; dev?: boolean; [k: string]: unknown }

/** A lockfile for a project depending only on the tarball: our own lock's production entries plus famfs itself. */
function lockFor(tarball: string, pkg: Record<string, unknown>): unknown {
  const ours = JSON.parse(fs.readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const packages: Record<string, unknown> = {
    '': { name: 'famfs-consumer', version: '1.0.0', dependencies: { famfs: `file:${path.basename(tarball)}` } },
    'node_modules/famfs': {
      version: pkg.version, resolved: `file:${path.basename(tarball)}`,
      integrity: `sha512-${createHash('sha512').update(fs.readFileSync(tarball)).digest('base64')}`,
      license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines,
    },
  };
  for (const [k, v] of Object.entries(ours.packages)) if (k.startsWith('node_modules/') && !v.dev) packages[k] = v;
  return { name: 'famfs-consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}

describe('npm pack → install in a fresh project → import, types, example, CLI', () => {
  let dir: string;
  let tarball: string;
  let files: string[];
  let installedBy = '';
  /** Set when neither the npm cache nor the registry could supply the dependencies: not a famfs failure. */
  let cannotInstall: string | undefined;
  const uuidFile = path.join(os.tmpdir(), `famfs-pkg-uuid-${process.pid}`);
  const images: string[] = [];
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, FAMFS_SYSTEM_UUID_FILE: uuidFile, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' });
  const image = (): string => {
    const p = `/dev/shm/famfs-pkg-${process.pid}-${images.length}.img`;
    images.push(p);
    return p;
  };

  before(() => {
    fs.writeFileSync(uuidFile, `${randomUUID()}\0`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-pkg-'));
    // dist/ is already built by `npm test`; packing without scripts keeps this fast.
    const packed = JSON.parse(ok(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], REPO, env(), NPM_TIMEOUT), 'npm pack')) as { filename: string; files: { path: string }[] }[];
    tarball = path.join(dir, packed[0]!.filename);
    files = packed[0]!.files.map((f) => f.path);
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as Record<string, unknown>;
    const proj = path.join(dir, 'consumer');
    fs.mkdirSync(proj);
    fs.copyFileSync(tarball, path.join(proj, path.basename(tarball)));
    fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'famfs-consumer', version: '1.0.0', private: true, type: 'module', dependencies: { famfs: `file:${path.basename(tarball)}` } }, null, 2));
    fs.writeFileSync(path.join(proj, 'package-lock.json'), JSON.stringify(lockFor(tarball, pkg), null, 2));
    const offline = run('npm', ['ci', '--offline'], proj, env(), NPM_TIMEOUT);
    if (offline.status === 0) installedBy = 'npm ci --offline (npm cache)';
    else {
      // The cache lacks something (e.g. a cleaned cache): the registry is reachable, use it.
      console.error(`npm ci --offline failed, falling back to the registry:\n${offline.stderr.slice(-2000)}`);
      const online = run('npm', ['install', '--prefer-offline', `./${path.basename(tarball)}`], proj, env(), NPM_TIMEOUT);
      if (online.status !== 0 && /ENOTCACHED|EAI_AGAIN|ENOTFOUND|ETIMEDOUT|ECONNREFUSED|ECONNRESET|network/i.test(online.stderr)) {
        cannotInstall = `SKIPPED: the dependencies are neither in the npm cache nor reachable (${online.stderr.split('\n').find((l) => /npm error code/.test(l)) ?? 'network'})`;
        console.error(`\n*** ${cannotInstall} ***\n`);
      } else {
        ok(online, 'npm install --prefer-offline');
        installedBy = 'npm install --prefer-offline';
      }
    }
    dir = proj;
  });

  after(() => {
    for (const p of images) fs.rmSync(p, { force: true });
    fs.rmSync(uuidFile, { force: true });
    if (dir) fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  it('the tarball holds the compiled library, its types, the bins, docs and examples (and no tests)', (t) => {
    for (const f of ['package.json', 'README.md', 'bin/famfs.js', 'bin/mkfs.famfs.js', 'dist/src/api/index.js', 'dist/src/api/index.d.ts', 'dist/src/cli/main.js', 'dist/src/fuse/worker.js', 'docs/api.md', 'examples/quickstart.mjs']) {
      assert.ok(files.includes(f), `${f} missing from the tarball`);
    }
    assert.deepEqual(files.filter((f) => f.startsWith('dist/test/') || f.startsWith('src/') || f.startsWith('node_modules/')), []);
    assert.ok(installedBy || cannotInstall, 'installed');
    t.diagnostic(`installed by ${installedBy || 'nothing: ' + cannotInstall}`);
  });

  it('import { Famfs } from "famfs" works in the new project, and its types check', (t) => {
    if (cannotInstall) return t.skip(cannotInstall);
    const out = ok(run(process.execPath, ['--input-type=module', '-e', "import * as m from 'famfs'; console.log(JSON.stringify([typeof m.Famfs, typeof m.Famfs.openPath, typeof m.FamfsError, m.FAMFS_ERROR_CODES.includes('ENOENT')]))"], dir, env()), 'import');
    assert.deepEqual(JSON.parse(out), ['function', 'function', 'function', true]);
    fs.writeFileSync(path.join(dir, 'check.ts'), [
      "import { Famfs, FamfsError, isFamfsError, type FamfsStat, type LogEvent } from 'famfs';",
      "const st: FamfsStat | undefined = undefined;",
      "export function list(p: string): string[] { const f = Famfs.openPath(p); try { return f.readdir('').map((s) => s.name); } finally { f.close(); } }",
      "export function code(e: unknown): string | undefined { return isFamfsError(e) ? e.code : e instanceof FamfsError ? 'x' : undefined; }",
      "export type E = LogEvent['type']; void st;",
    ].join('\n'));
    const tsc = path.join(REPO, 'node_modules/typescript/bin/tsc');
    ok(run(process.execPath, [tsc, '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--typeRoots', path.join(REPO, 'node_modules/@types'), 'check.ts'], dir, env()), 'tsc on a consumer file');
  });

  it('the CLI runs as node_modules/.bin/famfs and npx famfs; mkfs.famfs works as a bin, through npx, and as a famfs verb', (t) => {
    if (cannotInstall) return t.skip(cannotInstall);
    const bin = path.join(dir, 'node_modules/.bin');
    const version = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version as string;
    assert.equal(ok(run(path.join(bin, 'famfs'), ['--version'], dir, env()), '.bin/famfs --version').trim(), version);
    assert.match(ok(run('npx', ['--no-install', 'famfs', '--help'], dir, env()), 'npx famfs --help'), /Usage: famfs/);
    const forms: [string, string[]][] = [
      [path.join(bin, 'mkfs.famfs'), []],
      ['npx', ['--no-install', 'mkfs.famfs']],
      [path.join(bin, 'famfs'), ['mkfs']],
      [path.join(bin, 'famfs'), ['mkfs.famfs']],
    ];
    for (const [cmd, pre] of forms) {
      const img = image();
      const out = ok(run(cmd, [...pre, '--size', '4g', img], dir, env()), `${cmd} ${pre.join(' ')}`);
      assert.match(out, /devsize: 4294967296/);
      assert.equal(fs.statSync(img).size, 4 * GiB);
    }
    const bad = run(path.join(bin, 'mkfs.famfs'), ['--size', 'lots', image()], dir, env());
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  });

  it('an example runs in the new project against an image the installed CLI made', (t) => {
    if (cannotInstall) return t.skip(cannotInstall);
    const img = image();
    const famfsBin = path.join(dir, 'node_modules/.bin/famfs');
    ok(run(famfsBin, ['mkfs', '--size', '4g', img], dir, env()), 'mkfs');
    ok(run(process.execPath, [path.join(dir, 'node_modules/famfs/examples/writer.mjs'), img], dir, env()), 'writer example');
    fs.copyFileSync(path.join(dir, 'node_modules/famfs/examples/quickstart.mjs'), path.join(dir, 'quickstart.mjs'));
    const out = ok(run(process.execPath, ['quickstart.mjs', img, 'examples/hello.txt'], dir, env()), 'quickstart in the consumer project');
    assert.match(out, /views: 1 \[13\]/);
    assert.match(ok(run(famfsBin, ['cat', '-d', img, 'examples/hello.txt'], dir, env()), 'cat'), /^hello, famfs\n$/);
  });
});
