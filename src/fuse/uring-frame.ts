/**
 * FUSE-over-io_uring framing, as pure functions over the two buffers of one
 * ring entry (see shared reference fuse-io-uring.md §2–§3):
 *
 *   header (288 B): in_out[128] @0 | op_in[128] @128 | ring_ent_in_out @256
 *                   (flags u64 @256, commit_id u64 @264, payload_sz u32 @272)
 *   payload:        every request argument after the first / every reply argument
 *
 * A request is turned back into the byte stream /dev/fuse would have given
 * (in_header, arg 0, the rest), so the session decodes both transports with
 * the same code; a reply (out_header + payload buffers, as the session writes
 * it) is copied into the entry's buffers.
 */
export const RING_HEADER_SIZE = 288;
export const IN_OUT_SIZE = 128;
export const OP_IN_OFFSET = 128;
export const OP_IN_SIZE = 128;
export const COMMIT_ID_OFFSET = 264;
export const PAYLOAD_SZ_OFFSET = 272;
const IN_HEADER = 40;
const OUT_HEADER = 16;
const EIO = 5;
/** FUSE_MIN_READ_BUFFER: the kernel's lower bound for an entry's payload. */
export const MIN_PAYLOAD = 8192;
const PAGE = 4096;
const KERNEL_DEFAULT_MAX_PAGES = 32;
const MAX_PAGES_FLAG = 1 << 22;

/** Payload buffer size the kernel requires once INIT is done: max(8192, max_write, max_pages × 4 KiB). */
export function ringPayloadSize(maxWrite: number, maxPages: number): number {
  return Math.max(MIN_PAYLOAD, maxWrite, maxPages * PAGE);
}

/** The payload size implied by an encoded fuse_init_out (the reply the session sends). */
export function payloadSizeFromInitOut(out: Buffer): number {
  const flags = out.readUInt32LE(12);
  const maxWrite = out.readUInt32LE(20);
  const maxPages = out.length >= 30 && flags & MAX_PAGES_FLAG ? out.readUInt16LE(28) || 1 : KERNEL_DEFAULT_MAX_PAGES;
  return ringPayloadSize(maxWrite, maxPages);
}

/**
 * Rebuild the /dev/fuse form of the request in an entry into `out`.
 * Returns its length, or an error message when the entry is inconsistent
 * (the caller then answers EIO).
 */
export function ringRequestToMessage(header: Buffer, payload: Buffer, out: Buffer): number | string {
  const len = header.readUInt32LE(0);
  const payloadSz = header.readUInt32LE(PAYLOAD_SZ_OFFSET);
  if (payloadSz > payload.length) return `payload_sz ${payloadSz} exceeds the ${payload.length}-byte payload buffer`;
  const arg0 = len - IN_HEADER - payloadSz;
  if (len < IN_HEADER || arg0 < 0 || arg0 > OP_IN_SIZE) return `in_header.len ${len} does not match payload_sz ${payloadSz}`;
  if (len > out.length) return `request of ${len} bytes exceeds the ${out.length}-byte read buffer`;
  header.copy(out, 0, 0, IN_HEADER);
  if (arg0) header.copy(out, IN_HEADER, OP_IN_OFFSET, OP_IN_OFFSET + arg0);
  if (payloadSz) payload.copy(out, IN_HEADER + arg0, 0, payloadSz);
  return len;
}

/**
 * Put one reply (bufs[0] = the 16-byte fuse_out_header, then the payload
 * pieces) into an entry. A reply larger than the payload buffer becomes EIO.
 * Returns the payload bytes written.
 */
export function messageToRing(bufs: readonly Buffer[], header: Buffer, payload: Buffer): number {
  const h = bufs[0]!;
  h.copy(header, 0, 0, OUT_HEADER);
  let total = 0;
  for (let i = 1; i < bufs.length; i++) total += bufs[i]!.length;
  if (total > payload.length) {
    header.writeUInt32LE(OUT_HEADER, 0);
    header.writeInt32LE(-EIO, 4);
    total = 0;
  } else if (h.readInt32LE(4) !== 0) {
    total = 0; // the kernel ignores the payload of an error reply
  } else {
    let off = 0;
    for (let i = 1; i < bufs.length; i++) off += bufs[i]!.copy(payload, off);
  }
  header.writeUInt32LE(total, PAYLOAD_SZ_OFFSET);
  return total;
}

/** Split a /dev/fuse-form request into entry buffers, arg 0 taking `arg0` bytes (test and fuzz helper). */
export function messageToRingRequest(msg: Buffer, nread: number, arg0: number, header: Buffer, payload: Buffer, commitId: bigint): void {
  header.fill(0);
  const n = Math.min(nread, msg.length);
  msg.copy(header, 0, 0, Math.min(n, IN_HEADER));
  const a = Math.max(0, Math.min(arg0, OP_IN_SIZE, n - IN_HEADER));
  if (a > 0) msg.copy(header, OP_IN_OFFSET, IN_HEADER, IN_HEADER + a);
  const rest = Math.max(0, Math.min(n - IN_HEADER - a, payload.length));
  if (rest > 0) msg.copy(payload, 0, IN_HEADER + a, IN_HEADER + a + rest);
  header.writeBigUInt64LE(commitId, COMMIT_ID_OFFSET);
  header.writeUInt32LE(rest, PAYLOAD_SZ_OFFSET);
}

/** The reply in an entry, as /dev/fuse would have received it (test and fuzz helper). */
export function ringReplyToMessage(header: Buffer, payload: Buffer): Buffer {
  const sz = header.readUInt32LE(PAYLOAD_SZ_OFFSET);
  return Buffer.concat([header.subarray(0, OUT_HEADER), payload.subarray(0, sz)]);
}
