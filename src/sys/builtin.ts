/**
 * Node built-ins loaded on first use. `crypto` and `stream` are not in Node's
 * start-up snapshot: importing them costs every CLI verb a few ms of compiling
 * even when the verb never makes a UUID or a stream (docs/performance.md,
 * "CLI start-up").
 */
import { createRequire } from 'node:module';

const req = createRequire(import.meta.url);

let cryptoModule: typeof import('node:crypto') | undefined;
export function crypto(): typeof import('node:crypto') {
  return (cryptoModule ??= req('node:crypto') as typeof import('node:crypto'));
}

let streamModule: typeof import('node:stream') | undefined;
export function stream(): typeof import('node:stream') {
  return (streamModule ??= req('node:stream') as typeof import('node:stream'));
}
