/**
 * CAM-to-cell pooling: per-cell (and per-region) mean/max of a [C, h, w] class-activation or feature
 * map bilinearly upsampled to the label image, plus the TypeScript twin of the native kernel.
 */
import { rangeError, typeError } from '../errors.js';
import { checkDevice, pickDevice, resolveBackend, runWithCpuFallback, type Backend, type CudaTimings, type Device } from '../native.js';
import { checkArray, checkInt, checkSize } from '../util/validate.js';

/** Options of {@link poolCells}. */
export interface PoolCellsOptions {
  /** C: channels of the map (1..4096; CAM classes or feature channels). */
  channels: number;
  /** h, w: size of each map channel (any resolution; upsampled to width×height on the fly). */
  mapHeight: number;
  mapWidth: number;
  /** W, H: size of the label image. */
  width: number;
  height: number;
  /** Cells are ids 1..cells (default: the largest label). A larger id is a RangeError. */
  cells?: number;
  /** Nucleus label image (same ids as the cells): adds slots 'nucleus' (nuclei != 0) and 'cytoplasm' (nuclei == 0). */
  nuclei?: Uint16Array | Int32Array | null;
  /** Generic region map (values 0..count-1), an alternative to `nuclei` (not both). Slot names default to 'region<r>'. */
  regions?: { map: Uint8Array; count: number; names?: string[] };
  /** 'mean' skips the max (faster). Default 'mean+max'. */
  stats?: 'mean' | 'mean+max';
  /** CPU threads for the native kernel: 0 (default) = all. Results do not depend on it. */
  threads?: number;
  /** 'auto' (default): CUDA when a device is usable, else CPU. */
  device?: Device;
  backend?: Backend;
}

/** Pooled statistics. Index of (slot s, cell id, channel c): (s * cells + id - 1) * channels + c. */
export interface CellStats {
  cells: number;
  channels: number;
  /** ['cell'], ['cell', 'nucleus', 'cytoplasm'] or ['cell', ...region names]. */
  slots: string[];
  /** Empty (cell, slot) pairs hold NaN. */
  mean: Float32Array;
  max: Float32Array | null;
  /** Pixels per (slot, cell): index s * cells + id - 1. */
  area: Int32Array;
  device: 'cpu' | 'cuda' | 'js';
  /** Why CUDA was not used when options.device was 'auto'. */
  deviceNote?: string;
  /** Where the time went, when it ran on CUDA. */
  timings?: CudaTimings;
}

/** Options of the raw twin: exactly the native addon's `pool` options minus threads/device. */
export interface PoolRawOptions {
  channels: number;
  mapHeight: number;
  mapWidth: number;
  width: number;
  height: number;
  cells: number;
  /** Number of regions in `regions` (0 when regions is null). */
  regionCount: number;
}

/** NaN-propagating max that keeps the first of equal values: identical bits in every implementation. */
const maxNan = (a: number, b: number): number => (a !== a || a >= b ? a : b);

/** Source indices and weights of one axis: half-pixel centres, left edge clamped (align_corners=false). */
function axisTable(src: number, dst: number): { i0: Int32Array; i1: Int32Array; l: Float64Array; w0: Float64Array } {
  const i0 = new Int32Array(dst), i1 = new Int32Array(dst), l = new Float64Array(dst), w0 = new Float64Array(dst);
  const s = src / dst;
  for (let d = 0; d < dst; d++) {
    let f = (d + 0.5) * s - 0.5;
    if (f < 0) f = 0;
    let k = Math.floor(f);
    if (k > src - 1) k = src - 1;
    i0[d] = k;
    i1[d] = Math.min(k + 1, src - 1);
    l[d] = f - k;
    w0[d] = 1 - l[d];
  }
  return { i0, i1, l, w0 };
}

/**
 * TypeScript twin of the native `pool` (bit-identical, single-threaded). Writes `mean`, `max` (when
 * not null) and `area` as laid out in {@link CellStats}. No argument validation beyond label ids
 * (> cells or < 0) and region values (>= regionCount), which are RangeErrors as in the addon.
 * `regions` may be a nucleus label image (Uint16Array or Int32Array, regionCount 2), as in the
 * addon: region 0 where it is nonzero, 1 elsewhere.
 */
