/**
 * One process of the space-reuse property (issue 14): works on one host's mount point
 * until its budget is spent or SIGTERM. Every host reads: it opens files, keeps up to
 * POOL of them open (and some mapped, some mapped after close) across other hosts'
 * deletes and replaces, and checks every byte it reads against the (key, gen) it saw at
 * open (stamp.ts). The writer (on the master's mount) also creates, writes, deletes,
 * renames and replaces. Findings go to `obs` as JSON lines, written at once (writeSync),
 * so they survive a SIGBUS from a mapping whose daemon went away.
 *
 *   node reuse-driver.js '{"mp":…,"host":…,"writer":bool,"seed":N,"ops":N,"obs":FILE,"client":bool}'
 */
import fs from 'node:fs';
import path from 'node:path';
import { prng } from '../../test/core/helpers.js';
import { Famfs } from '../../src/api/famfs.js';
import { MAP_SHARED, mmap, MS_ASYNC, MS_SYNC, msync, munmap, PROT_READ, PROT_WRITE, viewOf, type NativePointer } from '../../src/sys/libc.js';
import { content, identOf, mismatch, SECTOR, type Ident } from './stamp.js';

export interface DriverJob {
  mp: string;
  host: string;
  writer: boolean;
  /** A client host: its inode numbers are log-derived, so its opens are checked against the log afterwards. */
  client: boolean;
  seed: number;
  ops: number;
  obs: string;
  /** First key this writer hands out (a respawned writer continues above the old ones). */
  firstKey?: number;
  maxFileBytes?: number;
  maxFiles?: number;
  /** The device: the writer also deletes and renames through the library, as `famfs rm` / `famfs mv` do. */
  device?: string;
  /** Checker self-test: "delete" by overwriting the file in place with another file's bytes, as a premature reuse would. */
  injectReuse?: boolean;
  /**
   * Readers open read-write and now and then write a held file's own bytes back through the
   * held descriptor, also after the file was deleted or replaced elsewhere: a host writing into
   * space already handed to another file (upstream famfs's reason to refuse delete) then shows
   * up as wrong bytes in that file's readers.
   */
  heldWrites?: boolean;
  /**
   * Readers map held files PROT_READ|PROT_WRITE, MAP_SHARED and dirty pages of them with their
   * own generation's bytes (written back by the kernel later, through the daemon): before and
   * after closing the descriptor, and after the file was deleted or replaced elsewhere.
   */
  mapWrites?: boolean;
  /**
   * A reader on this host dirties mapped pages: a daemon that went stale refuses their write-back
   * (ESTALE), and the kernel reports that to the next read or write of the inode, by any process
   * of the host, as EIO (once; then ESTALE). Such an EIO is noted ('wb-eio') with its time, for
   * the harness to match with a stop, kill or stale episode of this host's daemon.
   */
  writebackErrors?: boolean;
}

const POOL = 6;
const PAUSE = new Int32Array(new SharedArrayBuffer(4));
const PAGE = 4096;

/** Errors a reader may see (the file went away, or its host went stale or died). */
export const ALLOWED = new Set(['ESTALE', 'ENOENT', 'ENOTCONN', 'ECONNABORTED']);
/**
 * On a descriptor or mapping already held, the file cannot "go away": POSIX keeps it. Only a
 * host that went stale or died may refuse (ENOENT there was a daemon bug: a worker that had
 * not replayed the file yet).
 */
export const ALLOWED_ON_HANDLE = new Set(['ESTALE', 'ENOTCONN', 'ECONNABORTED']);

export function errName(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.errno === -116 || err.errno === 116) return 'ESTALE';
  if (err.errno === -103 || err.errno === 103) return 'ECONNABORTED';
  return err.code ?? String(err.message).slice(0, 60);
}

interface Handle {
  fd: number | undefined;
  path: string;
  ino: number;
  id: Ident;
  map?: { ptr: NativePointer; len: number; view: Buffer; writable: boolean };
  /** fstat said nlink 0 while the descriptor was open: deleted or replaced elsewhere. */
  unlinked?: boolean;
}

