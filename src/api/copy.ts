/** `famfs cp`: copy host files and trees into famfs, all under one writer lock. */
import fs from 'node:fs';
import nodePath from 'node:path';
import type { Famfs, Owner, Writer } from './famfs.js';
import type { InterleaveParams } from '../alloc/allocator.js';
import { copyFromHost } from './data.js';
import { FamfsError, asFamfsError } from './errors.js';

export interface CopyOptions extends Owner {
  recursive?: boolean;
  /**
   * Follow symbolic links in the sources (cp -L). Otherwise a recursive copy keeps them
   * as links (targets exactly as read), as cp -r does; a non-recursive copy follows them.
   */
  dereference?: boolean;
  interleave?: InterleaveParams;
  /** Called once per file before its data is copied. */
  onFile?: (src: string, dest: string, size: number) => void;
  onProgress?: (bytes: number) => void;
  /** Called for a source that failed while others go on; the copy's result counts it. */
  onError?: (src: string, err: FamfsError) => void;
  /** Called if the copy has to wait for another writer's lock. */
  onWait?: () => void;
}

export interface CopyResult {
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  errors: number;
}

interface Job {
  src: string;
  dest: string;
  /** Set for a symbolic link kept as a link: its target. */
  link?: string;
}

function join(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

export function copyIn(famfs: Famfs, sources: string[], dest: string, opts: CopyOptions = {}): CopyResult {
  if (sources.length === 0) throw new FamfsError('no source given', 'EINVAL', 2);
  const destRel = famfs.relpath(dest);
  const result: CopyResult = { files: 0, dirs: 0, symlinks: 0, bytes: 0, errors: 0 };
  const keepLinks = !!opts.recursive && !opts.dereference;
  const statOf = (p: string): fs.Stats | undefined => (keepLinks ? fs.lstatSync(p, { throwIfNoEntry: false }) : fs.statSync(p, { throwIfNoEntry: false }));
  const owner = (st: fs.Stats): Owner => ({
    mode: opts.mode || st.mode & 0o777,
    uid: opts.uid,
    gid: opts.gid,
  });

  return famfs.writer((w: Writer) => {
    const destNode = famfs.tree.lookup(destRel);
    const destIsDir = destNode?.kind === 'dir';
    if (sources.length > 1 || (opts.recursive && sources.some((s) => fs.statSync(s, { throwIfNoEntry: false })?.isDirectory()))) {
      if (destNode && !destIsDir) throw new FamfsError(`${dest}: not a directory`, 'ENOTDIR');
      if (!destNode) {
        if (!opts.recursive) throw new FamfsError(`${dest}: no such directory`, 'ENOENT');
        w.mkdir(destRel, { uid: opts.uid, gid: opts.gid });
        result.dirs++;
      }
    }
    const jobs: Job[] = [];
    for (const src of sources) {
      const st = statOf(src);
      if (!st) {
        result.errors++;
        opts.onError?.(src, new FamfsError(`${src}: no such file or directory`, 'ENOENT'));
        continue;
      }
      const target = famfs.tree.lookup(destRel)?.kind === 'dir' ? join(destRel, nodePath.basename(src)) : destRel;
      if (st.isDirectory()) {
        if (!opts.recursive) {
          result.errors++;
          opts.onError?.(src, new FamfsError(`${src}: is a directory (use -r)`, 'EISDIR'));
          continue;
        }
        // `cp -r dir existing/` copies into existing/dir; `cp -r dir new` makes new.
        const top = destNode && destIsDir ? target : destRel;
        walk(src, top, jobs, w, result, opts, owner, new Set());
      } else if (st.isFile()) {
        jobs.push({ src, dest: target });
      } else if (st.isSymbolicLink()) {
        jobs.push({ src, dest: target, link: fs.readlinkSync(src) });
      } else {
        result.errors++;
        opts.onError?.(src, new FamfsError(`${src}: not a regular file or directory`, 'EINVAL'));
      }
    }
    for (const j of jobs) {
      try {
        copyOne(famfs, w, j, opts, owner, result);
      } catch (e) {
        const err = asFamfsError(e);
        if (err.code === 'ENOSPC') throw err; // out of space or log full: stop, as upstream
        result.errors++;
        opts.onError?.(j.src, err);
      }
    }
    return result;
  }, { onWait: opts.onWait });
}

function walk(dir: string, destRel: string, jobs: Job[], w: Writer, result: CopyResult, opts: CopyOptions, owner: (st: fs.Stats) => Owner, seen: Set<string>): void {
  const st = fs.statSync(dir);
  // -L: a link back to an ancestor would recurse forever.
  const key = `${st.dev}:${st.ino}`;
  if (seen.has(key)) {
    result.errors++;
    opts.onError?.(dir, new FamfsError(`${dir}: skipped (directory loop through a symbolic link)`, 'ELOOP'));
    return;
  }
  seen.add(key);
  const existing = w.fs.tree.lookup(destRel);
  if (!existing) {
    w.mkdir(destRel, { ...owner(st), mode: opts.mode ? undefined : st.mode & 0o777 });
    result.dirs++;
  } else if (existing.kind !== 'dir') {
    throw new FamfsError(`${destRel}: exists and is not a directory`, 'ENOTDIR');
  }
  for (const ent of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const src = nodePath.join(dir, ent.name);
    const dest = join(destRel, ent.name);
    let kind: fs.Dirent | fs.Stats | undefined = ent;
    if (ent.isSymbolicLink() && opts.dereference) kind = fs.statSync(src, { throwIfNoEntry: false });
    if (!kind) {
      result.errors++;
      opts.onError?.(src, new FamfsError(`${src}: skipped (dangling symbolic link)`, 'ENOENT'));
    } else if (kind.isDirectory()) walk(src, dest, jobs, w, result, opts, owner, seen);
    else if (kind.isFile()) jobs.push({ src, dest });
    else if (kind.isSymbolicLink()) jobs.push({ src, dest, link: fs.readlinkSync(src) });
    else {
      result.errors++;
      opts.onError?.(src, new FamfsError(`${src}: skipped (not a regular file or directory)`, 'EINVAL'));
    }
  }
}

function copyOne(famfs: Famfs, w: Writer, j: Job, opts: CopyOptions, owner: (st: fs.Stats) => Owner, result: CopyResult): void {
  if (j.link !== undefined) {
    opts.onFile?.(j.src, j.dest, 0);
    w.symlink(j.dest, j.link, { uid: opts.uid, gid: opts.gid });
    result.symlinks++;
    return;
  }
  const st = fs.statSync(j.src);
  opts.onFile?.(j.src, j.dest, st.size);
  const existing = famfs.tree.lookup(j.dest);
  if (existing?.kind === 'file' && existing.size === st.size) {
    copyFromHost(famfs, existing, j.src, opts.onProgress); // restartable, as upstream
  } else {
    w.creat(j.dest, st.size, { ...owner(st), interleave: opts.interleave }, (f) => copyFromHost(famfs, f, j.src, opts.onProgress));
  }
  result.files++;
  result.bytes += st.size;
}
