/**
 * `famfs cp`: copy host files and trees into famfs, all under one writer lock.
 *
 * The whole copy is planned first — every source read, every destination path asked of
 * the format (`representable`), log slots counted, every file's space allocated on a
 * copy of the free-space bitmaps — and nothing is logged when the plan finds a problem.
 * With `keepGoing`, what can be copied is, and each requested file or directory that is
 * not is reported. Host nodes famfs has no entry for (devices, fifos, sockets, and
 * symbolic links unless the file system has the symlinks extension) are skipped and
 * counted, which is not an error. A recursive copy keeps symbolic links as links (one job
 * each, targets exactly as read); -L (`dereference`) and a non-recursive copy follow them.
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import type { Famfs } from './famfs.js';
import type { Owner, Writer } from './writer.js';
import type { InterleaveParams } from '../alloc/allocator.js';
import type { Placement } from '../alloc/space.js';
import { copyFromHost } from './data.js';
import { FamfsError, asFamfsError } from './errors.js';
import { representable, type FormatCaps, type HostKind } from '../meta/paths.js';
import { hasFeature, SYMLINKS } from '../format/features.js';
import { recordSlots } from '../format/logentry.js';
import { sizeAndMode } from '../sys/libc.js';

export interface CopyOptions extends Owner {
  recursive?: boolean;
  /**
   * Follow symbolic links in the sources (cp -L). Otherwise a recursive copy keeps them
   * as links (targets exactly as read), as cp -r does; a non-recursive copy follows them.
   */
  dereference?: boolean;
  interleave?: InterleaveParams;
  placement?: Placement;
  /** Copy what can be copied and report the rest, instead of copying nothing when the plan finds a problem. */
  keepGoing?: boolean;
  /** Called once per file before its data is copied. */
  onFile?: (src: string, dest: string, size: number) => void;
  onProgress?: (bytes: number) => void;
  /** A requested file or directory that was not copied (with keepGoing, or a failure while copying). */
  onError?: (src: string, err: FamfsError) => void;
  /** Called if the copy has to wait for another writer's lock. */
  onWait?: () => void;
}

export interface CopyResult {
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  /** Requested files and directories not copied. */
  errors: number;
  /** Host nodes skipped because famfs has no such kind, by kind. */
  skipped: Partial<Record<HostKind, number>>;
}

type Op =
  | { kind: 'dir'; src: string; dest: string; st?: fs.Stats }
  | { kind: 'file'; src: string; dest: string; st: FileStat; restart: boolean }
  | { kind: 'symlink'; src: string; dest: string; target: string; restart: boolean };

/** What a file's copy needs of its source's stat. */
interface FileStat {
  size: number;
  mode: number;
}

type PlannedKind = Op['kind'];

interface Problem {
  src: string;
  /** Destination path that failed (its subtree is not copied either). */
  dest?: string;
  err: FamfsError;
}

interface Plan {
  ops: Op[];
  problems: Problem[];
  skipped: Partial<Record<HostKind, number>>;
}

function join(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

function hostKind(st: fs.Stats | fs.Dirent): HostKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isBlockDevice()) return 'block device';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/** Builds the plan against the tree as it is (under the lock) plus what the plan itself makes. */
class Planner {
  readonly plan: Plan = { ops: [], problems: [], skipped: {} };
  private readonly planned = new Map<string, PlannedKind>();
  private readonly caps: FormatCaps;
  /** Directories being walked (device:inode): with -L a link back to an ancestor would recurse forever. */
  private readonly walking = new Set<string>();

  constructor(private readonly famfs: Famfs, private readonly dereference: boolean) {
    this.caps = { longNames: famfs.longNames, symlinks: hasFeature(famfs.features, SYMLINKS) };
  }

  private kindAt(rel: string): PlannedKind | undefined {
    return this.planned.get(rel) ?? this.famfs.tree.lookup(rel)?.kind;
  }

  problem(src: string, message: string, code: string, dest?: string): void {
    this.plan.problems.push({ src, dest, err: new FamfsError(message, code) });
  }

