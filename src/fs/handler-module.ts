/** The module each FUSE worker thread loads: builds one FamfsFs per thread. */
import type { FamfsMountConfig } from './config.js';
import { FamfsFs } from './famfs-fs.js';

export function createHandler(data: unknown): FamfsFs {
  return new FamfsFs(data as FamfsMountConfig);
}
