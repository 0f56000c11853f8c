/**
 * Opcode → handler method, and the method's answer → reply payload bytes (the part of
 * libfuse's low-level layer that turns a decoded request into a call and its reply).
 * Also keeps this session's lookup counts: entries replied add one, FORGETs take them
 * back. With several workers a FORGET may reach a different worker than the LOOKUP, so
 * per-session counts can go negative; only their sum over all workers is meaningful
 * (handlers that need exact counts must share them, e.g. via SharedArrayBuffer).
 */
import type { FuseRequest, InHeader } from './decode.js';
import {
  encodeAttrOut,
  encodeCreateOut,
  encodeEntryOut,
  encodeGetxattrOut,
  encodeLkOut,
  encodeLseekOut,
  encodeOpenOut,
  encodeStatfsOut,
  encodeWriteOut,
  packDirents,
  packDirentsPlus,
  type TimeoutDefaults,
} from './encode.js';
import { FuseError, type FuseHandler, type Request } from './handler.js';
import { Errno, Opcode } from './protocol.js';
import { trimRead } from './session-helpers.js';
import type { FdReply } from './splice.js';
import type { EntryReply } from './types.js';

/** dispatch()'s payload for requests the kernel expects no answer to. */
export const NO_REPLY = Symbol('no reply');
export type Payload = Buffer[] | FdReply | typeof NO_REPLY;
export const EMPTY: Buffer[] = [];

/** What dispatch answers: a payload (or NO_REPLY), the lookups it counted, or an errno. */
export interface Dispatched {
  payload: Payload;
  counted: number[] | null;
  errno?: number;
}

export class Dispatcher {
  /** Entry/attr timeouts of replies (set from the handler's InitWishes). */
  timeouts: TimeoutDefaults = { entryTimeout: 1, attrTimeout: 1 };
  private readonly lookups = new Map<number, number>();
  private destroyed = false;

  constructor(
    private readonly handler: FuseHandler,
    private readonly log: (msg: string) => void,
  ) {}

  /** Net lookup count this session has seen for nodeid. */
  lookupCount(nodeid: number): number {
    return this.lookups.get(nodeid) ?? 0;
  }

  /**
   * Call the handler for one request. Returns the reply payload (or NO_REPLY)
   * and the nodeids whose lookup count this reply added (to undo if it fails).
   * Throws FuseError / errno errors; handler results that are FuseErrors are thrown.
   */
  dispatch(h: InHeader, r: FuseRequest): Dispatched {
    const H = this.handler;
    const req: Request = { unique: h.unique, opcode: h.opcode, nodeid: h.nodeid, uid: h.uid, gid: h.gid, pid: h.pid };
    const n = h.nodeid;
    const one = (b: Buffer) => ({ payload: [b], counted: null });
    const none = { payload: EMPTY, counted: null };
    switch (r.op) {
      case 'lookup': {
        // Negative lookups and absent xattrs are frequent answers: returned, not thrown (a throw
        // through dispatch cost more than the rest of the request).
        const e = need(H.lookup).call(H, req, n, r.name);
        return e instanceof FuseError ? failed(e) : this.entry(e);
      }
      case 'forget':
        this.forget(req, n, r.nlookup);
        return { payload: NO_REPLY, counted: null };
      case 'batchForget':
        for (const it of r.items) this.forget(req, it.nodeid, it.nlookup);
        return { payload: NO_REPLY, counted: null };
      case 'getattr':
        return one(encodeAttrOut(ok(need(H.getattr).call(H, req, n, r.fh)), this.timeouts));
      case 'setattr':
        return one(encodeAttrOut(ok(need(H.setattr).call(H, req, n, r.args)), this.timeouts));
      case 'readlink':
        return one(Buffer.from(ok(need(H.readlink).call(H, req, n)), 'utf8'));
      case 'symlink':
        return this.entry(need(H.symlink).call(H, req, n, r.name, r.target));
      case 'mknod':
        return this.entry(need(H.mknod).call(H, req, n, r.name, r.mode, r.rdev, r.umask));
      case 'mkdir':
        return this.entry(need(H.mkdir).call(H, req, n, r.name, r.mode, r.umask));
      case 'link':
        return this.entry(need(H.link).call(H, req, r.oldNodeid, n, r.newName));
      case 'unlink':
        ok(need(H.unlink).call(H, req, n, r.name));
        return none;
      case 'rmdir':
        ok(need(H.rmdir).call(H, req, n, r.name));
        return none;
      case 'rename':
        ok(need(H.rename).call(H, req, n, r.name, r.newParent, r.newName, r.flags));
        return none;
      case 'open':
        // No open method = stateless files: fh 0, like libfuse.
        return one(encodeOpenOut(H.open ? ok(H.open.call(H, req, n, r.flags, r.openFlags)) : {}));
      case 'opendir':
        return one(encodeOpenOut(H.opendir ? ok(H.opendir.call(H, req, n, r.flags, r.openFlags)) : {}));
      case 'read': {
        const res = ok(need(H.read).call(H, req, n, r.args));
        return { payload: trimRead(res, r.args.size), counted: null };
      }
      case 'write': {
        const written = ok(need(H.write).call(H, req, n, r.args, r.data));
        return one(encodeWriteOut(written));
      }
      case 'statfs':
        // No statfs method: answer like libfuse's default (namelen 255, bsize 512).
        return one(encodeStatfsOut(H.statfs ? ok(H.statfs.call(H, req, n)) : { namelen: 255, bsize: 512 }));
      case 'release':
        if (H.release) ok(H.release.call(H, req, n, r.args));
        return none;
      case 'releasedir':
        if (H.releasedir) ok(H.releasedir.call(H, req, n, r.args));
        return none;
      case 'fsync':
        ok(need(H.fsync).call(H, req, n, r.fh, r.datasync));
        return none;
      case 'fsyncdir':
        ok(need(H.fsyncdir).call(H, req, n, r.fh, r.datasync));
        return none;
      case 'flush':
        ok(need(H.flush).call(H, req, n, r.fh, r.lockOwner));
        return none;
      case 'setxattr':
        ok(need(H.setxattr).call(H, req, n, r.name, r.value, r.flags));
        return none;
      case 'getxattr': {
        const v = need(H.getxattr).call(H, req, n, r.name);
        if (v instanceof FuseError) return failed(v);
        return one(sizedReply(typeof v === 'string' ? Buffer.from(v, 'utf8') : v, r.size));
      }
      case 'listxattr': {
        const names = ok(need(H.listxattr).call(H, req, n));
        const list = Buffer.from(names.map((s) => s + '\0').join(''), 'utf8');
        return one(sizedReply(list, r.size));
      }
      case 'removexattr':
        ok(need(H.removexattr).call(H, req, n, r.name));
        return none;
      case 'readdir': {
        const res = ok(need(H.readdir).call(H, req, n, r.args));
        const data = Buffer.isBuffer(res) ? res.subarray(0, r.args.size) : packDirents(res, r.args.size, r.args.offset);
        return one(data);
      }
      case 'readdirplus': {
        const res = ok(need(H.readdirplus).call(H, req, n, r.args));
        const { data, packed } = packDirentsPlus(res, r.args.size, r.args.offset, this.timeouts);
        const counted: number[] = [];
        for (let i = 0; i < packed; i++) {
          const e = res[i]!;
          if (e.entry.nodeid !== 0 && e.name !== '.' && e.name !== '..') counted.push(e.entry.nodeid);
        }
        this.addLookups(counted);
        return { payload: [data], counted };
      }
      case 'access':
        ok(need(H.access).call(H, req, n, r.mask));
        return none;
      case 'create': {
        const c = ok(need(H.create).call(H, req, n, r.name, r.mode, r.flags, r.umask));
        const counted = c.nodeid !== 0 ? [c.nodeid] : [];
        this.addLookups(counted);
        return { payload: [encodeCreateOut(c, this.timeouts)], counted };
      }
      case 'getlk':
        return one(encodeLkOut(ok(need(H.getlk).call(H, req, n, r.fh, r.owner, r.lock))));
      case 'setlk':
        ok(need(H.setlk).call(H, req, n, r.fh, r.owner, r.lock, r.wait));
        return none;
      case 'flock':
        ok(need(H.flock).call(H, req, n, r.fh, r.owner, r.type, r.wait));
        return none;
      case 'interrupt':
        // Handlers run to completion synchronously, so there is nothing to cancel; no reply.
        H.interrupt?.call(H, req, r.target);
        return { payload: NO_REPLY, counted: null };
      case 'lseek':
        return one(encodeLseekOut(ok(need(H.lseek).call(H, req, n, r.fh, r.offset, r.whence))));
      case 'destroy':
        this.destroy();
        return none;
      case 'unknown': {
        // Protocol extensions (opcodes this layer does not know) go to the handler as raw bytes.
        const res = ok(need(H.extension).call(H, req, r.opcode, r.payload));
        return { payload: Array.isArray(res) ? res : [res], counted: null };
      }
      case 'init': // handled before dispatch
        throw new FuseError(Errno.ENOSYS);
    }
  }

