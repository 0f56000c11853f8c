/** Generic FUSE layer (pure TypeScript over /dev/fuse); knows nothing about famfs. */
export * from './protocol.js';
export * from './types.js';
export * from './decode.js';
export * from './encode.js';
export * from './handler.js';
export * from './negotiate.js';
export { FuseSession, fdTransport, createSharedInit, type FuseTransport, type RequestLog, type SessionOptions, type SessionEnd } from './session.js';
export * from './mount.js';
export { FuseServer, type FuseServerOptions, type WorkerExit } from './server.js';
