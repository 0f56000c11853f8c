/** Argument parsers shared by the verbs; each throws InvalidArgumentError with a clear message. */
import { InvalidArgumentError } from 'commander';

const SUFFIX: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Sizes as upstream: decimal, 0x hex or 0 octal, with an optional k/m/g (and t) suffix, ×1024^n. */
export function parseSize(text: string): number {
  const m = /^(0x[0-9a-f]+|[0-9]+)([kmgt])?$/i.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`"${text}" is not a size (examples: 4096, 2m, 4g, 0x200000)`);
  const base = m[1]!.toLowerCase().startsWith('0x') ? parseInt(m[1]!, 16) : m[1]!.length > 1 && m[1]!.startsWith('0') ? parseInt(m[1]!, 8) : parseInt(m[1]!, 10);
  const v = base * (m[2] ? SUFFIX[m[2].toLowerCase()]! : 1);
  if (!Number.isSafeInteger(v)) throw new InvalidArgumentError(`"${text}" is too large`);
  return v;
}

export function parseMode(text: string): number {
  if (!/^[0-7]{1,4}$/.test(text)) throw new InvalidArgumentError(`"${text}" is not an octal mode (example: 0644)`);
  return parseInt(text, 8);
}

export function parseId(text: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) > 0xffffffff) throw new InvalidArgumentError(`"${text}" is not a numeric id`);
  return Number(text);
}

export function parseCount(text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new InvalidArgumentError(`"${text}" is not a number`);
  return Number(text);
}

export function parseSeed(text: string): number {
  const n = parseCount(text);
  if (n === 0 || n > 0xffffffff) throw new InvalidArgumentError('seed must be 1..4294967295');
  return n;
}
