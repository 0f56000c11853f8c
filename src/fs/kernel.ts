/**
 * famfs "kernel mode": the famfs V10 FUSE extensions (reference fuse-kernel.md §1).
 *
 * With a famfs-enabled kernel the daemon answers GET_FMAP (opcode 54, after OPEN of
 * every regular file) with the file's map and GET_DAXDEV (55, device index in the
 * header's nodeid) with the device path; the kernel then serves the data from the
 * DAX device itself and no READ/WRITE reaches the daemon.
 *
 * INIT bit 43 is ambiguous (famfs FUSE_DAX_FMAP vs. mainline io_uring buffer pools),
 * so the daemon only accepts it when the kernel is known to be famfs-enabled:
 * `/proc/kallsyms` names `famfs_fuse_iomap_begin`, or `--data-path kernel`.
 */
import fs from 'node:fs';
import { InitFlag } from '../fuse/protocol.js';

export const FUSE_DAX_FMAP = InitFlag.BIT_43;
export const FUSE_GET_FMAP = 54;
export const FUSE_GET_DAXDEV = 55;

export const DATA_PATHS = ['auto', 'kernel', 'daemon'] as const;
export type DataPathChoice = (typeof DATA_PATHS)[number];
/** What a mount actually uses. */
export type DataPath = 'kernel' | 'daemon';

export function isDataPathChoice(s: string): s is DataPathChoice {
  return (DATA_PATHS as readonly string[]).includes(s);
}

const FAMFS_KERNEL_SYMBOL = 'famfs_fuse_iomap_begin';

/** Whether the running kernel has the famfs FUSE patches (as the famfs CLI checks). */
export function famfsKernelPresent(kallsyms = '/proc/kallsyms'): boolean {
  let fd: number;
  try {
    fd = fs.openSync(kallsyms, 'r');
  } catch {
    return false;
  }
  try {
    const buf = Buffer.alloc(1 << 20);
    let carry = '';
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) return false;
      const text = carry + buf.toString('latin1', 0, n);
      // Match whole symbol names only ("famfs_fuse_iomap_begin" followed by end of line or a tab).
      if (/[ \t]famfs_fuse_iomap_begin(\s|$)/m.test(text)) return true;
      carry = text.slice(-(FAMFS_KERNEL_SYMBOL.length + 2));
    }
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Whether to ask for FUSE_DAX_FMAP: the kernel offers bit 43 and is known to be a
 * famfs kernel (choice 'kernel', or 'auto' with the famfs symbol present).
 */
export function wantKernelMode(choice: DataPathChoice, famfsKernel: boolean, offered: bigint): boolean {
  if ((offered & FUSE_DAX_FMAP) === 0n) return false;
  return choice === 'kernel' || (choice === 'auto' && famfsKernel);
}
