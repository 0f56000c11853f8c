/**
 * Extended attributes as a famfs worker answers them (no mount: FamfsFs behind a FuseSession
 * with a scripted transport). `ls -l` asks two foreign attributes of every file; those are
 * answered ENODATA without the tree (ESTALE once the device was re-formatted), while the
 * `user.famfs.*` ones the non-root tools read keep their values.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Famfs } from '../../src/api/famfs.js';
import { mkfs } from '../../src/api/mkfs.js';
import { FamfsFs } from '../../src/fs/famfs-fs.js';
import { StateFlag, type FamfsMountConfig } from '../../src/fs/config.js';
import { INDEX_XATTR, MAP_XATTR } from '../../src/fs/xattrs.js';
import { Errno, Opcode } from '../../src/fuse/codec.js';
import { FuseError } from '../../src/fuse/handler.js';
import { FuseSession, type FuseTransport } from '../../src/fuse/session.js';
import { asHost, GiB, makeHost, MiB, removeAllShm, removeHost, sparseFile, type Host } from '../core/helpers.js';
import { initIn, parseReply, request } from '../fuse/wire.js';

/** fuse_getxattr_in (size, padding) and the name. */
function getxattrIn(name: string, size: number): Buffer {
  const b = Buffer.alloc(8 + Buffer.byteLength(name) + 1);
  b.writeUInt32LE(size, 0);
  b.write(name, 8);
  return b;
}

describe('famfs extended attributes (worker handler)', () => {
  let master: Host, client: Host, dev: string, handler: FamfsFs, config: FamfsMountConfig;
  let fileId = 0, fileIndex = 0, mapJson = '';
  const replies: Buffer[] = [];
  let session: FuseSession;
  let unique = 10;
  const send = (opcode: number, nodeid: number, body: Buffer): { error: number; payload: Buffer } => {
    replies.length = 0;
    const m = request(opcode, nodeid, body, { unique: unique++ });
    m.copy(session.buffer);
    session.processMessage(session.buffer, m.length);
    assert.equal(replies.length, 1);
    return parseReply(replies[0]!);
  };
  const getxattr = (nodeid: number, name: string, size = 4096) => send(Opcode.GETXATTR, nodeid, getxattrIn(name, size));

  before(() => {
    master = makeHost('xa-m');
    client = makeHost('xa-c');
    dev = sparseFile('xattrs', 4 * GiB);
    asHost(master, () => {
      mkfs(dev);
      const f = Famfs.open(dev, { writable: true });
      try {
        const n = f.writer((w) => {
          w.mkdir('d');
          return w.creat('d/f', 3 * MiB);
        });
        fileIndex = n.entryIndex;
        mapJson = JSON.stringify(n.map);
      } finally {
        f.close();
      }
    });
    config = { device: dev, mountpoint: '/nonexistent', timeout: 1, forceClient: true, verbose: false, mountTimeMs: 0, state: new SharedArrayBuffer(64), dataPath: 'daemon', devices: [dev] } as FamfsMountConfig;
    handler = asHost(client, () => new FamfsFs(config));
    fileId = handler.famfs.file('d/f').id;
    const t: FuseTransport = { read: () => 0, writev: (b) => void replies.push(Buffer.concat(b)) };
    session = new FuseSession(t, handler, { log: () => undefined });
    assert.equal(send(Opcode.INIT, 0, initIn()).error, 0);
  });
  after(() => {
    handler.famfs.close();
    removeAllShm();
    removeHost(master);
    removeHost(client);
  });

  it('security.selinux and system.posix_acl_access: ENODATA, with no payload', () => {
    for (const name of ['security.selinux', 'system.posix_acl_access', 'trusted.x', 'user.other']) {
      const r = getxattr(fileId, name);
      assert.equal(r.error, -Errno.ENODATA, name);
      assert.equal(r.payload.length, 0);
    }
  });

  it('user.famfs.map and user.famfs.index keep their values; an unknown user.famfs name is ENODATA', () => {
    const sized = getxattr(fileId, MAP_XATTR, 0);
    assert.equal(sized.error, 0);
    assert.equal(sized.payload.readUInt32LE(0), Buffer.byteLength(mapJson));
    assert.equal(getxattr(fileId, MAP_XATTR).payload.toString(), mapJson);
    assert.equal(getxattr(fileId, INDEX_XATTR).payload.toString(), String(fileIndex));
    assert.equal(getxattr(fileId, 'user.famfs.role').payload.toString(), 'client');
    assert.equal(getxattr(fileId, 'user.famfs.nope').error, -Errno.ENODATA);
    // a directory has an index but no map
    const dirId = handler.famfs.tree.lookup('d')!.id;
    assert.equal(getxattr(dirId, MAP_XATTR).error, -Errno.ENODATA);
    assert.equal(getxattr(dirId, INDEX_XATTR).error, 0);
    // a node the tree does not have
    assert.equal(getxattr(987654321, MAP_XATTR).error, -Errno.ENOENT);
  });

  it('listxattr names exactly the attributes getxattr answers', () => {
    const size = Buffer.alloc(8);
    size.writeUInt32LE(4096, 0);
    const r = send(Opcode.LISTXATTR, fileId, size);
    assert.equal(r.error, 0);
    const names = r.payload.toString().split('\0').filter(Boolean);
    assert.ok(names.includes(MAP_XATTR) && names.includes(INDEX_XATTR), names.join(' '));
    for (const name of names) assert.equal(getxattr(fileId, name).error, 0, name);
  });

  it('a re-formatted device: foreign names answer ESTALE too', () => {
    Atomics.store(new Int32Array(config.state), StateFlag.STALE, 1);
    try {
      assert.equal(getxattr(fileId, 'security.selinux').error, -Errno.ESTALE);
      assert.equal(getxattr(fileId, MAP_XATTR).error, -Errno.ESTALE);
    } finally {
      Atomics.store(new Int32Array(config.state), StateFlag.STALE, 0);
    }
  });

  it('a FuseError carries no stack trace and leaves Error.stackTraceLimit as it was', () => {
    const limit = Error.stackTraceLimit;
    const e = new FuseError(Errno.ENOENT);
    assert.equal(Error.stackTraceLimit, limit);
    assert.equal(e.errno, Errno.ENOENT);
    assert.ok(e instanceof Error);
    assert.doesNotMatch(e.stack ?? '', /\n\s+at /);
    assert.match(String(e.stack), /ENOENT/);
    assert.match(new Error('x').stack ?? '', /\n\s+at /);
  });
});