export function poolCellsJs(
  map: Float32Array,
  labels: Uint16Array | Int32Array,
  regionsOrNuclei: Uint8Array | Uint16Array | Int32Array | null,
  mean: Float32Array,
  max: Float32Array | null,
  area: Int32Array,
  o: PoolRawOptions,
): void {
  const { channels: C, mapHeight: h, mapWidth: w, width: W, height: H, cells } = o;
  const regions = regionsOrNuclei === null || regionsOrNuclei instanceof Uint8Array ? regionsOrNuclei : nucleusRegions(regionsOrNuclei);
  const R = regions ? o.regionCount : 0;
  const yt = axisTable(h, H), xt = axisTable(w, W);
  const x0 = xt.i0, x1 = xt.i1, lx = xt.l, wx0 = xt.w0;
  const segEnd = new Int32Array(W);
  for (let X = W - 1; X >= 0; X--) segEnd[X] = X + 1 < W && x0[X + 1] === x0[X] ? segEnd[X + 1] : X + 1;
  const A0 = new Float64Array(W + 1), A1 = new Float64Array(W + 1);
  for (let X = 0; X < W; X++) {
    A0[X + 1] = A0[X] + wx0[X];
    A1[X + 1] = A1[X] + lx[X];
  }

  // Run table (a, b, id, region per run) in raster order; rowBegin[Y]..rowBegin[Y+1] are row Y's runs.
  let runs = new Int32Array(4096);
  let nRuns = 0;
  const rowBegin = new Int32Array(H + 1);
  for (let y = 0; y < H; y++) {
    const base = y * W;
    let X = 0;
    while (X < W) {
      const id = labels[base + X];
      const r = regions ? regions[base + X] : 0;
      if (id < 0 || id > cells) {
        throw rangeErrorAt(`Expected ids in [0, ${cells}] (options.cells) for labels but received ${id} at x=${X}, y=${y}`);
      }
      if (regions && r >= R) {
        throw rangeErrorAt(`Expected values in [0, ${R - 1}] (options.regionCount - 1) for regions but received ${r} at x=${X}, y=${y}`);
      }
      let e = X + 1;
      if (regions) while (e < W && labels[base + e] === id && regions[base + e] === r) e++;
      else while (e < W && labels[base + e] === id) e++;
      if (id !== 0) {
        if ((nRuns + 1) * 4 > runs.length) {
          const grown = new Int32Array(runs.length * 2);
          grown.set(runs);
          runs = grown;
        }
        const k = nRuns * 4;
        runs[k] = X;
        runs[k + 1] = e;
        runs[k + 2] = id;
        runs[k + 3] = r;
        nRuns++;
      }
      X = e;
    }
    rowBegin[y + 1] = nRuns;
  }

  const stride = (1 + R) * cells;
  area.fill(0, 0, stride);
  for (let k = 0; k < nRuns; k++) {
    const len = runs[4 * k + 1] - runs[4 * k], id = runs[4 * k + 2];
    area[id - 1] += len;
    if (R > 0) area[(1 + runs[4 * k + 3]) * cells + id - 1] += len;
  }
  if (stride === 0) return;

  const wantMax = max !== null;
  const S = new Float64Array(C * stride);
  const M = new Float64Array(wantMax ? C * stride : 0).fill(-Infinity);
  const T = new Float64Array(w);
  const plane = h * w;
  for (let Y = 0; Y < H; Y++) {
    const rb = rowBegin[Y], re = rowBegin[Y + 1];
    if (rb === re) continue;
    const lo = x0[runs[4 * rb]], hi = x1[runs[4 * (re - 1) + 1] - 1];
    const y0 = yt.i0[Y], y1 = yt.i1[Y], ly = yt.l[Y], wy0 = yt.w0[Y];
    for (let c = 0; c < C; c++) {
      const o0 = c * plane + y0 * w, o1 = c * plane + y1 * w;
      if (y1 === y0) for (let x = lo; x <= hi; x++) T[x] = map[o0 + x];
      else for (let x = lo; x <= hi; x++) T[x] = map[o0 + x] * wy0 + map[o1 + x] * ly;
      const sc = c * stride;
      for (let k = rb; k < re; k++) {
        const a = runs[4 * k], b = runs[4 * k + 1], id = runs[4 * k + 2];
        // Segments [X, q) of constant x0; see docs/kernels/pool.md for the exact arithmetic.
        let s = 0;
        let m = -Infinity;
        let X = a;
        while (X < b) {
          let q = segEnd[X];
          if (q > b) q = b;
          const xa = x0[X], xb = x1[X];
          const ta = T[xa];
          if (xa === xb) {
            s = s + ta * (q - X);
            if (wantMax) m = maxNan(m, ta);
          } else {
            const tb = T[xb];
            s = s + (ta * (A0[q] - A0[X]) + tb * (A1[q] - A1[X]));
            if (wantMax) {
              m = maxNan(m, ta * wx0[X] + tb * lx[X]);
              const e = q - 1;
              if (e > X) m = maxNan(m, ta * wx0[e] + tb * lx[e]);
            }
          }
          X = q;
        }
        const i0 = sc + id - 1;
        S[i0] += s;
        if (wantMax) M[i0] = maxNan(M[i0], m);
        if (R > 0) {
          const i1 = sc + (1 + runs[4 * k + 3]) * cells + id - 1;
          S[i1] += s;
          if (wantMax) M[i1] = maxNan(M[i1], m);
        }
      }
    }
  }
  for (let i = 0; i < stride; i++) {
    const a = area[i];
    for (let c = 0; c < C; c++) {
      mean[i * C + c] = a === 0 ? NaN : S[c * stride + i] / a;
      if (max) max[i * C + c] = a === 0 ? NaN : M[c * stride + i];
    }
  }
}

