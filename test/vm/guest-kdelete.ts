/**
 * The kernel-mode delete case of the famfs-kernel VM scenario (guest-tool verbs):
 *
 *   kdel-client MNT SECONDS        (guest B, kernel mode) maps del/victim.bin, closes the fd,
 *                                  keeps a second fd; after A's delete: the mapping still reads
 *                                  the old bytes, the name is gone, a reopen through
 *                                  /proc/self/fd works; closes every fd, later munmaps
 *   kdel-master MNT DEV SECONDS    (guest A, kernel-mode master) deletes del/victim.bin while B
 *                                  maps it: B's presence slot holds it (also after B closed
 *                                  every fd), new files do not get its space; after B's munmap
 *                                  the hold goes and the next file of its size gets that space
 *
 * They talk through del/mbox (stores through the mount reach the other guest through DAX):
 * A-READY @80 (victim written), B-MAPPED @0, A-DELETED @16, B-CLOSED @32, A-CHECKED @48,
 * B-UNMAPD @64.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const VICTIM = 'del/victim.bin';
export const MBOX = 'del/mbox';
export const VICTIM_SIZE = 4 * 1024 * 1024;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const FAMFS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/famfs.js');

function famfs(...args: string[]): string {
  return execFileSync(process.execPath, [FAMFS, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function post(mnt: string, off: number, text: string): void {
  const fd = fs.openSync(path.join(mnt, MBOX), 'r+');
  try {
    fs.writeSync(fd, Buffer.from(text), 0, text.length, off);
  } finally {
    fs.closeSync(fd);
  }
}

async function until(what: string, seconds: number, check: () => boolean, stepMs = 50): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 <= seconds * 1000) {
    if (check()) return Date.now() - t0;
    await sleep(stepMs);
  }
  throw new Error(`${what}: not within ${seconds} s`);
}

function mailboxHas(mnt: string, off: number, text: string): boolean {
  const buf = Buffer.alloc(text.length);
  const fd = fs.openSync(path.join(mnt, MBOX), 'r');
  try {
    fs.readSync(fd, buf, 0, buf.length, off);
  } finally {
    fs.closeSync(fd);
  }
  return buf.toString('latin1') === text;
}

function waitMail(mnt: string, off: number, text: string, seconds: number): Promise<number> {
  return until(`${text} in ${MBOX}`, seconds, () => mailboxHas(mnt, off, text));
}

export async function kdelClient(mnt: string, seconds: number): Promise<number> {
  const { MAP_SHARED, mmap, munmap, PROT_READ, viewOf } = await import('../../src/sys/libc.js');
  const file = path.join(mnt, VICTIM);
  await until(`${file}`, seconds, () => fs.existsSync(file) && fs.existsSync(path.join(mnt, MBOX)), 100);
  await waitMail(mnt, 80, 'A-READY', seconds); // A logs the file first and fills it afterwards
  const fd = fs.openSync(file, 'r');
  const ptr = mmap(VICTIM_SIZE, PROT_READ, MAP_SHARED, fd, 0);
  fs.closeSync(fd);
  const view = viewOf(ptr, VICTIM_SIZE);
  const s0 = sha256(view);
  const kept = fs.openSync(file, 'r');
  post(mnt, 0, 'B-MAPPED');
  console.log(`mapped ${VICTIM} (sha256 ${s0.slice(0, 16)}…), closed that fd, kept fd ${kept}`);
  await waitMail(mnt, 16, 'A-DELETED', seconds);
  const bad: string[] = [];
  if (sha256(view) !== s0) bad.push('the mapping changed after the delete');
  const gone = await until('the name to go', 10, () => !fs.existsSync(file)).catch(() => -1);
  console.log(gone >= 0 ? `name gone on this host ${gone} ms after A said it deleted` : 'name still there 10 s after the delete');
  if (gone < 0) bad.push('the deleted name still resolves');
  const st = fs.fstatSync(kept);
  console.log(`fstat of the kept fd: nlink ${st.nlink}, size ${st.size}`);
  if (st.nlink !== 0) bad.push(`nlink ${st.nlink} on a deleted file`);
  // A reopen of the deleted file through /proc/self/fd: a new OPEN (and later its own RELEASE).
  try {
    const again = fs.openSync(`/proc/self/fd/${kept}`, 'r');
    const head = Buffer.alloc(4096);
    fs.readSync(again, head, 0, head.length, 0);
    fs.closeSync(again);
    console.log(`reopen through /proc/self/fd: ok, ${head.equals(view.subarray(0, 4096)) ? 'same bytes as the mapping' : 'DIFFERENT bytes'}`);
    if (!head.equals(view.subarray(0, 4096))) bad.push('the reopened fd reads other bytes');
  } catch (e) {
    console.log(`reopen through /proc/self/fd: ${(e as NodeJS.ErrnoException).code}`);
    bad.push(`reopen through /proc/self/fd failed: ${(e as Error).message}`);
  }
  fs.closeSync(kept);
  post(mnt, 32, 'B-CLOSED');
  console.log('closed every fd; the mapping is the only reference left');
  await waitMail(mnt, 48, 'A-CHECKED', seconds);
  if (sha256(view) !== s0) bad.push('the mapping changed while still mapped (space reused?)');
  munmap(ptr, VICTIM_SIZE);
  post(mnt, 64, 'B-UNMAPD');
  console.log('munmapped');
  if (bad.length) {
    console.error(`guest-tool: kdel-client: ${bad.join('; ')}`);
    return 1;
  }
  return 0;
}

interface Extent { offset: number; length: number }
type FamfsT = import('../../src/api/famfs.js').Famfs;

export async function kdelMaster(mnt: string, dev: string, seconds: number): Promise<number> {
  const { Famfs } = await import('../../src/api/famfs.js');
  const { PresenceArea } = await import('../../src/presence/area.js');
  const look = <T>(fn: (f: FamfsT) => T): T => {
    const f = Famfs.openMounted(mnt, dev);
    try {
      return fn(f);
    } finally {
      f.close();
    }
  };
  const extents = (rel: string): Extent[] => look((f) => {
    const m = f.file(rel).map;
    return m.kind === 'simple' ? m.extents : m.strips;
  });
  const victim = extents(VICTIM);
  const fileId = look((f) => f.file(VICTIM).entryIndex);
  /** The kernel-mode client's slot holds the victim (B is the only live kernel-mode client). */
  const bHolds = (): boolean | undefined => look((f) => {
    const slot = new PresenceArea(f.device).readAll().find((s) => s && s.state === 'live' && s.role === 'client' && s.kernelMode);
    return slot ? slot.held.includes(fileId) : undefined;
  });
  const overlaps = (rel: string): boolean => extents(rel).some((e) => victim.some((v) => e.offset < v.offset + v.length && v.offset < e.offset + e.length));
  const bad: string[] = [];
  const creat = (name: string): boolean => {
    famfs('creat', '-s', String(VICTIM_SIZE), path.join(mnt, 'del', name));
    const o = overlaps(`del/${name}`);
    console.log(`del/${name} at ${extents(`del/${name}`).map((e) => e.offset).join(',')}: ${o ? 'REUSES' : 'does not touch'} the deleted file's space`);
    return o;
  };
  console.log(`${VICTIM}: id ${fileId}, extents ${victim.map((e) => `${e.offset}+${e.length}`).join(',')}`);
  post(mnt, 80, 'A-READY');
  await waitMail(mnt, 0, 'B-MAPPED', seconds);
  famfs('rm', path.join(mnt, VICTIM));
  const ms = await until('B to hold the deleted file', seconds, () => bHolds() === true);
  console.log(`B publishes that it holds the deleted file ${ms} ms after the rm`);
  if (creat('new1.bin')) bad.push('space of a file mapped on B was reused');
  post(mnt, 16, 'A-DELETED');
  await waitMail(mnt, 32, 'B-CLOSED', seconds);
  // Every fd on B is closed; only B's mapping is left. Its RELEASE must wait for the munmap.
  await sleep(3000);
  if (bHolds() !== true) bad.push("B released the file after its last close although it still maps it");
  else console.log('B still holds the file 3 s after closing its last fd (the mapping keeps the struct file)');
  if (creat('new2.bin')) bad.push('space of a file still mapped on B was reused');
  post(mnt, 48, 'A-CHECKED');
  await waitMail(mnt, 64, 'B-UNMAPD', seconds);
  const t0 = Date.now();
  await until('B to release the file after its munmap', seconds, () => bHolds() === false);
  console.log(`B released the file ${Date.now() - t0} ms after A saw its munmap marker`);
  if (!creat('new3.bin')) {
    const slots = look((f) => new PresenceArea(f.device).readAll().filter((s) => s && s.state !== 'free'));
    bad.push(`the space did not come back after the munmap; slots: ${JSON.stringify(slots.map((s) => s && { i: s.index, state: s.state, role: s.role, kernel: s.kernelMode, replayed: s.replayed, held: s.held, intents: s.intents }))}`);
  }
  else {
    const zero = look((f) => f.slices(f.file('del/new3.bin'), 0, VICTIM_SIZE).every((b) => b.every((x) => x === 0)));
    console.log(`del/new3.bin reads ${zero ? 'all zeros' : 'OLD BYTES'}`);
    if (!zero) bad.push('a new file over freed space shows old bytes');
  }
  if (bad.length) {
    console.error(`guest-tool: kdel-master: ${bad.join('; ')}`);
    return 1;
  }
  return 0;
}
