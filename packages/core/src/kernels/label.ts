/**
 * Connected-component labelling (scipy.ndimage.label / skimage.measure.label semantics): native
 * dispatch (CPU or CUDA) plus the TypeScript twin, all with the same raster-order labels.
 */
import { rangeError, typeError } from '../errors.js';
import { checkDevice, pickDevice, resolveBackend, runWithCpuFallback, type Backend, type CudaTimings, type Device } from '../native.js';
import { checkArray, checkConnectivity, checkInt, checkSize } from '../util/validate.js';

export type LabelInput = Uint8Array | Uint16Array | Int32Array;

export interface LabelOptions {
  width: number;
  height: number;
  /** 4 (edge neighbours) or 8 (edges and corners); default 4. */
  connectivity?: 4 | 8;
  /**
   * 'binary' (default): every nonzero pixel is foreground (scipy.ndimage.label).
   * 'label': neighbours join only when their values are equal and nonzero
   * (skimage.measure.label(x, background=0)).
   */
  mode?: 'binary' | 'label';
  /** Native worker threads; 0 or undefined = all hardware threads. Output never depends on it. */
  threads?: number;
  /** 'cpu' (default: measured faster than CUDA with the copies, docs/kernels/label.md), 'auto' (CUDA when a device is usable, else CPU) or 'cuda'. Output never depends on it. */
  device?: Device;
  backend?: Backend;
  /** Receives the labels (Int32Array of width*height); allocated when absent. May be `input` itself. */
  out?: Int32Array;
}

export interface LabelResult {
  /** Row-major labels 0..count; label k's first pixel precedes label k+1's in raster order. */
  labels: Int32Array;
  count: number;
  /** Pixels per label, length count+1; sizes[0] counts the background. */
  sizes: Int32Array;
  /** Where the labelling ran. */
  device: 'cpu' | 'cuda' | 'js';
  /** Why CUDA was not used when options.device was 'auto'. */
  deviceNote?: string;
  /** Where the time went, when it ran on CUDA. */
  timings?: CudaTimings;
}

/** Options of the TypeScript twin (already validated). */
export interface LabelJsOptions {
  width: number;
  height: number;
  connectivity: 4 | 8;
  mode: 'binary' | 'label';
}

const INPUT_CTORS = [Uint8Array, Uint16Array, Int32Array] as const;

/**
 * Labels the connected components of a binary mask or of a label image.
 *
 * Labels are 1..count in raster order of each component's first pixel, exactly as
 * `scipy.ndimage.label` (binary) and `skimage.measure.label` (label mode) number them. The native
 * addon (CPU or CUDA) and the TypeScript twin give identical output, whatever the thread count.
 *
 * @example
 * ```ts
 * const mask = new Uint8Array([1, 0, 1,
 *                              0, 1, 0]);
 * const { labels, count, sizes } = await label(mask, { width: 3, height: 2, connectivity: 8 });
 * // count === 1 (diagonals join with 8-connectivity), sizes = [3, 3]
 * const four = await label(mask, { width: 3, height: 2 });
 * // four.count === 3, four.labels = [1, 0, 2, 0, 3, 0]
 * const gpu = await label(mask, { width: 3, height: 2, device: 'cuda' }); // CELLCAM_E_CUDA without a GPU
 * ```
 */
export async function label(input: LabelInput, options: LabelOptions): Promise<LabelResult> {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  const { width, height } = checkSize(options.width, options.height);
  const n = width * height;
  checkArray<LabelInput>('input', input, INPUT_CTORS, n, 'width*height');
  const connectivity = checkConnectivity('options.connectivity', options.connectivity, 4);
  const mode = options.mode ?? 'binary';
  if (mode !== 'binary' && mode !== 'label') throw rangeError('options.mode', "'binary' or 'label'", mode, 'CELLCAM_E_ARG');
  const threads = options.threads === undefined ? 0 : checkInt('options.threads', options.threads, 0, 1024);
  const out = options.out === undefined ? new Int32Array(n) : checkArray<Int32Array>('options.out', options.out, [Int32Array], n, 'width*height');
  // 'cpu' by default: on an H200 host CUDA was slower once the copies count (docs/kernels/label.md).
  const device = checkDevice(options.device ?? 'cpu');
  const native = resolveBackend(options.backend);
  const { run, note } = pickDevice(device, native !== null, options.backend);
  if (run === 'js') return withNote({ labels: out, ...labelJs(input, out, { width, height, connectivity, mode }), device: run }, note);
  const stack = new Error();
  // 'auto' never fails because of the GPU: the CPU gives the same labels. The CUDA path writes
  // `out` only with its last copy, so an aliased input is still intact when it fails.
  const call = (d: 'cpu' | 'cuda') => native!.label(input, out, { width, height, connectivity, mode, threads, device: d });
  const { result: r, ran, fallback } = await runWithCpuFallback(device, run, call, stack);
  return withNote({ labels: out, count: r.count, sizes: r.sizes, device: ran, ...(r.timings ? { timings: r.timings } : {}) }, fallback ?? note);
}

