/**
 * The official HPA post-processing (hpacellseg 0.1.8 label_cell / label_nuclei, scikit-image 0.19
 * semantics, quirks included): native dispatch, the TypeScript twin composition, the reduced-
 * resolution fast path and a label-image agreement measure. docs/segmentation.md has the details.
 */
import { nativeError, rangeError, typeError } from '../errors.js';
import { labelJs } from '../kernels/label.js';
import { watershedJs } from '../kernels/watershed.js';
import { checkDevice, pickDevice, resolveBackend, runWithCpuFallback, type Backend, type CudaTimings, type Device } from '../native.js';
import { checkArray, checkInt, checkSize } from '../util/validate.js';
import {
  binaryErosionJs, findBoundariesJs, greyMorphologyJs, otsuJs, removeSmallHolesJs, removeSmallObjectsJs, roundHalfEven,
} from './morphology.js';

export type LabelCellScale = 1 | 0.5 | 0.25;

export interface LabelCellOptions {
  width: number;
  height: number;
  /**
   * 1 (default): the official post-processing, pixel-identical to hpacellseg. 0.5 / 0.25: the
   * fast path — predictions block-averaged to 1/2 or 1/4 size, area constants × s², closing
   * radius round(6·s), labels upsampled back by pixel replication (not identical; see agreement()).
   */
  scale?: LabelCellScale;
  /** Native worker threads for the parallel steps; 0 = all hardware threads. Default 1. */
  threads?: number;
  /**
   * Order of watershed seeds of equal level: 'heap' (default) reproduces scikit-image's binary heap,
   * bit for bit; 'fifo' takes them in raster order — several times faster, but pixels whose label
   * depends on such a tie may differ from hpacellseg (a handful per 2048² image).
   */
  tieBreak?: 'heap' | 'fifo';
  backend?: Backend;
  /**
   * 'cpu' (default), 'cuda' or 'auto'. The CUDA chain runs every step on the device with
   * `tieBreak: 'fifo'` and gives the CPU's 'fifo' labels ('cuda' with 'heap' ties is an error;
   * 'auto' keeps 'heap' on the CPU and says so in `deviceNote`).
   */
  device?: Device;
}

export interface LabelCellResult {
  /** Nucleus labels; a nucleus carries the id of its cell (0 = none). */
  nuclei: Uint16Array;
  /** Cell labels 1..cellCount in raster order of their first pixel (0 = background). */
  cells: Uint16Array;
  cellCount: number;
  /** Where the chain ran. */
  device?: 'cpu' | 'cuda' | 'js';
  /** Why CUDA was not used when options.device was 'auto', or why it failed and the CPU ran. */
  deviceNote?: string;
  /** Where a CUDA call's time went. */
  timings?: CudaTimings;
}

export interface LabelNucleiOptions {
  width: number;
  height: number;
  threads?: number;
  /** See LabelCellOptions.tieBreak. */
  tieBreak?: 'heap' | 'fifo';
  backend?: Backend;
}

/** Size constants of the post-processing at full resolution (hpa-spec §4.3). */
export interface LabelCellConstants {
  seedMinSize: number;
  holeArea: number;
  maskMinSize: number;
  nucleusMinSize: number;
  cellMinSize: number;
  closingRadius: number;
}

/** The constants for a scale s: areas round(n·s²), the radius round(6·s) (numpy rounding, half to even). */
export function labelCellConstants(scale: LabelCellScale): LabelCellConstants {
  const a = (n: number): number => roundHalfEven(n * scale * scale);
  return {
    seedMinSize: a(500), holeArea: a(1000), maskMinSize: a(8), nucleusMinSize: a(2500), cellMinSize: a(5500),
    closingRadius: roundHalfEven(6 * scale),
  };
}

type TieBreak = 'fifo' | 'heap';
/** Tie-breaking of the three watersheds (nuclei with line, cells, cells extended), one or per call. */
export type LabelCellTieBreak = TieBreak | readonly [TieBreak, TieBreak, TieBreak];

