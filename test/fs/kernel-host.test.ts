/**
 * The host-side parts of famfs kernel mode that need no famfs kernel: the workers' copy of
 * the superblock and log (snapshot, then kept current by the watcher), a device reachable
 * only in regions, the CLI's access through a mount's files, and the dax-mode helpers on
 * things that are not DAX devices. The real thing runs in test/vm/kernel.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Famfs } from '../../src/api/famfs.js';
import { mkfs } from '../../src/api/mkfs.js';
import { Device, probeDevice } from '../../src/device/device.js';
import { daxDriver, daxMode, daxName, setDaxMode } from '../../src/device/daxmode.js';
import { kernelModeIntended, snapshotMeta } from '../../src/fs/kernel-mount.js';
import { LogWatcher } from '../../src/fs/watcher.js';
import type { Notifier } from '../../src/fs/notifier.js';
import { LOG_OFFSET } from '../../src/format/constants.js';
import { asHost, famfs as famfsCli, famfsOk, GiB, makeHost, MiB, removeAllShm, removeHost, sparseFile, type Host } from '../core/helpers.js';
import { HAVE_FUSE, NO_FUSE_REASON, mount, umountAll } from './mounted.js';

describe('kernel mode on the host side', () => {
  let host: Host, device: string;

  before(() => {
    host = makeHost('kh');
    device = sparseFile('kh', 4 * GiB);
    asHost(host, () => mkfs(device));
    const f = asHost(host, () => Famfs.open(device, { writable: true }));
    try {
      asHost(host, () => f.writer((w) => {
        const a = w.creat('a', 3 * MiB);
        f.write(a, 0, Buffer.alloc(3 * MiB, 0x61));
        w.mkdir('d');
      }));
    } finally {
      f.close();
    }
  });

  after(() => {
    umountAll(host);
    removeHost(host);
    removeAllShm();
  });

  const imageFamfs = (image: SharedArrayBuffer): Famfs =>
    Famfs.fromDevice(Device.fromRegions(probeDevice(device), -1, false, [{ offset: 0, buf: Buffer.from(image) }], 'only the superblock and log'));

  it("the workers' image holds superblock and log, refuses file data, and the watcher keeps it current", () => {
    const image = snapshotMeta(device);
    assert.equal(image.byteLength, LOG_OFFSET + 8 * MiB);
    const img = asHost(host, () => imageFamfs(image));
    try {
      assert.equal(img.stats.files, 1);
      assert.equal(img.stats.dirs, 1);
      const a = img.file('a');
      assert.throws(() => img.slices(a, 0, 10), (e: Error & { code?: string }) => e.code === 'ENODEV' && /not reachable: only the superblock and log/.test(e.message));
      // The master logs more; the watcher (main thread) copies it into the image.
      const w = asHost(host, () => Famfs.open(device, { writable: true }));
      try {
        asHost(host, () => w.writer((wr) => { wr.mkdir('e'); wr.creat('e/b', 2 * MiB); }));
      } finally {
        w.close();
      }
      assert.equal(img.refresh(), 0, 'the image does not change by itself');
      const sent: unknown[] = [];
      const notifier = { send: (m: unknown) => sent.push(m) } as unknown as Notifier;
      const watcher = new LogWatcher(device, notifier, new SharedArrayBuffer(16), { log: () => {}, famfs: Famfs.open(device), image: Buffer.from(image) });
      try {
        // The watcher was opened after the append: its first look only mirrors (nothing new to announce).
        watcher.mirror();
        assert.equal(img.refresh(), 2);
        assert.equal(img.file('e/b').size, 2 * MiB);
        const w2 = asHost(host, () => Famfs.open(device, { writable: true }));
        try {
          asHost(host, () => w2.writer((wr) => wr.mkdir('f')));
        } finally {
          w2.close();
        }
        watcher.tick();
        assert.equal(img.refresh(), 1);
        assert.ok(img.lookup('f'));
        assert.ok(sent.some((m) => (m as { kind: string; name?: string }).name === 'f'), 'the kernel is told about the new name');
      } finally {
        watcher.stop();
      }
    } finally {
      img.close();
    }
  });

  it('dax-mode helpers: a file is not a DAX device, and every verb says so in one line', () => {
    assert.equal(daxName(device), undefined);
    assert.equal(daxDriver(device), undefined);
    assert.equal(daxMode(device), undefined);
    assert.throws(() => setDaxMode(device, 'fsdev'), /not a DAX device/);
    const r = famfsCli(host, ['daxdev', '--mode', 'fsdev', device]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /not a DAX device/);
    assert.equal(kernelModeIntended('auto', device), false, 'auto never picks kernel mode for a file');
    assert.equal(kernelModeIntended('daemon', device), false);
    assert.throws(() => kernelModeIntended('kernel', device), /is not a DAX device .*--data-path daemon/);
  });

  it('the CLI reaches superblock, log and file bytes through a mount', { skip: HAVE_FUSE ? false : NO_FUSE_REASON }, () => {
    const mp = mount(host, device, 'kh', ['--data-path', 'daemon']);
    const f = asHost(host, () => Famfs.openMounted(mp, device));
    try {
      assert.equal(f.throughMount, true);
      assert.equal(f.stats.files, 2);
      const a = f.file('a');
      const bytes = Buffer.concat(f.slices(a, 0, a.size));
      assert.equal(bytes.length, 3 * MiB);
      assert.ok(bytes.equals(Buffer.alloc(3 * MiB, 0x61)));
      assert.equal(Buffer.concat(f.slices(a, 3 * MiB - 5, 100)).length, 5, 'clamped to the file size');
      assert.throws(() => f.device.view(LOG_OFFSET + 8 * MiB, 4096), /not reachable: in famfs kernel mode file data is reached through the files of the mount/);
    } finally {
      f.close();
    }
    // Read-only verbs through the mount read the same as with --device.
    assert.equal(famfsOk(host, ['ls', '-R', mp]).stdout, famfsOk(host, ['ls', '-R', '--device', device]).stdout);
    assert.ok(fs.existsSync(path.join(mp, '.meta/.log')));
  });
});
