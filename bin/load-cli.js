'use strict';
/**
 * Loads the CLI's `main` for the bins. CommonJS on purpose (bin/package.json):
 * Node's ESM loader and ~50 ES modules were most of a verb's start-up, so the
 * bins load one bundled CommonJS file (scripts/bundle-cli.mjs) through a V8 code
 * cache made at build time, and fall back to the ES modules when the bundle is
 * missing or older than dist/src/cli/main.js (a `tsc` without the bundle step).
 */
const fs = require('node:fs');
const path = require('node:path');

const CLI = path.join(__dirname, '../dist/src/cli');
const BUNDLE = path.join(CLI, 'famfs.cjs');

/** The bundle's exports, compiled with its code cache when that matches the bundle's build id. */
function loadBundle() {
  const vm = require('node:vm');
  const Module = require('node:module');
  const src = fs.readFileSync(BUNDLE, 'utf8');
  const id = /^\/\/ famfs-cli-bundle ([0-9a-f]+)\n/.exec(src)?.[1];
  const warm = process.env.FAMFS_CLI_WARM_CACHE;
  let cachedData;
  if (id && !warm) {
    try {
      cachedData = fs.readFileSync(`${BUNDLE}.${id}.cache`);
    } catch {
      /* no cache: compile as usual */
    }
  }
  const script = new vm.Script(Module.wrap(src), {
    filename: BUNDLE,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const mod = { exports: {}, filename: BUNDLE, id: BUNDLE };
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(BUNDLE), mod, BUNDLE, CLI);
  if (warm) {
    mod.exports.__famfsCodeCache = () => {
      fs.writeFileSync(`${warm}.tmp`, script.createCachedData());
      fs.renameSync(`${warm}.tmp`, warm);
    };
  }
  return mod.exports;
}

function useBundle() {
  try {
    return fs.statSync(BUNDLE).mtimeMs >= fs.statSync(path.join(CLI, 'main.js')).mtimeMs;
  } catch {
    return false;
  }
}

/** Warm-up for the build's code cache: run the verbs' start-up paths, then save what V8 compiled. */
async function warmCache(m) {
  for (const argv of [['--help'], ['ls', '-R', '-d', '/nonexistent/famfs-warm'], ['cp', '--help'], ['mount', '--help']]) await m.main(argv);
  m.__famfsCodeCache();
  return 0;
}

/** Run the CLI with `argv`; the exit status becomes process.exitCode. */
function run(argv) {
  // Answered without loading the CLI at all (as src/cli/main.ts answers it: the package's version).
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V') && !process.env.FAMFS_CLI_WARM_CACHE) {
    let version = 'unknown';
    try {
      version = JSON.parse(fs.readFileSync(path.join(__dirname, '../package.json'), 'utf8')).version ?? version;
    } catch {
      /* as main.ts: 'unknown' */
    }
    process.stdout.write(`${version}\n`);
    return;
  }
  const loaded = useBundle() ? Promise.resolve(loadBundle()) : import('../dist/src/cli/main.js');
  loaded
    .then((m) => (process.env.FAMFS_CLI_WARM_CACHE ? warmCache(m) : m.main(argv)))
    .then((code) => {
      process.exitCode = code;
    });
}

module.exports = { run };
