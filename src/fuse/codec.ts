/**
 * The pure part of the FUSE layer in one import: constants, value types, request
 * decoding, reply/notification encoding, INIT negotiation. No I/O, no native code.
 */
export * from './protocol.js';
export * from './types.js';
export * from './decode.js';
export * from './encode.js';
export * from './negotiate.js';
