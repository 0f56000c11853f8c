/**
 * The replace phase of the multi-host VM scenario (issue 14), run inside the guests by
 * guest-tool.js. Every generation of the file is stamped with (key 1, gen) in every
 * 512-byte sector (torture/lib/stamp.ts), so a reader knows the generation of each byte.
 *
 *   replace-loop DIR NAME COUNT SIZE MAILBOX OFF:TEXT[,OFF:TEXT…] DONEOFF SECONDS
 *       (master) write generation 0 of DIR/NAME, wait for every reader's TEXT in MAILBOX,
 *       then COUNT times: write generation g to a new file in DIR and rename(2) it over
 *       NAME (what `mv new old` does), checking after each that the space in use (statfs)
 *       stays under 4 generations more than before; post "A-RDONE" at DONEOFF; then wait
 *       (SECONDS, from then on) for the space to come back to one generation once the reader let go.
 *   stream-gens FILE MAILBOX OPENOFF DONEOFF SECONDS COUNT
 *       (client) open FILE, post "<ME>-OPEN" at OPENOFF, and read it whole again and again,
 *       holding each descriptor for 1-3 passes across the master's replaces: every pass
 *       must be one generation, the one the descriptor opened. Stops when "A-RDONE" is at
 *       DONEOFF; then the newest generation (COUNT) must become visible (within SECONDS).
 */
import fs from 'node:fs';
import path from 'node:path';
import { content, identOf, mismatch, SECTOR } from '../../torture/lib/stamp.js';

const CHUNK = 1 << 20;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function mailboxHas(file: string, off: number, text: string): boolean {
  const want = Buffer.from(text);
  const b = Buffer.alloc(want.length);
  try {
    const fd = fs.openSync(file, 'r');
    try {
      fs.readSync(fd, b, 0, b.length, off);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
  return b.equals(want);
}

function post(file: string, off: number, text: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, Buffer.from(text), 0, text.length, off);
  } finally {
    fs.closeSync(fd);
  }
}

function used(dir: string): number {
  const s = fs.statfsSync(dir);
  return (s.blocks - s.bfree) * s.bsize;
}

function writeGen(file: string, gen: number, size: number): void {
  const fd = fs.openSync(file, 'wx');
  try {
    for (let off = 0; off < size; off += CHUNK) fs.writeSync(fd, content({ key: 1, gen, size }, off, Math.min(CHUNK, size - off)), 0, undefined, off);
  } finally {
    fs.closeSync(fd);
  }
}

export async function replaceLoop(a: string[]): Promise<number> {
  const [dir, name, countS, sizeS, mailbox, waits, doneOff, secs] = a as [string, string, string, string, string, string, string, string];
  const count = Number(countS), size = Number(sizeS);
  const target = path.join(dir, name);
  const before = used(dir);
  writeGen(`${target}.g0`, 0, size);
  fs.renameSync(`${target}.g0`, target);
  console.log(`generation 0 (${size} bytes) written; waiting for ${waits}`);
  let deadline = Date.now() + Number(secs) * 1000;
  // Every reader has the file open before the first replace.
  for (const w of waits.split(',')) {
    const [off, text] = w.split(':') as [string, string];
    while (!mailboxHas(mailbox, Number(off), text)) {
      if (Date.now() > deadline) {
        console.error(`guest-tool: ${text} never appeared in ${mailbox}`);
        return 1;
      }
      await sleep(100);
    }
  }
  const bound = before + 4 * size;
  let maxUsed = 0;
  const t0 = Date.now();
  for (let g = 1; g <= count; g++) {
    const tmp = path.join(dir, `.${name}.g${g}`);
    writeGen(tmp, g, size);
    fs.renameSync(tmp, target);
    const u = used(dir);
    maxUsed = Math.max(maxUsed, u);
    console.log(`replace ${g}: ${Date.now() - t0} ms, ${u - before} bytes in use over the start`);
    if (u > bound) {
      console.error(`guest-tool: after replace ${g} the file system uses ${u} bytes, more than ${bound} (4 generations over the ${before} before)`);
      return 1;
    }
  }
  console.log(`${count} replaces of ${size} bytes in ${Date.now() - t0} ms; space in use at most ${maxUsed - before} bytes over the start (bound ${bound - before})`);
  post(mailbox, Number(doneOff), 'A-RDONE');
  // The reader closes its last descriptor after seeing A-RDONE: then one generation stays.
  let now = used(dir);
  const back = Date.now();
  // The replaces themselves may take longer than SECONDS (large files under TCG): a fresh wait.
  deadline = back + Number(secs) * 1000;
  while (now - before > size + 2 * CHUNK * 2) {
    if (Date.now() > deadline) {
      console.error(`guest-tool: space never came back: ${now - before} bytes over the start with one ${size}-byte generation left`);
      return 1;
    }
    await sleep(200);
    now = used(dir);
  }
  console.log(`space back to ${now - before} bytes over the start ${Date.now() - back} ms after A-RDONE`);
  return 0;
}

