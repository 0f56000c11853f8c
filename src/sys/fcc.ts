/**
 * CPU cache write-back and invalidate for memory that other hosts share without
 * keeping our caches coherent (CXL today). JavaScript has no cache-control
 * instructions, so a few bytes of machine code per routine are written into a
 * private page that is then made read+execute (never writable and executable at
 * once) and called through koffi. No compiler at install time; see docs/coherency.md.
 *
 *   x86-64  write-back: CLWB (else CLFLUSHOPT, else CLFLUSH) per 64-byte line, then SFENCE
 *           invalidate: MFENCE, CLFLUSHOPT (else CLFLUSH) per line, MFENCE
 *   arm64   write-back: DSB SY, DC CVAC per line, DSB SY; invalidate: DC CIVAC instead
 *           (line size from CTR_EL0; assembled but not yet run on arm64 hardware)
 *
 * Anything else, or a process that may not create executable memory, throws
 * FccUnsupportedError on first use: never a silent no-op.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { LibcError } from './libc.js';

export class FccUnsupportedError extends Error {
  readonly code = 'ENOTSUP';
}

/** Which instruction each routine uses (reported by `famfs status` and the bench). */
export interface FccInfo {
  arch: string;
  writeBack: string;
  invalidate: string;
  /** How the code page was made executable: 'mprotect' or 'memfd'. */
  via: string;
}

export interface CacheOps {
  readonly info: FccInfo;
  /** Write back every dirty line of `buf` (lines stay cached, possibly). */
  writeBack(buf: Uint8Array): void;
  /** Write back if dirty, then drop every line of `buf`: the next load reads memory. */
  invalidate(buf: Uint8Array): void;
}

type Koffi = typeof import('koffi');

/** koffi and these bindings load on first use, so CLI verbs that never flush start without them. */
function bind() {
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  const libc = koffi.load('libc.so.6');
  return {
    koffi,
    mmap: libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)'),
    munmap: libc.func('int munmap(void *addr, size_t len)'),
    mprotect: libc.func('int mprotect(void *addr, size_t len, int prot)'),
    memfdCreate: libc.func('int memfd_create(const char *name, unsigned int flags)'),
    close: libc.func('int close(int fd)'),
    errnoLocation: libc.func('int *__errno_location(void)'),
    Routine: koffi.proto('void famfs_fcc_routine(void *addr, size_t len)'),
  };
}
let bound: ReturnType<typeof bind> | undefined;
const native = (): ReturnType<typeof bind> => (bound ??= bind());
const errno = (): number => native().koffi.decode(native().errnoLocation(), 'int') as number;

const PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
const MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;
const MFD_CLOEXEC = 1, MFD_EXEC = 0x10;
const PAGE = 4096;
const MAP_FAILED = 0xffffffffffffffffn;

type RoutineFn = (addr: Uint8Array, len: number) => void;

// ---- machine code ----------------------------------------------------------

const X86_MFENCE = [0x0f, 0xae, 0xf0];
const X86_SFENCE = [0x0f, 0xae, 0xf8];
const X86_OPS: Record<string, number[]> = {
  clwb: [0x66, 0x0f, 0xae, 0x37], // clwb [rdi]
  clflushopt: [0x66, 0x0f, 0xae, 0x3f], // clflushopt [rdi]
  clflush: [0x0f, 0xae, 0x3f], // clflush [rdi]
};

/** SysV: rdi = addr, rsi = len. Covers [addr & ~63, addr + len); len 0 touches nothing. */
export function x86Routine(op: keyof typeof X86_OPS, pre: number[], post: number[]): Buffer {
  const ins = X86_OPS[op]!;
  const body = [...ins, 0x48, 0x83, 0xc7, 0x40, 0x48, 0x39, 0xf7]; // op [rdi]; add rdi,64; cmp rdi,rsi
  const loopLen = body.length + 2; // + jb rel8
  return Buffer.from([
    ...pre,
    0x48, 0x8d, 0x34, 0x37, // lea rsi,[rdi+rsi]
    0x48, 0x83, 0xe7, 0xc0, // and rdi,-64
    0x48, 0x39, 0xf7, // cmp rdi,rsi
    0x73, loopLen, // jae done
    ...body,
    0x72, 0x100 - loopLen, // jb loop
    ...post, // done:
    0xc3, // ret
  ]);
}

/** AAPCS64: x0 = addr, x1 = len; steps by the data-cache line size from CTR_EL0. */
export function arm64Routine(dcWord: number): Buffer {
  const words = [
    0xd53b0022, 0xd3504c42, 0xd2800083, 0x9ac22063, 0x8b010001, 0xd1000464, 0x8a240000, 0xd5033f9f,
    0xeb01001f, 0x54000082, dcWord, 0x8b030000, 0x17fffffc, 0xd5033f9f, 0xd65f03c0,
  ];
  const b = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => b.writeUInt32LE(w >>> 0, i * 4));
  return b;
}
const ARM64_DC_CVAC = 0xd50b7a20;
const ARM64_DC_CIVAC = 0xd50b7e20;

// ---- executable pages ------------------------------------------------------

function libcFail(call: string): never {
  throw new LibcError(call, errno());
}