function checkTieBreak(v: unknown): TieBreak {
  if (v === undefined) return 'heap';
  if (v !== 'heap' && v !== 'fifo') throw rangeError('options.tieBreak', "'heap' or 'fifo'", v, 'CELLCAM_E_ARG');
  return v;
}

function checkPreds(nucleiPred: unknown, cellPred: unknown | undefined, n: number): void {
  checkArray('nucleiPred', nucleiPred, [Uint8Array], 3 * n, 'width*height*3');
  if (cellPred !== undefined) checkArray('cellPred', cellPred, [Uint8Array], 3 * n, 'width*height*3');
}

/** labelCell's and labelCellBatch's option checks, and where the chain runs (with why not CUDA). */
function resolveRun(options: LabelCellOptions) {
  const scale = options.scale ?? 1;
  if (scale !== 1 && scale !== 0.5 && scale !== 0.25) throw rangeError('options.scale', '1, 0.5 or 0.25', scale);
  const threads = options.threads === undefined ? 1 : checkInt('options.threads', options.threads, 0, 1024);
  const tieBreak = checkTieBreak(options.tieBreak);
  const device = checkDevice(options.device ?? 'cpu');
  if (device === 'cuda' && tieBreak === 'heap') {
    throw rangeError("options.tieBreak with options.device 'cuda'", "'fifo'", options.tieBreak, 'CELLCAM_E_ARG');
  }
  const native = resolveBackend(options.backend);
  let { run, note } = pickDevice(device, native !== null, options.backend);
  if (run === 'cuda' && tieBreak === 'heap') {
    run = 'cpu';
    note = "CUDA not used: tieBreak 'heap' has no CUDA version (its ties follow one sequential heap)";
  }
  return { scale: scale as LabelCellScale, threads, tieBreak, device, native, run, note };
}

/**
 * Cell and nucleus labels from the U-Net prediction maps, exactly as
 * `hpacellseg.utils.label_cell(nuclei_pred, cell_pred)` (0.1.8, scikit-image 0.19) returns them,
 * label ids included. Predictions are H×W×3 interleaved uint8 (channel 0 unused, 1 = border,
 * 2 = interior). The native addon runs the whole chain in C++ (one worker); the TypeScript twin
 * gives identical output.
 *
 * @example
 * ```ts
 * const { cells, nuclei, cellCount } = await labelCell(nucleiPred, cellPred, { width: 2048, height: 2048 });
 * const fast = await labelCell(nucleiPred, cellPred, { width: 2048, height: 2048, scale: 0.5 });
 * console.log(agreement(cells, fast.cells).meanIoU);
 * const gpu = await labelCell(nucleiPred, cellPred, { width: 2048, height: 2048, tieBreak: 'fifo', device: 'auto' });
 * console.log(gpu.device, gpu.deviceNote); // 'cuda', or 'cpu' and why
 * ```
 */
export async function labelCell(nucleiPred: Uint8Array, cellPred: Uint8Array, options: LabelCellOptions): Promise<LabelCellResult> {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  const { width, height } = checkSize(options.width, options.height);
  const n = width * height;
  checkPreds(nucleiPred, cellPred, n);
  const { scale, threads, tieBreak, device, native, run, note } = resolveRun(options);
  const withNote = (r: LabelCellResult, why?: string): LabelCellResult => (why === undefined ? r : { ...r, deviceNote: why });
  if (run === 'js') return withNote({ ...labelCellJs(nucleiPred, cellPred, { width, height, scale, tieBreak }), device: 'js' }, note);
  const nuclei = new Uint16Array(n), cells = new Uint16Array(n);
  const stack = new Error();
  const call = (d: 'cpu' | 'cuda') => native!.labelCell(nucleiPred, cellPred, nuclei, cells, { width, height, scale, threads, tieBreak, device: d });
  const { result: r, ran, fallback } = await runWithCpuFallback(device, run, call, stack);
  return withNote({ nuclei, cells, cellCount: r.cellCount, device: ran, ...(r.timings && !fallback ? { timings: r.timings } : {}) }, fallback ?? note);
}

