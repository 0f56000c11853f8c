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

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

/** Run main(argv) in a fresh node; report whether koffi and the ls verb module were loaded. */
function loaded(argv: string[]): { koffi: boolean; lsVerb: boolean; code: number } {
  const script = `
    import { createRequire } from 'node:module';
    const m = await import('node:module');
    m.register('data:text/javascript,export async function resolve(s,c,n){const r=await n(s,c);if(r.url.endsWith("/cli/ls.js"))process.stderr.write("LOADED-LS\\\\n");return r}');
    const { main } = await import(${JSON.stringify(MAIN)});
    const code = await main(${JSON.stringify(argv)});
    const req = createRequire(import.meta.url);
    const koffi = Object.keys(req.cache).some((k) => k.includes('/koffi/'));
    process.stdout.write(JSON.stringify({ koffi, code }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  assert.ok(last.startsWith('{'), `child failed: ${r.stderr}`);
  const out = JSON.parse(last) as { koffi: boolean; code: number };
  return { ...out, lsVerb: r.stderr.includes('LOADED-LS') };
}

describe('CLI start-up', () => {
  it('--version loads no verb module and no koffi', () => {
    const r = loaded(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.koffi, false);
    assert.equal(r.lsVerb, false);
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
