/**
 * Morphology primitives of the HPA post-processing (scikit-image 0.19 / scipy semantics): argument
 * checks, native dispatch and the TypeScript twins that packages/native/src/morphology.cc mirrors.
 */
import { nativeError, rangeError, typeError } from '../errors.js';
import { labelJs } from '../kernels/label.js';
import { resolveBackend, type Backend } from '../native.js';
import { checkArray, checkBool, checkConnectivity, checkInt, checkSize, overlaps } from '../util/validate.js';

/** A label (or grey) image; Uint8Array doubles as a 0/1 mask. */
export type LabelArray = Uint8Array | Uint16Array | Int32Array;
export type ThresholdInput = Uint8Array | Uint16Array | Float32Array | Float64Array;
export type OtsuInput = Uint8Array | Uint16Array | Float64Array;

export interface MorphologyOptions {
  width: number;
  height: number;
  /** Native worker threads; 0 or undefined = all hardware threads. Output never depends on it. */
  threads?: number;
  backend?: Backend;
}

const LABEL_CTORS = [Uint8Array, Uint16Array, Int32Array] as const;
const U8 = [Uint8Array] as const;

// ---------------------------------------------------------------------------------------------
// Shared helpers (used by label-cell.ts too)

/** numpy's round(): half to even. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Largest dx with dx² + dy² <= r², for dy = -r..r (skimage.morphology.disk(r) rows). */
export function diskHalfWidths(radius: number): Int32Array {
  const hw = new Int32Array(2 * radius + 1);
  for (let dy = -radius; dy <= radius; dy++) {
    let dx = 0;
    while ((dx + 1) * (dx + 1) + dy * dy <= radius * radius) dx++;
    hw[dy + radius] = dx;
  }
  return hw;
}

/** Validates `out` (same dtype family, length n); `alias` allows out to be exactly `input`. */
function checkOut<T extends ArrayBufferView>(out: unknown, input: ArrayBufferView, ctors: readonly (new (n: number) => ArrayBufferView)[], n: number, alias: boolean): T | undefined {
  if (out === undefined) return undefined;
  const o = checkArray<T>('options.out', out, ctors as never, n, 'width*height');
  const same = o.buffer === input.buffer && o.byteOffset === input.byteOffset && o.byteLength === input.byteLength;
  if (overlaps(o, input) && !(alias && same)) {
    throw rangeError('options.out', alias ? 'memory not overlapping input (or input itself)' : 'memory not overlapping input', out, 'CELLCAM_E_ARG');
  }
  return o;
}

function baseChecks(options: MorphologyOptions): { width: number; height: number; n: number; threads: number } {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  const { width, height } = checkSize(options.width, options.height);
  const threads = options.threads === undefined ? 0 : checkInt('options.threads', options.threads, 0, 1024);
  return { width, height, n: width * height, threads };
}

async function callNative(op: string, input: ArrayBufferView, out: ArrayBufferView | null, opts: Record<string, unknown>): Promise<number | null> {
  const native = resolveBackend(opts.backend as Backend | undefined);
  if (!native) return null;
  const stack = new Error();
  const { backend: _b, ...rest } = opts;
  try {
    return await native.morphology(op as never, input as never, out as never, rest as never);
  } catch (err) {
    throw nativeError(err, stack);
  }
}

function newLike<T extends LabelArray>(a: T, n: number): T {
  return new (a.constructor as new (n: number) => T)(n);
}

function checkNoNegative(name: string, a: LabelArray): void {
  if (!(a instanceof Int32Array)) return;
  for (let i = 0; i < a.length; i++) if (a[i] < 0) throw rangeError(`${name}[${i}]`, 'a value >= 0', a[i]);
}

// ---------------------------------------------------------------------------------------------
// threshold

export interface ThresholdOptions extends MorphologyOptions {
  /** Values are divided by this (in float64, like numpy's `x / 255`) before the comparison. Default 1. */
  divisor?: number;
  /** Interleaved channels per pixel (default 1) and the one to read (default 0). */
  channels?: number;
  channel?: number;
  out?: Uint8Array;
}

