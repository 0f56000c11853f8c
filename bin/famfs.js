#!/usr/bin/env node
'use strict';
require('./load-cli.js').run(process.argv.slice(2));