/** The region map that a nucleus label image stands for: 0 (nucleus) where it is nonzero, 1 (cytoplasm) elsewhere. */
function nucleusRegions(nuclei: Uint16Array | Int32Array): Uint8Array {
  const r = new Uint8Array(nuclei.length);
  for (let i = 0; i < r.length; i++) r[i] = nuclei[i] !== 0 ? 0 : 1;
  return r;
}

function rangeErrorAt(message: string): RangeError {
  const err = new RangeError(message);
  Object.defineProperty(err, 'code', { value: 'CELLCAM_E_RANGE', enumerable: true });
  return err;
}

function maxLabel(labels: Uint16Array | Int32Array): number {
  let m = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] > m) m = labels[i];
  return m;
}

/**
 * Pools a [C, h, w] map (CAM classes or feature channels, any resolution) over every cell of a label
 * image: the map is bilinearly upsampled to width×height with half-pixel centres (torch
 * `interpolate(align_corners=False)`, cv2 `INTER_LINEAR`) on the fly, never materialized, and
 * averaged (and maxed) per cell, and per nucleus/cytoplasm or custom region when given.
 * Results are bit-identical across the TypeScript twin, native CPU (any thread count) and CUDA.
 *
 * @example
 * ```ts
 * const stats = await poolCells(cam, cellLabels, { channels: 19, mapHeight: 128, mapWidth: 128,
 *   width: 2048, height: 2048, nuclei: nucleusLabels });
 * const mitochondria = cellStat(stats, 'cytoplasm', 3, 14); // mean of class 14 in cell 3's cytoplasm
 * ```
 */
