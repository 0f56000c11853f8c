/**
 * The torture runner's hang detection: a child that keeps reporting progress
 * runs past the idle limit (slow is not hung); one that goes quiet is killed,
 * and so is one that runs past the cap however steadily it progresses.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { watchProgress } from '../../torture/lib/watchdog.js';

/** A child that prints PROGRESS every `everyMs` for `forMs`, then stays quiet for `quietMs`, then exits 0. */
function run(everyMs: number, forMs: number, quietMs: number, idleMs: number, capMs: number): Promise<{ why: string; code: number | null; ms: number }> {
  const script = `const t0 = Date.now();
    const iv = setInterval(() => process.stdout.write('\\nPROGRESS\\n'), ${everyMs});
    setTimeout(() => { clearInterval(iv); setTimeout(() => process.exit(0), ${quietMs}); }, ${forMs});`;
  const t0 = performance.now();
  const c = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const why = watchProgress(c, idleMs, capMs);
  return new Promise((resolve) => c.on('close', (code) => resolve({ why: why(), code, ms: performance.now() - t0 })));
}

describe('torture watchdog', () => {
  test('steady progress outlives the idle limit', async () => {
    const r = await run(100, 4000, 0, 2500, 60_000); // 2.5 s also covers a slow start on a loaded machine
    assert.equal(r.why, '');
    assert.equal(r.code, 0);
    assert.ok(r.ms > 4000, `ran ${r.ms} ms`);
  });

  test('no progress for the idle limit: killed as hung', async () => {
    const r = await run(100, 300, 30_000, 2500, 60_000);
    assert.match(r.why, /^no progress for 0\.04 min$/);
    assert.equal(r.code, null);
  });

  test('past the cap: killed even while progressing', async () => {
    const r = await run(100, 30_000, 0, 2500, 5000);
    assert.match(r.why, /^still running after 0\.08 min$/);
    assert.ok(r.ms < 20_000);
  });
});
