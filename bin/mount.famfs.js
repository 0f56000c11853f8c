#!/usr/bin/env node
// mount(8) helper (installed as /sbin/mount.famfs and /sbin/mount.fuse.famfs by `famfs install-helpers`).
import { runMountHelper } from '../dist/src/cli/mounthelper.js';
runMountHelper(process.argv.slice(2)).then((code) => { process.exitCode = code; });
