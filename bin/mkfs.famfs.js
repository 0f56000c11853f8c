#!/usr/bin/env node
'use strict';
// mkfs.famfs is an alias of `famfs mkfs`, as upstream.
require('./load-cli.js').run(['mkfs', ...process.argv.slice(2)]);