interface WFile {
  path: string;
  gen: number;
  size: number;
}

class Driver {
  private readonly rnd: () => number;
  private readonly obsFd: number;
  private readonly pool: Handle[] = [];
  readonly counts: Record<string, number> = {};
  readonly errnos: Record<string, number> = {};
  private readonly files = new Map<number, WFile>();
  /** Next generation per key: every attempt takes a new one, so no (key, gen) and no tmp/ name is ever tried twice. */
  private readonly nextGen = new Map<number, number>();
  private nextKey: number;
  private renames = 0;
  /** When the writer's first create or replace of an out-of-space run was refused. */
  private enospcSince: number | undefined;
  private readonly disabled = new Set<string>();
  ops = 0;

  constructor(readonly job: DriverJob) {
    this.rnd = prng(job.seed);
    this.obsFd = fs.openSync(job.obs, 'a');
    this.nextKey = job.firstKey ?? 1;
  }

  private int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  note(rec: Record<string, unknown>): void {
    fs.writeSync(this.obsFd, `${JSON.stringify({ host: this.job.host, t: Date.now(), ...rec })}\n`);
  }

  private count(op: string, outcome: string): void {
    const k = `${op}:${outcome}`;
    this.counts[k] = (this.counts[k] ?? 0) + 1;
    if (outcome !== 'ok') this.errnos[outcome] = (this.errnos[outcome] ?? 0) + 1;
  }

  /** Run op; an error is counted (allowed or not) and, for a handle, drops it. Returns the errno name, if any. */
  private attempt(op: string, fn: () => void, h?: Handle, key?: number): string | undefined {
    const t0 = Date.now();
    let name: string | undefined;
    try {
      fn();
      this.count(op, 'ok');
    } catch (e) {
      name = errName(e);
      this.count(op, name);
      if (h) this.drop(h);
      // The writer's file went away with a killed master's uncommitted nodes.
      if (key !== undefined && name === 'ENOENT') this.files.delete(key);
      // No daemon behind the mount (killed, being remounted): do not spin through the budget.
      // (ENOENT from create or readdir: tmp/ or d/ is missing, i.e. the mount point is bare while its daemon is mounted again.)
      if (name === 'ENOTCONN' || name === 'ECONNABORTED' || (name === 'ENOENT' && (op === 'create' || op === 'readdir'))) Atomics.wait(PAUSE, 0, 0, 20);
      if (name === 'EIO' && this.job.writebackErrors) this.note({ kind: 'wb-eio', op, path: h?.path });
      else if (!(h ? ALLOWED_ON_HANDLE : ALLOWED).has(name) && !this.writerErrno(op, name)) this.note({ kind: 'errno', op, errno: name, path: h?.path, msg: String((e as Error).message).slice(0, 200) });
    } finally {
      const ms = Date.now() - t0;
      if (ms > 1000) this.note({ kind: 'slow', op, ms });
    }
    return name;
  }

  /** Writer errnos that are outcomes, not faults: a full device, an op this build does not offer yet. */
  private writerErrno(op: string, name: string): boolean {
    if (name === 'ENOSPC') return true;
    if (name === 'EPERM' && ['delete', 'rename', 'replace', 'clobber', 'lib-delete', 'lib-rename', 'lib-clobber'].includes(op)) {
      if (!this.disabled.has(op)) this.note({ kind: 'unsupported', op });
      this.disabled.add(op);
      return true;
    }
    return false;
  }

  private drop(h: Handle): void {
    const i = this.pool.indexOf(h);
    if (i >= 0) this.pool.splice(i, 1);
    if (h.fd !== undefined) {
      try {
        fs.closeSync(h.fd);
      } catch {
        /* a dead connection */
      }
    }
    if (h.map) munmap(h.map.ptr, h.map.len);
  }

  // ---- reading (every host) ----

