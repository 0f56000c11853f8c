/**
 * Many new files, logged a few at a time (`famfs cp` of small files). Each file is
 * placed and filled first, exactly as `Writer.creat` does; then up to MAX_GROUP
 * entries are committed by one `log.commit` (one fstat, two msyncs) and applied
 * from the values encoded (Famfs.applyOwn), instead of one of each per file (docs/performance.md,
 * "`famfs cp -r` of small files"). Crash safety is creat's: a file's data is in
 * place before its entry is written, and a group becomes visible all at once.
 */
import type { CreateOptions, Writer } from './writer.js';
import type { FileMap } from '../format/types.js';
import type { NewLogEntry } from '../format/logentry.js';
import type { FileNode } from '../meta/tree.js';
import { FM_ALL_HOSTS_RW } from '../format/constants.js';
import { LogFullError, MAX_GROUP, type Committed } from '../meta/log.js';
import { FamfsError, asFamfsError } from './errors.js';

const PAGE = 4096;

export interface NewFile {
  path: string;
  size: number;
  opts?: CreateOptions;
  /** Writes the file's data into its space before the entry is logged. */
  fill?: (file: { map: FileMap; size: number }) => void;
}

interface Ready {
  i: number;
  rel: string;
  map: FileMap;
  entry: NewLogEntry;
}

/**
 * Create `files` in order. Each result is the file's node or its error; with `stop`,
 * the first error it accepts ends the run (files after it are not attempted: undefined).
 */
export function creatGroup(w: Writer, files: readonly NewFile[], stop?: (e: FamfsError) => boolean): (FileNode | FamfsError | undefined)[] {
  const out: (FileNode | FamfsError | undefined)[] = new Array<FileNode | FamfsError | undefined>(files.length).fill(undefined);
  const famfs = w.fs;
  let ready: Ready[] = [];
  const waiting = new Set<string>();

  const fail = (r: Ready, e: unknown): void => {
    w.space.freeMap(r.map);
    out[r.i] = asFamfsError(e);
  };
  const commit = (): void => {
    if (!ready.length) return;
    const group = ready;
    ready = [];
    waiting.clear();
    let logged = group;
    const entries = group.map((r) => r.entry);
    let committed: Committed | undefined;
    try {
      committed = famfs.log.commit(entries);
    } catch (e) {
      if (!(e instanceof LogFullError) || group.length === 1) {
        for (const r of group) fail(r, e);
        return;
      }
      // The group does not fit: what fits is logged one by one, as creat would have.
      logged = group.filter((r) => {
        let c;
        try {
          c = famfs.log.commit([r.entry]);
        } catch (e1) {
          fail(r, e1);
          return false;
        }
        famfs.applyOwn(c, [r.entry]);
        return true;
      });
    }
    if (committed) famfs.applyOwn(committed, entries);
    for (const r of logged) {
      const node = famfs.tree.lookup(r.rel);
      out[r.i] = node?.kind === 'file' ? node : new FamfsError(`${r.rel}: the log entry was written but replay refused it`, 'EIO');
    }
  };

  for (const [i, f] of files.entries()) {
    try {
      // Through a kernel-mode mount a file can be filled only once it is logged: one at a time.
      if (famfs.throughMount) out[i] = w.creat(f.path, f.size, f.opts, f.fill);
      else {
        const r = prepare(w, f, i, waiting);
        if (r) {
          ready.push(r);
          waiting.add(r.rel);
          if (ready.length === MAX_GROUP) commit();
        } else out[i] = famfs.tree.lookup(famfs.relpath(f.path)) as FileNode;
      }
    } catch (e) {
      out[i] = asFamfsError(e);
    }
    const err = out[i];
    if (err instanceof FamfsError && stop?.(err)) break;
  }
  commit();
  return out;
}

/** creat's checks, placement and fill; undefined for an existing file of that size (filled again, as creat does). */
function prepare(w: Writer, f: NewFile, i: number, waiting: ReadonlySet<string>): Ready | undefined {
  const famfs = w.fs;
  const rel = famfs.relpath(f.path);
  if (!Number.isSafeInteger(f.size) || f.size < 0) throw new FamfsError(`${f.path}: invalid size ${f.size}`, 'EINVAL');
  if (rel === '') throw new FamfsError(`${f.path}: is the root directory`, 'EISDIR');
  if (waiting.has(rel)) throw new FamfsError(`${f.path}: already exists`, 'EEXIST');
  const existing = famfs.tree.lookup(rel);
  if (existing) {
    if (existing.kind === 'file' && existing.size === f.size) {
      f.fill?.(existing);
      return undefined;
    }
    throw new FamfsError(`${f.path}: already exists${existing.kind === 'file' ? ` with size ${existing.size}` : ` as a ${existing.kind === 'dir' ? 'directory' : 'symlink'}`}`, 'EEXIST');
  }
  w.parentOf(rel, f.path);
  if (f.size > w.space.capacity) throw new FamfsError(`${f.path}: ${f.size} bytes exceeds the file system's capacity of ${w.space.capacity} bytes`, 'ENOSPC');
  const o = w.owner(f.opts ?? {}, 0o644);
  const map = w.space.place(f.size, f.opts ?? {});
  try {
    if (f.fill) {
      famfs.zeroRange(map, f.size, Math.ceil(f.size / PAGE) * PAGE);
      f.fill({ map, size: f.size });
    } else famfs.zeroMap(map);
  } catch (e) {
    w.space.freeMap(map);
    throw asFamfsError(e);
  }
  return { i, rel, map, entry: { type: 'file', path: rel, size: f.size, flags: FM_ALL_HOSTS_RW, map, ...o } };
}
