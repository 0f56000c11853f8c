/**
 * Device.mapHead: the start of the device through a small mapping of its own
 * (metadata without a 1 GiB window), coherent with the window that serves the
 * same bytes, and counted by V8 as far less external memory.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Device } from '../../src/device/device.js';

const MiB = 1 << 20;
const dev = `/dev/shm/famfs-head-${process.pid}.img`;

describe('Device.mapHead', () => {
  after(() => fs.rmSync(dev, { force: true }));

  it('serves [0, head) from the head mapping, coherent with the 1 GiB window and the file', () => {
    fs.writeFileSync(dev, '');
    fs.truncateSync(dev, 2048 * MiB);
    const d = Device.open(dev, { writable: true });
    try {
      const before = process.memoryUsage().external;
      d.mapHead(3 * MiB); // rounded up to 4 MiB
      const grew = process.memoryUsage().external - before;
      assert.ok(grew <= 8 * MiB, `head mapping counted as ${grew} bytes of external memory`);
      const v = d.view(4 * MiB - 8, 8);
      v.write('headtail');
      d.flush(4 * MiB - 8, 8);
      const onDisk = Buffer.alloc(8);
      const fd = fs.openSync(dev, 'r');
      fs.readSync(fd, onDisk, 0, 8, 4 * MiB - 8);
      fs.closeSync(fd);
      assert.equal(onDisk.toString(), 'headtail');
      // A range past the head maps the window; the same bytes seen through it agree.
      const slices = d.slices(4 * MiB - 8, 16);
      assert.equal(slices.length, 1);
      assert.equal(slices[0]!.subarray(0, 8).toString(), 'headtail');
      slices[0]!.write('WINDOW!!', 0);
      assert.equal(v.toString(), 'WINDOW!!');
    } finally {
      d.close();
    }
  });

  it('never maps past the end of a device smaller than the head', () => {
    fs.writeFileSync(dev, '');
    fs.truncateSync(dev, 1 * MiB);
    const d = Device.open(dev);
    try {
      d.mapHead(64 * MiB);
      assert.equal(d.view(0, 1 * MiB).length, 1 * MiB);
      assert.throws(() => d.view(0, 1 * MiB + 1), /outside the device/);
    } finally {
      d.close();
    }
  });
});
