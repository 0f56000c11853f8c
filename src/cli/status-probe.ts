/**
 * Child process of `famfs status`: asks each mount point given on the command
 * line for its daemon's status (the root's xattrs) and prints one JSON line
 * per mount as soon as it has the answer. A hung FUSE mount blocks getxattr
 * for good (killable only), so the parent runs this in a child it can kill.
 */
import { getxattr } from '../sys/libc.js';
import { STATUS_XATTR } from '../fs/status.js';

export interface ProbeAnswer {
  mountpoint: string;
  status?: string;
  role?: string;
  dataPath?: string;
  pid?: string;
  error?: string;
}

function ask(mountpoint: string): ProbeAnswer {
  const x = (name: string): string | undefined => getxattr(mountpoint, name);
  try {
    const status = x(STATUS_XATTR);
    if (status) return { mountpoint, status };
    return { mountpoint, role: x('user.famfs.role'), dataPath: x('user.famfs.data_path'), pid: x('user.famfs.pid') };
  } catch (e) {
    return { mountpoint, error: (e as Error).message }; // a dead daemon (ENOTCONN)
  }
}

for (const mp of process.argv.slice(2)) process.stdout.write(JSON.stringify(ask(mp)) + '\n');
