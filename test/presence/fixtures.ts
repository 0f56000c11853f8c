/** A famfs device in /dev/shm with the presence area and a short lease, for presence tests. */
import fs from 'node:fs';
import { mkfs } from '../../src/api/mkfs.js';
import { crc32 } from '../../src/format/crc32.js';
import { FEATURE_BLOCK_OFFSET, PRESENCE } from '../../src/format/features.js';
import { writeU64 } from '../../src/format/bytes.js';
import { LEASE_FIELD_OFFSET } from '../../src/presence/lease.js';
import { asHost, GiB, sparseFile, type Host } from '../core/helpers.js';

/**
 * mkfs (as `master`) with an extended superblock, then set the lease field of the feature
 * block (bytes 24..27), the presence bit and the CRC, as `mkfs --features delete --lease` does.
 */
export function presenceDevice(master: Host, tag: string, leaseMs: number, features: string[] = ['long-names']): string {
  const dev = sparseFile(tag, 4 * GiB);
  asHost(master, () => mkfs(dev, { features }));
  setLease(dev, leaseMs);
  return dev;
}

export function setLease(dev: string, leaseMs: number): void {
  const fd = fs.openSync(dev, 'r+');
  try {
    const fb = Buffer.alloc(128);
    fs.readSync(fd, fb, 0, 128, FEATURE_BLOCK_OFFSET);
    fb.writeUInt32LE(leaseMs, LEASE_FIELD_OFFSET - FEATURE_BLOCK_OFFSET);
    fb.writeBigUInt64LE(fb.readBigUInt64LE(16) | PRESENCE, 16); // rocompat
    writeU64(fb, 120, crc32(fb, 0, 120));
    fs.writeSync(fd, fb, 0, 128, FEATURE_BLOCK_OFFSET);
  } finally {
    fs.closeSync(fd);
  }
}
