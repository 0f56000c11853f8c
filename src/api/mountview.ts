/**
 * Reading a famfs's metadata through its mount, for users who may read the
 * mount's files but not the device: the daemon serves the superblock and the
 * log as `.meta/.superblock` and `.meta/.log` (opened direct-I/O, so every
 * read is current). The copy lives in an inMemory Device laid out as the
 * device's first bytes, so the log and replay code run unchanged.
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { Device } from '../device/device.js';
import { entryOffset, LOG_ENTRY_SIZE, LOG_HEADER_SIZE, LOG_OFFSET } from '../format/constants.js';
import { decodeLogHeader } from '../format/logheader.js';
import { decodeSuperblock, SUPERBLOCK_STRUCT_SIZE } from '../format/superblock.js';
import { FamfsError } from './errors.js';

export const META_SUPERBLOCK = '.meta/.superblock';
export const META_LOG = '.meta/.log';

function readInto(file: string, into: Buffer, position: number): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    const why = code === 'ENOENT' ? 'not found: is this a famfs mount?'
      : code === 'EACCES' ? 'permission denied: the meta files are root-only unless the mount names a group that may read them (famfs mount -o meta_group=GID); MountReader reads the mount as this user without them'
      : (e as Error).message;
    throw new FamfsError(`${file}: ${why}`, code);
  }
  try {
    for (let off = 0; off < into.length; ) {
      const n = fs.readSync(fd, into, off, into.length - off, position + off);
      if (n === 0) throw new FamfsError(`${file}: shorter than expected (${off} of ${into.length} bytes)`, 'EIO');
      off += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** A metadata-only Device for the famfs mounted at `mountpoint` (named after `devicePath`). */
export function deviceThroughMount(mountpoint: string, devicePath: string): Device {
  const sbFile = nodePath.join(mountpoint, META_SUPERBLOCK);
  const logFile = nodePath.join(mountpoint, META_LOG);
  const sbBytes = Buffer.alloc(SUPERBLOCK_STRUCT_SIZE);
  readInto(sbFile, sbBytes, 0);
  let logLen: number, devSize: number;
  try {
    const sb = decodeSuperblock(sbBytes);
    logLen = sb.logLen;
    devSize = sb.daxdev.size;
  } catch (e) {
    throw new FamfsError(`${sbFile}: ${(e as Error).message}`, 'EINVAL');
  }
  let logSize: number;
  try {
    logSize = fs.statSync(logFile).size;
  } catch (e) {
    throw new FamfsError(`${logFile}: ${(e as Error).message}`, (e as NodeJS.ErrnoException).code ?? 'EIO');
  }
  if (!Number.isSafeInteger(logLen) || logLen <= 0 || logLen !== logSize) throw new FamfsError(`${logFile}: size ${logSize} does not match the superblock's log length ${logLen}`, 'EINVAL');
  const bytes = Buffer.alloc(LOG_OFFSET + logLen);
  sbBytes.copy(bytes, 0);
  readInto(logFile, bytes.subarray(LOG_OFFSET), 0);
  // Later reloads read the header, then only the slots committed since the last look.
  let known = decodeLogHeader(bytes.subarray(LOG_OFFSET, LOG_OFFSET + LOG_HEADER_SIZE)).nextIndex;
  const reload = (into: Buffer): void => {
    readInto(logFile, into.subarray(LOG_OFFSET, LOG_OFFSET + LOG_HEADER_SIZE), 0);
    const h = decodeLogHeader(into.subarray(LOG_OFFSET, LOG_OFFSET + LOG_HEADER_SIZE));
    const next = Math.min(h.nextIndex, h.lastIndex + 1);
    if (next > known) {
      const from = entryOffset(known), to = entryOffset(next - 1) + LOG_ENTRY_SIZE;
      if (to <= LOG_OFFSET + logLen) readInto(logFile, into.subarray(from, to), from - LOG_OFFSET);
    }
    known = next;
  };
  return Device.inMemory(devicePath, Math.max(devSize, bytes.length), bytes, reload);
}
