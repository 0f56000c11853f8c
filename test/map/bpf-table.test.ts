/** BPF prototype blob (dax_simple / dax_interleave), the table export, and the exportMap entry point. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FileMap } from '../../src/format/types.js';
import { BPF_EXT_SIZE, BPF_HDR_SIZE, BPF_IEXT_SIZE, bpfLayoutOf, decodeBpfBlob, encodeBpfBlob } from '../../src/map/export/bpf.js';
import { MapDecodeError } from '../../src/map/export/famfs.js';
import { mapTable, resolveInTable } from '../../src/map/export/table.js';
import { EXPORT_FORMATS, exportMap, isExportFormat, mapExportJson } from '../../src/map/export/index.js';
import { AU, hex, twoStrips, zeros } from './helpers.js';

const simple: FileMap = { kind: 'simple', extents: [{ devindex: 2, offset: 0x200000, length: 0x600000 }] };

describe('BPF blob', () => {
  it('dax_simple, hand-written', () => {
    const want = hex('0000500000000000', '01000000', '00000000', '02000000', '00000000', '0000200000000000', '0000600000000000');
    assert.equal(bpfLayoutOf(simple), 'dax_simple');
    assert.deepEqual(encodeBpfBlob(simple, 0x500000), want);
    assert.deepEqual(decodeBpfBlob(want, 'dax_simple'), { fileSize: 0x500000, map: simple });
  });

  it('dax_interleave: u64 chunk, u32 nstrips, nbytes, then 24-byte strips (hand-written)', () => {
    const want = hex(
      '0100300000000000', '01000000', '00000000',
      '0000200000000000', '02000000', '00000000', '0100300000000000',
      '00000000', '00000000', '0000004000000000', '0000400000000000',
      '01000000', '00000000', '0000000001000000', '0000400000000000',
    );
    assert.equal(bpfLayoutOf(twoStrips), 'dax_interleave');
    const b = encodeBpfBlob(twoStrips, 0x300001);
    assert.deepEqual(b, want);
    assert.deepEqual(decodeBpfBlob(b, 'dax_interleave'), { fileSize: 0x300001, nbytes: 0x300001, map: twoStrips });
  });

  it('sizes and offsets; a chunk ≥ 2^32 fits the u64 chunk field', () => {
    assert.deepEqual([BPF_HDR_SIZE, BPF_IEXT_SIZE, BPF_EXT_SIZE], [16, 24, 24]);
    const big: FileMap = { kind: 'interleave', chunkSize: 2 ** 33, strips: [{ devindex: 7, offset: 2 ** 40, length: 2 ** 34 }] };
    const b = encodeBpfBlob(big, 2 ** 34);
    assert.equal(b.length, 16 + 24 + 24);
    assert.equal(b.readBigUInt64LE(0), 2n ** 34n, 'file_size @0');
    assert.equal(b.readUInt32LE(8), 1, 'n_iexts @8');
    assert.equal(b.readUInt32LE(12), 0, 'reserved @12');
    assert.equal(b.readBigUInt64LE(16), 2n ** 33n, 'chunk_size u64 @0');
    assert.equal(b.readUInt32LE(24), 1, 'nstrips @8');
    assert.equal(b.readUInt32LE(28), 0, 'reserved @12');
    assert.equal(b.readBigUInt64LE(32), 2n ** 34n, 'nbytes @16');
    assert.equal(b.readUInt32LE(40), 7, 'dev_index @0');
    assert.equal(b.readUInt32LE(44), 0, 'reserved @4');
    assert.equal(b.readBigUInt64LE(48), 2n ** 40n, 'offset @8');
    assert.equal(b.readBigUInt64LE(56), 2n ** 34n, 'len @16');
  });

  it('decode errors: short, truncated, trailing, several iexts', () => {
    const b = encodeBpfBlob(twoStrips, AU);
    assert.throws(() => decodeBpfBlob(b.subarray(0, 15), 'dax_interleave'), MapDecodeError);
    assert.throws(() => decodeBpfBlob(b.subarray(0, b.length - 1), 'dax_interleave'), MapDecodeError);
    assert.throws(() => decodeBpfBlob(Buffer.concat([b, Buffer.alloc(24)]), 'dax_interleave'), MapDecodeError);
    // the blob has no type field: read with the wrong layout it does not parse cleanly
    assert.throws(() => decodeBpfBlob(b, 'dax_simple'), MapDecodeError);
    const two = Buffer.from(b);
    two.writeUInt32LE(2, 8);
    assert.throws(() => decodeBpfBlob(two, 'dax_interleave'), /2 interleaved extents/);
  });
});

describe('table', () => {
  it('interleave: one row per chunk piece, exactly [0, fileSize)', () => {
    assert.deepEqual(mapTable(twoStrips, 0x500001), [
      { fileOffset: 0, devindex: 0, offset: 0x4000_0000, length: AU },
      { fileOffset: AU, devindex: 1, offset: 0x1_0000_0000, length: AU },
      { fileOffset: 2 * AU, devindex: 0, offset: 0x4000_0000 + AU, length: 0x100001 },
    ]);
  });

  it('merges only what is contiguous in file and on one device', () => {
    const one: FileMap = { kind: 'interleave', chunkSize: AU, strips: [{ devindex: 1, offset: 4 * AU, length: 4 * AU }] };
    assert.deepEqual(mapTable(one, 3 * AU), [{ fileOffset: 0, devindex: 1, offset: 4 * AU, length: 3 * AU }]);
    // strip 1 starts where strip 0's first chunk ends: chunks 0 and 1 are device-contiguous
    const abut: FileMap = {
      kind: 'interleave',
      chunkSize: AU,
      strips: [{ devindex: 0, offset: 0, length: 2 * AU }, { devindex: 0, offset: AU, length: 2 * AU }],
    };
    assert.deepEqual(mapTable(abut, 3 * AU).map((r) => [r.fileOffset, r.offset, r.length]), [[0, 0, 2 * AU], [2 * AU, AU, AU]]);
    // same device offsets on different devices never merge
    const twoDev: FileMap = {
      kind: 'simple',
      extents: [{ devindex: 0, offset: 0, length: AU }, { devindex: 1, offset: AU, length: AU }, { devindex: 1, offset: 2 * AU, length: AU }],
    };
    assert.deepEqual(mapTable(twoDev, 3 * AU).map((r) => [r.devindex, r.length]), [[0, AU], [1, 2 * AU]]);
  });

  it('simple: clamps to the file size, drops slack extents; a short map stops early', () => {
    const m: FileMap = { kind: 'simple', extents: [{ devindex: 0, offset: 0, length: AU }, { devindex: 0, offset: 8 * AU, length: AU }] };
    assert.deepEqual(mapTable(m, 100), [{ fileOffset: 0, devindex: 0, offset: 0, length: 100 }]);
    assert.equal(mapTable(m, 5 * AU).reduce((a, r) => a + r.length, 0), 2 * AU);
    const rows = mapTable(m, 2 * AU);
    assert.deepEqual(resolveInTable(rows, AU + 5), { devindex: 0, offset: 8 * AU + 5 });
    assert.equal(resolveInTable(rows, 2 * AU), undefined);
  });
});

describe('exportMap', () => {
  it('covers the four formats', () => {
    assert.deepEqual([...EXPORT_FORMATS], ['famfs', 'extmap', 'bpf', 'table']);
    assert.ok(isExportFormat('bpf'));
    assert.ok(!isExportFormat('yaml'));
    const f = exportMap('famfs', twoStrips, 0x300001);
    assert.equal(f.bytes?.length, 104);
    assert.equal(f.problem, undefined);
    const x = exportMap('extmap', twoStrips, 0x300001);
    assert.equal(x.cyclic, true);
    assert.equal(x.bytes?.readBigUInt64LE(32 + 16), 1n, 'default backing id = devindex + 1');
    const b = exportMap('bpf', twoStrips, 0x300001);
    assert.equal(b.layout, 'dax_interleave');
    assert.equal(exportMap('table', twoStrips, 0x300001).rows?.length, 2);
  });

  it('reports kernel problems (famfs: 33 extents; famfs with devindexZeroOnly)', () => {
    const ext = { devindex: 0, offset: 0, length: AU };
    const big: FileMap = { kind: 'simple', extents: Array(33).fill(ext) };
    assert.match(exportMap('famfs', big, AU).problem ?? '', /33 extents/);
    assert.match(exportMap('famfs', twoStrips, AU, { devindexZeroOnly: true }).problem ?? '', /devindex 1/);
  });

  it('JSON form: hex and size instead of a Buffer', () => {
    const j = mapExportJson(exportMap('bpf', simple, 0x500000));
    assert.deepEqual(j, {
      format: 'bpf', fileSize: 0x500000, layout: 'dax_simple', size: 40,
      hex: '0000500000000000' + '01000000' + '00000000' + '02000000' + zeros(4) + '0000200000000000' + '0000600000000000',
    });
    assert.deepEqual(JSON.parse(JSON.stringify(mapExportJson(exportMap('table', simple, 5)))), {
      format: 'table', fileSize: 5, rows: [{ fileOffset: 0, devindex: 2, offset: 0x200000, length: 5 }],
    });
  });
});