  private open(): void {
    if (this.pool.length >= POOL) {
      this.drop(this.pool[this.int(this.pool.length)]!);
      this.count('close', 'ok');
    }
    const dir = path.join(this.job.mp, 'd');
    let names: string[] = [];
    this.attempt('readdir', () => {
      names = fs.readdirSync(dir);
    });
    if (names.length === 0) return;
    const p = path.join(dir, names[this.int(names.length)]!);
    this.attempt('open', () => {
      const fd = fs.openSync(p, this.job.heldWrites || this.job.mapWrites ? 'r+' : 'r');
      try {
        const st = fs.fstatSync(fd);
        const s0 = Buffer.alloc(SECTOR);
        const n = fs.readSync(fd, s0, 0, SECTOR, 0);
        const id = identOf(s0.subarray(0, n));
        if (!id) {
          this.violation('open', p, st.ino, undefined, 0, `sector 0 carries no stamp (${s0.subarray(0, 20).toString('hex')}), size ${st.size}`);
          throw Object.assign(new Error('no stamp'), { code: 'VIOLATION' });
        }
        if (st.size !== id.size) this.violation('open', p, st.ino, id, 0, `fstat size ${st.size} ≠ stamped size ${id.size}`);
        if (this.job.client) this.note({ kind: 'open', ino: st.ino, key: id.key, gen: id.gen });
        this.pool.push({ fd, path: p, ino: st.ino, id });
      } catch (e) {
        fs.closeSync(fd);
        throw e;
      }
    });
  }

  private violation(op: string, p: string, ino: number, id: Ident | undefined, offset: number, what: string): void {
    this.count(op, 'VIOLATION');
    this.note({ kind: 'violation', op, path: p, ino, key: id?.key, gen: id?.gen, offset, what });
  }

  private read(): void {
    const open = this.pool.filter((x) => x.fd !== undefined);
    const h = open[this.int(open.length)];
    if (!h || h.fd === undefined) return this.open();
    const off = this.int(h.id.size);
    const len = Math.min(h.id.size - off, 1 + this.int(256 * 1024));
    this.attempt('read', () => {
      const b = Buffer.alloc(len);
      const n = fs.readSync(h.fd!, b, 0, len, off);
      const bad = n !== len ? `short read ${n} of ${len}` : mismatch(h.id, off, b);
      if (bad) this.violation('read', h.path, h.ino, h.id, off, bad);
    }, h);
  }

  /** Write a range of a held file with the bytes it already has (its own generation's stamp). */
  private heldWrite(): void {
    const open = this.pool.filter((x) => x.fd !== undefined);
    const h = open[this.int(open.length)];
    if (!h || h.fd === undefined) return this.open();
    const off = this.int(h.id.size);
    const len = Math.min(h.id.size - off, 1 + this.int(128 * 1024));
    this.attempt('held-write', () => {
      // nlink 0: the file was deleted or replaced (a lower bound: the kernel may cache the attributes).
      if (fs.fstatSync(h.fd!).nlink === 0) this.counts['held-write:of-deleted'] = (this.counts['held-write:of-deleted'] ?? 0) + 1;
      const n = fs.writeSync(h.fd!, content(h.id, off, len), 0, len, off);
      if (n !== len) this.violation('held-write', h.path, h.ino, h.id, off, `short write ${n} of ${len}`);
    }, h);
  }

  /** Map a held file through its descriptor (writable when readers write through mappings). */
  private mapIn(h: Handle): void {
    if (h.map || h.fd === undefined) return;
    const len = Math.ceil(h.id.size / PAGE) * PAGE;
    const writable = this.job.mapWrites === true;
    const ptr = mmap(len, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, h.fd, 0);
    h.map = { ptr, len, view: viewOf(ptr, len), writable };
  }

