/** UUIDs are stored as the 16 bytes of the textual form, in text order (libuuid's uuid_t). */
import { crypto } from '../sys/builtin.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(text: string): boolean {
  return UUID_RE.test(text);
}

export function uuidToBytes(text: string): Buffer {
  if (!isUuid(text)) throw new TypeError(`not a UUID: ${JSON.stringify(text)}`);
  return Buffer.from(text.replace(/-/g, ''), 'hex');
}

export function uuidFromBytes(bytes: Uint8Array): string {
  const h = Buffer.from(bytes.buffer, bytes.byteOffset, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function newUuid(): string {
  return crypto().randomUUID();
}
