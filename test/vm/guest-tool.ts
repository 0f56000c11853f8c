/**
 * Small checks run INSIDE the VM guests (node dist/test/vm/guest-tool.js VERB ...):
 * one node process per check instead of many shell commands, because every
 * process start is slow under TCG. Each verb polls until its condition holds
 * or its deadline passes, prints what it saw, and exits 0 / 1.
 *
 *   wait-superblock DEV SECONDS          until DEV starts with a famfs superblock magic
 *   check-tree MANIFEST ROOT SECONDS     until every manifest entry under ROOT has its type,
 *                                        size, mode, owner and sha256
 *   wait-bytes FILE OFFSET TEXT SECONDS  until FILE holds TEXT at OFFSET (read through a mount)
 *   wait-errno FILE CODE SECONDS         until reading FILE fails with CODE (e.g. ESTALE)
 *   sha256 FILE                          print the sha256 of FILE
 *   check-mmap MANIFEST ROOT             every manifest file with a sha256 has it when read through a shared mapping
 *   mmap-sha256 FILE                     print the sha256 of FILE read through a shared mapping
 *   mmap-write FILE OFFSET TEXT          store TEXT at OFFSET through a shared mapping
 *   craft-observations DEV               log two files the CLI would never make (device still devdax):
 *                                        many (16 one-unit extents, the log's maximum, PRNG seed 2)
 *                                        and refused (a 4 GiB interleave chunk: no u32 for the kernel)
 *   readbench FILE SECONDS               sequential 1 MiB reads, then 4 KiB random reads: MB/s and IOPS as JSON
 *   replace-loop …, stream-gens …        the replace phase (issue 14): see guest-replace.ts
 *   kdel-client MNT SECONDS / kdel-master MNT DEV SECONDS   the kernel-mode delete case (guest-kdelete.ts)
 *
 * Without a verb it does nothing (node --test runs every .js under dist/test/).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface ManifestEntry {
  path: string;
  type: 'file' | 'dir';
  size?: number;
  mode: number;
  uid: number;
  gid: number;
  sha256?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function poll(seconds: number, what: string, check: () => string | undefined, stepMs = 100): Promise<number> {
  const t0 = Date.now();
  let last: string | undefined = 'never checked';
  while (Date.now() - t0 <= seconds * 1000) {
    last = check();
    if (last === undefined) return Date.now() - t0;
    await sleep(stepMs);
  }
  console.error(`guest-tool: ${what}: not true within ${seconds} s; last: ${last}`);
  return -1;
}

/** Compare one entry; undefined when it matches, else why not. */
function entryProblem(root: string, e: ManifestEntry): string | undefined {
  const p = path.join(root, e.path);
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (err) {
    return `${e.path}: ${(err as NodeJS.ErrnoException).code}`;
  }
  if (e.type === 'dir' ? !st.isDirectory() : !st.isFile()) return `${e.path}: not a ${e.type}`;
  if (e.size !== undefined && st.size !== e.size) return `${e.path}: size ${st.size}, expected ${e.size}`;
  if ((st.mode & 0o7777) !== e.mode) return `${e.path}: mode ${(st.mode & 0o7777).toString(8)}, expected ${e.mode.toString(8)}`;
  if (st.uid !== e.uid || st.gid !== e.gid) return `${e.path}: owner ${st.uid}:${st.gid}, expected ${e.uid}:${e.gid}`;
  if (e.sha256) {
    const got = sha256(fs.readFileSync(p));
    if (got !== e.sha256) return `${e.path}: sha256 ${got}, expected ${e.sha256}`;
  }
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  const [verb, ...a] = argv;
  switch (verb) {
    case undefined:
      return 0;
    case 'kdel-client':
      return (await import('./guest-kdelete.js')).kdelClient(a[0]!, Number(a[1]));
    case 'kdel-master':
      return (await import('./guest-kdelete.js')).kdelMaster(a[0]!, a[1]!, Number(a[2]));
    case 'wait-superblock': {
      const [dev, secs] = a as [string, string];
      // Imported lazily: only this verb needs the native mmap bindings.
      const { Device } = await import('../../src/device/device.js');
      const { SUPER_MAGIC } = await import('../../src/format/constants.js');
      const d = Device.open(dev);
      try {
        const v = d.view(0, 8);
        const ms = await poll(Number(secs), `famfs superblock on ${dev}`, () => {
          const m = v.readUInt32LE(0);
          return m === SUPER_MAGIC ? undefined : `magic 0x${m.toString(16)}`;
        }, 50);
        if (ms < 0) return 1;
        console.log(`superblock on ${dev} after ${ms} ms`);
        return 0;
      } finally {
        d.close();
      }
    }
    case 'check-tree': {
      const [manifest, root, secs] = a as [string, string, string];
      const entries = JSON.parse(fs.readFileSync(manifest, 'utf8')) as ManifestEntry[];
      const ok = new Set<string>();
      const ms = await poll(Number(secs), `tree ${root}`, () => {
        let first: string | undefined;
        for (const e of entries) {
          if (ok.has(e.path)) continue;
          const why = entryProblem(root, e);
          if (why === undefined) ok.add(e.path);
          else first ??= `${why} (${entries.length - ok.size} of ${entries.length} entries not right yet)`;
        }
        return first;
      }, 200);
      if (ms < 0) return 1;
      // Everything seen once: check it all again in one pass (nothing may change afterwards).
      const late = entries.map((e) => entryProblem(root, e)).filter((x) => x !== undefined);
      if (late.length) {
        console.error(`guest-tool: tree ${root} changed after matching: ${late.join('; ')}`);
        return 1;
      }
      console.log(`all ${entries.length} entries right under ${root} after ${ms} ms`);
      return 0;
    }
    case 'wait-bytes': {
      const [file, off, text, secs] = a as [string, string, string, string];
      const want = Buffer.from(text);
      const buf = Buffer.alloc(want.length);
      const ms = await poll(Number(secs), `${JSON.stringify(text)} at ${off} in ${file}`, () => {
        try {
          const fd = fs.openSync(file, 'r');
          try {
            const n = fs.readSync(fd, buf, 0, buf.length, Number(off));
            return n === want.length && buf.equals(want) ? undefined : JSON.stringify(buf.subarray(0, n).toString('latin1'));
          } finally {
            fs.closeSync(fd);
          }
        } catch (e) {
          return (e as NodeJS.ErrnoException).code;
        }
      });
      if (ms < 0) return 1;
      console.log(`${JSON.stringify(text)} at ${off} in ${file} after ${ms} ms`);
      return 0;
    }
    case 'wait-errno': {
      const [file, code, secs] = a as [string, string, string];
      // libuv has no name for some errnos (ESTALE: "Unknown system error -116"): compare numbers.
      const want = (os.constants.errno as Record<string, number>)[code];
      const ms = await poll(Number(secs), `${code} from ${file}`, () => {
        try {
          fs.readFileSync(file);
          return 'read succeeded';
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          return err.code === code || (want !== undefined && err.errno === -want) ? undefined : `${err.code} (${err.message})`;
        }
      });
      if (ms < 0) return 1;
      console.log(`${file}: ${code} after ${ms} ms`);
      return 0;
    }
    case 'sha256':
      console.log(sha256(fs.readFileSync(a[0]!)));
      return 0;
    case 'check-mmap': {
      const { MAP_SHARED, mmap, munmap, PROT_READ, viewOf } = await import('../../src/sys/libc.js');
      const [manifest, root] = a as [string, string];
      const entries = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as ManifestEntry[]).filter((e) => e.type === 'file' && e.sha256 && e.size);
      const bad: string[] = [];
      for (const e of entries) {
        const fd = fs.openSync(path.join(root, e.path), 'r');
        const ptr = mmap(e.size!, PROT_READ, MAP_SHARED, fd, 0);
        fs.closeSync(fd);
        const got = sha256(viewOf(ptr, e.size!));
        munmap(ptr, e.size!);
        if (got !== e.sha256) bad.push(`${e.path}: sha256 ${got} through mmap, expected ${e.sha256}`);
      }
      if (bad.length) {
        console.error(`guest-tool: ${bad.join('; ')}`);
        return 1;
      }
      console.log(`${entries.length} files under ${root} have their bytes through mmap`);
      return 0;
    }
    case 'mmap-sha256':
    case 'mmap-write': {
      const { MAP_SHARED, mmap, munmap, PROT_READ, PROT_WRITE, viewOf } = await import('../../src/sys/libc.js');
      const file = a[0]!;
      const write = verb === 'mmap-write';
      const size = fs.statSync(file).size;
      const fd = fs.openSync(file, write ? 'r+' : 'r');
      const ptr = mmap(size, write ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
      fs.closeSync(fd);
      try {
        const view = viewOf(ptr, size);
        if (write) {
          const off = Number(a[1]);
          const n = Buffer.from(a[2]!).copy(view, off);
          console.log(`stored ${n} bytes at ${off} of ${file} through mmap`);
        } else console.log(sha256(view));
      } finally {
        munmap(ptr, size);
      }
      return 0;
    }
    case 'craft-observations': {
      const { Famfs } = await import('../../src/api/famfs.js');
      const { randomize } = await import('../../src/api/data.js');
      const { FM_ALL_HOSTS_RW } = await import('../../src/format/constants.js');
      const MiB = 1 << 20, GiB = 1 << 30;
      const f = Famfs.open(a[0]!, { writable: true });
      try {
        f.writer((w) => {
          const owner = { mode: 0o644, uid: 0, gid: 0, flags: FM_ALL_HOSTS_RW };
          const extents = Array.from({ length: 16 }, (_, i) => ({ devindex: 0, offset: 5 * GiB + i * 4 * MiB, length: 2 * MiB }));
          w.fs.log.append({ type: 'file', path: 'many', size: 32 * MiB, map: { kind: 'simple', extents }, ...owner });
          w.fs.log.append({ type: 'file', path: 'refused', size: 4 * GiB, map: { kind: 'interleave', chunkSize: 4 * GiB, strips: [{ devindex: 0, offset: 512 * MiB, length: 4 * GiB }] }, ...owner });
        });
        f.refresh();
        randomize(f, f.file('many'), 2);
        console.log(`crafted many (${f.file('many').map.kind}, 16 extents) and refused (chunk 4 GiB)`);
      } finally {
        f.close();
      }
      return 0;
    }
    case 'readbench': {
      const [file, secs] = a as [string, string];
      const size = fs.statSync(file).size;
      const fd = fs.openSync(file, 'r');
      try {
        const big = Buffer.alloc(1 << 20);
        const small = Buffer.alloc(4096);
        const budget = Number(secs) * 1000;
        let t0 = Date.now();
        let bytes = 0;
        for (let off = 0; Date.now() - t0 < budget; off = (off + big.length) % size) bytes += fs.readSync(fd, big, 0, Math.min(big.length, size - off), off);
        const seqMBs = bytes / 1e6 / ((Date.now() - t0) / 1000);
        t0 = Date.now();
        let ops = 0;
        let x = 12345;
        const pages = Math.floor(size / 4096);
        while (Date.now() - t0 < budget) {
          x = (x * 1103515245 + 12345) >>> 0;
          fs.readSync(fd, small, 0, 4096, (x % pages) * 4096);
          ops++;
        }
        const iops = ops / ((Date.now() - t0) / 1000);
        console.log(JSON.stringify({ file, seqMBs: Math.round(seqMBs * 10) / 10, randIops: Math.round(iops) }));
      } finally {
        fs.closeSync(fd);
      }
      return 0;
    }
    case 'replace-loop':
      return (await import('./guest-replace.js')).replaceLoop(a);
    case 'stream-gens':
      return (await import('./guest-replace.js')).streamGens(a, process.env.ME ?? 'B');
    default:
      console.error(`guest-tool: unknown verb ${verb}`);
      return 2;
  }
}

if (process.argv[1] && path.basename(process.argv[1]) === 'guest-tool.js') {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e) => { console.error(`guest-tool: ${(e as Error).stack ?? e}`); process.exitCode = 2; },
  );
}
