#!/usr/bin/env node
/**
 * `npm run bench [-- --sizes 512,1024 --kernels watershed,pool --impl native-1t,cuda --quick --out FILE]`
 * Times every kernel: TypeScript twin, native with 1 thread, native with all threads, CUDA when a
 * device is present, and scikit-image/OpenCV when Debian's python3 packages are installed.
 * Prints one Markdown table per kernel and writes all rows to results/bench-<host>.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { capabilities, cudaCopyBandwidth } from '@cellcam/core';
import { findPython, setDeviceBandwidth, table, type BenchOptions, type Row } from './harness.js';

// The batch rows keep 16 images in flight: one libuv thread (and CUDA stream) each. libuv sizes
// its pool when it starts, before this module's first line runs, so the size can only come from
// the environment. bin/bench.cjs (npm run bench) sets it; run directly, this file runs itself
// again with it.
if (process.env.UV_THREADPOOL_SIZE === undefined) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, UV_THREADPOOL_SIZE: '16' } });
  process.exit(r.status ?? 1);
}

const KERNELS = ['watershed', 'label', 'pool', 'rle', 'resample', 'label-cell', 'segment', 'evaluate', 'synth', 'report'] as const;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const quick = process.argv.includes('--quick');
const sizes = (arg('sizes') ?? (quick ? '512,1024' : '512,1024,2048,3072')).split(',').map(Number);
const kernels = (arg('kernels') ?? KERNELS.join(',')).split(',');
for (const k of kernels) {
  if (!(KERNELS as readonly string[]).includes(k)) {
    console.error(`Expected --kernels from ${KERNELS.join(',')} but received '${k}'`);
    process.exit(2);
  }
}
// --impl: only these contenders (name prefixes, e.g. 'cuda,native-1t'); 'python' keeps the
// scikit-image/OpenCV comparators, which run only when it is listed.
const impl = arg('impl')?.split(',').filter(Boolean) ?? null;
const caps = capabilities();
const python = process.argv.includes('--no-python') || (impl !== null && !impl.includes('python')) ? null : findPython();
const opts: BenchOptions = { sizes, minTimeMs: quick ? 200 : 1000, minIters: quick ? 3 : 5, quick, cuda: caps.cudaDevices > 0, python, impl };

console.log(`# cellcam bench — ${new Date().toISOString()}`);
console.log(`host: ${hostname()}, ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, node ${process.version}, libuv pool ${process.env.UV_THREADPOOL_SIZE}`);
console.log(`native: ${caps.native ? 'yes' : 'no'}; CUDA: ${caps.cudaDevices > 0 ? caps.deviceNames.join(', ') : `no (${caps.reason})`}; python comparators: ${python ?? 'not installed'}`);
if (opts.cuda) {
  // Issue 6's floor for the CUDA rows: the bytes a kernel must move over what the card moves.
  const bw = await cudaCopyBandwidth().catch((err: Error) => {
    console.log(`device bandwidth: not measured (${err.message}); the CUDA rows have no floor`);
    return null;
  });
  if (bw) console.log(`device bandwidth: ${(bw.bytesPerSecond / 1e9).toFixed(0)} GB/s read + write, a device-to-device copy of ${bw.bytes / 2 ** 20} MiB × ${bw.reps} (${bw.device}); the CUDA rows' floor is their bytes over it`);
  setDeviceBandwidth(bw?.bytesPerSecond ?? null);
}
console.log('');

const all: Row[] = [];
for (const k of kernels) {
  const mod = (await import(`./${k}.bench.js`)) as { run(o: BenchOptions): Promise<Row[]> };
  const rows = await mod.run(opts);
  all.push(...rows);
  console.log(`## ${k}\n\n${table(rows)}\n`);
}

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(arg('out') ?? join(here, '..', 'results', `bench-${hostname()}.json`));
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.tmp-${process.pid}`;
writeFileSync(tmp, JSON.stringify({ date: new Date().toISOString(), host: hostname(), cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, threadPool: Number(process.env.UV_THREADPOOL_SIZE), capabilities: caps, rows: all }, null, 2));
renameSync(tmp, out);
console.log(`results written to ${out}`);