/**
 * `out[i] = image[i*channels + channel] / divisor > value` (0/1), computed in float64 exactly
 * like numpy's `pred[..., c] / 255 > t`.
 *
 * @example
 * ```ts
 * const pred = new Uint8Array([0, 10, 103,  0, 20, 102]);   // 2 pixels, 3 channels
 * const mask = await threshold(pred, 0.4, { width: 2, height: 1, channels: 3, channel: 2, divisor: 255 });
 * // Uint8Array [1, 0]: 103/255 > 0.4 but 102/255 == 0.4
 * ```
 */
export async function threshold(image: ThresholdInput, value: number, options: ThresholdOptions): Promise<Uint8Array> {
  const { width, height, n, threads } = baseChecks(options);
  const channels = options.channels === undefined ? 1 : checkInt('options.channels', options.channels, 1, 64);
  const channel = options.channel === undefined ? 0 : checkInt('options.channel', options.channel, 0, channels - 1);
  checkArray('image', image, [Uint8Array, Uint16Array, Float32Array, Float64Array], n * channels, channels > 1 ? 'width*height*channels' : 'width*height');
  if (typeof value !== 'number') throw typeError('value', 'a number', value);
  const divisor = options.divisor ?? 1;
  if (typeof divisor !== 'number' || !Number.isFinite(divisor) || divisor === 0) throw rangeError('options.divisor', 'a finite nonzero number', divisor);
  const out = checkOut<Uint8Array>(options.out, image, U8, n, channels === 1 && image instanceof Uint8Array) ?? new Uint8Array(n);
  const opts = { width, height, threads, value, divisor, channels, channel };
  if ((await callNative('threshold', image, out, { ...opts, backend: options.backend })) === null) thresholdJs(image, value, out, opts);
  return out;
}

/** TypeScript twin of threshold (no checks). Returns the number of pixels set. */
export function thresholdJs(
  image: ThresholdInput, value: number, out: Uint8Array,
  opts: { width: number; height: number; divisor: number; channels: number; channel: number },
): number {
  const n = opts.width * opts.height, { channels, channel, divisor } = opts;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const v = image[i * channels + channel] / divisor > value ? 1 : 0;
    out[i] = v;
    count += v;
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// removeSmallObjects / removeSmallHoles

export interface RemoveSmallObjectsOptions extends MorphologyOptions {
  /** Connectivity of the components in 'binary' mode: 4 (default, skimage connectivity=1) or 8. */
  connectivity?: 4 | 8;
  /**
   * 'binary' (default for Uint8Array, skimage's bool input): nonzero = foreground, components are
   * labelled first, output is 0/1. 'label' (default for Uint16Array/Int32Array, skimage's integer
   * input): values are labels, a label's size is its pixel count wherever it is (bincount).
   */
  mode?: 'binary' | 'label';
  /** Receives the result (same dtype as input); may be the input itself. */
  out?: LabelArray;
}

/**
 * `skimage.morphology.remove_small_objects(ar, minSize)` (0.19): removes the components (or
 * labels) with fewer than `minSize` pixels.
 *
 * @example
 * ```ts
 * const m = new Uint8Array([1, 1, 0, 1]);
 * const kept = await removeSmallObjects(m, 2, { width: 4, height: 1 });   // Uint8Array [1, 1, 0, 0]
 * const ids = await removeSmallObjects(new Int32Array([3, 0, 3, 5]), 2, { width: 4, height: 1 });
 * // Int32Array [3, 0, 3, 0]: label 3 has 2 pixels although they are not connected
 * ```
 */
export async function removeSmallObjects<T extends LabelArray>(input: T, minSize: number, options: RemoveSmallObjectsOptions): Promise<T> {
  const { width, height, n, threads } = baseChecks(options);
  checkArray('input', input, LABEL_CTORS, n, 'width*height');
  checkInt('minSize', minSize, 0, 2 ** 31 - 1);
  const connectivity = checkConnectivity('options.connectivity', options.connectivity, 4);
  const mode = options.mode ?? (input instanceof Uint8Array ? 'binary' : 'label');
  if (mode !== 'binary' && mode !== 'label') throw rangeError('options.mode', "'binary' or 'label'", mode, 'CELLCAM_E_ARG');
  const out = checkOut<T>(options.out, input, [input.constructor as new (n: number) => T], n, true) ?? newLike(input, n);
  const opts = { width, height, threads, minSize, connectivity, mode };
  if (mode === 'label' && resolveBackend(options.backend) === null) checkNoNegative('input', input);
  if ((await callNative('removeSmallObjects', input, out, { ...opts, backend: options.backend })) === null) {
    removeSmallObjectsJs(input, minSize, out, opts);
  }
  return out;
}

/** Per-label pixel counts of a non-negative label image (dense table, or sorted ids when huge). */
export function labelCounts(input: LabelArray): { count: (id: number) => number } {
  let max = 0;
  for (let i = 0; i < input.length; i++) if (input[i] > max) max = input[i];
  if (max <= Math.max(1 << 20, 4 * input.length)) {
    const c = new Int32Array(max + 1);
    for (let i = 0; i < input.length; i++) c[input[i]]++;
    return { count: (id) => c[id] };
  }
  const m = new Map<number, number>();
  for (let i = 0; i < input.length; i++) m.set(input[i], (m.get(input[i]) ?? 0) + 1);
  return { count: (id) => m.get(id) ?? 0 };
}

/** TypeScript twin of removeSmallObjects (no checks; `out` may be `input`). Returns objects kept. */
export function removeSmallObjectsJs(
  input: LabelArray, minSize: number, out: LabelArray,
  opts: { width: number; height: number; connectivity: 4 | 8; mode: 'binary' | 'label' },
): number {
  const n = opts.width * opts.height;
  if (opts.mode === 'binary') {
    const lab = new Int32Array(n);
    const { count, sizes } = labelJs(input, lab, { width: opts.width, height: opts.height, connectivity: opts.connectivity, mode: 'binary' });
    let kept = 0;
    for (let k = 1; k <= count; k++) if (sizes[k] >= minSize) kept++;
    for (let i = 0; i < n; i++) {
      const l = lab[i];
      out[i] = l !== 0 && sizes[l] >= minSize ? 1 : 0;
    }
    return kept;
  }
  const { count } = labelCounts(input);
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    const v = input[i];
    if (v !== 0 && count(v) >= minSize) {
      out[i] = v;
      seen.add(v);
    } else {
      out[i] = 0;
    }
  }
  return seen.size;
}

