/**
 * COCO RLE (pycocotools maskApi rleEncode / rleToString / rleFrString) of cell masks: native
 * dispatch (CPU or CUDA) for whole label images, the TypeScript twin, and the counts/string helpers.
 */
import { CellcamError, rangeError, typeError } from '../errors.js';
import { checkDevice, pickDevice, resolveBackend, runWithCpuFallback, type Backend, type CudaTimings, type Device } from '../native.js';
import { checkArray, checkInt, checkSize } from '../util/validate.js';

/** Most cells one call encodes (the result holds one string per id 1..cells). */
export const MAX_RLE_CELLS = 2 ** 24;

export interface CellRleOptions {
  width: number;
  height: number;
  /** Encode ids 1..cells (absent ids get the empty-mask string); default: the largest id present. */
  cells?: number;
  /** Native worker threads; 0 or undefined = all hardware threads. Output never depends on it. */
  threads?: number;
  /** 'cpu' (default: one image at a time CUDA is no faster with the copies, docs/kernels/rle.md), 'auto' (CUDA when a device is usable, else CPU) or 'cuda'. Output never depends on it. */
  device?: Device;
  backend?: Backend;
}

/**
 * The strings of {@link cellRle}: a plain array (index `i` is cell `i + 1`) that also says where it
 * was computed, in non-enumerable properties (so equality checks and JSON see only the strings).
 */
export type CellRleStrings = string[] & {
  readonly device: 'cpu' | 'cuda' | 'js';
  /** Why CUDA was not used when options.device was 'auto'. */
  readonly deviceNote?: string;
  /** Where the time went, when it ran on CUDA (non-enumerable). */
  readonly timings?: CudaTimings;
};

/**
 * COCO RLE counts strings of every cell mask (`labels == id`) of a row-major label image, as
 * pycocotools writes them (column-major runs, first run of zeros, `rleToString` encoding).
 * Ids above `cells` or below 0 are rejected (RangeError, CELLCAM_E_RANGE, naming `labels`).
 *
 * Strings are identical from the TypeScript twin, the native CPU kernel and CUDA.
 *
 * @returns `[i]` is the string of cell `i + 1`; `.device` (and `.deviceNote`) say where it ran.
 * @example
 * ```ts
 * const labels = new Uint16Array([0, 1,
 *                                 2, 1]); // 2×2, row-major
 * const [one, two] = await cellRle(labels, { width: 2, height: 2 });
 * // one: column-major 0,0,1,1 -> counts [2, 2] -> '22'; two: [1, 1, 2] -> '112'
 * rleFromString(one); // [2, 2]
 * const strings = await cellRle(labels, { width: 2, height: 2, device: 'auto' });
 * strings.device; // 'cuda' on a GPU, else 'cpu' with strings.deviceNote saying why
 * ```
 */
export async function cellRle(labels: Uint16Array | Int32Array, options: CellRleOptions): Promise<CellRleStrings> {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  const { width, height } = checkSize(options.width, options.height);
  checkArray<Uint16Array | Int32Array>('labels', labels, [Uint16Array, Int32Array], width * height, 'width*height');
  let cells: number;
  if (options.cells === undefined) {
    let max = 0;
    for (let i = 0; i < labels.length; i++) if (labels[i] > max) max = labels[i];
    if (max > MAX_RLE_CELLS) throw rangeError('labels', `ids in [0, ${MAX_RLE_CELLS}]`, max);
    cells = max;
  } else {
    cells = checkInt('options.cells', options.cells, 0, MAX_RLE_CELLS);
  }
  const threads = options.threads === undefined ? 0 : checkInt('options.threads', options.threads, 0, 1024);
  // 'cpu' by default: one image at a time, CUDA was no faster on an H200 host (docs/kernels/rle.md).
  const device = checkDevice(options.device ?? 'cpu');
  const native = resolveBackend(options.backend);
  const { run, note } = pickDevice(device, native !== null, options.backend);
  if (run === 'js') return tagged(cellRleJs(labels, width, height, cells), run, note);
  const stack = new Error();
  // 'auto' never fails because of the GPU: the CPU gives the same strings.
  const call = (d: 'cpu' | 'cuda') => native!.rle(labels, { width, height, cells, threads, device: d });
  const { result, ran, fallback } = await runWithCpuFallback(device, run, call, stack);
  return tagged(result, ran, fallback ?? note);
}

