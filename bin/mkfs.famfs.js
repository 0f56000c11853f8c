#!/usr/bin/env node
// mkfs.famfs is an alias of `famfs mkfs`, as upstream.
import { main } from '../dist/src/cli/main.js';
main(['mkfs', ...process.argv.slice(2)]).then((code) => { process.exitCode = code; });