export async function poolCells(map: Float32Array, labels: Uint16Array | Int32Array, options: PoolCellsOptions): Promise<CellStats> {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  const C = checkInt('options.channels', options.channels, 1, 4096);
  const h = checkInt('options.mapHeight', options.mapHeight, 1, 65536);
  const w = checkInt('options.mapWidth', options.mapWidth, 1, 65536);
  const { width: W, height: H } = checkSize(options.width, options.height);
  checkArray('map', map, [Float32Array], C * h * w, 'channels*mapHeight*mapWidth');
  checkArray('labels', labels, [Uint16Array, Int32Array], W * H, 'width*height');

  // The native kernel takes the nucleus labels themselves and derives the regions on its threads.
  let regions: Uint8Array | Uint16Array | Int32Array | null = null;
  let slots = ['cell'];
  const nuclei = options.nuclei ?? null;
  if (nuclei !== null && options.regions !== undefined) {
    throw rangeError('options.regions', 'undefined when options.nuclei is given (not both)', options.regions, 'CELLCAM_E_ARG');
  }
  if (nuclei !== null) {
    regions = checkArray<Uint16Array | Int32Array>('options.nuclei', nuclei, [Uint16Array, Int32Array], W * H, 'width*height');
    slots = ['cell', 'nucleus', 'cytoplasm'];
  } else if (options.regions !== undefined) {
    const rg = options.regions as unknown;
    if (rg === null || typeof rg !== 'object') throw typeError('options.regions', 'an object {map, count, names?}', rg);
    const { map: rmap, count, names } = rg as { map: unknown; count: unknown; names?: unknown };
    const n = checkInt('options.regions.count', count, 1, 256);
    regions = checkArray<Uint8Array>('options.regions.map', rmap, [Uint8Array], W * H, 'width*height');
    let list: string[];
    if (names === undefined) list = Array.from({ length: n }, (_, r) => `region${r}`);
    else {
      if (!Array.isArray(names) || names.length !== n || !names.every((s) => typeof s === 'string')) {
        throw typeError('options.regions.names', `an array of ${n} strings (options.regions.count)`, names);
      }
      list = names as string[];
    }
    const all = ['cell', ...list];
    if (new Set(all).size !== all.length) throw rangeError('options.regions.names', "unique names other than 'cell'", names, 'CELLCAM_E_ARG');
    slots = all;
  }
  const R = slots.length - 1;

  const stats = options.stats ?? 'mean+max';
  if (stats !== 'mean' && stats !== 'mean+max') throw rangeError('options.stats', "'mean' or 'mean+max'", stats, 'CELLCAM_E_ARG');
  const threads = options.threads === undefined ? 0 : checkInt('options.threads', options.threads, 0, 256);
  const device = checkDevice(options.device);
  const native = resolveBackend(options.backend);
  const cells = options.cells === undefined ? maxLabel(labels) : checkInt('options.cells', options.cells, 0, 2 ** 31 - 1);
  const outLen = (1 + R) * cells * C;
  if (outLen > 2 ** 31 - 1) throw rangeError('options.cells', `at most 2^31-1 outputs in total ((1+regions)*cells*channels = ${outLen})`, cells, 'CELLCAM_E_SHAPE');

  const picked = pickDevice(device, native !== null, options.backend);
  let run = picked.run;
  let deviceNote = picked.note;

  const mean = new Float32Array(outLen);
  const max = stats === 'mean+max' ? new Float32Array(outLen) : null;
  const area = new Int32Array((1 + R) * cells);
  const raw: PoolRawOptions = { channels: C, mapHeight: h, mapWidth: w, width: W, height: H, cells, regionCount: R };
  let timings: CudaTimings | undefined;
  if (run === 'js') {
    poolCellsJs(map, labels, regions, mean, max, area, raw);
  } else {
    // 'auto' never fails because of the GPU: the CPU path gives the same statistics.
    const call = (d: 'cpu' | 'cuda') => native!.pool(map, labels, regions, mean, max, area, { ...raw, threads, device: d });
    const r = await runWithCpuFallback(device, run, call, new Error());
    timings = r.result.timings;
    run = r.ran;
    deviceNote = r.fallback ?? deviceNote;
  }
  const out: CellStats = { cells, channels: C, slots, mean, max, area, device: run };
  if (deviceNote !== undefined) out.deviceNote = deviceNote;
  if (timings !== undefined) out.timings = timings;
  return out;
}

/**
 * One pooled value: `which` ('mean' default, or 'max') of `channel` over `slot` of cell `cellId`.
 *
 * @example
 * ```ts
 * const v = cellStat(stats, 'nucleus', 1, 0, 'max');
 * ```
 */
export function cellStat(stats: CellStats, slot: string, cellId: number, channel: number, which: 'mean' | 'max' = 'mean'): number {
  const s = stats.slots.indexOf(slot);
  if (s < 0) throw rangeError('slot', `one of ${stats.slots.map((n) => `'${n}'`).join(', ')}`, slot);
  checkInt('cellId', cellId, 1, Math.max(1, stats.cells));
  if (cellId > stats.cells) throw rangeError('cellId', 'a cell id (stats has no cells)', cellId);
  checkInt('channel', channel, 0, stats.channels - 1);
  if (which !== 'mean' && which !== 'max') throw rangeError('which', "'mean' or 'max'", which, 'CELLCAM_E_ARG');
  const arr = which === 'mean' ? stats.mean : stats.max;
  if (!arr) throw rangeError('which', "'mean' (max was not computed: stats: 'mean')", which, 'CELLCAM_E_ARG');
  return arr[(s * stats.cells + cellId - 1) * stats.channels + channel];
}
