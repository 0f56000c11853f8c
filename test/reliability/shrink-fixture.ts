/** The shrinking-device fixture shared by test/reliability/shrink and test/fuse/splice. */
import { asHost, famfsOk, GiB, MiB, sparseFile, type Host } from '../core/helpers.js';
import { Famfs } from '../../src/api/famfs.js';
import { FM_ALL_HOSTS_RW } from '../../src/format/constants.js';

/** An 8 GiB famfs with `low` (near the start) and `high` (an extent at 6 GiB), both 4 MiB. */
export function shrinkFixture(master: Host, tag: string): string {
  const dev = sparseFile(tag, 8 * GiB);
  famfsOk(master, ['mkfs', dev]);
  famfsOk(master, ['creat', '-d', dev, '-s', '4m', '-r', '-S', '1', 'low']);
  asHost(master, () => {
    const f = Famfs.open(dev, { writable: true });
    try {
      f.writer(() => f.log.append({ type: 'file', path: 'high', size: 4 * MiB, flags: FM_ALL_HOSTS_RW, mode: 0o644, uid: 0, gid: 0, map: { kind: 'simple', extents: [{ devindex: 0, offset: 6 * GiB, length: 4 * MiB }] } }));
      f.refresh();
      f.write(f.file('high'), 0, Buffer.alloc(4 * MiB, 0x5a));
    } finally {
      f.close();
    }
  });
  return dev;
}