export interface MaskOptions extends MorphologyOptions {
  /** Receives the 0/1 result; may be the input itself where documented. */
  out?: Uint8Array;
}

/**
 * `skimage.morphology.remove_small_holes(mask, areaThreshold)` (0.19): background components with
 * fewer than `areaThreshold` pixels become foreground, border-touching ones included.
 *
 * @example
 * ```ts
 * const m = new Uint8Array([1, 1, 1,  1, 0, 1,  1, 1, 1]);
 * const filled = await removeSmallHoles(m, 2, { width: 3, height: 3 });   // all ones
 * ```
 */
export async function removeSmallHoles(mask: Uint8Array, areaThreshold: number, options: MaskOptions & { connectivity?: 4 | 8 }): Promise<Uint8Array> {
  const { width, height, n, threads } = baseChecks(options);
  checkArray('mask', mask, U8, n, 'width*height');
  checkInt('areaThreshold', areaThreshold, 0, 2 ** 31 - 1);
  const connectivity = checkConnectivity('options.connectivity', options.connectivity, 4);
  const out = checkOut<Uint8Array>(options.out, mask, U8, n, true) ?? new Uint8Array(n);
  const opts = { width, height, threads, areaThreshold, connectivity };
  if ((await callNative('removeSmallHoles', mask, out, { ...opts, backend: options.backend })) === null) removeSmallHolesJs(mask, areaThreshold, out, opts);
  return out;
}

/** TypeScript twin of removeSmallHoles (`out` may be `mask`). Returns the number of holes filled. */
export function removeSmallHolesJs(mask: Uint8Array, areaThreshold: number, out: Uint8Array, opts: { width: number; height: number; connectivity: 4 | 8 }): number {
  const n = opts.width * opts.height;
  const inv = new Uint8Array(n);
  for (let i = 0; i < n; i++) inv[i] = mask[i] === 0 ? 1 : 0;
  const lab = new Int32Array(n);
  const { count, sizes } = labelJs(inv, lab, { width: opts.width, height: opts.height, connectivity: opts.connectivity, mode: 'binary' });
  let filled = 0;
  for (let k = 1; k <= count; k++) if (sizes[k] < areaThreshold) filled++;
  for (let i = 0; i < n; i++) out[i] = inv[i] === 0 || sizes[lab[i]] < areaThreshold ? 1 : 0;
  return filled;
}