function tagged(strings: string[], device: CellRleStrings['device'], note: string | undefined): CellRleStrings {
  // The native array may carry `timings` (non-enumerable, so copies of the strings drop it).
  Object.defineProperty(strings, 'device', { value: device, enumerable: false });
  if (note !== undefined) Object.defineProperty(strings, 'deviceNote', { value: note, enumerable: false });
  return strings as CellRleStrings;
}


/**
 * TypeScript twin of the native kernel (arguments as validated by `cellRle`). Throws the same
 * RangeError as the addon for ids outside [0, cells], naming the first in column-major order.
 */
export function cellRleJs(labels: Uint16Array | Int32Array, width: number, height: number, cells: number): string[] {
  const n = width * height;
  // Column runs (x, id, y0, y1), emitted row by row in order of their end row.
  let cap = Math.max(64, width * 4);
  let rx = new Int32Array(cap), rv = new Int32Array(cap), ry0 = new Int32Array(cap), ry1 = new Int32Array(cap);
  let m = 0;
  let badJ = -1, badV = 0;
  const emit = (x: number, v: number, y0: number, y1: number): void => {
    if (v === 0) return;
    if (v < 0 || v > cells) {
      const j = x * height + y0;
      if (badJ < 0 || j < badJ) { badJ = j; badV = v; }
      return;
    }
    if (m === cap) {
      cap *= 2;
      const grow = (a: Int32Array): Int32Array<ArrayBuffer> => { const b = new Int32Array(cap); b.set(a); return b; };
      rx = grow(rx); rv = grow(rv); ry0 = grow(ry0); ry1 = grow(ry1);
    }
    rx[m] = x; rv[m] = v; ry0[m] = y0; ry1[m] = y1; m++;
  };
  const cur = labels.slice(0, width);
  const start = new Int32Array(width);
  for (let y = 1; y < height; y++) {
    const base = y * width;
    for (let x = 0; x < width; x++) {
      const v = labels[base + x];
      if (v !== cur[x]) {
        emit(x, cur[x], start[x], y);
        cur[x] = v;
        start[x] = y;
      }
    }
  }
  for (let x = 0; x < width; x++) emit(x, cur[x], start[x], height);
  if (badJ >= 0) {
    const x = Math.floor(badJ / height), y = badJ % height;
    const err = rangeError('labels', `ids in [0, ${cells}]`, badV);
    err.message += ` at (x=${x}, y=${y})`;
    throw err;
  }
  // Two stable counting sorts (by column, then by cell) give each cell's runs in column-major order.
  const byCol = new Int32Array(width + 1);
  for (let k = 0; k < m; k++) byCol[rx[k] + 1]++;
  for (let x = 0; x < width; x++) byCol[x + 1] += byCol[x];
  const colOrder = new Int32Array(m);
  for (let k = 0; k < m; k++) colOrder[byCol[rx[k]]++] = k;
  const first = new Int32Array(cells + 2);
  for (let k = 0; k < m; k++) first[rv[k] + 1]++;
  for (let c = 0; c <= cells; c++) first[c + 1] += first[c];
  const fill = first.slice(0, cells + 1);
  const pos = new Int32Array(m), len = new Int32Array(m);
  for (let q = 0; q < m; q++) {
    const k = colOrder[q];
    const at = fill[rv[k]]++;
    pos[at] = rx[k] * height + ry0[k];
    len[at] = ry1[k] - ry0[k];
  }
  const empty = rleToStringUnchecked([n]);
  const out = new Array<string>(cells);
  const counts: number[] = [];
  for (let id = 1; id <= cells; id++) {
    const k0 = first[id], k1 = first[id + 1];
    if (k0 === k1) {
      out[id - 1] = empty;
      continue;
    }
    counts.length = 0;
    let lastEnd = 0, a = pos[k0], e = pos[k0] + len[k0];
    for (let k = k0 + 1; k < k1; k++) {
      // A run ending at row H-1 continues into the next column when that starts at row 0.
      if (pos[k] === e) {
        e += len[k];
        continue;
      }
      counts.push(a - lastEnd, e - a);
      lastEnd = e;
      a = pos[k];
      e = a + len[k];
    }
    counts.push(a - lastEnd, e - a);
    if (e < n) counts.push(n - e);
    out[id - 1] = rleToStringUnchecked(counts);
  }
  return out;
}

