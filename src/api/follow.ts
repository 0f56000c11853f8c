/**
 * Following a famfs as its master appends to the log: an async iterator of
 * events, one per applied entry, in log order: creations, added devices, and
 * (feature delete) removals and renames. Paths are as the entry logged them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppliedEntry } from '../meta/replay.js';
import { statOf, type FamfsStat } from './files.js';
import type { Famfs } from './famfs.js';

export type LogEvent =
  | { type: 'created'; index: number; path: string; kind: 'file' | 'dir' | 'symlink'; stat: FamfsStat }
  | { type: 'device-added'; index: number; device: number; uuid: string; size: number }
  /** `id`: the removed node's creation slot (as `index` of its 'created' event). */
  | { type: 'removed'; index: number; path: string; kind: 'file' | 'dir' | 'symlink'; id: number }
  /** `replaced`: the creation slot of the file the rename replaced, if any. */
  | { type: 'renamed'; index: number; from: string; to: string; kind: 'file' | 'dir' | 'symlink'; id: number; replaced?: number };

export interface FollowOptions {
  /** Poll interval (ms, default 100): how often next_index is read. */
  intervalMs?: number;
  /** Also yield the entries already applied when following starts (default: only new ones). */
  fromStart?: boolean;
  /** Stop following (the iterator ends without an error). */
  signal?: AbortSignal;
}

function toEvent(famfs: Famfs, a: AppliedEntry): LogEvent | undefined {
  const e = a.entry;
  if (e.type === 'file' || e.type === 'mkdir' || e.type === 'symlink') {
    const node = famfs.tree.byId.get(famfs.nodeIdOf(a.index));
    if (!node) return undefined;
    return { type: 'created', index: a.index, path: e.path, kind: node.kind, stat: statOf(node) };
  }
  if (e.type === 'remove') return { type: 'removed', index: a.index, path: e.path, kind: e.kind, id: e.fileId };
  if (e.type === 'rename') return { type: 'renamed', index: a.index, from: e.from, to: e.to, kind: e.kind, id: e.fileId, ...(e.replacedId !== undefined ? { replaced: e.replacedId } : {}) };
  if (e.type === 'add_daxdev') return { type: 'device-added', index: a.index, device: e.index, uuid: e.uuid, size: e.size };
  return undefined;
}

export async function* followLog(famfs: Famfs, o: FollowOptions = {}): AsyncGenerator<LogEvent, void, undefined> {
  const interval = o.intervalMs ?? 100;
  let seen = o.fromStart ? 0 : famfs.appliedCount;
  while (!o.signal?.aborted) {
    famfs.refresh();
    while (seen < famfs.appliedCount) {
      const ev = toEvent(famfs, famfs.appliedAt(seen++));
      if (ev) yield ev;
      if (o.signal?.aborted) return;
    }
    try {
      await sleep(interval, undefined, { signal: o.signal });
    } catch {
      return; // aborted
    }
  }
}
