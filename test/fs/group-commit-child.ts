/**
 * Child of group-commit.test.ts: a master service (the daemon's main thread, in-process)
 * that makes a directory and `argv[3]` files with known bytes, closes them, and logs them in
 * groups — and is SIGKILLed by itself when the group commit reaches append number `argv[4]`
 * (counted from 1), before that append writes anything. Prints nothing; the parent checks
 * the device. Without arguments it does nothing (the test runner also runs it bare).
 */
import { MasterService, type NewNodeAttr } from '../../src/fs/master-service.js';
import { createNewFileSlots } from '../../src/fs/newslots.js';
import type { RpcCall } from '../../src/fs/rpc.js';

/** Only with its arguments: `node --test dist/test/` also runs this file, bare. */
function run(dev: string, files: number, killAt: number): void {
  const call = (op: string, args: Record<string, unknown>): RpcCall => ({ op, args, claim: () => true });
  const m = new MasterService(dev, { commitDelayMs: 60_000, log: () => {}, newFiles: createNewFileSlots() });
  const dir = m.handle(call('mkdir', { parent: 1, name: 'grp', mode: 0o755, uid: 0, gid: 0 })) as NewNodeAttr;
  for (let i = 0; i < files; i++) {
    const a = m.handle(call('create', { parent: dir.id, name: `f${i}`, mode: 0o644, uid: 0, gid: 0 })) as NewNodeAttr;
    const size = 1000 + 37 * i;
    const g = m.handle(call('extend', { id: a.id, offset: 0, length: size })) as NewNodeAttr;
    m.famfs.write({ map: g.map, size, path: `grp/f${i}` }, 0, Buffer.alloc(size, (i % 250) + 1));
    m.handle(call('release', { id: a.id }));
  }
  const log = m.famfs.log;
  const append = log.appendMany.bind(log);
  let n = 0;
  log.appendMany = (entries) => {
    if (++n === killAt) process.kill(process.pid, 'SIGKILL');
    return append(entries);
  };
  m.handle(call('syncfs', {}));
  m.close();
}

if (process.argv[4] !== undefined) run(process.argv[2]!, Number(process.argv[3]), Number(process.argv[4]));