  /** A node famfs cannot hold: counted as skipped (true), or a problem with its path (true); false when fine. */
  refused(src: string, dest: string, kind: HostKind, target?: string): boolean {
    const r = representable(dest, kind, this.caps, target);
    if (r.skip) {
      this.plan.skipped[r.skip] = (this.plan.skipped[r.skip] ?? 0) + 1;
      return true;
    }
    if (r.problem) {
      this.problem(src, `${src}: cannot be stored as ${dest}: ${r.problem}`, r.problem.includes('longer than') ? 'ENAMETOOLONG' : 'EINVAL', dest);
      return true;
    }
    return false;
  }

  dir(src: string, dest: string, st: fs.Stats | undefined): boolean {
    const have = this.kindAt(dest);
    if (have === 'file' || have === 'symlink') {
      this.problem(src, `${dest}: exists and is not a directory`, 'ENOTDIR', dest);
      return false;
    }
    if (have === undefined) {
      if (this.refused(src, dest, 'dir')) return false;
      this.plan.ops.push({ kind: 'dir', src, dest, st });
      this.planned.set(dest, 'dir');
    }
    return true;
  }

  file(src: string, dest: string, st: FileStat): void {
    if (this.refused(src, dest, 'file')) return;
    const planned = this.planned.get(dest);
    if (planned) return this.problem(src, `${dest}: is the destination of two sources`, 'EEXIST', dest);
    const node = this.famfs.tree.lookup(dest);
    if (node && (node.kind !== 'file' || node.size !== st.size)) {
      return this.problem(src, `${dest}: already exists${node.kind === 'file' ? ` with size ${node.size}` : node.kind === 'dir' ? ' as a directory' : ' as a symbolic link'}`, 'EEXIST', dest);
    }
    this.plan.ops.push({ kind: 'file', src, dest, st, restart: !!node });
    this.planned.set(dest, 'file');
  }

  /** A symbolic link kept as a link (or skipped when this file system has none). */
  link(src: string, dest: string): void {
    let target: string;
    try {
      target = fs.readlinkSync(src);
    } catch (e) {
      return this.problem(src, `${src}: ${(e as Error).message}`, (e as NodeJS.ErrnoException).code ?? 'EIO', dest);
    }
    if (this.refused(src, dest, 'symlink', target)) return;
    if (this.planned.get(dest)) return this.problem(src, `${dest}: is the destination of two sources`, 'EEXIST', dest);
    const node = this.famfs.tree.lookup(dest);
    // The same link already there: a restarted copy (Writer.symlink returns it as is).
    if (node && !(node.kind === 'symlink' && node.target === target)) {
      return this.problem(src, `${dest}: already exists${node.kind === 'symlink' ? ` as a link to ${JSON.stringify(node.target)}` : node.kind === 'dir' ? ' as a directory' : ' as a file'}`, 'EEXIST', dest);
    }
    this.plan.ops.push({ kind: 'symlink', src, dest, target, restart: !!node });
    this.planned.set(dest, 'symlink');
  }

  /** One source node by its kind (`st` from lstat when links are kept, from stat with -L). */
  node(src: string, dest: string, st: fs.Stats | fs.Dirent): void {
    const kind = hostKind(st);
    if (kind === 'dir') this.walk(src, dest);
    else if (kind === 'file') {
      const fst = st instanceof fs.Stats ? st : statFile(src);
      if (fst) this.file(src, dest, fst);
      else this.problem(src, `${src}: vanished while planning the copy`, 'ENOENT', dest);
    } else if (kind === 'symlink') this.link(src, dest);
    else this.refused(src, dest, kind);
  }

  walk(dir: string, dest: string): void {
    let st: fs.Stats;
    let ents: fs.Dirent[];
    try {
      st = fs.statSync(dir);
      ents = fs.readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      return this.problem(dir, `${dir}: ${(e as Error).message}`, (e as NodeJS.ErrnoException).code ?? 'EIO', dest);
    }
    const key = `${st.dev}:${st.ino}`;
    if (this.walking.has(key)) return this.problem(dir, `${dir}: directory loop through a symbolic link`, 'ELOOP', dest);
    if (!this.dir(dir, dest, st)) return;
    this.walking.add(key);
    for (const ent of ents.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const src = nodePath.join(dir, ent.name);
      const to = join(dest, ent.name);
      if (ent.isSymbolicLink() && this.dereference) {
        const target = fs.statSync(src, { throwIfNoEntry: false });
        if (target) this.node(src, to, target);
        else this.problem(src, `${src}: dangling symbolic link`, 'ENOENT', to);
      } else this.node(src, to, ent);
    }
    this.walking.delete(key);
  }
}

