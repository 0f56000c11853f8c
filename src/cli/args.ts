/** Argument parsers shared by the verbs; each throws InvalidArgumentError with a clear message. */
import { InvalidArgumentError, Option } from 'commander';
import { DEFAULT_PLACEMENT, PLACEMENTS } from '../alloc/space.js';

const SUFFIX: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * Sizes as upstream: decimal, 0x hex or 0 octal, with an optional k/m/g (and t) suffix, ×1024^n.
 * Parsed exactly (BigInt): a size that a JS number cannot hold exactly (> 2^53 - 1) is refused
 * rather than rounded.
 */
export function parseSize(text: string): number {
  const m = /^(0x[0-9a-f]+|[0-9]+)([kmgt])?$/i.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`"${text}" is not a size (examples: 4096, 2m, 4g, 0x200000)`);
  const digits = m[1]!.toLowerCase();
  const base = digits.startsWith('0x') ? BigInt(digits) : digits.length > 1 && digits.startsWith('0') ? octal(digits, text) : BigInt(digits);
  const v = base * BigInt(m[2] ? SUFFIX[m[2].toLowerCase()]! : 1);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidArgumentError(`"${text}" is too large (at most ${Number.MAX_SAFE_INTEGER} bytes)`);
  return Number(v);
}

function octal(digits: string, text: string): bigint {
  if (!/^[0-7]+$/.test(digits)) throw new InvalidArgumentError(`"${text}" is not a size (a leading 0 means octal)`);
  return BigInt('0o' + digits.slice(1));
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
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new InvalidArgumentError(`"${text}" is not a number`);
  return Number(text);
}

/** A parser for a whole number in [min, max]; `what` names it in the error. */
export function countIn(min: number, max: number, what: string): (text: string) => number {
  return (text: string): number => {
    const n = parseCount(text);
    if (n < min || n > max) throw new InvalidArgumentError(`${what} must be ${min}..${max}`);
    return n;
  };
}

export function parseSeed(text: string): number {
  const n = parseCount(text);
  if (n === 0 || n > 0xffffffff) throw new InvalidArgumentError('seed must be 1..4294967295');
  return n;
}

/** --placement for verbs that allocate (docs/mapping.md "Placement"). */
export function placementOption(what: string): Option {
  return new Option('--placement <HOW>', `${what}: fill (device 0 first, then spill over), spread (most free device), stripe (one strip per device)`).choices([...PLACEMENTS]).default(DEFAULT_PLACEMENT);
}

/** A duration: 500ms, 10s, 2m (a bare number is seconds); returns milliseconds. */
export function parseDuration(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`"${text}" is not a duration (examples: 500ms, 10s, 2m)`);
  const v = Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] ?? 's'] ?? 1000);
  if (!Number.isSafeInteger(Math.round(v))) throw new InvalidArgumentError(`"${text}" is too long`);
  return Math.round(v);
}
