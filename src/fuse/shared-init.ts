/**
 * INIT across the workers of one connection. The kernel queues requests on one shared
 * input queue, so INIT goes to whichever worker reads first, and the kernel sends
 * nothing else until INIT is answered. That worker publishes the kernel's offer and its
 * init_out here before replying; the other workers read them before their first request
 * and initialise their own handler instance with the same connection parameters.
 */
import { decodeInitOut } from './decode.js';
import { connectionFrom } from './negotiate.js';
import type { FuseConnection, KernelInit } from './types.js';

const SHARED_INIT_BYTES = 256;
const SI_STATE = 0; // Int32 index: 0 = not yet, 1 = published
const SI_KERNEL = 16; // byte offset: major, minor, maxReadahead, flags lo, flags hi (u32 each)
const SI_OUTLEN = 40; // byte offset: u32 length of init_out
const SI_OUT = 64; // byte offset: init_out bytes (≤ 64)

/** SharedArrayBuffer to pass to every worker's session of one connection. */
export function createSharedInit(): SharedArrayBuffer {
  return new SharedArrayBuffer(SHARED_INIT_BYTES);
}

/** Record the kernel's offer and the init_out reply (call before the reply is written). */
export function publishSharedInit(sab: SharedArrayBuffer, kernel: KernelInit, outBytes: Buffer): void {
  const dv = Buffer.from(sab);
  dv.writeUInt32LE(kernel.major, SI_KERNEL);
  dv.writeUInt32LE(kernel.minor, SI_KERNEL + 4);
  dv.writeUInt32LE(kernel.maxReadahead, SI_KERNEL + 8);
  dv.writeUInt32LE(Number(kernel.flags & 0xffffffffn), SI_KERNEL + 12);
  dv.writeUInt32LE(Number(kernel.flags >> 32n), SI_KERNEL + 16);
  dv.writeUInt32LE(outBytes.length, SI_OUTLEN);
  outBytes.copy(dv, SI_OUT);
  Atomics.store(new Int32Array(sab), SI_STATE, 1);
}

/** The connection another worker negotiated, or null if none is published yet. */
export function readSharedInit(sab: SharedArrayBuffer): { kernel: KernelInit; conn: FuseConnection } | null {
  if (Atomics.load(new Int32Array(sab), SI_STATE) !== 1) return null;
  const dv = Buffer.from(sab);
  const kernel: KernelInit = {
    major: dv.readUInt32LE(SI_KERNEL),
    minor: dv.readUInt32LE(SI_KERNEL + 4),
    maxReadahead: dv.readUInt32LE(SI_KERNEL + 8),
    flags: BigInt(dv.readUInt32LE(SI_KERNEL + 12)) | (BigInt(dv.readUInt32LE(SI_KERNEL + 16)) << 32n),
  };
  const out = decodeInitOut(dv.subarray(SI_OUT, SI_OUT + dv.readUInt32LE(SI_OUTLEN)));
  return { kernel, conn: connectionFrom(kernel, out) };
}
