/**
 * INIT negotiation as a pure function: kernel offer + handler wishes → the
 * fuse_init_out we reply with and the resulting connection parameters.
 */
import fs from 'node:fs';
import { FUSE_KERNEL_MINOR_VERSION, FUSE_KERNEL_VERSION, InitFlag } from './protocol.js';
import type { InitOut } from './encode.js';
import type { FuseHandler, InitWishes } from './handler.js';
import type { FuseConnection, KernelInit } from './types.js';

export const DEFAULT_MAX_WRITE = 1024 * 1024;
/** The kernel's FUSE_MAX_MAX_PAGES default, when the sysctl cannot be read. */
const KERNEL_MAX_PAGES_LIMIT = 256;

/**
 * fs.fuse.max_pages_limit: the largest max_pages (pages per READ/WRITE request) the kernel
 * grants at INIT. Root can raise it (sysctl fs.fuse.max_pages_limit=4096; README).
 */
export function kernelMaxPagesLimit(readFile: (p: string) => string = (p) => fs.readFileSync(p, 'utf8')): number {
  try {
    const v = Number(readFile('/proc/sys/fs/fuse/max_pages_limit').trim());
    return Number.isInteger(v) && v >= 1 ? Math.min(v, 0xffff) : KERNEL_MAX_PAGES_LIMIT;
  } catch {
    return KERNEL_MAX_PAGES_LIMIT;
  }
}
/** Kernel's max_pages when MAX_PAGES is not negotiated (FUSE_DEFAULT_MAX_PAGES_PER_REQ). */
const KERNEL_DEFAULT_MAX_PAGES = 32;
const PAGE = 4096;

/**
 * Flags wanted when the handler does not say: the cheap, safe ones plus the
 * ones implied by which methods the handler implements.
 */
export function defaultWantedFlags(h: FuseHandler): bigint {
  let f =
    InitFlag.ASYNC_READ |
    InitFlag.BIG_WRITES |
    InitFlag.MAX_PAGES |
    InitFlag.PARALLEL_DIROPS |
    InitFlag.AUTO_INVAL_DATA |
    InitFlag.ASYNC_DIO |
    InitFlag.INIT_EXT;
  if (h.readdirplus) f |= InitFlag.DO_READDIRPLUS | InitFlag.READDIRPLUS_AUTO;
  if (h.flock) f |= InitFlag.FLOCK_LOCKS;
  if (h.getlk && h.setlk) f |= InitFlag.POSIX_LOCKS;
  return f;
}

export interface NegotiateLimits {
  /** Largest max_write the session's read buffer allows. */
  maxWrite: number;
  /** Used when wishes.wantFlags is absent. */
  defaultFlags: bigint;
}

export type Negotiated = { ok: true; out: InitOut; conn: FuseConnection } | { ok: false; errno: number; message: string };

export function negotiateInit(kernel: KernelInit, wishes: InitWishes, limits: NegotiateLimits): Negotiated {
  if (kernel.major !== FUSE_KERNEL_VERSION) {
    return { ok: false, errno: 71 /* EPROTO */, message: `unsupported FUSE protocol major ${kernel.major} (need ${FUSE_KERNEL_VERSION})` };
  }
  const minor = Math.min(kernel.minor, FUSE_KERNEL_MINOR_VERSION);
  let wanted = wishes.wantFlags ?? limits.defaultFlags;
  wanted = (wanted | (wishes.addFlags ?? 0n)) & ~(wishes.removeFlags ?? 0n);
  let flags = wanted & kernel.flags;
  // flags2 is only read by the kernel when INIT_EXT is set; set it whenever we use a high bit.
  if (flags >> 32n !== 0n) {
    if (kernel.flags & InitFlag.INIT_EXT) flags |= InitFlag.INIT_EXT;
    else flags &= 0xffffffffn;
  }
  const maxWrite = Math.max(PAGE, Math.min(wishes.maxWrite ?? limits.maxWrite, limits.maxWrite));
  const maxPages = Math.min(0xffff, Math.max(1, wishes.maxPages ?? Math.ceil(maxWrite / PAGE)));
  const maxReadahead = Math.min(wishes.maxReadahead ?? kernel.maxReadahead, kernel.maxReadahead);
  const out: InitOut = {
    major: FUSE_KERNEL_VERSION,
    minor,
    maxReadahead,
    flags,
    maxBackground: wishes.maxBackground ?? 0,
    congestionThreshold: wishes.congestionThreshold ?? 0,
    maxWrite,
    timeGran: wishes.timeGran ?? 1,
    maxPages: flags & InitFlag.MAX_PAGES ? maxPages : 0,
    maxStackDepth: flags & InitFlag.PASSTHROUGH ? (wishes.maxStackDepth ?? 1) : 0,
  };
  return { ok: true, out, conn: connectionFrom(kernel, out) };
}

/** The connection parameters implied by an INIT exchange. */
export function connectionFrom(kernel: KernelInit, out: InitOut): FuseConnection {
  return {
    major: out.major ?? FUSE_KERNEL_VERSION,
    minor: out.minor,
    kernelMajor: kernel.major,
    kernelMinor: kernel.minor,
    kernelFlags: kernel.flags,
    flags: out.flags,
    maxWrite: out.maxWrite,
    maxReadahead: out.maxReadahead,
    maxPages: out.flags & InitFlag.MAX_PAGES ? (out.maxPages ?? 0) : KERNEL_DEFAULT_MAX_PAGES,
    maxBackground: out.maxBackground ?? 0,
    congestionThreshold: out.congestionThreshold ?? 0,
    timeGran: out.timeGran ?? 1,
  };
}
