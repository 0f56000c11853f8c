/**
 * The read-only extended attributes a mount serves (`getfattr -d -m user.famfs`).
 * They let users who cannot open the device — nor the root-only `.meta` files —
 * run famfs's read-only verbs on paths inside the mount: each file carries its
 * own map, each logged node its log slot. The kernel checks a user.* xattr read
 * like a read of the node itself (VFS xattr_permission → inode_permission with
 * MAY_READ under default_permissions), so a user learns a file's map only if
 * they may read the file, and only along a path they may search.
 */
import type { TreeNode } from '../meta/tree.js';
import type { AnyNode, Served } from './newnodes.js';
import { INDEX_XATTR, MAP_XATTR } from '../api/mountreader.js';

export { INDEX_XATTR, MAP_XATTR };

/** What every node says about the mount it is in. */
export interface MountFacts {
  device: string;
  role: string;
  uuid: string;
  dataPath: string;
  systemUuid: string;
}

export function nodeXattrs(n: AnyNode, facts: MountFacts): Record<string, string> {
  const x: Record<string, string> = {
    'user.famfs.device': facts.device,
    'user.famfs.role': facts.role,
    'user.famfs.uuid': facts.uuid,
    'user.famfs.pid': String(process.pid),
    'user.famfs.data_path': facts.dataPath,
    'user.famfs.system_uuid': facts.systemUuid,
  };
  if ('kind' in n) {
    const t = n as TreeNode;
    if (t.entryIndex >= 0) x[INDEX_XATTR] = String(t.entryIndex);
    if (t.kind === 'file') x[MAP_XATTR] = JSON.stringify(t.map);
  } else {
    x[MAP_XATTR] = JSON.stringify((n as Served).map);
  }
  return x;
}