/** Read all of fd; undefined if every byte is generation `gen`, else what differed. */
function pass(fd: number, gen: number, size: number, buf: Buffer): string | undefined {
  for (let off = 0; off < size; off += CHUNK) {
    const n = fs.readSync(fd, buf, 0, Math.min(CHUNK, size - off), off);
    if (n !== Math.min(CHUNK, size - off)) return `short read at ${off}: ${n}`;
    const bad = mismatch({ key: 1, gen, size }, off, buf.subarray(0, n));
    if (bad) return bad;
  }
  return undefined;
}

export async function streamGens(a: string[], me: string): Promise<number> {
  const [file, mailbox, openOff, doneOff, secs, lastS] = a as [string, string, string, string, string, string];
  let deadline = Date.now() + Number(secs) * 1000;
  let sawDone = false;
  const buf = Buffer.alloc(CHUNK);
  const seen = new Set<number>();
  let passes = 0, stalePasses = 0, announced = false, errors = 0;
  let x = 7;
  const problems: string[] = [];
  while (problems.length === 0) {
    const done = mailboxHas(mailbox, Number(doneOff), 'A-RDONE');
    // The replaces may outlast SECONDS: the newest generation gets its own wait from A-RDONE on.
    if (done && !sawDone) {
      deadline = Date.now() + Number(secs) * 1000;
      sawDone = true;
    }
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      if (Date.now() > deadline) return fail(`${file}: ${(e as NodeJS.ErrnoException).code} until the deadline`);
      await sleep(100);
      continue;
    }
    try {
      const s0 = Buffer.alloc(SECTOR);
      fs.readSync(fd, s0, 0, SECTOR, 0);
      const id = identOf(s0);
      if (!id) return fail(`${file}: sector 0 has no stamp at open (${s0.subarray(0, 20).toString('hex')})`);
      if (!announced) {
        post(mailbox, Number(openOff), `${me}-OPEN`);
        announced = true;
        console.log(`opened generation ${id.gen}, posted ${me}-OPEN`);
      }
      x = (x * 1103515245 + 12345) >>> 0;
      const holds = done ? 1 : 1 + (x % 3);
      for (let k = 0; k < holds; k++) {
        let bad: string | undefined;
        try {
          bad = pass(fd, id.gen, id.size, buf);
        } catch (e) {
          errors++;
          problems.push(`pass ${passes} of generation ${id.gen}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
          break;
        }
        passes++;
        if (!seen.has(id.gen)) console.log(`pass ${passes}: generation ${id.gen}`);
        seen.add(id.gen);
        if (bad) problems.push(`pass ${passes} of generation ${id.gen}: ${bad}`);
        // Did this pass run on a file that had been replaced (the path names another file now)?
        try {
          if (fs.statSync(file).ino !== fs.fstatSync(fd).ino) stalePasses++;
        } catch {
          /* the name is being replaced right now */
        }
      }
      if (done && id.gen === Number(lastS)) break;
      if (done && Date.now() > deadline) return fail(`the newest generation ${lastS} never became visible (still ${id.gen})`);
    } finally {
      fs.closeSync(fd);
    }
  }
  if (problems.length) return fail(problems.join('; '));
  if (seen.size < 2 || stalePasses === 0) return fail(`no replace raced the reads: ${passes} passes, generations ${[...seen].join(',')}, ${stalePasses} passes on a replaced file`);
  console.log(`${passes} whole passes, every one a single generation; generations seen: ${[...seen].sort((p, q) => p - q).join(',')}; ${stalePasses} passes on a file already replaced under the open descriptor; ${errors} errors`);
  return 0;
}

function fail(why: string): number {
  console.error(`guest-tool: stream-gens: ${why}`);
  return 1;
}
