/**
 * Small pure helpers of the session: trimming a READ answer to the size asked, and the
 * one-line description of a request for the debug trace.
 */
import type { FuseRequest } from './decode.js';
import { errnoName } from './handler.js';
import type { RequestLog } from './reply.js';
import { FdReply } from './splice.js';

/** Keep at most `max` bytes of a READ reply (views, no copies). */
/** A READ answer as the handler gave it, cut to `max` bytes. */
export function trimRead(res: Buffer | Buffer[] | FdReply, max: number): Buffer[] | FdReply {
  if (res instanceof FdReply) return res.trimmed(max);
  return trimTo(Array.isArray(res) ? res : [res], max);
}

export function trimTo(bufs: Buffer[], max: number): Buffer[] {
  let total = 0;
  for (let i = 0; i < bufs.length; i++) {
    const b = bufs[i]!;
    if (total + b.length > max) {
      const out = bufs.slice(0, i);
      if (max > total) out.push(b.subarray(0, max - total));
      return out;
    }
    total += b.length;
  }
  return bufs;
}

export function describe(r: FuseRequest): string {
  switch (r.op) {
    case 'lookup':
    case 'unlink':
    case 'rmdir':
    case 'mkdir':
    case 'mknod':
    case 'create':
    case 'removexattr':
      return JSON.stringify(r.name);
    case 'getxattr':
      return `${JSON.stringify(r.name)} size=${r.size}`;
    case 'read':
    case 'readdir':
    case 'readdirplus':
      return `fh=${r.args.fh} off=${r.args.offset} size=${r.args.size}`;
    case 'write':
      return `fh=${r.args.fh} off=${r.args.offset} size=${r.args.size}`;
    case 'open':
    case 'opendir':
      return `flags=0x${r.flags.toString(16)}`;
    case 'forget':
      return `nlookup=${r.nlookup}`;
    case 'batchForget':
      return `count=${r.items.length}`;
    case 'rename':
      return `${JSON.stringify(r.name)} -> ${r.newParent}/${JSON.stringify(r.newName)}`;
    case 'unknown':
      return `opcode ${r.opcode}`;
    default:
      return '';
  }
}

export function formatLog(e: RequestLog): string {
  const res = e.errno === -1 ? 'no reply' : e.errno === 0 ? `ok ${e.bytes}B` : `-${errnoName(e.errno)}`;
  return `${e.opname} unique=${e.unique} nodeid=${e.nodeid} pid=${e.pid} ${e.detail} → ${res}`;
}
