/**
 * The CPU cache routines (src/sys/fcc.ts): the machine code is the documented
 * encoding, every instruction choice runs and leaves data intact, and each
 * routine touches exactly the lines of its range: one byte into a PROT_NONE
 * page must fault (proved in a child process, which dies of SIGSEGV).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { arm64Routine, cacheOps, chooseX86, FccUnsupportedError, x86Routine } from '../../src/sys/fcc.js';
import { famfs, GiB, makeHost, readRange, removeAllShm, removeHost, sparseFile } from '../core/helpers.js';

const x64 = process.arch === 'x64';
const flags = x64 ? new Set(/^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))![1]!.trim().split(/\s+/)) : new Set<string>();
const choices = ['clwb', 'clflushopt', 'clflush'].filter((f) => flags.has(f));

describe('cache write-back / invalidate routines', () => {
  it('x86-64 code is the reference encoding (CLFLUSHOPT + SFENCE: 30 bytes; CLFLUSH: 29)', () => {
    const ref = '488d3437 4883e7c0 4839f7 730d 660fae3f 4883c740 4839f7 72f3 0faef8 c3'.replace(/ /g, '');
    assert.equal(x86Routine('clflushopt', [], [0x0f, 0xae, 0xf8]).toString('hex'), ref);
    assert.equal(x86Routine('clwb', [], [0x0f, 0xae, 0xf8]).toString('hex'), ref.replace('660fae3f', '660fae37'));
    assert.equal(x86Routine('clflush', [], [0x0f, 0xae, 0xf8]).toString('hex'), ref.replace('730d', '730c').replace('660fae3f', '0fae3f').replace('72f3', '72f4'));
    const inv = x86Routine('clflushopt', [0x0f, 0xae, 0xf0], [0x0f, 0xae, 0xf0]).toString('hex');
    assert.ok(inv.startsWith('0faef0488d3437') && inv.endsWith('72f30faef0c3'), inv);
  });

  it('arm64 code: DC CIVAC / DC CVAC in the line loop between DSB SY', () => {
    const civac = arm64Routine(0xd50b7e20);
    assert.equal(civac.length, 60);
    assert.equal(civac.readUInt32LE(40), 0xd50b7e20);
    assert.equal(civac.readUInt32LE(28), 0xd5033f9f);
    assert.equal(civac.readUInt32LE(52), 0xd5033f9f);
    assert.equal(arm64Routine(0xd50b7a20).readUInt32LE(40), 0xd50b7a20);
  });

  it("instruction choice follows upstream's table; invalidate never uses CLWB", () => {
    assert.deepEqual(chooseX86(new Set(['clflush', 'clflushopt', 'clwb'])), { writeBack: 'clwb', invalidate: 'clflushopt' });
    assert.deepEqual(chooseX86(new Set(['clflush', 'clwb'])), { writeBack: 'clwb', invalidate: 'clflush' });
    assert.deepEqual(chooseX86(new Set(['clflush', 'clflushopt'])), { writeBack: 'clflushopt', invalidate: 'clflushopt' });
    assert.deepEqual(chooseX86(new Set(['clflush'])), { writeBack: 'clflush', invalidate: 'clflush' });
    assert.deepEqual(chooseX86(new Set(['clflush', 'clflushopt', 'clwb']), 'clflush'), { writeBack: 'clflush', invalidate: 'clflush' });
    assert.throws(() => chooseX86(new Set(['sse2'])), (e: Error) => e instanceof FccUnsupportedError && /no CLFLUSH/.test(e.message));
    assert.throws(() => chooseX86(new Set(['clflush']), 'clwb'), /lacks CLWB/);
    assert.throws(() => chooseX86(new Set(['clflush']), 'wbinvd'), /expected clwb, clflushopt or clflush/);
  });

  it('every available instruction runs on shared memory and leaves the bytes as they were', { skip: !x64 && 'x86-64 only' }, () => {
    const path = `/dev/shm/famfs-fcc-${process.pid}`;
    fs.writeFileSync(path, Buffer.alloc(1 << 20, 0x5a));
    try {
      const b = Buffer.from(fs.readFileSync(path));
      for (const f of choices) {
        const ops = cacheOps(f);
        b[12345] = f.length;
        ops.writeBack(b);
        ops.invalidate(b.subarray(7, 70_001));
        ops.invalidate(b.subarray(0, 0));
        assert.equal(b[12345], f.length);
        assert.equal(b[0], 0x5a);
        assert.match(ops.info.writeBack, new RegExp(`^${f === 'clwb' ? 'clwb' : f}\\+sfence$`));
      }
    } finally {
      fs.rmSync(path);
    }
  });

  it('each routine stops at the last line of its range: a range one byte into a PROT_NONE page faults', { skip: !x64 && 'x86-64 only' }, () => {
    const probe = (op: 'writeBack' | 'invalidate', extra: number): number | null | string => {
      const code = `
        import koffi from 'koffi';
        import { cacheOps } from ${JSON.stringify(new URL('../../src/sys/fcc.js', import.meta.url).href)};
        const libc = koffi.load('libc.so.6');
        const mmap = libc.func('void *mmap(void *, size_t, int, int, int, int64_t)');
        const mprotect = libc.func('int mprotect(uintptr_t, size_t, int)');
        const p = mmap(null, 8192, 3, 0x22, -1, 0);
        new Uint8Array(koffi.view(p, 8192)).fill(1);
        // PROT_NONE, not unmapped: this CPU does not fault a CLFLUSH of a page that is not present.
        if (mprotect(koffi.address(p) + 4096n, 4096, 0) !== 0) throw new Error('mprotect');
        // A view never touched by JS: only the routine reads these addresses.
        const v = new Uint8Array(koffi.view(p, 4096 + ${extra}));
        cacheOps().${op}(v.subarray(4031, 4096 + ${extra}));
        process.stdout.write('survived');`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', cwd: new URL('../../..', import.meta.url).pathname });
      return r.stdout === 'survived' ? 'survived' : r.signal ?? r.status;
    };
    for (const op of ['writeBack', 'invalidate'] as const) {
      assert.equal(probe(op, 0), 'survived', `${op} of [..., end of mapping)`);
      assert.equal(probe(op, 1), 'SIGSEGV', `${op} one byte past the mapping`);
    }
  });

  it('under MemoryDenyWriteExecute (PR_SET_MDWE) the code page comes from a memfd and still works', { skip: !x64 && 'x86-64 only' }, () => {
    const code = `
      import koffi from 'koffi';
      const prctl = koffi.load('libc.so.6').func('int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)');
      if (prctl(65, 1, 0, 0, 0) !== 0) { process.stdout.write('no-mdwe'); process.exit(0); } // PR_SET_MDWE, REFUSE_EXEC_GAIN
      const { cacheOps } = await import(${JSON.stringify(new URL('../../src/sys/fcc.js', import.meta.url).href)});
      const ops = cacheOps();
      const b = Buffer.alloc(8192, 3);
      ops.writeBack(b);
      ops.invalidate(b);
      process.stdout.write(ops.info.via + ':' + b[5000]);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', cwd: new URL('../../..', import.meta.url).pathname });
    assert.equal(r.status, 0, r.stderr);
    if (r.stdout === 'no-mdwe') return; // kernel before 6.3
    assert.equal(r.stdout, 'memfd:3');
  });

  it('where the routines cannot run, a verb fails with one clear line and changes nothing', { skip: !x64 && 'x86-64 only' }, () => {
    const h = makeHost('fcc-bad');
    const dev = sparseFile('fcc-bad', 4 * GiB);
    try {
      const r = famfs({ ...h, env: { ...h.env, FAMFS_FCC: 'wbinvd', FAMFS_COHERENT: '0', FAMFS_SIM_NONCOHERENT: '' } }, ['mkfs', dev]);
      assert.equal(r.status, 1);
      assert.equal(r.stderr, 'famfs mkfs: FAMFS_FCC=wbinvd: expected clwb, clflushopt or clflush\n');
      assert.ok(readRange(dev, 0, 4 << 20).equals(Buffer.alloc(4 << 20)), 'mkfs wrote to the device');
      const ok = famfs({ ...h, env: { ...h.env, FAMFS_FCC: 'wbinvd', FAMFS_COHERENT: '1' } }, ['mkfs', dev]);
      assert.equal(ok.status, 0, 'FAMFS_COHERENT=1 needs no routines');
    } finally {
      removeAllShm();
      removeHost(h);
    }
  });
});