function withNote(r: LabelResult, note: string | undefined): LabelResult {
  if (note !== undefined) r.deviceNote = note;
  return r;
}


/** Growable Int32 buffer: run lists are unbounded (up to width*height/2 runs). */
class IntList {
  data: Int32Array;
  length = 0;
  constructor(capacity: number) {
    this.data = new Int32Array(Math.max(16, capacity));
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

function find(parent: Int32Array, r: number): number {
  while (parent[r] !== r) {
    parent[r] = parent[parent[r]];
    r = parent[r];
  }
  return r;
}

/**
 * TypeScript twin of the native kernel (no argument checks: `label` validates). Fills `out` and
 * returns the component count and sizes. `out` may alias `input`: all input is read first.
 */
export function labelJs(input: LabelInput, out: Int32Array, opts: LabelJsOptions): { count: number; sizes: Int32Array } {
  const { width, height } = opts;
  const labelMode = opts.mode === 'label';
  const d = opts.connectivity === 8 ? 1 : 0;
  // Runs: [x0, x1) and value (label mode), in raster order; rowStart[y]..rowStart[y+1] per row.
  const x0s = new IntList(height * 2), x1s = new IntList(height * 2), vs = new IntList(labelMode ? height * 2 : 0);
  const rowStart = new Int32Array(height + 1);
  for (let y = 0; y < height; y++) {
    const base = y * width;
    let x = 0;
    while (x < width) {
      while (x < width && input[base + x] === 0) x++;
      if (x >= width) break;
      const start = x;
      const v = input[base + x];
      if (labelMode) while (x < width && input[base + x] === v) x++;
      else while (x < width && input[base + x] !== 0) x++;
      x0s.push(start);
      x1s.push(x);
      if (labelMode) vs.push(v);
    }
    rowStart[y + 1] = x0s.length;
  }
  const total = x0s.length;
  const X0 = x0s.data, X1 = x1s.data, V = vs.data;
  // Union by smaller index keeps parent[r] <= r and makes each root its component's first run.
  const parent = new Int32Array(total);
  for (let r = 0; r < total; r++) parent[r] = r;
  for (let y = 1; y < height; y++) {
    const pa = rowStart[y - 1], pe = rowStart[y], ce = rowStart[y + 1];
    let i = pa;
    for (let b = pe; b < ce; b++) {
      const bx0 = X0[b], bx1 = X1[b];
      while (i < pe && X1[i] + d <= bx0) i++;
      for (let j = i; j < pe && X0[j] < bx1 + d; j++) {
        if (labelMode && V[j] !== V[b]) continue;
        const ra = find(parent, j), rb = find(parent, b);
        if (ra < rb) parent[rb] = ra;
        else if (rb < ra) parent[ra] = rb;
      }
    }
  }
  // Raster-order relabel in place: parent[r] < r already holds a final label when r is reached.
  const sizeList = new IntList(64);
  sizeList.push(0);
  let count = 0, fg = 0;
  for (let r = 0; r < total; r++) {
    const p = parent[r];
    let lab: number;
    if (p === r) {
      lab = ++count;
      sizeList.push(0);
    } else {
      lab = parent[p];
    }
    parent[r] = lab;
    const len = X1[r] - X0[r];
    sizeList.data[lab] += len;
    fg += len;
  }
  const sizes = sizeList.data.slice(0, count + 1);
  sizes[0] = width * height - fg;
  for (let y = 0; y < height; y++) {
    const base = y * width;
    let x = 0;
    for (let k = rowStart[y]; k < rowStart[y + 1]; k++) {
      out.fill(0, base + x, base + X0[k]);
      out.fill(parent[k], base + X0[k], base + X1[k]);
      x = X1[k];
    }
    out.fill(0, base + x, base + width);
  }
  return { count, sizes };
}