  private entry(res: EntryReply | FuseError | undefined): Dispatched {
    const e = ok(res as EntryReply | FuseError);
    const counted = e.nodeid !== 0 ? [e.nodeid] : [];
    this.addLookups(counted);
    return { payload: [encodeEntryOut(e, this.timeouts)], counted };
  }

  private addLookups(ids: number[]): void {
    for (const id of ids) this.lookups.set(id, (this.lookups.get(id) ?? 0) + 1);
  }

  /** A reply carrying new lookups never reached the kernel: take them back and tell the handler. */
  undoLookups(h: InHeader, ids: number[]): void {
    const req: Request = { unique: h.unique, opcode: Opcode.FORGET, nodeid: 0, uid: h.uid, gid: h.gid, pid: h.pid };
    for (const id of ids) this.forget(req, id, 1);
  }

  private forget(req: Request, nodeid: number, nlookup: number): void {
    const left = (this.lookups.get(nodeid) ?? 0) - nlookup;
    if (left === 0) this.lookups.delete(nodeid);
    else this.lookups.set(nodeid, left);
    try {
      this.handler.forget?.({ ...req, nodeid }, nodeid, nlookup);
    } catch (e) {
      this.log(`handler forget threw: ${(e as Error)?.stack ?? String(e)}`);
    }
  }

  /** Call the handler's destroy once (DESTROY request or the end of the loop). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      this.handler.destroy?.();
    } catch (e) {
      this.log(`handler destroy failed: ${(e as Error)?.stack ?? String(e)}`);
    }
  }
}

/** The method, or ENOSYS. */
function need<F>(f: F | undefined): F {
  if (!f) throw new FuseError(Errno.ENOSYS);
  return f;
}

/** A FuseError the handler returned, answered without a throw. */
function failed(e: FuseError): Dispatched {
  return { payload: EMPTY, counted: null, errno: e.errno };
}

/** Unwrap a handler result: a returned FuseError is thrown. */
function ok<T>(v: T | FuseError): T {
  if (v instanceof FuseError) throw v;
  return v;
}

/** GETXATTR/LISTXATTR: size 0 = "how big?", too small = ERANGE. */
function sizedReply(value: Buffer, size: number): Buffer {
  if (size === 0) return encodeGetxattrOut(value.length);
  if (value.length > size) throw new FuseError(Errno.ERANGE);
  return value;
}