/** One image of a labelCellBatch call: its two prediction maps (width × height × 3 each). */
export interface LabelCellBatchItem {
  nucleiPred: Uint8Array;
  cellPred: Uint8Array;
}

/** labelCellBatch's result: one LabelCellResult per image, and where the batch ran. */
export interface LabelCellBatchResult {
  results: LabelCellResult[];
  device: 'cpu' | 'cuda' | 'js';
  deviceNote?: string;
  /** Where the CUDA call's time went (the whole batch). */
  timings?: CudaTimings;
  /**
   * CUDA: the stacked chains the batch ran as. 1, unless the device's free memory did not hold the
   * whole batch (about 160 bytes per pixel at the working resolution); then `memoryNote` says so.
   */
  stacks?: number;
  memoryNote?: string;
}

/**
 * labelCell on several images of one size in one call. On CUDA (`tieBreak: 'fifo'`) the images go
 * through one stacked chain: each step is one launch for all of them and the host waits once per
 * step for the batch, not once per image, which is what keeps a GPU busy (docs/segmentation.md,
 * "Batches"). Each image's labels equal its own `labelCell` call with the same options. On the CPU
 * the images run one after another in one worker.
 *
 * @example
 * ```ts
 * const { results, device } = await labelCellBatch(
 *   [{ nucleiPred: n1, cellPred: c1 }, { nucleiPred: n2, cellPred: c2 }],
 *   { width: 2048, height: 2048, tieBreak: 'fifo', device: 'auto' },
 * );
 * console.log(device, results.map((r) => r.cellCount));
 * ```
 */
export async function labelCellBatch(items: readonly LabelCellBatchItem[], options: LabelCellOptions): Promise<LabelCellBatchResult> {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  if (!Array.isArray(items) || items.length === 0) throw typeError('items', 'a non-empty array of { nucleiPred, cellPred }', items);
  const { width, height } = checkSize(options.width, options.height);
  const n = width * height;
  if (n * items.length > 2 ** 30) throw rangeError('items', `at most 2^30 pixels in all (${items.length} images of ${width}×${height})`, items.length, 'CELLCAM_E_SHAPE');
  items.forEach((it, k) => {
    if (it === null || typeof it !== 'object') throw typeError(`items[${k}]`, 'an object { nucleiPred, cellPred }', it);
    checkArray(`items[${k}].nucleiPred`, it.nucleiPred, [Uint8Array], 3 * n, 'width*height*3');
    checkArray(`items[${k}].cellPred`, it.cellPred, [Uint8Array], 3 * n, 'width*height*3');
  });
  const { scale, threads, tieBreak, device, native, run, note } = resolveRun(options);
  const tag = (r: LabelCellBatchResult, why?: string): LabelCellBatchResult => (why === undefined ? r : { ...r, deviceNote: why });
  if (run === 'js') {
    const results = items.map((it) => ({ ...labelCellJs(it.nucleiPred, it.cellPred, { width, height, scale, tieBreak }), device: 'js' as const }));
    return tag({ results, device: 'js' }, note);
  }
  // The native call takes one array per image, where the items have them: nothing is stacked or
  // split on the host (the device stacks them in its own memory).
  const B = items.length;
  const nuclei = items.map(() => new Uint16Array(n)), cells = items.map(() => new Uint16Array(n));
  const np = items.map((it) => it.nucleiPred), cp = items.map((it) => it.cellPred);
  const stack = new Error();
  const call = (d: 'cpu' | 'cuda') => B === 1
    ? native!.labelCell(np[0], cp[0], nuclei[0], cells[0], { width, height, scale, threads, tieBreak, device: d })
    : native!.labelCell(np, cp, nuclei, cells, { width, height, scale, threads, tieBreak, device: d, images: B });
  const { result: r, ran, fallback } = await runWithCpuFallback(device, run, call, stack);
  const results = items.map((_, k) => ({ nuclei: nuclei[k], cells: cells[k], cellCount: r.cellCounts[k], device: ran }));
  const stacks = ran === 'cuda' && r.stacks !== undefined ? r.stacks : undefined;
  const memoryNote = stacks !== undefined && stacks > 1
    ? `a batch of ${B} ran on the GPU as ${stacks} stacks: its free memory did not hold ${B} images of ${width}×${height} at once (same labels; a smaller batch does as well)`
    : undefined;
  return tag({
    results, device: ran, ...(r.timings && !fallback ? { timings: r.timings } : {}), ...(stacks !== undefined ? { stacks } : {}), ...(memoryNote ? { memoryNote } : {}),
  }, fallback ?? note);
}