  /** Map (or use the mapping of) a held file and compare a range; sometimes close the fd and keep only the mapping. */
  private mapRead(): void {
    const h = this.pool[this.int(Math.max(1, this.pool.length))];
    if (!h) return this.open();
    this.attempt('mmap', () => {
      this.mapIn(h);
      if (!h.map) return;
      const off = this.int(h.id.size);
      const len = Math.min(h.id.size - off, 1 + this.int(256 * 1024));
      // A mapping whose daemon is gone or stale faults with SIGBUS: say so first, so the parent can tell.
      this.note({ kind: 'touch', path: h.path, ino: h.ino, key: h.id.key, gen: h.id.gen, fdOpen: h.fd !== undefined, off, len });
      const got = Buffer.from(h.map.view.subarray(off, off + len));
      this.note({ kind: 'touched' });
      const bad = mismatch(h.id, off, got);
      if (bad) this.violation('mmap', h.path, h.ino, h.id, off, bad);
      if (h.fd !== undefined && this.rnd() < 0.3) {
        fs.closeSync(h.fd);
        h.fd = undefined;
      }
    }, h);
  }

  /**
   * Dirty a range of a held file's writable mapping with its own generation's bytes (the kernel
   * writes the pages back through the daemon later: msync, munmap, or its flusher). After a
   * delete or replace elsewhere the daemon must still hold the old space while such pages can
   * come; a page written back into space already given to a newer file shows up as wrong bytes
   * in that file's readers. Sometimes msync; sometimes close the descriptor and keep the mapping.
   */
  private mapWrite(): void {
    const h = this.pool[this.int(Math.max(1, this.pool.length))];
    if (!h) return this.open();
    const off = this.int(h.id.size);
    const len = Math.min(h.id.size - off, 1 + this.int(64 * 1024));
    const sync = this.rnd();
    this.attempt('map-write', () => {
      this.mapIn(h);
      if (!h.map?.writable) return;
      if (h.fd !== undefined && !h.unlinked && fs.fstatSync(h.fd).nlink === 0) h.unlinked = true;
      if (h.unlinked) this.counts['map-write:of-deleted'] = (this.counts['map-write:of-deleted'] ?? 0) + 1;
      if (h.fd === undefined) this.counts['map-write:fd-closed'] = (this.counts['map-write:fd-closed'] ?? 0) + 1;
      // A store into a page its daemon can no longer read in faults with SIGBUS: say so first.
      this.note({ kind: 'touch', write: true, path: h.path, ino: h.ino, key: h.id.key, gen: h.id.gen, fdOpen: h.fd !== undefined, off, len });
      content(h.id, off, len).copy(h.map.view, off);
      this.note({ kind: 'touched' });
      if (sync < 0.25) {
        // A failed write-back (its daemon stale or gone) is reported here: EIO, noted with the time.
        try {
          msync(h.map.ptr, off, len, sync < 0.1 ? MS_SYNC : MS_ASYNC);
          this.count('map-sync', 'ok');
        } catch (e) {
          const name = errName(e);
          this.count('map-sync', name);
          if (name !== 'EIO' && !ALLOWED_ON_HANDLE.has(name)) throw e;
          this.note({ kind: 'sync-error', errno: name, path: h.path, ino: h.ino });
        }
      }
      if (h.fd !== undefined && this.rnd() < 0.2) {
        fs.closeSync(h.fd);
        h.fd = undefined;
      }
    }, h);
  }

  // ---- writing (the master's writer) ----

  private pick(): [number, WFile] | undefined {
    const keys = [...this.files.keys()];
    if (keys.length === 0) return undefined;
    const k = keys[this.int(keys.length)]!;
    return [k, this.files.get(k)!];
  }

  private size(): number {
    const max = this.job.maxFileBytes ?? 3 * 1024 * 1024;
    return SECTOR * (1 + this.int(max / SECTOR));
  }

