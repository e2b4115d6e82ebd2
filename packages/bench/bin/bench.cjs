#!/usr/bin/env node
// `npm run bench`'s entry: gives libuv's pool 16 threads, then runs the bench (dist/main.js).
// The batch rows keep 16 images in flight, one pool thread (and CUDA stream) each. libuv reads
// UV_THREADPOOL_SIZE when the pool starts, which an ES module entry is too late for on Node 20;
// this CommonJS one is not, so the bench no longer starts itself a second time. A value set is kept.
'use strict';
if (process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = '16';
import('../dist/main.js').catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
