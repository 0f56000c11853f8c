/** Generic FUSE layer (pure TypeScript over /dev/fuse); knows nothing about famfs. */
export * from './codec.js';
export * from './handler.js';
export { FuseSession, fdTransport, createSharedInit, type FuseTransport, type RequestLog, type SessionOptions, type SessionEnd } from './session.js';
export * from './mountinfo.js';
export { FdReply, type FdPiece } from './splice.js';
export {
  openFuseDevice,
  fuseAvailable,
  mountFuse,
  unmountFuse,
  cloneFuseFd,
  checkMountpoint,
  fuseMountOptions,
  MountError,
  FUSE_DEVICE,
  type MountOptions,
  type MountParams,
} from './mount.js';
export { FuseServer, type FuseServerOptions, type WorkerExit } from './server.js';