// ---------------------------------------------------------------------------------------------
// binaryErosion / binaryFillHoles / findBoundaries

/**
 * `scipy.ndimage.binary_erosion(mask, structure, border_value=1)` with the 3×3 cross
 * (connectivity 4, skimage's default footprint) or the 3×3 square (8); outside pixels count as
 * `borderValue` (default true, as skimage.morphology.binary_erosion).
 *
 * @example
 * ```ts
 * const e = await binaryErosion(new Uint8Array([1, 1, 1,  1, 1, 1,  0, 1, 1]), { width: 3, height: 3 });
 * // Uint8Array [1, 1, 1,  0, 1, 1,  0, 0, 1]
 * ```
 */
export async function binaryErosion(mask: Uint8Array, options: MaskOptions & { connectivity?: 4 | 8; borderValue?: boolean }): Promise<Uint8Array> {
  const { width, height, n, threads } = baseChecks(options);
  checkArray('mask', mask, U8, n, 'width*height');
  const connectivity = checkConnectivity('options.connectivity', options.connectivity, 4);
  const borderValue = checkBool('options.borderValue', options.borderValue, true);
  const out = checkOut<Uint8Array>(options.out, mask, U8, n, false) ?? new Uint8Array(n);
  const opts = { width, height, threads, connectivity, borderValue };
  if ((await callNative('binaryErosion', mask, out, { ...opts, backend: options.backend })) === null) binaryErosionJs(mask, out, opts);
  return out;
}

/** TypeScript twin of binaryErosion (`out` must not overlap `mask`). */
export function binaryErosionJs(mask: Uint8Array, out: Uint8Array, opts: { width: number; height: number; connectivity: 4 | 8; borderValue: boolean }): void {
  const { width: W, height: H } = opts;
  const b = opts.borderValue;
  const at = (x: number, y: number): boolean => (x < 0 || y < 0 || x >= W || y >= H ? b : mask[y * W + x] !== 0);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let v = mask[y * W + x] !== 0 && at(x, y - 1) && at(x - 1, y) && at(x + 1, y) && at(x, y + 1);
      if (v && opts.connectivity === 8) v = at(x - 1, y - 1) && at(x + 1, y - 1) && at(x - 1, y + 1) && at(x + 1, y + 1);
      out[y * W + x] = v ? 1 : 0;
    }
  }
}

/**
 * `scipy.ndimage.binary_fill_holes(mask)`: background pixels not 4-connected to the image border
 * become foreground.
 *
 * @example
 * ```ts
 * const f = await binaryFillHoles(new Uint8Array([1, 1, 1,  1, 0, 1,  1, 1, 1]), { width: 3, height: 3 });
 * // all ones
 * ```
 */
export async function binaryFillHoles(mask: Uint8Array, options: MaskOptions): Promise<Uint8Array> {
  const { width, height, n, threads } = baseChecks(options);
  checkArray('mask', mask, U8, n, 'width*height');
  const out = checkOut<Uint8Array>(options.out, mask, U8, n, true) ?? new Uint8Array(n);
  const opts = { width, height, threads };
  if ((await callNative('binaryFillHoles', mask, out, { ...opts, backend: options.backend })) === null) binaryFillHolesJs(mask, out, opts);
  return out;
}

/** TypeScript twin of binaryFillHoles (`out` may be `mask`). */
export function binaryFillHolesJs(mask: Uint8Array, out: Uint8Array, opts: { width: number; height: number }): void {
  const { width: W, height: H } = opts;
  const n = W * H;
  const inv = new Uint8Array(n);
  for (let i = 0; i < n; i++) inv[i] = mask[i] === 0 ? 1 : 0;
  const lab = new Int32Array(n);
  const { count } = labelJs(inv, lab, { width: W, height: H, connectivity: 4, mode: 'binary' });
  const outside = new Uint8Array(count + 1);
  for (let x = 0; x < W; x++) {
    outside[lab[x]] = 1;
    outside[lab[(H - 1) * W + x]] = 1;
  }
  for (let y = 0; y < H; y++) {
    outside[lab[y * W]] = 1;
    outside[lab[y * W + W - 1]] = 1;
  }
  for (let i = 0; i < n; i++) out[i] = inv[i] === 0 || outside[lab[i]] === 0 ? 1 : 0;
}

