/**
 * The `.meta` directory every mount shows at its root: `.superblock` and `.log`,
 * served straight from the device. They name every file, including those in
 * directories a user cannot list, so they are root-only unless the mount names a
 * group that may read them (`-o meta_group=GID`). Nobody writes the superblock
 * through a mount; only the master's root may write the log.
 */
import { LOG_OFFSET, SUPERBLOCK_SIZE } from '../format/constants.js';
import type { DirNode } from '../meta/tree.js';
import { META_NAME } from '../meta/paths.js';
import { FamfsFileType } from '../map/export/index.js';
import type { Served } from './newnodes.js';

export { META_NAME };
export const META_DIR_ID = 2;
export const SUPERBLOCK_FILE_ID = 3;
export const LOG_FILE_ID = 4;

/**
 * GET_FMAP file_type: the uapi's SUPERBLOCK (1) / LOG (2) for the meta files. Upstream
 * famfs_fused sends REG (0) for every file; only 0 was verified on a real famfs kernel.
 */
export function metaFileType(id: number): FamfsFileType {
  return id === SUPERBLOCK_FILE_ID ? FamfsFileType.SUPERBLOCK : id === LOG_FILE_ID ? FamfsFileType.LOG : FamfsFileType.REG;
}

export interface MetaNodes {
  dir: DirNode;
  files: Map<number, Served>;
}

/** The meta directory and files of a mount; `metaGroup` (a gid) may read the files. */
export function metaNodes(root: DirNode, logLen: number, master: boolean, metaGroup?: number): MetaNodes {
  const dir: DirNode = {
    kind: 'dir', id: META_DIR_ID, name: META_NAME, path: META_NAME, mode: 0o755, uid: 0, gid: 0,
    parent: root, entryIndex: -1, children: new Map(), order: [], subdirs: 0,
  };
  const group = metaGroup === undefined ? 0 : 0o040;
  const gid = metaGroup ?? 0;
  const sb: Served = { id: SUPERBLOCK_FILE_ID, size: SUPERBLOCK_SIZE, mode: 0o400 | group, uid: 0, gid, path: `${META_NAME}/.superblock`, meta: true, map: { kind: 'simple', extents: [{ devindex: 0, offset: 0, length: SUPERBLOCK_SIZE }] } };
  const log: Served = { id: LOG_FILE_ID, size: logLen, mode: (master ? 0o600 : 0o400) | group, uid: 0, gid, path: `${META_NAME}/.log`, meta: true, map: { kind: 'simple', extents: [{ devindex: 0, offset: LOG_OFFSET, length: logLen }] } };
  return { dir, files: new Map([[SUPERBLOCK_FILE_ID, sb], [LOG_FILE_ID, log]]) };
}
