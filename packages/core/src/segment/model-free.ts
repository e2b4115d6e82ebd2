/**
 * Model-free prediction maps: stand-ins for the HPA U-Nets' outputs, derived from the raw stains,
 * in the same format (H×W×3 uint8, channel 0 unused, 1 = border, 2 = interior) so the official
 * post-processing (labelCell) runs on them unchanged.
 *
 * - nuclei interior: the blue stain, normalised and smoothed, through a soft Otsu threshold;
 * - cell interior: the red + yellow (+ blue) stains, smoothed, through a soft Otsu threshold, and
 *   weighted down with the distance to the nearest nucleus so that touching cells meet in valleys
 *   half way between their nuclei (the watershed in labelCell floods from the nuclei);
 * - borders (channel 1) stay 0: the post-processing splits cells by the watershed.
 * Lengths scale with the image side relative to the HPA's 2048 px.
 *
 * This file is also the TypeScript twin of the native kernel (native/src/model_free.cc), which
 * gives the same bytes on the addon's threads ({@link modelFreeMapsAsync}).
 */
import { nativeError, rangeError, typeError } from '../errors.js';
import { resolveBackend, type Backend } from '../native.js';
import { checkArray, checkInt, checkNumber } from '../util/validate.js';

export interface ModelFreeChannels {
  width: number;
  height: number;
  bitDepth: 8 | 16;
  channels: { red: Uint8Array | Uint16Array; green?: Uint8Array | Uint16Array; blue: Uint8Array | Uint16Array; yellow: Uint8Array | Uint16Array };
}

export interface ModelFreeOptions {
  /** length scale relative to a 2048 px HPA field (default width / 2048) */
  lengthScale?: number;
  /** blue smoothing sigma at 2048 px (default 3) */
  nucleusSigma?: number;
  /** cytoplasm smoothing sigma at 2048 px (default 8) */
  cellSigma?: number;
  /** distance (px at 2048) over which the cell map halves away from the nuclei (default 220) */
  decay?: number;
  /** share of the cell map carried by the smoothed stain intensity, 0..1 (default 0: on the synthetic benchmark, distance alone scored best) */
  intensityWeight?: number;
}

/** Normalises a stain to [0, 1] between its 0.5th and 99.8th percentiles (histogram based). */
export function normalizeStain(data: Uint8Array | Uint16Array, bitDepth: 8 | 16): Float32Array {
  const bins = bitDepth === 16 ? 65536 : 256;
  const hist = new Uint32Array(bins);
  for (let i = 0; i < data.length; i++) hist[data[i]]++;
  const lo = percentileFromHist(hist, data.length, 0.005), hi = percentileFromHist(hist, data.length, 0.998);
  const out = new Float32Array(data.length);
  const span = Math.max(1, hi - lo);
  for (let i = 0; i < data.length; i++) {
    const v = (data[i] - lo) / span;
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return out;
}

function percentileFromHist(hist: Uint32Array, n: number, q: number): number {
  const target = q * (n - 1);
  let acc = 0;
  for (let v = 0; v < hist.length; v++) {
    acc += hist[v];
    if (acc > target) return v;
  }
  return hist.length - 1;
}

/**
 * Approximate Gaussian blur by three box blurs per axis (Wells 1986), O(1) per pixel, edges
 * clamped. In place on `a` (a copy is used as scratch).
 */
export function gaussianBlur(a: Float32Array, width: number, height: number, sigma: number): Float32Array {
  if (sigma <= 0) return a;
  // Box widths whose three-fold convolution has variance sigma².
  const wIdeal = Math.sqrt((12 * sigma * sigma) / 3 + 1);
  let wl = Math.floor(wIdeal);
  if (wl % 2 === 0) wl--;
  const wu = wl + 2;
  const m = Math.round((12 * sigma * sigma - 3 * wl * wl - 12 * wl - 9) / (-4 * wl - 4));
  const radii = [0, 1, 2].map((i) => ((i < m ? wl : wu) - 1) / 2);
  const tmp = new Float32Array(a.length);
  for (const r of radii) {
    boxH(a, tmp, width, height, r);
    boxV(tmp, a, width, height, r);
  }
  return a;
}

function boxH(src: Float32Array, dst: Float32Array, w: number, h: number, r: number): void {
  const norm = 1 / (2 * r + 1);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let acc = 0;
    for (let k = -r; k <= r; k++) acc += src[row + Math.min(w - 1, Math.max(0, k))];
    for (let x = 0; x < w; x++) {
      dst[row + x] = acc * norm;
      acc += src[row + Math.min(w - 1, x + r + 1)] - src[row + Math.max(0, x - r)];
    }
  }
}