  /** Write generation gen of key in tmp/, then move it into d/ under `to` (a new name or over an old file). */
  private publish(op: string, key: number, gen: number, to: string): boolean {
    const size = this.size();
    const tmp = path.join(this.job.mp, 'tmp', `k${key}.g${gen}`);
    let ok = false;
    const err = this.attempt(op, () => {
      // Names this generation may be logged under (noted before, so a kill cannot lose one).
      this.named(key, gen, `tmp/k${key}.g${gen}`, to);
      const fd = fs.openSync(tmp, 'wx');
      // Half the time the move happens while the new file is still open (it is logged at its final path then).
      const early = this.rnd() < 0.5;
      let moved = false;
      try {
        for (let off = 0; off < size; off += 1 << 20) fs.writeSync(fd, content({ key, gen, size }, off, Math.min(1 << 20, size - off)), 0, undefined, off);
        if (early) {
          this.move(tmp, to);
          moved = true;
          if (this.rnd() < 0.3) fs.fsyncSync(fd);
        }
      } catch (e) {
        // Out of space (or its master gone) while writing: the half-written file in tmp/ would keep its space all round.
        if (!moved) {
          try {
            fs.unlinkSync(tmp);
          } catch {
            /* the master is gone: the file was never logged, or stays in tmp/, which no one reads */
          }
        }
        throw e;
      } finally {
        fs.closeSync(fd);
      }
      if (!moved) this.move(tmp, to);
      this.files.set(key, { path: to, gen, size });
      ok = true;
    });
    // Out of space, then a new file placed again: how long the device stayed full (deleted files
    // held by hosts, live files, or both; the harness judges which from its space checks).
    if (err === 'ENOSPC') {
      this.enospcSince ??= Date.now();
      this.note({ kind: 'enospc', op, size });
    } else if (ok && this.enospcSince !== undefined) {
      this.note({ kind: 'space-back', ms: Date.now() - this.enospcSince });
      this.enospcSince = undefined;
    }
    return ok;
  }

  /** rename(tmp, to); if that fails, remove tmp (it was never published). */
  private move(tmp: string, to: string): void {
    try {
      fs.renameSync(tmp, path.join(this.job.mp, to));
    } catch (e) {
      try {
        fs.unlinkSync(tmp);
      } catch {
        /* logged meanwhile and no deletes yet: it stays in tmp/, which no one reads */
      }
      throw e;
    }
  }

  /** A file that is still new when renamed is logged under its last name: say which names (key, gen) may carry. */
  private named(key: number, gen: number, ...paths: string[]): void {
    this.note({ kind: 'name', key, gen, paths });
  }

  /** A generation of `key` never tried before (a failed try may still have been committed, or left tmp/kK.gG behind). */
  private takeGen(key: number): number {
    const g = this.nextGen.get(key) ?? 0;
    this.nextGen.set(key, g + 1);
    return g;
  }

  /**
   * A rename: whichever generation the name holds now may be logged under the new name. A
   * replace whose answer was lost (its master killed) may have put any later-tried one there.
   */
  private namedAll(key: number, w: WFile, to: string): void {
    for (let g = w.gen; g < Math.max(w.gen + 1, this.nextGen.get(key) ?? 0); g++) this.named(key, g, to);
  }

  private create(): void {
    if (this.files.size >= (this.job.maxFiles ?? 40)) return this.remove();
    const key = this.nextKey++;
    this.publish('create', key, this.takeGen(key), `d/k${key}.g0`);
  }

  private replace(): void {
    const f = this.pick();
    if (!f || this.disabled.has('replace')) return this.create();
    const [key, w] = f;
    this.publish('replace', key, this.takeGen(key), w.path);
  }

  private rename(): void {
    const a = this.pick();
    if (!a || this.disabled.has('rename')) return this.create();
    const [key, w] = a;
    const b = this.rnd() < 0.3 ? this.pick() : undefined;
    if (b && b[0] !== key && !this.disabled.has('clobber')) {
      // Rename over another logical file: that one is deleted by the rename.
      this.attempt('clobber', () => {
        this.namedAll(key, w, b[1].path);
        fs.renameSync(path.join(this.job.mp, w.path), path.join(this.job.mp, b[1].path));
        this.files.delete(b[0]);
        w.path = b[1].path;
      }, undefined, key);
      return;
    }
    const to = `d/r${this.job.seed % 1000}-${++this.renames}`;
    this.attempt('rename', () => {
      this.namedAll(key, w, to);
      fs.renameSync(path.join(this.job.mp, w.path), path.join(this.job.mp, to));
      w.path = to;
    }, undefined, key);
  }

