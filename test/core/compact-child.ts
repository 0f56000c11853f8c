/**
 * `famfs compact` as its own process, killed (SIGKILL) by itself right after its Nth log
 * append: `node compact-child.js DEVICE BACKUP N`. Run without arguments (as `node --test`
 * might) it does nothing.
 */
import { LogView } from '../../src/meta/log.js';
import { compact } from '../../src/api/compact.js';
import type { NewLogEntry } from '../../src/format/logentry.js';

const [device, backup, n] = process.argv.slice(2);
if (device && backup && n) {
  const append = LogView.prototype.append;
  let k = 0;
  LogView.prototype.append = function (this: LogView, e: NewLogEntry): number {
    const r = append.call(this, e);
    if (++k === Number(n)) process.kill(process.pid, 'SIGKILL');
    return r;
  };
  compact(device, { backup });
  process.stdout.write('compact finished\n');
}