function boxV(src: Float32Array, dst: Float32Array, w: number, h: number, r: number): void {
  const norm = 1 / (2 * r + 1);
  const acc = new Float64Array(w);
  for (let k = -r; k <= r; k++) {
    const row = Math.min(h - 1, Math.max(0, k)) * w;
    for (let x = 0; x < w; x++) acc[x] += src[row + x];
  }
  for (let y = 0; y < h; y++) {
    const out = y * w, add = Math.min(h - 1, y + r + 1) * w, sub = Math.max(0, y - r) * w;
    for (let x = 0; x < w; x++) {
      dst[out + x] = acc[x] * norm;
      acc[x] += src[add + x] - src[sub + x];
    }
  }
}

/** Otsu threshold of values in [0, 1] on 256 bins (bin centre maximising between-class variance). */
export function otsu01(a: Float32Array): number {
  const hist = new Float64Array(256);
  for (let i = 0; i < a.length; i++) hist[Math.min(255, Math.max(0, Math.floor(a[i] * 256)))]++;
  let total = 0, sumAll = 0;
  for (let b = 0; b < 256; b++) {
    total += hist[b];
    sumAll += hist[b] * (b + 0.5);
  }
  let w0 = 0, sum0 = 0, best = 0, bestB = 127;
  for (let b = 0; b < 255; b++) {
    w0 += hist[b];
    sum0 += hist[b] * (b + 0.5);
    const w1 = total - w0;
    if (w0 === 0 || w1 === 0) continue;
    const m0 = sum0 / w0, m1 = (sumAll - sum0) / w1;
    const v = w0 * w1 * (m0 - m1) * (m0 - m1);
    if (v > best) {
      best = v;
      bestB = b;
    }
  }
  return (bestB + 1) / 256;
}

/** Chamfer (3-4) distance to the nearest nonzero pixel of `seed`, in pixels. */
export function distanceTo(seed: Uint8Array, width: number, height: number): Float32Array {
  const INF = 1e9;
  const d = new Float32Array(width * height);
  for (let i = 0; i < d.length; i++) d[i] = seed[i] ? 0 : INF;
  const a = 1, b = Math.SQRT2;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      let v = d[i];
      if (x > 0) v = Math.min(v, d[i - 1] + a);
      if (y > 0) {
        v = Math.min(v, d[i - width] + a);
        if (x > 0) v = Math.min(v, d[i - width - 1] + b);
        if (x < width - 1) v = Math.min(v, d[i - width + 1] + b);
      }
      d[i] = v;
    }
  }
  for (let y = height - 1; y >= 0; y--) {
    for (let x = width - 1; x >= 0; x--) {
      const i = y * width + x;
      let v = d[i];
      if (x < width - 1) v = Math.min(v, d[i + 1] + a);
      if (y < height - 1) {
        v = Math.min(v, d[i + width] + a);
        if (x < width - 1) v = Math.min(v, d[i + width + 1] + b);
        if (x > 0) v = Math.min(v, d[i + width - 1] + b);
      }
      d[i] = v;
    }
  }
  return d;
}

