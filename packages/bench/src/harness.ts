/**
 * Benchmark harness: median timing, tables, JSON results, and comparator rows from Python tools
 * (scikit-image, OpenCV) run on the same inputs when Debian's python3 packages are installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CudaTimings } from '@cellcam/core';

export interface Row {
  kernel: string;
  size: number;
  impl: string;
  medianMs: number;
  mpixPerS: number;
  /** speed-up relative to the TypeScript twin on the same case (TS ms / this ms) */
  vsTs: number | null;
  iterations: number;
  note?: string;
}

export interface BenchOptions {
  sizes: number[];
  /** minimum wall time per contender in ms */
  minTimeMs: number;
  minIters: number;
  /** skip slow contenders (e.g. Python) */
  quick: boolean;
  cuda: boolean;
  python: string | null;
  /** `--impl`: run only the contenders whose name starts with one of these (null: all) */
  impl: string[] | null;
}

/** Whether `--impl` selects the contender `impl` (a prefix match: `cuda` selects `cuda ×16 at once`). */
export function selected(opts: Pick<BenchOptions, 'impl'>, impl: string): boolean {
  return opts.impl === null || opts.impl.some((p) => impl.startsWith(p));
}

/** Times `fn` until both minIters and minTimeMs are reached; returns the median in ms. */
export async function measure(fn: () => unknown, opts: { minTimeMs: number; minIters: number; maxIters?: number }): Promise<{ medianMs: number; iterations: number }> {
  const times: number[] = [];
  await fn(); // warm-up
  const start = performance.now();
  const maxIters = opts.maxIters ?? 1000;
  while (times.length < maxIters && (times.length < opts.minIters || performance.now() - start < opts.minTimeMs)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)], iterations: times.length };
}

export interface Contender {
  impl: string;
  fn: () => unknown;
  note?: string;
  /** images per call of fn: the row reports ms per image */
  images?: number;
  /** appended to the note after timing (e.g. the CUDA phases seen), given the row's ms per image */
  after?: (msPerImage: number) => string;
}

/** Adds rows for one case; the 'ts' contender (if any) is the ratio reference. */
export async function runCase(kernel: string, size: number, contenders: Contender[], opts: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  for (const c of contenders) {
    if (!selected(opts, c.impl)) continue;
    const m = await measure(c.fn, { minTimeMs: opts.minTimeMs, minIters: opts.minIters, maxIters: c.impl === 'ts' ? 20 : 1000 });
    const ms = m.medianMs / (c.images ?? 1);
    const note = [c.note, c.after?.(ms)].filter(Boolean).join('; ') || undefined;
    rows.push({ kernel, size, impl: c.impl, medianMs: ms, mpixPerS: (size * size) / 1e6 / (ms / 1000), vsTs: null, iterations: m.iterations, note });
  }
  return withRatios(rows);
}

export const BATCH = 16;

/** The device's copy bandwidth in bytes per second (cudaCopyBandwidth), measured once by main.ts for the CUDA rows. */
let deviceBandwidth: number | null = null;
export function setDeviceBandwidth(bytesPerSecond: number | null): void {
  deviceBandwidth = bytesPerSecond;
}

/**
 * Issue 6's memory-bandwidth floor of a call that must read and write `bytes` on the device
 * (inputs once, outputs once): bytes / bandwidth, and the fraction of it that each measured time
 * reaches (floor / time; 100 % would be a kernel that only streams its bytes once).
 */
export function floorNote(bytes: number, bytesPerSecond: number, times: Record<string, number>): string {
  const floorMs = (bytes / bytesPerSecond) * 1000;
  const pct = (ms: number) => {
    const p = (100 * floorMs) / ms;
    return `${p >= 10 ? p.toFixed(0) : p >= 0.1 ? p.toFixed(1) : p.toPrecision(1)} %`;
  };
  const parts = Object.entries(times).filter(([, ms]) => ms > 0).map(([what, ms]) => `${pct(ms)} (${what})`);
  return `floor ${(floorMs * 1000).toFixed(1)} µs (${(bytes / 1e6).toFixed(1)} MB at ${(bytesPerSecond / 1e9).toFixed(0)} GB/s)${parts.length ? `, reached ${parts.join(', ')}` : ''}`;
}

/** floorNote for a contender's measured ms per image, when the bandwidth is known. */
export function floorAfter(bytesPerImage: number): (msPerImage: number) => string {
  return (ms) => (deviceBandwidth ? floorNote(bytesPerImage, deviceBandwidth, { 'with copies': ms }) : '');
}

/**
 * The CUDA rows of one kernel: one image per call, with the medians of its phases (host work,
 * upload, kernels, download) in the note, then batches of 16 images in flight at once on the CPU
 * (all threads) and on CUDA, as ms per image. `call(device, k)` runs image k of a batch and
 * returns the result whose `timings` it reads; each k should have its own output buffers.
 */