/** An anonymous page written while RW, then flipped to RX (fails under MemoryDenyWriteExecute). */
function viaMprotect(code: Buffer): unknown {
  const p = native().mmap(null, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (BigInt(native().koffi.address(p)) === MAP_FAILED) libcFail('mmap');
  code.copy(Buffer.from(native().koffi.view(p, PAGE) as ArrayBuffer));
  if (native().mprotect(p, PAGE, PROT_READ | PROT_EXEC) !== 0) {
    const e = errno();
    native().munmap(p, PAGE);
    throw new LibcError('mprotect', e);
  }
  return p;
}

/** A memfd holding the code, mapped read+execute only: never writable in this process. */
function viaMemfd(code: Buffer): unknown {
  let fd = native().memfdCreate('famfs-fcc', MFD_CLOEXEC | MFD_EXEC) as number;
  if (fd < 0 && errno() === 22) fd = native().memfdCreate('famfs-fcc', MFD_CLOEXEC) as number; // kernels before 6.3
  if (fd < 0) libcFail('memfd_create');
  try {
    fs.writeSync(fd, code, 0, code.length, 0);
    const p = native().mmap(null, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    if (BigInt(native().koffi.address(p)) === MAP_FAILED) libcFail('mmap');
    return p;
  } finally {
    native().close(fd);
  }
}

function executable(codes: Buffer[]): { fns: RoutineFn[]; via: string } {
  // Every routine in one page, each at a 64-byte boundary.
  const page = Buffer.alloc(64 * codes.length);
  codes.forEach((code, i) => code.copy(page, 64 * i));
  const errors: string[] = [];
  for (const [via, make] of [['mprotect', viaMprotect], ['memfd', viaMemfd]] as const) {
    try {
      const p = make(page);
      const fns = codes.map((_, i) => native().koffi.decode(p, 64 * i, native().Routine) as RoutineFn);
      return { fns, via };
    } catch (e) {
      errors.push(`${via}: ${(e as Error).message}`);
    }
  }
  throw new FccUnsupportedError(`cannot create executable memory for the cache-flush routines (${errors.join('; ')}); on cache-coherent memory set FAMFS_COHERENT=1`);
}

// ---- selection -------------------------------------------------------------

/** The x86 instruction choice from the CPU's flags (upstream's table, invalidate never CLWB). */
export function chooseX86(flags: Set<string>, force?: string): { writeBack: string; invalidate: string } {
  if (force !== undefined) {
    if (!(force in X86_OPS)) throw new FccUnsupportedError(`FAMFS_FCC=${force}: expected clwb, clflushopt or clflush`);
    if (!flags.has(force)) throw new FccUnsupportedError(`FAMFS_FCC=${force}: this CPU lacks ${force.toUpperCase()}`);
  }
  const invalidate = force && force !== 'clwb' ? force : flags.has('clflushopt') ? 'clflushopt' : flags.has('clflush') ? 'clflush' : '';
  const writeBack = force ?? (flags.has('clwb') ? 'clwb' : invalidate);
  if (!writeBack || !invalidate) throw new FccUnsupportedError('this x86-64 CPU reports no CLFLUSH: cannot write back or invalidate cache lines');
  return { writeBack, invalidate };
}

function cpuFlags(): Set<string> {
  const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const line = /^(flags|Features)\s*:(.*)$/m.exec(text);
  return new Set(line ? line[2]!.trim().split(/\s+/) : []);
}

function build(force?: string): CacheOps {
  let codes: Buffer[];
  let info: Omit<FccInfo, 'via'>;
  if (process.arch === 'x64') {
    const pick = chooseX86(cpuFlags(), force);
    codes = [x86Routine(pick.writeBack, [], X86_SFENCE), x86Routine(pick.invalidate, X86_MFENCE, X86_MFENCE)];
    info = { arch: 'x86-64', writeBack: `${pick.writeBack}+sfence`, invalidate: `mfence+${pick.invalidate}+mfence` };
  } else if (process.arch === 'arm64') {
    if (force) throw new FccUnsupportedError(`FAMFS_FCC=${force}: only x86-64 has a choice`);
    codes = [arm64Routine(ARM64_DC_CVAC), arm64Routine(ARM64_DC_CIVAC)];
    info = { arch: 'arm64', writeBack: 'dc cvac+dsb sy', invalidate: 'dc civac+dsb sy' };
  } else {
    throw new FccUnsupportedError(`no cache write-back/invalidate routines for ${process.arch}; on cache-coherent memory set FAMFS_COHERENT=1`);
  }
  const { fns, via } = executable(codes);
  const [wb, inv] = fns as [RoutineFn, RoutineFn];
  return {
    info: { ...info, via },
    writeBack: (buf) => { if (buf.length) wb(buf, buf.length); },
    invalidate: (buf) => { if (buf.length) inv(buf, buf.length); },
  };
}

const built = new Map<string, CacheOps>();

/**
 * The routines for this CPU, built once per process and choice. `force` (or
 * FAMFS_FCC) picks one x86 instruction: clwb, clflushopt or clflush.
 */
export function cacheOps(force = process.env.FAMFS_FCC || undefined): CacheOps {
  const key = force ?? '';
  let ops = built.get(key);
  if (!ops) built.set(key, (ops = build(force)));
  return ops;
}
