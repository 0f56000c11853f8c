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

/** The prefix of every attribute a mount serves: any other name is ENODATA without a look at the tree. */
export const FAMFS_XATTR_PREFIX = 'user.famfs.';

const MOUNT_XATTRS = ['device', 'role', 'uuid', 'pid', 'data_path', 'system_uuid'].map((k) => FAMFS_XATTR_PREFIX + k);

/** The names `n` carries (listxattr). */
export function nodeXattrNames(n: AnyNode): string[] {
  const names = [...MOUNT_XATTRS];
  if ('kind' in n) {
    const t = n as TreeNode;
    if (t.entryIndex >= 0) names.push(INDEX_XATTR);
    if (t.kind === 'file') names.push(MAP_XATTR);
  } else names.push(MAP_XATTR);
  return names;
}

/** One attribute of `n` (only the one asked for is built: a map's JSON costs more than the request). */
export function nodeXattr(n: AnyNode, facts: MountFacts, name: string): string | undefined {
  switch (name) {
    case 'user.famfs.device': return facts.device;
    case 'user.famfs.role': return facts.role;
    case 'user.famfs.uuid': return facts.uuid;
    case 'user.famfs.pid': return String(process.pid);
    case 'user.famfs.data_path': return facts.dataPath;
    case 'user.famfs.system_uuid': return facts.systemUuid;
  }
  if ('kind' in n) {
    const t = n as TreeNode;
    if (name === INDEX_XATTR) return t.entryIndex >= 0 ? String(t.entryIndex) : undefined;
    if (name === MAP_XATTR) return t.kind === 'file' ? JSON.stringify(t.map) : undefined;
    return undefined;
  }
  return name === MAP_XATTR ? JSON.stringify((n as Served).map) : undefined;
}

/** Every attribute of `n` by name. */
export function nodeXattrs(n: AnyNode, facts: MountFacts): Record<string, string> {
  return Object.fromEntries(nodeXattrNames(n).map((k) => [k, nodeXattr(n, facts, k)!]));
}
