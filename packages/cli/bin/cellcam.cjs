#!/usr/bin/env node
// The `cellcam` command's entry: sizes libuv's thread pool, then runs the CLI (dist/main.js).
// The native kernels, sharp's decodes and the file writes all queue on that pool, 4 threads by
// default, so on a machine with more cores the images in flight waited for one another there.
// libuv reads UV_THREADPOOL_SIZE once, when the pool first starts: an ES module entry is too late
// on Node 20 (its loader has started the pool), this CommonJS one is not. A value set is kept.
'use strict';
const { availableParallelism } = require('node:os');

if (process.env.UV_THREADPOOL_SIZE === undefined) {
  process.env.UV_THREADPOOL_SIZE = String(Math.min(1024, Math.max(4, availableParallelism())));
}
import('../dist/main.js').catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