export function cudaContenders(
  call: (device: 'cpu' | 'cuda', k: number) => Promise<{ timings?: CudaTimings } | undefined>,
  note: string,
  cudaNote?: string,
  bytes?: number,
): Contender[] {
  const gpu = cudaNote ? `${note}; ${cudaNote}` : note;
  const seen: CudaTimings[] = [];
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  const phases = () => {
    if (!seen.length) return '';
    const m = (k: keyof CudaTimings) => med(seen.map((t) => t[k])).toFixed(2);
    const text = `ms host ${m('hostMs')} / upload ${m('uploadMs')} / kernels ${m('kernelMs')} / download ${m('downloadMs')}`;
    if (bytes === undefined || !deviceBandwidth) return text;
    return `${text}; ${floorNote(bytes, deviceBandwidth, { kernels: med(seen.map((t) => t.kernelMs)), 'with copies': med(seen.map((t) => t.totalMs)) })}`;
  };
  const batch = (device: 'cpu' | 'cuda') => Promise.all(Array.from({ length: BATCH }, (_, k) => call(device, k)));
  return [
    { impl: 'cuda', fn: async () => seen.push((await call('cuda', 0))!.timings!), note: `${gpu}; incl. copies`, after: phases },
    { impl: `native-Nt ×${BATCH} at once`, fn: () => batch('cpu'), images: BATCH, note: `${note}; ms per image, ${BATCH} in flight` },
    { impl: `cuda ×${BATCH} at once`, fn: () => batch('cuda'), images: BATCH, note: `${gpu}; ms per image, ${BATCH} in flight, one stream each`, ...(bytes === undefined ? {} : { after: floorAfter(bytes) }) },
  ];
}

/** A row for a reference tool timed outside this process (its vsTs is filled by withRatios). */
export function comparatorRow(kernel: string, size: number, impl: string, medianMs: number, note?: string): Row {
  return { kernel, size, impl, medianMs, mpixPerS: (size * size) / 1e6 / (medianMs / 1000), vsTs: null, iterations: 0, note };
}

/** Fills vsTs from the 'ts' row of the same kernel and size. */
export function withRatios(rows: Row[]): Row[] {
  const ts = rows.find((r) => r.impl === 'ts');
  for (const r of rows) r.vsTs = ts ? ts.medianMs / r.medianMs : null;
  return rows;
}

/** Finds a python3 that imports skimage (Debian's /usr/bin/python3 first), or null. */
export function findPython(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import skimage, scipy, numpy'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

/**
 * Runs a Python timing script on raw inputs. Each input is written as a raw little-endian file;
 * the script receives `inputs` (dict name -> numpy array), `params`, and must print one JSON
 * object {name: median_ms, ...}. Returns that object, or null on failure (reported to stderr).
 */
export function runPython(
  python: string,
  script: string,
  inputs: Record<string, { data: ArrayBufferView; dtype: string; shape: number[] }>,
  params: Record<string, unknown> = {},
): Record<string, number> | null {
  const dir = mkdtempSync(join(tmpdir(), 'cellcam-bench-'));
  try {
    const meta: Record<string, { file: string; dtype: string; shape: number[] }> = {};
    for (const [name, inp] of Object.entries(inputs)) {
      const file = join(dir, `${name}.raw`);
      writeFileSync(file, Buffer.from(inp.data.buffer, inp.data.byteOffset, inp.data.byteLength));
      meta[name] = { file, dtype: inp.dtype, shape: inp.shape };
    }
    const prelude = `
import json, sys, time, numpy as np
_meta = json.loads(sys.argv[1]); params = json.loads(sys.argv[2])
inputs = {k: np.fromfile(v['file'], dtype=v['dtype']).reshape(v['shape']) for k, v in _meta.items()}
def median_ms(fn, min_iters=3, min_time=1.0):
    fn(); ts = []; t_start = time.perf_counter()
    while len(ts) < min_iters or (time.perf_counter() - t_start < min_time and len(ts) < 50):
        t0 = time.perf_counter(); fn(); ts.append((time.perf_counter() - t0) * 1000)
    ts.sort(); return ts[len(ts) // 2]
`;
    const r = spawnSync(python, ['-c', prelude + script, JSON.stringify(meta), JSON.stringify(params)], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) {
      process.stderr.write(`python comparator failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}\n`);
      return null;
    }
    const last = r.stdout.trim().split('\n').pop() ?? '{}';
    return JSON.parse(last) as Record<string, number>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Formats rows as a Markdown table. */
export function table(rows: Row[]): string {
  const head = '| kernel | size | implementation | median ms | MPix/s | × vs TS | note |\n|---|---:|---|---:|---:|---:|---|';
  const body = rows.map((r) =>
    `| ${r.kernel} | ${r.size}² | ${r.impl} | ${r.medianMs.toFixed(r.medianMs < 10 ? 2 : 1)} | ${r.mpixPerS.toFixed(1)} | ${r.vsTs == null ? '' : r.vsTs.toFixed(1)} | ${r.note ?? ''} |`);
  return [head, ...body].join('\n');
}