/**
 * Nucleus labels from the nuclei prediction alone, as `hpacellseg.utils.label_nuclei` (hpa-spec
 * §4.2; its thresholds are compared with the raw 0–255 values, as upstream).
 *
 * @example
 * ```ts
 * const nuclei = await labelNuclei(nucleiPred, { width: 2048, height: 2048 });
 * ```
 */
export async function labelNuclei(nucleiPred: Uint8Array, options: LabelNucleiOptions): Promise<Uint16Array> {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  const { width, height } = checkSize(options.width, options.height);
  const n = width * height;
  checkPreds(nucleiPred, undefined, n);
  const threads = options.threads === undefined ? 1 : checkInt('options.threads', options.threads, 0, 1024);
  const tieBreak = checkTieBreak(options.tieBreak);
  const native = resolveBackend(options.backend);
  if (!native) return labelNucleiJs(nucleiPred, { width, height, tieBreak });
  const nuclei = new Uint16Array(n);
  const stack = new Error();
  try {
    await native.labelNuclei(nucleiPred, nuclei, { width, height, threads, tieBreak });
    return nuclei;
  } catch (err) {
    throw nativeError(err, stack);
  }
}

// ---------------------------------------------------------------------------------------------
// Fast path resampling

/** Block-mean downscale of the interleaved 3-channel predictions by `f` (channel 0 stays 0). */
export function downscalePred(pred: Uint8Array, width: number, height: number, f: number): { data: Uint8Array; width: number; height: number } {
  const w = Math.ceil(width / f), h = Math.ceil(height / f);
  const data = new Uint8Array(w * h * 3);
  const sum1 = new Int32Array(w), sum2 = new Int32Array(w);
  for (let by = 0; by < h; by++) {
    sum1.fill(0);
    sum2.fill(0);
    const y1 = Math.min(height, (by + 1) * f);
    for (let y = by * f; y < y1; y++) {
      const row = y * width * 3;
      for (let x = 0; x < width; x++) {
        const bx = (x / f) | 0;
        sum1[bx] += pred[row + 3 * x + 1];
        sum2[bx] += pred[row + 3 * x + 2];
      }
    }
    const bh = y1 - by * f;
    for (let bx = 0; bx < w; bx++) {
      const cnt = bh * (Math.min(width, (bx + 1) * f) - bx * f);
      const o = (by * w + bx) * 3;
      data[o + 1] = divRoundEven(sum1[bx], cnt);
      data[o + 2] = divRoundEven(sum2[bx], cnt);
    }
  }
  return { data, width: w, height: h };
}

/** round(s / c) with ties to even (cv::saturate_cast / cvRound), for s >= 0, c > 0. */
function divRoundEven(s: number, c: number): number {
  const q = Math.floor(s / c), r = s - q * c;
  return 2 * r > c || (2 * r === c && (q & 1) === 1) ? q + 1 : q;
}