// exp in a fixed sequence of double operations, so that the native kernel (model_free.cc) gives
// the same bits (Math.exp and the C library's exp may differ in the last bit): x = (64k + j) ln2/64
// + r with |r| <= ln2/128, e^x = 2^k * 2^(j/64) * (Taylor series of e^r to r^6). The 64 table
// entries are themselves Taylor series (to t^13 for t = j ln2/64 < ln2, relative error < 1e-13).
const EXP_TABLE = Array.from({ length: 64 }, (_, j) => {
  const t = (j * Math.LN2) / 64;
  let p = 1 / 6227020800; // 1/13!
  for (let n = 12; n >= 0; n--) {
    let f = 1;
    for (let k = 2; k <= n; k++) f *= k;
    p = p * t + 1 / f;
  }
  return p;
});
const pow2Bits = new DataView(new ArrayBuffer(8));

/** 2^k for an integer k in [-1022, 1023], built from its bits. */
function pow2(k: number): number {
  pow2Bits.setUint32(0, (k + 1023) * 2 ** 20);
  pow2Bits.setUint32(4, 0);
  return pow2Bits.getFloat64(0);
}

/** e^x, the same bits as model_free.cc's ExpFixed (relative error below 2e-13 for |x| <= 709). */
export function expFixed(x: number): number {
  if (x > 709) return Infinity;
  if (x < -708) return 0;
  const m = Math.floor(x * (64 * Math.LOG2E) + 0.5);
  const r = x - m * (Math.LN2 / 64);
  const j = m - 64 * Math.floor(m / 64);
  const p = (((((r / 720 + 1 / 120) * r + 1 / 24) * r + 1 / 6) * r + 0.5) * r + 1) * r + 1;
  return EXP_TABLE[j] * p * pow2((m - j) / 64);
}

const sigmoid = (x: number): number => 1 / (1 + expFixed(-x));

/**
 * Builds nuclei and cell prediction maps (H×W×3 interleaved uint8) from the raw stains.
 *
 * @example
 * ```ts
 * const img = await readImageSet('data/test', id);
 * const { nucleiPred, cellPred } = modelFreeMaps(img);
 * const { cells, nuclei } = await labelCell(nucleiPred, cellPred, { width: img.width, height: img.height });
 * ```
 */
export function modelFreeMaps(img: ModelFreeChannels, options: ModelFreeOptions = {}): { nucleiPred: Uint8Array; cellPred: Uint8Array } {
  const { width: W, height: H, bitDepth } = img;
  const o = resolveOptions(W, options);
  const s = o.lengthScale;
  const n = W * H;
  const blueRaw = normalizeStain(img.channels.blue, bitDepth);
  const blue = gaussianBlur(blueRaw.slice(), W, H, o.nucleusSigma * s);
  const tb = otsu01(blue);
  const nucleiPred = new Uint8Array(n * 3);
  const nucMask = new Uint8Array(n);
  // Soft threshold: interior probability 0.5 at the Otsu level, steep enough that the official
  // 0.4 threshold lands just below it.
  const kb = 12 / Math.max(0.05, tb);
  for (let i = 0; i < n; i++) {
    const p = sigmoid((blue[i] - tb) * kb);
    nucleiPred[i * 3 + 2] = Math.round(p * 255);
    nucMask[i] = p > 0.5 ? 1 : 0;
  }
  const red = normalizeStain(img.channels.red, bitDepth), yellow = normalizeStain(img.channels.yellow, bitDepth);
  const cyto = new Float32Array(n);
  for (let i = 0; i < n; i++) cyto[i] = Math.max(red[i], yellow[i], 0.5 * blueRaw[i]);
  gaussianBlur(cyto, W, H, o.cellSigma * s);
  const tc = otsu01(cyto);
  const dist = distanceTo(nucMask, W, H);
  const decay = o.decay * s;
  const kc = 10 / Math.max(0.05, tc);
  const wi = o.intensityWeight;
  // Intensity relative to the bright end of the cells, so neighbouring cells of different
  // brightness meet at their brightness edge when the watershed floods from the nuclei.
  let hi = 0;
  {
    const hist = new Uint32Array(1024);
    let count = 0;
    for (let i = 0; i < n; i++) if (cyto[i] > tc) { hist[Math.min(1023, Math.floor(cyto[i] * 1024))]++; count++; }
    let acc = 0;
    for (let b = 0; b < 1024; b++) { acc += hist[b]; if (acc >= 0.98 * count) { hi = (b + 1) / 1024; break; } }
    if (hi <= 0) hi = 1;
  }
  const cellPred = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const fg = sigmoid((cyto[i] - tc * 0.7) * kc);
    // 1 at the nucleus, 0.5 at `decay` px: without intensity cues the watershed meets half way.
    const near = 1 / (1 + dist[i] / decay);
    const inten = Math.min(1, cyto[i] / hi);
    const level = 0.35 + 0.65 * ((1 - wi) * near + wi * inten * (0.5 + 0.5 * near));
    cellPred[i * 3 + 2] = Math.round(255 * fg * level);
  }
  return { nucleiPred, cellPred };
}