export function copyIn(famfs: Famfs, sources: string[], dest: string, opts: CopyOptions = {}): CopyResult {
  if (sources.length === 0) throw new FamfsError('no source given', 'EINVAL', 2);
  const destRel = famfs.relpath(dest);
  return famfs.writer((w: Writer) => {
    const plan = planCopy(famfs, w, sources, destRel, dest, opts);
    const result: CopyResult = { files: 0, dirs: 0, symlinks: 0, bytes: 0, errors: 0, skipped: plan.skipped };
    if (plan.problems.length && !opts.keepGoing) {
      const [first] = plan.problems;
      const more = plan.problems.length > 1 ? `and ${plan.problems.length - 1} more problem${plan.problems.length > 2 ? 's' : ''}; ` : '';
      const rest = plan.ops.length ? ` (${more}nothing copied; --keep-going copies the rest)` : more ? ` (${more.slice(0, -2)})` : '';
      throw new FamfsError(`${first!.err.message}${rest}`, first!.err.code);
    }
    for (const p of plan.problems) {
      result.errors++;
      opts.onError?.(p.src, p.err);
    }
    execute(famfs, w, plan, opts, result);
    return result;
  }, { onWait: opts.onWait, placement: opts.placement });
}

/** A source file's size and mode (links followed), or undefined when it is gone. */
function statFile(src: string): FileStat | undefined {
  try {
    return sizeAndMode(src);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new FamfsError(`${src}: ${(e as Error).message}`, code ?? 'EIO');
  }
}

function planCopy(famfs: Famfs, w: Writer, sources: string[], destRel: string, dest: string, opts: CopyOptions): Plan {
  const keepLinks = !!opts.recursive && !opts.dereference;
  const p = new Planner(famfs, !!opts.dereference);
  const destNode = famfs.tree.lookup(destRel);
  const destIsDir = destNode?.kind === 'dir';
  const stats = sources.map((s) => (keepLinks ? fs.lstatSync(s, { throwIfNoEntry: false }) : fs.statSync(s, { throwIfNoEntry: false })));
  // The destination rules are checked before anything else: a wrong destination copies nothing.
  if (sources.length > 1 || (opts.recursive && stats.some((st) => st?.isDirectory()))) {
    if (destNode && !destIsDir) throw new FamfsError(`${dest}: not a directory`, 'ENOTDIR');
    if (!destNode) {
      if (!opts.recursive) throw new FamfsError(`${dest}: no such directory`, 'ENOENT');
      p.dir(dest, destRel, undefined);
    }
  }
  const intoDir = (): boolean => famfs.tree.lookup(destRel)?.kind === 'dir' || p.plan.ops.some((o) => o.kind === 'dir' && o.dest === destRel);
  for (const [i, src] of sources.entries()) {
    const st = stats[i];
    if (!st) {
      p.problem(src, `${src}: no such file or directory`, 'ENOENT');
      continue;
    }
    const target = intoDir() ? join(destRel, nodePath.basename(src)) : destRel;
    if (st.isDirectory()) {
      if (!opts.recursive) p.problem(src, `${src}: is a directory (use -r)`, 'EISDIR');
      // `cp -r dir existing/` copies into existing/dir; `cp -r dir new` makes new.
      else p.walk(src, destNode && destIsDir ? target : destRel);
    } else if (st.isFile()) p.file(src, target, st);
    else if (st.isSymbolicLink()) p.link(src, target);
    else if (!p.refused(src, target, hostKind(st))) p.problem(src, `${src}: not a regular file or directory`, 'EINVAL');
  }
  checkResources(famfs, w, p, opts);
  return p.plan;
}