/** Nearest-neighbour upscale by pixel replication (INTER_NEAREST_EXACT for a factor f). */
export function upscaleLabels(low: Uint16Array, w: number, h: number, width: number, height: number, f: number): Uint16Array {
  const out = new Uint16Array(width * height);
  for (let y = 0; y < height; y++) {
    const src = ((y / f) | 0) * w, dst = y * width;
    for (let x = 0; x < width; x++) out[dst + x] = low[src + ((x / f) | 0)];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// TypeScript twin

/** Lookup tables of the float64 comparisons on 0..255 values (numpy: `v / 255 > t`). */
function tables(): { border: Uint8Array; seed: Uint8Array; nucleus: Uint8Array; green: Uint8Array } {
  const border = new Uint8Array(256), seed = new Uint8Array(256), nucleus = new Uint8Array(256), green = new Uint8Array(256);
  const seedT = 0.4 + -0.25;
  for (let v = 0; v < 256; v++) {
    border[v] = 1 - v / 255.0 > 0.05 ? 1 : 0;
    seed[v] = v / 255.0 > seedT ? 1 : 0;
    nucleus[v] = v / 255.0 > 0.4 ? 1 : 0;
    green[v] = v / 255 > 0.05 ? 1 : 0;
  }
  return { border, seed, nucleus, green };
}

/** Keeps the labels of size >= min (sizes from label()), renumbered 1.. in order. Returns the count. */
function compact(lab: Int32Array, count: number, sizes: Int32Array, min: number): number {
  const map = new Int32Array(count + 1);
  let k = 0;
  for (let l = 1; l <= count; l++) if (sizes[l] >= min) map[l] = ++k;
  for (let i = 0; i < lab.length; i++) lab[i] = map[lab[i]];
  return k;
}

/** hpacellseg's __fill_holes: zero thick boundaries, binary_fill_holes(> 0), ndi.label (4). */
function fillHoles(labels: Int32Array | Uint8Array, W: number, H: number, out: Int32Array): number {
  const n = W * H;
  const b = new Uint8Array(n);
  findBoundariesJs(labels, b, { width: W, height: H });
  // Background of the boundary-free mask, 4-connected; components off the border are holes.
  for (let i = 0; i < n; i++) b[i] = labels[i] !== 0 && b[i] === 0 ? 0 : 1;
  const { count } = labelJs(b, out, { width: W, height: H, connectivity: 4, mode: 'binary' });
  const outside = new Uint8Array(count + 1);
  for (let x = 0; x < W; x++) outside[out[x]] = outside[out[(H - 1) * W + x]] = 1;
  for (let y = 0; y < H; y++) outside[out[y * W]] = outside[out[y * W + W - 1]] = 1;
  for (let i = 0; i < n; i++) b[i] = b[i] === 0 || outside[out[i]] === 0 ? 1 : 0;
  return labelJs(b, out, { width: W, height: H, connectivity: 4, mode: 'binary' }).count;
}

/** The post-processing at the predictions' own resolution with the given constants. */
function labelCellCore(
  nucleiPred: Uint8Array, cellPred: Uint8Array, W: number, H: number, k: LabelCellConstants,
  tie: readonly [TieBreak, TieBreak, TieBreak],
): LabelCellResult {
  const n = W * H;
  const T = tables();
  const dims = { width: W, height: H };

  // Nuclei (hpa-spec §4.3 steps 1-4). numpy adds the two uint8 border channels modulo 256.
  const seedMask = new Uint8Array(n), mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const n2 = nucleiPred[3 * i + 2];
    seedMask[i] = T.border[(nucleiPred[3 * i + 1] + cellPred[3 * i + 1]) & 255] & T.seed[n2];
    mask[i] = T.nucleus[n2];
  }
  // remove_small_objects(seeds) then ndi.label: dropping components keeps the raster order.
  const markers = new Int32Array(n);
  const s = labelJs(seedMask, markers, { ...dims, connectivity: 4, mode: 'binary' });
  compact(markers, s.count, s.sizes, k.seedMinSize);
  removeSmallHolesJs(mask, k.holeArea, mask, { ...dims, connectivity: 4 });
  removeSmallObjectsJs(mask, k.maskMinSize, mask, { ...dims, connectivity: 4, mode: 'binary' });
  // Elevation = the 0/1 mask itself: every pixel that floods is on one level.
  const ws = new Int32Array(n);
  watershedJs(mask, markers, mask, ws, { ...dims, connectivity: 4, watershedLine: true, tieBreak: tie[0] });
  removeSmallObjectsJs(ws, k.nucleusMinSize, ws, { ...dims, connectivity: 4, mode: 'label' });
  const nucleiLabel = new Int32Array(n);
  labelJs(ws, nucleiLabel, { ...dims, connectivity: 8, mode: 'label' });

  // Cells (steps 5-12).
  const c2 = new Uint8Array(n), elev = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    c2[i] = cellPred[3 * i + 2];
    elev[i] = 255 - c2[i]; // -distance; clip(a, lo, a) is a itself
  }
  const t = otsuJs(c2, 255) * 0.5;
  const thr = t > 0.22 ? t : 0.22; // Python max(0.22, t)
  const region = new Uint8Array(n);
  for (let i = 0; i < n; i++) region[i] = c2[i] / 255 > thr ? 1 : 0;
  const cl = new Int32Array(n);
  watershedJs(elev, nucleiLabel, region, cl, { ...dims, connectivity: 4, watershedLine: false, tieBreak: tie[1] });
  removeSmallObjectsJs(cl, k.cellMinSize, cl, { ...dims, connectivity: 4, mode: 'label' });
  const lab8 = new Uint8Array(n);
  for (let i = 0; i < n; i++) lab8[i] = cl[i] & 255; // .astype(np.uint8) wraps ids > 255
  const closed = new Uint8Array(n);
  greyMorphologyJs(lab8, 'closing', k.closingRadius, closed, dims);
  const filled = new Int32Array(n);
  fillHoles(closed, W, H, filled);
  const sk = new Uint8Array(n);
  for (let i = 0; i < n; i++) sk[i] = filled[i] > 0 || T.green[cellPred[3 * i + 1]] ? 1 : 0;
  watershedJs(elev, filled, sk, cl, { ...dims, connectivity: 4, watershedLine: false, tieBreak: tie[2] });
  fillHoles(cl, W, H, filled);
  const cellsL = new Int32Array(n);
  const c = labelJs(filled, cellsL, { ...dims, connectivity: 8, mode: 'binary' });
  const cellCount = compact(cellsL, c.count, c.sizes, k.cellMinSize);
  const cells = new Uint16Array(n);
  for (let i = 0; i < n; i++) cells[i] = cellsL[i];

  // Nuclei inside kept cells, large enough, carry their cell's id (step 13).
  const nb = new Uint8Array(n);
  for (let i = 0; i < n; i++) nb[i] = cells[i] !== 0 && nucleiLabel[i] !== 0 ? 1 : 0;
  const nl = new Int32Array(n);
  const m = labelJs(nb, nl, { ...dims, connectivity: 8, mode: 'binary' });
  const nuclei = new Uint16Array(n);
  for (let i = 0; i < n; i++) nuclei[i] = nl[i] !== 0 && m.sizes[nl[i]] >= k.nucleusMinSize ? cells[i] : 0;
  return { nuclei, cells, cellCount };
}