/** The options of {@link modelFreeMaps} with their defaults, checked (errors name options.<key>). */
function resolveOptions(W: number, options: ModelFreeOptions) {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  return {
    lengthScale: checkNumber('options.lengthScale', options.lengthScale ?? W / 2048, 1e-6, 1e6),
    nucleusSigma: checkNumber('options.nucleusSigma', options.nucleusSigma ?? 3, 0, 1e6),
    cellSigma: checkNumber('options.cellSigma', options.cellSigma ?? 8, 0, 1e6),
    decay: checkNumber('options.decay', options.decay ?? 220, 1e-9, 1e9),
    intensityWeight: checkNumber('options.intensityWeight', options.intensityWeight ?? 0, 0, 1),
  };
}

/** Options of {@link modelFreeMapsAsync}: the maps' own, and where they are computed. */
export interface ModelFreeRunOptions extends ModelFreeOptions {
  /** 'auto' (default): the native kernel when the addon loads, else the twin. */
  backend?: Backend;
  /** CPU threads of the native kernel, 0 (default) = all. The bytes do not depend on it. */
  threads?: number;
}

/**
 * {@link modelFreeMaps} on the native addon's threads: the same bytes, 2.4× faster on one thread
 * (docs/kernels/model-free.md), and off the calling thread. Without the addon (or with
 * `backend: 'js'`) it runs the TypeScript twin.
 *
 * @example
 * ```ts
 * const img = await readImageSet('data/test', id);
 * const { nucleiPred, cellPred } = await modelFreeMapsAsync(img, { threads: 4 });
 * ```
 */
export async function modelFreeMapsAsync(img: ModelFreeChannels, options: ModelFreeRunOptions = {}): Promise<{ nucleiPred: Uint8Array; cellPred: Uint8Array }> {
  if (img === null || typeof img !== 'object') throw typeError('img', 'an image set { width, height, bitDepth, channels }', img);
  const W = checkInt('img.width', img.width, 1, 65536), H = checkInt('img.height', img.height, 1, 65536);
  if (img.bitDepth !== 8 && img.bitDepth !== 16) throw rangeError('img.bitDepth', '8 or 16', img.bitDepth);
  const o = resolveOptions(W, options);
  const threads = options.threads === undefined ? 0 : checkInt('options.threads', options.threads, 0, 256);
  const native = resolveBackend(options.backend);
  if (native === null) return modelFreeMaps(img, options);
  const ctor = img.bitDepth === 16 ? Uint16Array : Uint8Array;
  const [red, blue, yellow] = (['red', 'blue', 'yellow'] as const).map((c) =>
    checkArray<Uint8Array | Uint16Array>(`img.channels.${c}`, img.channels?.[c], [ctor], W * H, 'width*height'));
  const nucleiPred = new Uint8Array(3 * W * H), cellPred = new Uint8Array(3 * W * H);
  const stack = new Error();
  try {
    await native.modelFreeMaps(red, blue, yellow, nucleiPred, cellPred, { width: W, height: H, bitDepth: img.bitDepth, ...o, threads });
  } catch (err) {
    throw nativeError(err, stack);
  }
  return { nucleiPred, cellPred };
}
