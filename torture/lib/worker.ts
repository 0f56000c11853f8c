/**
 * A writer process for the reliability properties (library calls, no CLI):
 * `node dist/torture/lib/worker.js '<WorkerJob JSON>'`. Opens the device as
 * the master, prints "ready", then creates directories and files, appending
 * one line per operation to the ack file only after the call returned. With
 * `crashAt` it kills itself (SIGKILL) at that point of its last operation.
 * Run without arguments (as `node --test` might) it does nothing.
 */
import fs from 'node:fs';
import { Famfs, type Writer } from '../../src/api/famfs.js';
import { RandomStream } from '../../src/format/prng.js';
import { prng, type WorkerJob } from './common.js';

function die(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

function main(job: WorkerJob): void {
  const rnd = prng(job.seed);
  const famfs = Famfs.open(job.device, { writable: true });
  const ack = fs.openSync(job.ackFile, 'a');
  let armed: 'entry-flush' | 'header-flush' | 'counter1' | 'counter2' | undefined;
  let flushes = 0, stores = 0;
  if (job.crashAt) {
    const dev = famfs.device;
    const flush = dev.flush.bind(dev);
    dev.flush = (off: number, len: number): void => {
      flush(off, len);
      if (armed === 'entry-flush') die();
      if (armed === 'header-flush' && ++flushes === 2) die();
    };
    const store = Atomics.store;
    (Atomics as { store: typeof Atomics.store }).store = ((a: Int32Array, i: number, v: number) => {
      const r = store(a, i, v);
      if (armed === 'counter1') die();
      if (armed === 'counter2' && ++stores === 2) die();
      return r;
    }) as typeof Atomics.store;
  }
  process.stdout.write('ready\n');

  const dirs: string[] = [];
  let done = 0;
  const dirFraction = job.dirFraction ?? 0.2;
  const fillFraction = job.fillFraction ?? 0.3;
  const maxFill = job.maxFill ?? 256 * 1024;
  const batch = job.batch ?? 1;
  const join = (d: string, n: string): string => (d ? `${d}/${n}` : n);

  const one = (w: Writer, i: number): void => {
    const last = job.crashAt !== undefined && i === job.ops - 1;
    if (i === 0 && job.topDir) {
      w.mkdir(job.prefix);
      dirs.push(job.prefix);
      fs.writeSync(ack, `mkdir ${job.prefix} 0 0\n`);
      return;
    }
    const parents = dirs.filter((d) => d.length < 48);
    const parent = parents.length && rnd() < 0.7 ? parents[Math.floor(rnd() * parents.length)]! : job.topDir ? job.prefix : '';
    const base = job.topDir ? '' : job.prefix;
    if (!last && rnd() < dirFraction) {
      const p = join(parent, `${base}d${i}`);
      w.mkdir(p, { mode: 0o755 });
      dirs.push(p);
      fs.writeSync(ack, `mkdir ${p} 0 0\n`);
      return;
    }
    const p = join(parent, `${base}f${i}`);
    const fill = last || rnd() < fillFraction;
    const size = fill ? 1 + Math.floor(rnd() * maxFill) : Math.floor(rnd() * 8 * 1024 * 1024);
    const seed = 1 + Math.floor(rnd() * 0xfffffff0);
    if (!fill) {
      w.creat(p, size, { mode: 0o644 });
      fs.writeSync(ack, `creat ${p} ${size} 0\n`);
      return;
    }
    w.creat(p, size, { mode: 0o644 }, (f) => {
      const rs = new RandomStream(seed);
      const slices = famfs.slices(f, 0, f.size);
      if (last && job.crashAt === 'mid-fill') {
        // Write the first half, then die: the space holds partial data and no entry names it.
        let left = Math.ceil(size / 2);
        for (const s of slices) {
          const n = Math.min(left, s.length);
          rs.fill(s.subarray(0, n));
          left -= n;
          if (!left) break;
        }
        die();
      }
      for (const s of slices) rs.fill(s);
      famfs.flushFile(f);
      if (!last) return;
      switch (job.crashAt) {
        case 'after-fill': die();
        // falls through (never reached)
        case 'after-entry-flush': armed = 'entry-flush'; break;
        case 'between-counters': armed = 'counter1'; break;
        case 'after-counters': armed = 'counter2'; break;
        case 'after-header-flush': armed = 'header-flush'; break;
      }
    });
    fs.writeSync(ack, `fill ${p} ${size} ${seed}\n`);
  };

  while (done < job.ops) {
    famfs.writer((w) => {
      for (let k = 0; k < batch && done < job.ops; k++) one(w, done++);
    });
  }
  fs.closeSync(ack);
  famfs.close();
}

const arg = process.argv[2];
if (arg) {
  try {
    main(JSON.parse(arg) as WorkerJob);
  } catch (e) {
    process.stderr.write(`worker: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  }
}
