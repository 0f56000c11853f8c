/**
 * The host's system UUID decides its role: the host whose UUID is in the
 * superblock is the master. Upstream keeps it in /opt/famfs/system_uuid;
 * FAMFS_SYSTEM_UUID_FILE points elsewhere so tests can simulate several hosts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isUuid, newUuid } from '../format/uuid.js';
import { FamfsError } from './errors.js';

export const DEFAULT_SYSTEM_UUID_FILE = '/opt/famfs/system_uuid';

export function systemUuidFile(): string {
  return process.env.FAMFS_SYSTEM_UUID_FILE || DEFAULT_SYSTEM_UUID_FILE;
}

/** Read the system UUID, creating the file (as upstream: 36 chars + NUL, mode 0444) if it is missing. */
export function systemUuid(file = systemUuidFile()): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new FamfsError(`${file}: ${(e as Error).message}`, 'EIO');
    const uuid = newUuid();
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    try {
      fs.writeFileSync(file, `${uuid}\0`, { mode: 0o444, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new FamfsError(`${file}: ${(err as Error).message}`, 'EIO');
    }
    text = fs.readFileSync(file, 'latin1');
  }
  const uuid = text.replace(/\0.*$/s, '').trim().slice(0, 36);
  if (!isUuid(uuid)) throw new FamfsError(`${file}: does not hold a UUID`, 'EINVAL');
  return uuid.toLowerCase();
}

/** The system UUID, or undefined when it cannot be read (upstream then treats the host as a client). */
export function trySystemUuid(): string | undefined {
  try {
    return systemUuid();
  } catch {
    return undefined;
  }
}
