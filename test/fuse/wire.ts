/** Test helpers: build request messages byte by byte (as the kernel would). */

/** Little-endian byte builder. */
export class Bytes {
  private parts: Buffer[] = [];
  u8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeUInt8(v);
    this.parts.push(b);
    return this;
  }
  u16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v);
    this.parts.push(b);
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  i32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.parts.push(b);
    return this;
  }
  u64(v: number | bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.parts.push(b);
    return this;
  }
  i64(v: number | bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(v));
    this.parts.push(b);
    return this;
  }
  /** NUL-terminated string. */
  cstr(s: string): this {
    this.parts.push(Buffer.from(s + '\0'));
    return this;
  }
  raw(b: Buffer | string): this {
    this.parts.push(Buffer.isBuffer(b) ? b : Buffer.from(b));
    return this;
  }
  zeros(n: number): this {
    this.parts.push(Buffer.alloc(n));
    return this;
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export interface HdrOpts {
  unique?: bigint | number;
  uid?: number;
  gid?: number;
  pid?: number;
  /** Extension area bytes appended after the args (multiple of 8). */
  ext?: Buffer;
  /** Override the len field. */
  len?: number;
}

/** A whole request: 40-byte fuse_in_header + body (+ extensions). */
export function request(opcode: number, nodeid: number, body: Buffer = Buffer.alloc(0), o: HdrOpts = {}): Buffer {
  const ext = o.ext ?? Buffer.alloc(0);
  const len = 40 + body.length + ext.length;
  const h = new Bytes()
    .u32(o.len ?? len)
    .u32(opcode)
    .u64(o.unique ?? 7)
    .u64(nodeid)
    .u32(o.uid ?? 1000)
    .u32(o.gid ?? 1001)
    .u32(o.pid ?? 4242)
    .u16(ext.length / 8)
    .u16(0)
    .build();
  return Buffer.concat([h, body, ext]);
}

/** fuse_init_in as a 6.18 kernel sends it (64 bytes). */
export function initIn(major = 7, minor = 45, maxReadahead = 0x20000, flags = 0x73fffffb, flags2 = 0x5fd): Buffer {
  return new Bytes().u32(major).u32(minor).u32(maxReadahead).u32(flags).u32(flags2).zeros(44).build();
}

/** Parse a reply written by the session: header + payload. */
export function parseReply(b: Buffer): { len: number; error: number; unique: bigint; payload: Buffer } {
  return { len: b.readUInt32LE(0), error: b.readInt32LE(4), unique: b.readBigUInt64LE(8), payload: b.subarray(16) };
}
