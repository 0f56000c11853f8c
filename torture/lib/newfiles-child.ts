/**
 * One process of the new-files property: random open(O_TRUNC) / pwrite /
 * ftruncate (shrink and grow) / close on files it creates on the master's
 * mount, each step applied to a twin file on tmpfs too. Every result and size
 * must agree at every step; the bytes are compared by the parent after commit.
 * Each file keeps its first descriptor open until the end, so it cannot be
 * logged (and its size fixed) halfway through the sequence.
 *
 *   node newfiles-child.js '{"dir":…,"model":…,"seed":N,"files":N,"ops":N}'
 */
import fs from 'node:fs';
import path from 'node:path';
import { prng } from './common.js';

interface Job {
  dir: string;
  model: string;
  seed: number;
  files: number;
  ops: number;
}

const MiB = 1024 * 1024;
const MAX_OFFSET = 6 * MiB;

function run(job: Job): { steps: number; errors: string[] } {
  const rnd = prng(job.seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const bytes = (n: number): Buffer => {
    const b = Buffer.allocUnsafe(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) b.writeUInt32LE(int(2 ** 32), i);
    for (; i < n; i++) b[i] = int(256);
    return b;
  };
  fs.mkdirSync(job.dir);
  fs.mkdirSync(job.model, { recursive: true });
  const errors: string[] = [];
  const files = Array.from({ length: job.files }, (_, i) => {
    const name = `f${i}`;
    const fds: [number, number][] = [[fs.openSync(path.join(job.dir, name), 'wx+', 0o644), fs.openSync(path.join(job.model, name), 'wx+', 0o644)]];
    return { name, fds, broken: false };
  });
  let steps = 0;
  for (let step = 0; step < job.ops; step++) {
    const f = files[int(files.length)]!;
    if (f.broken) continue;
    let pair = f.fds[int(f.fds.length)]!;
    const size = fs.fstatSync(pair[1]).size;
    const r = rnd();
    let what = '';
    try {
      if (r < 0.08) {
        const trunc = rnd() < 0.6;
        what = `open(${trunc ? 'O_TRUNC' : ''})`;
        const flags = fs.constants.O_RDWR | (trunc ? fs.constants.O_TRUNC : 0);
        f.fds.push([fs.openSync(path.join(job.dir, f.name), flags), fs.openSync(path.join(job.model, f.name), flags)]);
      } else if (r < 0.16 && f.fds.length > 1) {
        const [p] = f.fds.splice(1 + int(f.fds.length - 1), 1);
        what = 'close';
        fs.closeSync(p![0]);
        fs.closeSync(p![1]);
        pair = f.fds[0]!;
      } else if (r < 0.3) {
        const to = rnd() < 0.5 ? int(size + 1) : int(MAX_OFFSET);
        what = `ftruncate(${to})`;
        fs.ftruncateSync(pair[0], to);
        fs.ftruncateSync(pair[1], to);
      } else if (r < 0.38) {
        const off = int(size + 1);
        const len = Math.min(size - off, 1 + int(MiB));
        what = `pread(${off}, ${len})`;
        if (len > 0) {
          const a = Buffer.alloc(len), b = Buffer.alloc(len);
          const na = fs.readSync(pair[0], a, 0, len, off), nb = fs.readSync(pair[1], b, 0, len, off);
          if (na !== nb || !a.equals(b)) throw new Error(`read ${na} bytes, model ${nb}; contents differ`);
        }
      } else {
        const off = rnd() < 0.5 ? int(size + 1) : int(MAX_OFFSET);
        const len = 1 + int(rnd() < 0.8 ? 64 * 1024 : 1.5 * MiB);
        what = `pwrite(${off}, ${len})`;
        const data = bytes(len);
        const na = fs.writeSync(pair[0], data, 0, len, off), nb = fs.writeSync(pair[1], data, 0, len, off);
        if (na !== nb) throw new Error(`wrote ${na}, model ${nb}`);
      }
      const sa = fs.fstatSync(pair[0]).size, sb = fs.fstatSync(pair[1]).size;
      if (sa !== sb) throw new Error(`size ${sa}, model ${sb}`);
      steps++;
    } catch (e) {
      errors.push(`${job.dir}/${f.name} step ${step} ${what}: ${(e as Error).message}`);
      f.broken = true;
    }
  }
  for (const f of files) for (const [a, b] of f.fds) {
    try {
      fs.closeSync(a);
    } catch (e) {
      errors.push(`${job.dir}/${f.name}: close: ${(e as Error).message}`);
    }
    fs.closeSync(b);
  }
  return { steps, errors };
}

if (process.argv[2]) process.stdout.write(`${JSON.stringify(run(JSON.parse(process.argv[2]) as Job))}\n`);
