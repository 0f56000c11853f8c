/**
 * Child process for the io_uring daemon-death test: serve hellofs over
 * io_uring on argv[2], print "ready <transport>" once INIT is done, then wait
 * to be killed.
 */
import { FuseServer } from '../../src/fuse/server.js';
import { STATS_INTS } from './hellofs.js';

const server = new FuseServer({
  mountpoint: process.argv[2]!,
  handlerModule: new URL('./hellofs.js', import.meta.url),
  handlerData: { stats: new SharedArrayBuffer(STATS_INTS * 4) },
  workers: 2,
  transport: 'uring',
});
await server.start();
process.stdout.write(`ready ${server.transport}\n`);
await server.closed;
