/**
 * Where a session's requests come from and its replies go: a /dev/fuse fd (or a clone),
 * a read/write fd pair, or any object with the same methods (io_uring, scripted tests).
 */
import * as fs from 'node:fs';
import { type FdReply, threadPipe } from './splice.js';

/** Where requests come from and replies go. */
export interface FuseTransport {
  /** Read one message into buf; return its length (0 = EOF). Throw Node-style errors ({code}). */
  read(buf: Buffer): number;
  /** Write one whole message made of these buffers. */
  writev(bufs: Buffer[]): void;
  /** Write header + the reply's file pieces with splice; false when not possible (nothing sent). */
  splice?(header: Buffer, reply: FdReply): boolean;
}

/** A transport over an fd (the same fd for both directions, as /dev/fuse), or a read/write fd pair. */
export function fdTransport(readFd: number, writeFd = readFd): FuseTransport {
  const pipe = threadPipe();
  return {
    read: (buf) => fs.readSync(readFd, buf, 0, buf.length, null),
    writev: (bufs) => {
      fs.writevSync(writeFd, bufs);
    },
    splice: (header, reply) => pipe.send(writeFd, header, reply),
  };
}