/**
 * COCO counts of a binary row-major mask (nonzero / true = inside): column-major runs starting
 * with a run of zeros (0 when the first pixel is set); the last count is the final run.
 *
 * @example
 * ```ts
 * rleCounts([0, 1, 0, 1], 2, 2); // column-major 0,0,1,1 -> [2, 2]
 * rleCounts(new Uint8Array(4), 2, 2); // [4]
 * ```
 */
export function rleCounts(mask: ArrayLike<number | boolean>, width: number, height: number): number[] {
  const { width: w, height: h } = checkSize(width, height, 'rleCounts');
  if (mask === null || typeof mask !== 'object' || typeof (mask as { length?: unknown }).length !== 'number') {
    throw typeError('mask', 'an array-like of numbers', mask);
  }
  if (mask.length !== w * h) throw rangeError('mask', `an array-like of length width*height = ${w * h}`, mask, 'CELLCAM_E_SHAPE');
  const counts: number[] = [];
  let p = false, c = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = !!mask[y * w + x];
      if (v !== p) {
        counts.push(c);
        c = 0;
        p = v;
      }
      c++;
    }
  }
  counts.push(c);
  return counts;
}

function rleToStringUnchecked(counts: ArrayLike<number>): string {
  const chars: number[] = [];
  let out = '';
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i];
    if (i > 2) x -= counts[i - 2];
    // Floor division and a positive modulus are the arithmetic shift / mask for any safe integer.
    for (;;) {
      let c = x - Math.floor(x / 32) * 32;
      x = Math.floor(x / 32);
      const more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      chars.push(c + 48);
      if (!more) break;
    }
    if (chars.length > 4096) {
      out += String.fromCharCode(...chars);
      chars.length = 0;
    }
  }
  return out + String.fromCharCode(...chars);
}

/**
 * pycocotools `rleToString`: counts to the compact ASCII form ('0'..'o', 6 bits per char, deltas
 * against the count two back from index 3 on).
 *
 * @example
 * ```ts
 * rleToString([4194304]); // 'PPPP4' (an empty 2048² mask)
 * ```
 */
export function rleToString(counts: ArrayLike<number>): string {
  if (counts === null || typeof counts !== 'object' || typeof (counts as { length?: unknown }).length !== 'number') {
    throw typeError('counts', 'an array-like of counts', counts);
  }
  for (let i = 0; i < counts.length; i++) {
    const v = counts[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw rangeError(`counts[${i}]`, 'an integer in [0, 2^32-1]', v);
    }
  }
  return rleToStringUnchecked(counts);
}

/**
 * pycocotools `rleFrString`: the compact string back to counts. Throws CellcamError
 * CELLCAM_E_FORMAT on characters outside '0'..'o', a truncated final count, or a count that is
 * negative or above 2^32-1.
 *
 * @example
 * ```ts
 * rleFromString('PPPP4'); // [4194304]
 * ```
 */
export function rleFromString(s: string): number[] {
  if (typeof s !== 'string') throw typeError('s', 'a string', s);
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0, scale = 1, more = true;
    while (more) {
      if (p >= s.length) throw new CellcamError('CELLCAM_E_FORMAT', `Truncated COCO RLE string: count ${counts.length} is cut off at character ${p}`);
      const code = s.charCodeAt(p);
      if (code < 48 || code > 111) {
        throw new CellcamError('CELLCAM_E_FORMAT', `Invalid character '${s[p]}' at ${p} in a COCO RLE string (expected '0'..'o')`);
      }
      const c = code - 48;
      x += (c & 0x1f) * scale;
      more = (c & 0x20) !== 0;
      p++;
      scale *= 32;
      if (!more && c & 0x10) x -= scale; // sign extension
      if (more && scale > 2 ** 45) throw new CellcamError('CELLCAM_E_FORMAT', `COCO RLE count ${counts.length} is too long at character ${p}`);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    if (x < 0 || x > 0xffffffff) throw new CellcamError('CELLCAM_E_FORMAT', `COCO RLE count ${counts.length} decodes to ${x}, outside [0, 2^32-1]`);
    counts.push(x);
  }
  return counts;
}

/**
 * Foreground area of a COCO counts list: the sum of its odd-indexed counts.
 *
 * @example
 * ```ts
 * rleArea([2, 3, 1, 4]); // 7
 * ```
 */
export function rleArea(counts: ArrayLike<number>): number {
  let a = 0;
  for (let i = 1; i < counts.length; i += 2) a += counts[i];
  return a;
}
