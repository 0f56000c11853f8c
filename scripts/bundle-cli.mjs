#!/usr/bin/env node
/**
 * Bundles the compiled CLI (dist/src/cli/main.js and everything it imports)
 * into one CommonJS file, dist/src/cli/famfs.cjs, plus a V8 code cache of it.
 * Why: `famfs ls` spent most of its start-up resolving, reading and compiling
 * ~50 ES modules and Node's ESM loader (docs/performance.md, "CLI start-up");
 * one CommonJS file with a code cache skips all of that. Run after `tsc -p .`
 * (the npm scripts do); bin/load-cli.js uses the bundle only when it is at
 * least as new as dist/src/cli/main.js, so a later bare `tsc` is never shadowed.
 *
 * The bundle lives beside main.js so that the `new URL('../…', import.meta.url)`
 * paths in the sources (package.json, worker entry points, helper scripts) point
 * at the same files from either place. koffi stays external (a native addon).
 */
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(REPO, 'dist/src/cli');
const OUT = path.join(CLI, 'famfs.cjs');

/**
 * commander requires child_process (and with it net, dgram and the stream
 * internals) at load, only for executable subcommands, which famfs does not
 * use: in the bundle it is required on first use instead.
 */
const LAZY_CHILD_PROCESS = {
  name: 'commander-lazy-child-process',
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const src = await fs.promises.readFile(args.path, 'utf8');
      const eager = "const childProcess = require('node:child_process');";
      if (!src.includes(eager)) throw new Error(`${args.path}: no "${eager}" line (commander changed: update ${path.basename(fileURLToPath(import.meta.url))})`);
      const lazy = "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };";
      return { contents: src.replace(eager, lazy), loader: 'js' };
    });
  },
};

const id = randomBytes(8).toString('hex');
const built = await build({
  write: false,
  entryPoints: [path.join(CLI, 'main.js')],
  outfile: OUT,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['koffi'],
  // import.meta does not exist in CommonJS: every module's URL becomes the bundle's own.
  define: { 'import.meta.url': '__famfsBundleUrl' },
  banner: { js: `// famfs-cli-bundle ${id}\nconst __famfsBundleUrl = require('node:url').pathToFileURL(__filename).href;` },
  plugins: [LAZY_CHILD_PROCESS],
  logLevel: 'warning',
});
// Renamed into place: a CLI starting meanwhile reads the old bundle or the new one, never half of one.
fs.writeFileSync(`${OUT}.tmp`, built.outputFiles[0].contents);
fs.renameSync(`${OUT}.tmp`, OUT);

// The code cache: compiled by a run that loads every verb (help) and the device path (ls).
for (const f of fs.readdirSync(CLI)) if (/^famfs\.cjs\.[0-9a-f]+\.cache$/.test(f)) fs.rmSync(path.join(CLI, f));
const r = spawnSync(process.execPath, [path.join(REPO, 'bin/famfs.js')], {
  env: { ...process.env, FAMFS_CLI_WARM_CACHE: `${OUT}.${id}.cache` },
  stdio: ['ignore', 'ignore', 'pipe'],
  encoding: 'utf8',
});
if (r.status !== 0 || !fs.existsSync(`${OUT}.${id}.cache`)) {
  process.stderr.write(`bundle-cli: no code cache made (the CLI still works, compiling at each start): ${r.stderr.trim()}\n`);
}