/**
 * `skimage.segmentation.find_boundaries(labels, connectivity=1, mode='thick')`: a pixel is a
 * boundary when any of its 4 neighbours inside the image has another value (background included).
 *
 * @example
 * ```ts
 * const b = await findBoundaries(new Int32Array([1, 1, 2, 2]), { width: 4, height: 1 });
 * // Uint8Array [0, 1, 1, 0]
 * ```
 */
export async function findBoundaries(labels: LabelArray, options: MaskOptions): Promise<Uint8Array> {
  const { width, height, n, threads } = baseChecks(options);
  checkArray('labels', labels, LABEL_CTORS, n, 'width*height');
  const out = checkOut<Uint8Array>(options.out, labels, U8, n, false) ?? new Uint8Array(n);
  const opts = { width, height, threads };
  if ((await callNative('findBoundaries', labels, out, { ...opts, backend: options.backend })) === null) findBoundariesJs(labels, out, opts);
  return out;
}

/** TypeScript twin of findBoundaries (`out` must not overlap `labels`). */
export function findBoundariesJs(labels: LabelArray, out: Uint8Array, opts: { width: number; height: number }): void {
  const { width: W, height: H } = opts;
  for (let y = 0; y < H; y++) {
    const row = y * W;
    for (let x = 0; x < W; x++) {
      const i = row + x, v = labels[i];
      out[i] = (y > 0 && labels[i - W] !== v) || (y < H - 1 && labels[i + W] !== v) ||
        (x > 0 && labels[i - 1] !== v) || (x < W - 1 && labels[i + 1] !== v) ? 1 : 0;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// grey dilation / erosion / closing with disk(r)

export type GreyOp = 'dilation' | 'erosion' | 'closing' | 'opening';

export interface GreyOptions extends MorphologyOptions {
  /** Receives the result (same dtype as input); must not overlap it. */
  out?: LabelArray;
}

/**
 * Grey dilation (max), erosion (min), closing (dilation then erosion) or opening with the flat
 * footprint `skimage.morphology.disk(radius)`, as `skimage.morphology.dilation/erosion/closing/
 * opening` (scipy.ndimage grey morphology, mode 'reflect', which for this symmetric footprint
 * equals ignoring the pixels outside the image).
 *
 * @example
 * ```ts
 * const labels = new Uint8Array(7 * 7);
 * labels[3 * 7 + 3] = 5;
 * const d = await greyMorphology(labels, 'dilation', 1, { width: 7, height: 7 });
 * // the 4-neighbours of the centre are 5 too (disk(1) is the cross)
 * ```
 */
export async function greyMorphology<T extends LabelArray>(image: T, op: GreyOp, radius: number, options: GreyOptions): Promise<T> {
  const { width, height, n, threads } = baseChecks(options);
  checkArray('image', image, LABEL_CTORS, n, 'width*height');
  if (op !== 'dilation' && op !== 'erosion' && op !== 'closing' && op !== 'opening') {
    throw rangeError('op', "'dilation', 'erosion', 'closing' or 'opening'", op, 'CELLCAM_E_ARG');
  }
  checkInt('radius', radius, 0, 1024);
  const out = checkOut<T>(options.out, image, [image.constructor as new (n: number) => T], n, false) ?? newLike(image, n);
  const opts = { width, height, threads, radius, op };
  if ((await callNative('grey', image, out, { ...opts, backend: options.backend })) === null) greyMorphologyJs(image, op, radius, out, opts);
  return out;
}

/** `skimage.morphology.closing(image, disk(radius))`; see greyMorphology. */
export function greyClosing<T extends LabelArray>(image: T, radius: number, options: GreyOptions): Promise<T> {
  return greyMorphology(image, 'closing', radius, options);
}

/** out[x] = max (or min) of p[x-1..x+1] inside the row: k passes give half-width k. */
function step3(ring: Int32Array, p: number, c: number, W: number, dilate: boolean): void {
  if (W === 1) {
    ring[c] = ring[p];
    return;
  }
  if (dilate) {
    ring[c] = ring[p] > ring[p + 1] ? ring[p] : ring[p + 1];
    for (let x = 1; x < W - 1; x++) {
      const a = ring[p + x - 1], b = ring[p + x], d = ring[p + x + 1];
      const m = a > b ? a : b;
      ring[c + x] = m > d ? m : d;
    }
    ring[c + W - 1] = ring[p + W - 2] > ring[p + W - 1] ? ring[p + W - 2] : ring[p + W - 1];
  } else {
    ring[c] = ring[p] < ring[p + 1] ? ring[p] : ring[p + 1];
    for (let x = 1; x < W - 1; x++) {
      const a = ring[p + x - 1], b = ring[p + x], d = ring[p + x + 1];
      const m = a < b ? a : b;
      ring[c + x] = m < d ? m : d;
    }
    ring[c + W - 1] = ring[p + W - 2] < ring[p + W - 1] ? ring[p + W - 2] : ring[p + W - 1];
  }
}

/**
 * One pass of max (dilate) or min (erode) over disk(r), outside pixels ignored: per row, the
 * horizontal extremes of every half-width 0..r (a ring of the 2r+1 live rows), then the extreme
 * over the disk's rows.
 */
function greyPass(src: LabelArray, dst: LabelArray, W: number, H: number, r: number, dilate: boolean): void {
  const hw = diskHalfWidths(r);
  const rows = 2 * r + 1, K = r + 1;
  const ring = new Int32Array(rows * K * W);
  const fillRow = (y: number): void => {
    const base = (y % rows) * K * W;
    for (let x = 0; x < W; x++) ring[base + x] = src[y * W + x];
    for (let k = 1; k < K; k++) step3(ring, base + (k - 1) * W, base + k * W, W, dilate);
  };
  const acc = new Int32Array(W);
  for (let y = 0; y < Math.min(r, H); y++) fillRow(y);
  for (let y = 0; y < H; y++) {
    if (y + r < H) fillRow(y + r);
    let first = true;
    for (let dy = -r; dy <= r; dy++) {
      const yy = y + dy;
      if (yy < 0 || yy >= H) continue;
      const off = (yy % rows) * K * W + hw[dy + r] * W;
      if (first) {
        acc.set(ring.subarray(off, off + W));
        first = false;
      } else if (dilate) {
        for (let x = 0; x < W; x++) if (ring[off + x] > acc[x]) acc[x] = ring[off + x];
      } else {
        for (let x = 0; x < W; x++) if (ring[off + x] < acc[x]) acc[x] = ring[off + x];
      }
    }
    const o = y * W;
    for (let x = 0; x < W; x++) dst[o + x] = acc[x];
  }
}

/** TypeScript twin of greyMorphology (`out` must not overlap `image`). */
export function greyMorphologyJs(image: LabelArray, op: GreyOp, radius: number, out: LabelArray, opts: { width: number; height: number }): void {
  const { width: W, height: H } = opts;
  if (op === 'dilation' || op === 'erosion') {
    greyPass(image, out, W, H, radius, op === 'dilation');
    return;
  }
  const tmp = newLike(image, W * H);
  greyPass(image, tmp, W, H, radius, op === 'closing');
  greyPass(tmp, out, W, H, radius, op !== 'closing');
}

// ---------------------------------------------------------------------------------------------
// otsu

export interface OtsuOptions {
  /** Values are divided by this in float64 first (threshold_otsu(pred / 255)). Default 1. */
  divisor?: number;
  backend?: Backend;
}

/**
 * `skimage.filters.threshold_otsu(image / divisor)` of scikit-image 0.19 on the float64 values:
 * 256 bins over [min, max] (numpy.histogram's uniform-bin rules), between-class variance from
 * cumulative sums, the first maximising bin centre; a constant image returns its value.
 * Integer inputs are always treated as floats (skimage's integer bincount path is not emulated).
 *
 * @example
 * ```ts
 * const t = await otsu(new Uint8Array([10, 10, 200, 200]), { divisor: 255 });
 * ```
 */
export async function otsu(image: OtsuInput, options: OtsuOptions = {}): Promise<number> {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  if (!ArrayBuffer.isView(image) || !(image instanceof Uint8Array || image instanceof Uint16Array || image instanceof Float64Array)) {
    throw typeError('image', 'Uint8Array or Uint16Array or Float64Array', image);
  }
  if (image.length === 0) throw rangeError('image', 'a non-empty array', image, 'CELLCAM_E_SHAPE');
  const divisor = options.divisor ?? 1;
  if (typeof divisor !== 'number' || !Number.isFinite(divisor) || divisor === 0) throw rangeError('options.divisor', 'a finite nonzero number', divisor);
  if (image instanceof Float64Array && resolveBackend(options.backend) === null) {
    for (let i = 0; i < image.length; i++) if (!Number.isFinite(image[i])) throw rangeError(`image[${i}]`, 'a finite value', image[i]);
  }
  const r = await callNative('otsu', image, null, { width: image.length, height: 1, divisor, backend: options.backend });
  return r === null ? otsuJs(image, divisor) : r;
}

/** numpy.histogram(values, 256) for the distinct values `xs` with multiplicities `ws`. */
function histogram256(xs: Float64Array, ws: Float64Array, lo: number, hi: number): { counts: Float64Array; centers: Float64Array } {
  const nb = 256;
  // np.linspace(lo, hi, 257): i * step + lo, last edge exactly hi.
  const delta = hi - lo;
  const step = delta / nb;
  const edges = new Float64Array(nb + 1);
  if (step === 0) {
    for (let i = 0; i <= nb; i++) edges[i] = (i / nb) * delta + lo;
  } else {
    for (let i = 0; i <= nb; i++) edges[i] = i * step + lo;
  }
  edges[nb] = hi;
  const norm = nb / (hi - lo);
  const counts = new Float64Array(nb);
  for (let j = 0; j < xs.length; j++) {
    const x = xs[j];
    let idx = Math.trunc((x - lo) * norm);
    if (idx === nb) idx--;
    if (x < edges[idx]) idx--;
    if (x >= edges[idx + 1] && idx !== nb - 1) idx++;
    counts[idx] += ws[j];
  }
  const centers = new Float64Array(nb);
  for (let i = 0; i < nb; i++) centers[i] = (edges[i] + edges[i + 1]) / 2;
  return { counts, centers };
}

/** TypeScript twin of otsu (no checks; float64 image must be finite). */
export function otsuJs(image: OtsuInput, divisor = 1): number {
  let xs: Float64Array, ws: Float64Array;
  if (image instanceof Float64Array) {
    xs = new Float64Array(image.length);
    for (let i = 0; i < image.length; i++) xs[i] = image[i] / divisor;
    ws = new Float64Array(image.length).fill(1);
  } else {
    const bins = new Float64Array(image instanceof Uint8Array ? 256 : 65536);
    for (let i = 0; i < image.length; i++) bins[image[i]]++;
    let m = 0;
    for (let v = 0; v < bins.length; v++) if (bins[v] > 0) m++;
    xs = new Float64Array(m);
    ws = new Float64Array(m);
    for (let v = 0, j = 0; v < bins.length; v++) {
      if (bins[v] > 0) {
        xs[j] = v / divisor;
        ws[j++] = bins[v];
      }
    }
  }
  const first = image instanceof Float64Array ? xs[0] : image[0] / divisor;
  let lo = Infinity, hi = -Infinity, constant = true;
  for (let j = 0; j < xs.length; j++) {
    const x = xs[j];
    if (x < lo) lo = x;
    if (x > hi) hi = x;
    if (x !== first) constant = false;
  }
  if (constant) return first;
  return otsuFromHistogram(histogram256(xs, ws, lo, hi));
}

function otsuFromHistogram({ counts, centers }: { counts: Float64Array; centers: Float64Array }): number {
  const nb = counts.length;
  const w1 = new Float64Array(nb), w2 = new Float64Array(nb), m1 = new Float64Array(nb), m2 = new Float64Array(nb);
  let cw = 0, cs = 0;
  for (let i = 0; i < nb; i++) {
    cw += counts[i];
    cs += counts[i] * centers[i];
    w1[i] = cw;
    m1[i] = cs / cw;
  }
  cw = 0;
  cs = 0;
  for (let i = nb - 1; i >= 0; i--) {
    cw += counts[i];
    cs += counts[i] * centers[i];
    w2[i] = cw;
    m2[i] = cs / cw;
  }
  let best = -Infinity, idx = 0;
  for (let i = 0; i < nb - 1; i++) {
    const d = m1[i] - m2[i + 1];
    // int64 product of the weights (exact below 2^53), times the squared difference.
    const v = w1[i] * w2[i + 1] * (d * d);
    if (v > best || (v !== v && best === best)) {
      best = v;
      idx = i;
      if (v !== v) break; // numpy's argmax returns the first NaN
    }
  }
  return centers[idx];
}