/**
 * TypeScript twin of labelCell (no argument checks). `tieBreak` may also be given per watershed
 * (tests use that to show where 'heap' is needed).
 */
export function labelCellJs(
  nucleiPred: Uint8Array, cellPred: Uint8Array,
  opts: { width: number; height: number; scale?: LabelCellScale; tieBreak?: LabelCellTieBreak },
): LabelCellResult {
  const { width: W, height: H } = opts;
  const scale = opts.scale ?? 1;
  const t = opts.tieBreak ?? 'heap';
  const tie = typeof t === 'string' ? ([t, t, t] as const) : t;
  const k = labelCellConstants(scale);
  if (scale === 1) return labelCellCore(nucleiPred, cellPred, W, H, k, tie);
  const f = Math.round(1 / scale);
  const np = downscalePred(nucleiPred, W, H, f), cp = downscalePred(cellPred, W, H, f);
  const r = labelCellCore(np.data, cp.data, np.width, np.height, k, tie);
  return {
    nuclei: upscaleLabels(r.nuclei, np.width, np.height, W, H, f),
    cells: upscaleLabels(r.cells, np.width, np.height, W, H, f),
    cellCount: r.cellCount,
  };
}

/** TypeScript twin of labelNuclei (no argument checks). */
export function labelNucleiJs(nucleiPred: Uint8Array, opts: { width: number; height: number; tieBreak?: TieBreak }): Uint16Array {
  const { width: W, height: H } = opts;
  const n = W * H;
  const dims = { width: W, height: H };
  // Raw 0..255 values against 0.05 / 0.15 / 0.4: "> 0" tests.
  const seeds = new Uint8Array(n), mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const p1 = nucleiPred[3 * i + 1], p2 = nucleiPred[3 * i + 2];
    seeds[i] = p1 === 0 && p2 > 0 ? 1 : 0;
    mask[i] = p2 > 0 ? 1 : 0;
  }
  const eroded = new Uint8Array(n);
  binaryErosionJs(seeds, eroded, { ...dims, connectivity: 4, borderValue: true });
  const markers = new Int32Array(n);
  labelJs(eroded, markers, { ...dims, connectivity: 8, mode: 'binary' });
  removeSmallHolesJs(mask, 1000, mask, { ...dims, connectivity: 4 });
  const ws = new Int32Array(n);
  watershedJs(mask, markers, mask, ws, { ...dims, connectivity: 4, watershedLine: true, tieBreak: opts.tieBreak ?? 'heap' });
  removeSmallObjectsJs(ws, 2500, ws, { ...dims, connectivity: 4, mode: 'label' });
  const lab = new Int32Array(n);
  labelJs(ws, lab, { ...dims, connectivity: 8, mode: 'label' });
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = lab[i];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Agreement between two label images

