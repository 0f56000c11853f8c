#!/usr/bin/env node
// As the master (the host that formatted the device): create a directory and files in one
// writer session — a contiguous file, an interleaved one — then write in place.
// Usage: node examples/writer.mjs DEVICE
import { Famfs } from 'famfs';

const device = process.argv[2];
if (!device) {
  console.error('usage: writer.mjs DEVICE');
  process.exit(2);
}

const fs = Famfs.open(device, { writable: true });
try {
  fs.writer((w) => {
    w.mkdir('examples', { parents: true });
    // fill runs before the entry is logged: other hosts never see the file half-written.
    w.creat('examples/hello.txt', 13, {}, (f) => fs.write({ ...f, path: 'examples/hello.txt' }, 0, Buffer.from('hello, famfs\n')));
    const MiB = 1 << 20;
    w.creat('examples/striped.bin', 24 * MiB, { interleave: { nstrips: 2, nbuckets: 2, chunkSize: 2 * MiB } });
  });
  // Write in place: the file's bytes are the shared memory itself.
  const size = fs.stat('examples/striped.bin').size;
  const pattern = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) pattern.writeUInt32LE(i, i);
  fs.write('examples/striped.bin', 0, pattern);
  fs.flushFile(fs.file('examples/striped.bin'));
  console.log(`created examples/hello.txt and examples/striped.bin (${fs.views('examples/striped.bin').length} pieces)`);
} finally {
  fs.close();
}
