/**
 * The famfs library: `import { Famfs } from 'famfs'`. Everything a Node program
 * needs to open a famfs (a device, an image file, or a path in a mount), list
 * and stat it, reach file bytes in shared memory, create files and directories
 * as the master, follow the log, format and check. docs/api.md describes it.
 */
export { Famfs, readSuperblock, type Role, type OpenOptions } from './famfs.js';
export { Writer, type Owner, type CreateOptions } from './writer.js';
export { FamfsError, isFamfsError, asFamfsError, FAMFS_ERROR_CODES, type FamfsErrorCode } from './errors.js';
export type { FamfsStat, RangeOptions } from './files.js';
export type { LogEvent, FollowOptions } from './follow.js';
export { findMounted, famfsMountList, FAMFS_FSTYPE, type MountedPath } from './locate.js';
export { mkfs, type MkfsOptions, type MkfsResult } from './mkfs.js';
export { fsck, formatFsck, type FsckReport } from './fsck.js';
export { copyIn, type CopyOptions, type CopyResult } from './copy.js';
export { compact, type CompactResult } from './compact.js';
export type { RemoveOptions, RenameOptions } from './removal.js';
export type { PendingFree, ReleaseOracle } from '../alloc/reclaim.js';
export { randomize, verify, verifyChunks, copyFromHost } from './data.js';
export { MountReader, MAP_XATTR, INDEX_XATTR, type StatOptions } from './mountreader.js';
export { systemUuid, systemUuidFile } from './sysuuid.js';
export type { FileMap, SimpleMap, InterleaveMap, Extent } from '../format/types.js';
export type { TreeNode, FileNode, DirNode } from '../meta/tree.js';
export type { Superblock } from '../format/superblock.js';
export type { InterleaveParams } from '../alloc/allocator.js';
export type { Device } from '../device/device.js';
