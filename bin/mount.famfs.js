#!/usr/bin/env node
'use strict';
// mount(8) helper (installed as /sbin/mount.famfs and /sbin/mount.fuse.famfs by `famfs install-helpers`).
import('../dist/src/cli/mounthelper.js').then(({ runMountHelper }) => runMountHelper(process.argv.slice(2))).then((code) => {
  process.exitCode = code;
});
