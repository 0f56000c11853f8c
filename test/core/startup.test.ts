/**
 * CLI start-up loads only what the verb needs: `--version` neither the verb
 * modules nor koffi; a verb that maps a device loads koffi on first use.
 * Checked in a child process, where the module caches show what was loaded.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GiB, removeFile, sparseFile } from './helpers.js';
import { mkfs } from '../../src/api/mkfs.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

/** Run main(argv) in a fresh node; report whether koffi and the ls verb module were loaded. */
function loaded(argv: string[]): { koffi: boolean; commander: boolean; builtins: string[]; lsVerb: boolean; code: number } {
  const script = `
    import { createRequire } from 'node:module';
    const m = await import('node:module');
    m.register('data:text/javascript,export async function resolve(s,c,n){const r=await n(s,c);if(r.url.endsWith("/cli/ls.js"))process.stderr.write("LOADED-LS\\\\n");return r}');
    const { main } = await import(${JSON.stringify(MAIN)});
    const code = await main(${JSON.stringify(argv)});
    const req = createRequire(import.meta.url);
    const koffi = Object.keys(req.cache).some((k) => k.includes('/koffi/'));
    const commander = Object.keys(req.cache).some((k) => k.includes('/commander/'));
    const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));
    process.stdout.write(JSON.stringify({ koffi, commander, builtins, code }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  assert.ok(last.startsWith('{'), `child failed: ${r.stderr}`);
  const out = JSON.parse(last) as { koffi: boolean; commander: boolean; builtins: string[]; code: number };
  return { ...out, lsVerb: r.stderr.includes('LOADED-LS') };
}

describe('CLI start-up', () => {
  it('--version loads no verb module, no koffi and not commander', () => {
    const r = loaded(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.koffi, false);
    assert.equal(r.commander, false);
    assert.equal(r.lsVerb, false);
  });

  it('ls of a real device loads koffi without https, tls or zlib (helpers of koffi\'s installer)', () => {
    const dev = sparseFile('startup', 4 * GiB);
    try {
      mkfs(dev);
      const r = loaded(['ls', '-d', dev]);
      assert.equal(r.code, 0);
      assert.equal(r.koffi, true, 'ls maps the device');
      for (const m of ['https', 'tls', 'zlib']) assert.ok(!r.builtins.includes(m), `${m} loaded`);
    } finally {
      removeFile(dev);
    }
  });

  it('a verb loads its own module; a device it cannot open never loads koffi', () => {
    const r = loaded(['ls', '-d', '/nonexistent/famfs-startup-test']);
    assert.equal(r.lsVerb, true);
    assert.notEqual(r.code, 0);
    assert.equal(r.koffi, false);
  });

  it('help still lists every verb', () => {
    const r = spawnSync(process.execPath, [path.resolve(path.dirname(MAIN), '../../../bin/famfs.js'), '--help'], { encoding: 'utf8' });
    for (const verb of ['mkfs', 'ls', 'cp', 'mount', 'umount', 'status', 'install-helpers']) assert.match(r.stdout, new RegExp(`^  ${verb}\\b`, 'm'));
  });
});