  private remove(): void {
    const f = this.pick();
    if (!f || this.disabled.has('delete')) return;
    if (this.job.injectReuse) {
      const [key, w] = f;
      this.attempt('delete', () => {
        const fd = fs.openSync(path.join(this.job.mp, w.path), 'r+');
        try {
          fs.writeSync(fd, content({ key: key + 500_000, gen: 0, size: w.size }, 0, w.size), 0, w.size, 0);
        } finally {
          fs.closeSync(fd);
        }
        this.files.delete(key);
      }, undefined, key);
      return;
    }
    this.attempt('delete', () => {
      fs.unlinkSync(path.join(this.job.mp, f[1].path));
      this.files.delete(f[0]);
    }, undefined, f[0]);
  }

  /** Delete or rename through the library (what `famfs rm` / `famfs mv` do), not through the mount. */
  private library(): void {
    const a = this.pick();
    if (!a || !this.job.device) return this.create();
    const [key, w] = a;
    const b = this.rnd() < 0.3 ? this.pick() : undefined;
    const del = this.rnd() < 0.5;
    const op = del ? 'lib-delete' : b && b[0] !== key ? 'lib-clobber' : 'lib-rename';
    if (this.disabled.has(op)) return this.create();
    const to = op === 'lib-clobber' ? b![1].path : `d/l${this.job.seed % 1000}-${++this.renames}`;
    this.attempt(op, () => {
      const f = Famfs.open(this.job.device!, { writable: true });
      try {
        f.writer((wr) => {
          if (del) wr.remove(w.path);
          else wr.rename(w.path, to);
        });
      } finally {
        f.close();
      }
      if (del) this.files.delete(key);
      else {
        if (op === 'lib-clobber') this.files.delete(b![0]);
        w.path = to;
      }
    }, undefined, key);
  }

  /** Rewrite a range of a live file with its own bytes: a write that lands anywhere else shows up in someone's read. */
  private write(): void {
    const f = this.pick();
    if (!f) return this.create();
    const [key, w] = f;
    const pick = this.rnd(), pickLen = this.rnd();
    this.attempt('write', () => {
      const fd = fs.openSync(path.join(this.job.mp, w.path), 'r+');
      try {
        // The generation the name holds now, from its own stamp: a replace that failed here (its
        // master killed) may still have been committed, and its bytes must not get another's.
        const s0 = Buffer.alloc(SECTOR);
        const id = identOf(s0.subarray(0, fs.readSync(fd, s0, 0, SECTOR, 0)));
        if (!id || id.key !== key) throw Object.assign(new Error(`${w.path} holds ${id ? `key ${id.key}` : 'no stamp'}, not key ${key}`), { code: 'ENOENT' });
        Object.assign(w, { gen: id.gen, size: id.size });
        const off = Math.floor(pick * id.size);
        const len = Math.min(id.size - off, 1 + Math.floor(pickLen * 128 * 1024));
        fs.writeSync(fd, content(id, off, len), 0, len, off);
      } finally {
        fs.closeSync(fd);
      }
    }, undefined, key);
  }

