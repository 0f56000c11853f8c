/**
 * Every state shared memory can be left in when the master dies inside
 * LogView.append (the entry bytes are copied, flushed, then next_seqnum and
 * next_index are stored one after the other): replay sees nothing new and no
 * problem, and the next writer appends without any repair.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { encodeLogEntry } from '../../src/format/logentry.js';
import { entryOffset, LOG_OFFSET } from '../../src/format/constants.js';
import { mkfs } from '../../src/api/mkfs.js';
import { Famfs } from '../../src/api/famfs.js';
import { fsck } from '../../src/api/fsck.js';
import { asHost, cleanup, makeHost, rawLogCheck, shmDevice, type Host } from '../../torture/lib/common.js';

function writeAt(file: string, off: number, data: Uint8Array): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, data, 0, data.length, off);
  } finally {
    fs.closeSync(fd);
  }
}

function counters(file: string, seq: number, index: number): void {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt(seq), 0);
  b.writeBigUInt64LE(BigInt(index), 8);
  writeAt(file, LOG_OFFSET + 32, b);
}

describe('interrupted append: every intermediate state', () => {
  let master: Host;
  let dev: string;
  before(() => {
    master = makeHost('commit');
    dev = shmDevice('commit');
  });
  after(() => cleanup());

  /** A log with three committed entries; then `interrupt` leaves the 4th half-done. */
  function setup(interrupt: (slot: Buffer) => void): void {
    asHost(master, () => mkfs(dev, { force: true }));
    const f = asHost(master, () => Famfs.open(dev, { writable: true }));
    try {
      asHost(master, () => f.writer((w) => {
        w.mkdir('a');
        w.creat('a/x', 100);
        w.mkdir('b');
      }));
    } finally {
      f.close();
    }
    interrupt(encodeLogEntry({ type: 'mkdir', path: 'ghost', uid: 0, gid: 0, mode: 0o755 }, 3));
  }

  const states: [string, (slot: Buffer) => void][] = [
    ['torn entry (first 200 bytes)', (s) => writeAt(dev, entryOffset(3), s.subarray(0, 200))],
    ['torn entry (all but the CRC)', (s) => writeAt(dev, entryOffset(3), s.subarray(0, 536))],
    ['whole entry, counters untouched', (s) => writeAt(dev, entryOffset(3), s)],
    ['whole entry, next_seqnum stored, next_index not yet', (s) => {
      writeAt(dev, entryOffset(3), s);
      counters(dev, 4, 3);
    }],
  ];

  for (const [name, interrupt] of states) {
    it(`${name}: nothing visible, fsck clean, the next writer appends into the slot`, () => {
      setup(interrupt);
      const f = asHost(master, () => Famfs.open(dev, { writable: true }));
      try {
        assert.equal(f.stats.entries, 3);
        assert.equal(f.tree.lookup('ghost'), undefined);
        assert.ok(fsck(f).clean);
        asHost(master, () => f.writer((w) => w.mkdir('c')));
        assert.equal(f.lookup('c').kind, 'dir');
      } finally {
        f.close();
      }
      const raw = rawLogCheck(dev);
      assert.deepEqual(raw, { nextIndex: 4, nextSeqnum: 4, badSeq: 0 });
      const again = asHost(master, () => Famfs.open(dev));
      try {
        assert.ok(fsck(again).clean);
        assert.deepEqual([...again.tree.walk()].map((n) => n.path).sort(), ['', 'a', 'a/x', 'b', 'c']);
      } finally {
        again.close();
      }
    });
  }
});