/** Log slots and space for everything the plan makes, tried on copies of the bitmaps. */
function checkResources(famfs: Famfs, w: Writer, p: Planner, opts: CopyOptions): void {
  const fresh = p.plan.ops.filter((o) => o.kind === 'dir' || !o.restart);
  const h = famfs.log.readHeader();
  const freeSlots = h.lastIndex + 1 - h.nextIndex;
  // Long paths and symlinks are multi-slot records.
  const slots = fresh.reduce((n, o) => n + recordSlots(o.dest, o.kind === 'symlink' ? o.target : undefined), 0);
  if (slots > freeSlots) p.problem('', `log full: the copy needs ${slots} log entries and ${freeSlots} of ${h.lastIndex + 1} are free`, 'ENOSPC');
  const trial = w.space.clone();
  let need = 0;
  for (const o of fresh) {
    if (o.kind !== 'file') continue;
    need += o.st.size;
    try {
      trial.place(o.st.size, { interleave: opts.interleave });
    } catch (e) {
      const err = asFamfsError(e);
      if (err.code !== 'ENOSPC') throw err; // bad interleave parameters: the whole command is wrong
      if (!opts.keepGoing) p.problem(o.src, `out of space: the copy needs ${need} bytes or more, ${w.space.freeBytes} are free (${err.message})`, 'ENOSPC');
      return; // with keepGoing, the files that fit are copied and the others reported as they fail
    }
  }
}

function execute(famfs: Famfs, w: Writer, plan: Plan, opts: CopyOptions, result: CopyResult): void {
  const owner = (st: { mode: number } | undefined): Owner => ({ mode: opts.mode || (st ? st.mode & 0o777 : undefined), uid: opts.uid, gid: opts.gid });
  const failedDirs: string[] = [];
  const underFailed = (dest: string): boolean => failedDirs.some((d) => dest.startsWith(d + '/'));
  for (const p of plan.problems) if (p.dest) failedDirs.push(p.dest);
  const failed = (o: Op, err: FamfsError): void => {
    if (err.code === 'ENOSPC' && !opts.keepGoing) throw err; // out of space or log full: stop, as upstream
    result.errors++;
    if (o.kind === 'dir') failedDirs.push(o.dest);
    opts.onError?.(o.src, new FamfsError(`${o.src}: not copied: ${err.message}`, err.code));
  };
  // New files in a row are created together: their data first, then one log commit per few files.
  let files: (Op & { kind: 'file' })[] = [];
  const createFiles = (): void => {
    const batch = files;
    files = [];
    const stop = (e: FamfsError): boolean => e.code === 'ENOSPC' && !opts.keepGoing;
    const made = w.creatMany(batch.map((o) => ({
      path: o.dest,
      size: o.st.size,
      opts: { ...owner(o.st), interleave: opts.interleave },
      fill: (f) => {
        opts.onFile?.(o.src, o.dest, o.st.size);
        copyFromHost(famfs, f, o.src, opts.onProgress);
      },
    })), stop);
    for (const [i, r] of made.entries()) {
      if (r === undefined) break; // not attempted: an earlier file ended the copy
      if (r instanceof FamfsError) failed(batch[i]!, r);
      else {
        result.files++;
        result.bytes += batch[i]!.st.size;
      }
    }
  };
  for (const o of plan.ops) {
    if (o.kind === 'file' && !o.restart && !underFailed(o.dest)) {
      files.push(o);
      continue;
    }
    createFiles();
    if (underFailed(o.dest)) continue; // reported once, with its directory
    try {
      if (o.kind === 'dir') {
        w.mkdir(o.dest, o.st ? { ...owner(o.st), mode: opts.mode ? undefined : o.st.mode & 0o777 } : { uid: opts.uid, gid: opts.gid });
        result.dirs++;
      } else if (o.kind === 'symlink') {
        opts.onFile?.(o.src, o.dest, 0);
        w.symlink(o.dest, o.target, { uid: opts.uid, gid: opts.gid });
        result.symlinks++;
      } else {
        copyOne(famfs, w, o, opts, owner(o.st));
        result.files++;
        result.bytes += o.st.size;
      }
    } catch (e) {
      failed(o, asFamfsError(e));
    }
  }
  createFiles();
}

function copyOne(famfs: Famfs, w: Writer, o: Op & { kind: 'file' }, opts: CopyOptions, owner: Owner): void {
  opts.onFile?.(o.src, o.dest, o.st.size);
  const existing = famfs.tree.lookup(o.dest);
  if (existing?.kind === 'file' && existing.size === o.st.size) {
    copyFromHost(famfs, existing, o.src, opts.onProgress); // restartable, as upstream
  } else {
    w.creat(o.dest, o.st.size, { ...owner, interleave: opts.interleave }, (f) => copyFromHost(famfs, f, o.src, opts.onProgress));
  }
}