  step(): void {
    this.ops++;
    const r = this.rnd();
    if (!this.job.writer) {
      if (r < 0.25) this.open();
      else if (r < 0.67 || (r < 0.75 && !this.job.heldWrites)) this.read();
      else if (r < 0.75) this.heldWrite();
      else if (r < 0.83 && this.job.mapWrites) this.mapWrite();
      else if (r < 0.92) this.mapRead();
      else if (this.pool.length) {
        this.drop(this.pool[this.int(this.pool.length)]!);
        this.count('close', 'ok');
      }
      return;
    }
    if (r < 0.14) this.create();
    else if (r < 0.25) this.replace();
    else if (r < 0.33) this.rename();
    else if (r < 0.45) this.remove();
    // Through the library (as `famfs rm`/`famfs mv`) only when asked: such a writer waits for the writer lock,
    // which the master's daemon keeps while root holds a new file open — and the readers nearly always do.
    else if (r < 0.5 && this.job.device) this.library();
    else if (r < 0.6) this.write();
    else if (r < 0.7) this.open();
    else if (r < 0.9) this.read();
    else this.mapRead();
  }

  setup(): void {
    if (!this.job.writer) return;
    // d/ and tmp/ exist in the file system from the start (made before mounting): the writer never
    // makes them, so nothing it does can land in the bare mount point while the master is away.
    // A respawned writer takes over what is in d/ now (names say key and generation only until renamed).
    let names: string[] | undefined;
    for (let tries = 0; !names; tries++) {
      try {
        names = fs.readdirSync(path.join(this.job.mp, 'd'));
      } catch (e) {
        // The master is being mounted again (a respawned writer): wait for it.
        if (tries > 3000 || !ALLOWED.has(errName(e))) throw e;
        Atomics.wait(PAUSE, 0, 0, 20);
      }
    }
    for (const name of names) {
      try {
        const fd = fs.openSync(path.join(this.job.mp, 'd', name), 'r');
        const s0 = Buffer.alloc(SECTOR);
        fs.readSync(fd, s0, 0, SECTOR, 0);
        fs.closeSync(fd);
        const id = identOf(s0);
        if (id) {
          this.files.set(id.key, { path: `d/${name}`, gen: id.gen, size: id.size });
          this.nextKey = Math.max(this.nextKey, id.key + 1);
          this.nextGen.set(id.key, Math.max(this.nextGen.get(id.key) ?? 0, id.gen + 1));
        }
      } catch {
        /* gone meanwhile */
      }
    }
    // An earlier writer's failed tries may have left tmp/kK.gG: never try those names again.
    let tmp: string[] = [];
    try {
      tmp = fs.readdirSync(path.join(this.job.mp, 'tmp'));
    } catch {
      /* read again below if needed: the names only raise generations */
    }
    for (const name of tmp) {
      const m = /^k(\d+)\.g(\d+)$/.exec(name);
      if (m) this.nextGen.set(Number(m[1]), Math.max(this.nextGen.get(Number(m[1])) ?? 0, Number(m[2]) + 1));
    }
  }

  /** Steps whose operation succeeded. */
  okOps(): number {
    return Object.entries(this.counts).reduce((n, [k, v]) => (k.endsWith(':ok') ? n + v : n), 0);
  }

  summary(): string {
    return JSON.stringify({ ops: this.ops, counts: this.counts, errnos: this.errnos, nextKey: this.nextKey, disabled: [...this.disabled] });
  }

  close(): void {
    for (const h of [...this.pool]) this.drop(h);
  }
}

function main(): void {
  const job = JSON.parse(process.argv[2]!) as DriverJob;
  const d = new Driver(job);
  let stop = false;
  process.on('SIGTERM', () => (stop = true));
  d.setup();
  process.stdout.write('ready\n');
  let noted = 0;
  const loop = (): void => {
    const end = Date.now() + 20;
    while (!stop && d.ops < job.ops && Date.now() < end) d.step();
    if (d.ops - noted >= 200) d.note({ kind: 'ops', ops: (noted = d.ops), ok: d.okOps() });
    if (stop || d.ops >= job.ops) {
      d.close();
      d.note({ kind: 'ops', ops: d.ops, ok: d.okOps() });
      process.stdout.write(`${d.summary()}\n`);
      return;
    }
    setImmediate(loop);
  };
  loop();
}

main();