export interface Agreement {
  /** Mean over the cells of `a` of the best IoU with any cell of `b` (0 when `a` has none). */
  meanIoU: number;
  /** Fraction of the cells of `a` whose best IoU is >= 0.6. */
  matched: number;
  cellsA: number;
  cellsB: number;
}

/**
 * How well label image `b` reproduces `a` (e.g. the fast path vs full resolution): for every cell
 * of `a`, the best IoU with a cell of `b`; returns their mean and the fraction matched at IoU >= 0.6.
 *
 * @example
 * ```ts
 * const full = await labelCell(np, cp, { width, height });
 * const half = await labelCell(np, cp, { width, height, scale: 0.5 });
 * const { meanIoU, matched } = agreement(full.cells, half.cells);
 * ```
 */
export function agreement(a: Uint16Array, b: Uint16Array): Agreement {
  if (!(a instanceof Uint16Array)) throw typeError('a', 'Uint16Array', a);
  if (!(b instanceof Uint16Array)) throw typeError('b', 'Uint16Array', b);
  if (a.length !== b.length) throw rangeError('b', `Uint16Array of length ${a.length} (as a)`, b, 'CELLCAM_E_SHAPE');
  const areaA = new Float64Array(65536), areaB = new Float64Array(65536);
  const inter = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    const u = a[i], v = b[i];
    areaA[u]++;
    areaB[v]++;
    if (u !== 0 && v !== 0) {
      const key = u * 65536 + v;
      inter.set(key, (inter.get(key) ?? 0) + 1);
    }
  }
  const best = new Float64Array(65536);
  for (const [key, c] of inter) {
    const u = Math.floor(key / 65536), v = key % 65536;
    const iou = c / (areaA[u] + areaB[v] - c);
    if (iou > best[u]) best[u] = iou;
  }
  let cellsA = 0, cellsB = 0, sum = 0, hit = 0;
  for (let id = 1; id < 65536; id++) {
    if (areaB[id] > 0) cellsB++;
    if (areaA[id] === 0) continue;
    cellsA++;
    sum += best[id];
    if (best[id] >= 0.6) hit++;
  }
  return { meanIoU: cellsA ? sum / cellsA : 0, matched: cellsA ? hit / cellsA : 0, cellsA, cellsB };
}
