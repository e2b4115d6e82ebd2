/**
 * Seeded watershed with scikit-image 0.19 semantics: validation, native dispatch and the TypeScript
 * twin (FIFO bucket queue and exact skimage heap, same pop order as packages/native/src/watershed.cc).
 */
import { rangeError, typeError } from '../errors.js';
import { checkDevice, pickDevice, resolveBackend, runWithCpuFallback, type Backend, type CudaTimings, type Device } from '../native.js';
import { checkArray, checkBool, checkConnectivity, checkInt, checkSize, overlaps } from '../util/validate.js';

export type WatershedElevation = Uint8Array | Uint16Array | Float32Array;

export interface WatershedOptions {
  width: number;
  height: number;
  /** Nonzero = inside. Pixels outside get label 0 and block the flood. Default: all inside. */
  mask?: Uint8Array | null;
  /** 4 (default, skimage connectivity=1) or 8 (connectivity=2). */
  connectivity?: 4 | 8;
  /** Keep a one-pixel line of label 0 between regions (skimage watershed_line). Default false. */
  watershedLine?: boolean;
  /**
   * How seeds of equal elevation are ordered (the only freedom in skimage's algorithm):
   * 'fifo' (default, fast) in raster order; 'heap' exactly as skimage 0.19's binary heap.
   * Both equal skimage whenever no two marker pixels share an elevation value.
   */
  tieBreak?: 'fifo' | 'heap';
  backend?: Backend;
  /**
   * 'cpu' (default), 'cuda' or 'auto'. The CUDA flood (docs/kernels/watershed.md) takes
   * `tieBreak: 'fifo'` and Uint8/Uint16 elevation; its labels equal the CPU's. 'auto' runs on the
   * CPU, where one flood alone is faster (see {@link watershedRun}), and says so in `deviceNote`;
   * the CUDA flood pays inside labelCell's device chain. Where it ran is on the result's `device`.
   */
  device?: Device;
  /** Accepted for uniformity with the other kernels and ignored: flooding is sequential. */
  threads?: number;
  /** Receives the labels (length width*height); allocated when omitted. May be `markers` itself. */
  out?: Int32Array;
}

/**
 * The labels, tagged (non-enumerable) with where the flood ran: `device`, and `deviceNote` when
 * 'auto' or 'cuda' ended on the CPU, `timings` for a CUDA call.
 */
export type WatershedLabels = Int32Array & {
  readonly device?: 'cpu' | 'cuda' | 'js';
  readonly deviceNote?: string;
  readonly timings?: CudaTimings;
};

/** Options of the raw twin (everything resolved, nothing validated). */
export interface WatershedRawOptions {
  width: number;
  height: number;
  connectivity: 4 | 8;
  watershedLine: boolean;
  tieBreak: 'fifo' | 'heap';
}

/**
 * Floods `elevation` from `markers` (labels > 0, 0 = none) like
 * `skimage.segmentation.watershed(elevation, markers, connectivity, mask=mask, watershed_line)`
 * of scikit-image 0.19, bit-identical for `tieBreak: 'heap'`.
 *
 * Float32 elevation must be finite; markers must be >= 0. Runs on the native addon when it is
 * loaded (unless `backend: 'js'`), else on the TypeScript twin; both give identical labels.
 *
 * @example
 * ```ts
 * const width = 4, height = 1;
 * const elevation = new Uint8Array([0, 5, 5, 0]);
 * const markers = new Int32Array([1, 0, 0, 2]);
 * const labels = await watershed(elevation, markers, { width, height });
 * // Int32Array [1, 1, 2, 2]
 * const gpu = await watershed(elevation, markers, { width, height, device: 'cuda' });
 * // the same labels, flooded on the GPU (rejects with CELLCAM_E_CUDA and the reason without one)
 * ```
 */
export async function watershed(
  elevation: WatershedElevation,
  markers: Int32Array,
  options: WatershedOptions,
): Promise<WatershedLabels> {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  const { width, height } = checkSize(options.width, options.height);
  const n = width * height;
  checkArray('elevation', elevation, [Uint8Array, Uint16Array, Float32Array], n, 'width*height');
  checkArray('markers', markers, [Int32Array], n, 'width*height');
  const mask = options.mask ?? null;
  if (mask !== null) checkArray('options.mask', mask, [Uint8Array], n, 'width*height');
  const connectivity = checkConnectivity('options.connectivity', options.connectivity, 4);
  const watershedLine = checkBool('options.watershedLine', options.watershedLine, false);
  const tieBreak = options.tieBreak ?? 'fifo';
  if (tieBreak !== 'fifo' && tieBreak !== 'heap') throw rangeError('options.tieBreak', "'fifo' or 'heap'", tieBreak, 'CELLCAM_E_ARG');
  if (options.threads !== undefined) checkInt('options.threads', options.threads, 0, 256);
  const out = options.out ?? new Int32Array(n);
  if (options.out !== undefined) {
    checkArray('options.out', out, [Int32Array], n, 'width*height');
    // `out` is the flood state: it may be `markers` itself but must not overlap anything else.
    if (overlaps(out, elevation) || (mask !== null && overlaps(out, mask)) || (out !== markers && overlaps(out, markers))) {
      throw rangeError('options.out', 'memory not overlapping elevation, mask or (partially) markers', out, 'CELLCAM_E_ARG');
    }
  }
  const device = checkDevice(options.device ?? 'cpu');
  // Only the FIFO order is parallel; float elevation would make one level per distinct value.
  const cudaBlocker = tieBreak === 'heap' ? "tieBreak 'heap' has no CUDA version (its ties follow one sequential heap)"
    : elevation instanceof Float32Array ? 'Float32Array elevation has no CUDA version' : null;
  if (device === 'cuda' && tieBreak === 'heap') throw rangeError("options.tieBreak with options.device 'cuda'", "'fifo'", tieBreak, 'CELLCAM_E_ARG');
  if (device === 'cuda' && elevation instanceof Float32Array) {
    throw typeError("elevation with options.device 'cuda'", 'Uint8Array or Uint16Array', elevation);
  }
  const opts: WatershedRawOptions = { width, height, connectivity, watershedLine, tieBreak };
  const native = resolveBackend(options.backend);
  const { run, note } = watershedRun(device, pickDevice(device, native !== null, options.backend), cudaBlocker);
  if (run === 'js') {
    checkValues(elevation, markers);
    watershedJs(elevation, markers, mask, out, opts);
    return tag(out, 'js', note);
  }
  // Marker signs and float finiteness are checked by the native pass that reads them anyway,
  // with the same messages as checkValues().
  const stack = new Error();
  const call = (d: 'cpu' | 'cuda') => native!.watershed(elevation, markers, mask, out, { ...opts, device: d });
  // The CUDA path writes `out` only with its last copy, so markers aliased by `out` are still
  // intact for the CPU rerun.
  const { result: r, fallback } = await runWithCpuFallback(device, run, call, stack);
  const why = fallback ?? (r.deviceNote ? (note ? `${note}; ${r.deviceNote}` : r.deviceNote) : note);
  return tag(out, r.device, why, fallback ? undefined : r.timings);
}

/**
 * Where a watershed call runs, given where {@link pickDevice} would put it: 'auto' keeps the flood
 * on the CPU even with a usable GPU, because one flood alone was faster there in every case
 * measured (NVIDIA H100, 2048²: 119 ms on one CPU thread, 172 ms on CUDA; a 512² line flood
 * 11.6 ms against 2.4 s; 16 floods at once 10 ms per image on the CPU, 24–32 ms on CUDA).
 * `device: 'cuda'` still runs it on the GPU. Exported for tests.
 *
 * @example
 * ```ts
 * watershedRun('auto', { run: 'cuda' }, null); // { run: 'cpu', note: 'CUDA not used: …' }
 * ```
 */
export function watershedRun(
  device: Device, picked: { run: 'cpu' | 'cuda' | 'js'; note?: string }, cudaBlocker: string | null,
): { run: 'cpu' | 'cuda' | 'js'; note?: string } {
  if (picked.run !== 'cuda') return picked;
  if (cudaBlocker !== null) return { run: 'cpu', note: `CUDA not used: ${cudaBlocker}` };
  if (device === 'auto') return { run: 'cpu', note: AUTO_CPU_NOTE };
  return picked;
}

const AUTO_CPU_NOTE = "CUDA not used: one watershed alone floods faster on the CPU (docs/kernels/watershed.md); device 'cuda' runs it on the GPU";

function tag(out: Int32Array, device: 'cpu' | 'cuda' | 'js', note?: string, timings?: CudaTimings): WatershedLabels {
  // Configurable: the same `out` may be passed to later calls and tagged again.
  Object.defineProperty(out, 'device', { value: device, enumerable: false, configurable: true, writable: false });
  Object.defineProperty(out, 'deviceNote', { value: note, enumerable: false, configurable: true, writable: false });
  Object.defineProperty(out, 'timings', { value: timings, enumerable: false, configurable: true, writable: false });
  return out as WatershedLabels;
}

/**
 * Rejects non-finite float elevation, then negative markers, naming the first bad index (the
 * native kernel finds them in the same order, with the same messages).
 */
function checkValues(elevation: WatershedElevation, markers: Int32Array): void {
  if (elevation instanceof Float32Array) {
    for (let i = 0; i < elevation.length; i++) {
      if (!Number.isFinite(elevation[i])) throw rangeError(`elevation[${i}]`, 'a finite value', elevation[i]);
    }
  }
  for (let i = 0; i < markers.length; i++) {
    if (markers[i] < 0) throw rangeError(`markers[${i}]`, 'a value >= 0', markers[i]);
  }
}

// State kept in `out` while flooding (see the C++ twin): 0 = in mask, not reached; L > 0 labelled;
// -L = wsl/fifo queued with pending label L; MASKED = outside the mask or a watershed-line pixel.
const MASKED = -0x80000000;

/** Which levels are non-empty, as a tree of 32-bit words (next non-empty level in a few steps). */
class LevelBits {
  private readonly tiers: Uint32Array[] = [];
  constructor(private readonly levels: number) {
    let n = levels;
    do {
      n = Math.ceil(n / 32);
      this.tiers.push(new Uint32Array(n));
    } while (n > 1);
  }
  set(l: number): void {
    for (const t of this.tiers) {
      const w = l >>> 5;
      const was = t[w];
      t[w] = was | (1 << (l & 31));
      if (was !== 0) return;
      l = w;
    }
  }
  clear(l: number): void {
    for (const t of this.tiers) {
      const w = l >>> 5;
      const v = t[w] & ~(1 << (l & 31));
      t[w] = v;
      if (v !== 0) return;
      l = w;
    }
  }
  /** Smallest non-empty level >= from, or `levels`. */
  next(from: number): number {
    let pos = from;
    let k = 0;
    for (;; k++) {
      if (k === this.tiers.length) return this.levels;
      const t = this.tiers[k];
      const w = pos >>> 5;
      if (w >= t.length) return this.levels;
      const m = t[w] & (-1 << (pos & 31));
      if (m !== 0) {
        pos = (w << 5) + ctz(m);
        break;
      }
      pos = w + 1;
    }
    while (k > 0) {
      k--;
      pos = (pos << 5) + ctz(this.tiers[k][pos]);
    }
    return pos;
  }
}

function ctz(m: number): number {
  return 31 - Math.clz32(m & -m);
}

/**
 * Levels of the in-mask pixels of a float image: dense ranks (equal values, -0 and +0 included,
 * share one) by a stable LSD radix sort of order-preserving uint32 keys. Returns the level count.
 */
function rankFloat(f: Float32Array, mask: Uint8Array | null, rank: Int32Array): number {
  const n = f.length;
  let m = 0;
  for (let i = 0; i < n; i++) if (mask === null || mask[i] !== 0) m++;
  const bits = new Uint32Array(f.buffer, f.byteOffset, n);
  let key = new Uint32Array(m), key2 = new Uint32Array(m);
  let idx = new Int32Array(m), idx2 = new Int32Array(m);
  let j = 0;
  for (let i = 0; i < n; i++) {
    if (mask !== null && mask[i] === 0) continue;
    let u = bits[i];
    if (u === 0x80000000) u = 0;
    key[j] = u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
    idx[j++] = i;
  }
  const count = new Int32Array(257);
  for (let shift = 0; shift < 32; shift += 8) {
    count.fill(0);
    for (let k = 0; k < m; k++) count[((key[k] >>> shift) & 255) + 1]++;
    let trivial = false;
    for (let b = 1; b <= 256; b++) if (count[b] === m) trivial = true;
    if (trivial) continue;
    for (let b = 0; b < 256; b++) count[b + 1] += count[b];
    for (let k = 0; k < m; k++) {
      const d = count[(key[k] >>> shift) & 255]++;
      key2[d] = key[k];
      idx2[d] = idx[k];
    }
    [key, key2] = [key2, key];
    [idx, idx2] = [idx2, idx];
  }
  let r = -1;
  for (let k = 0; k < m; k++) {
    if (k === 0 || key[k] !== key[k - 1]) r++;
    rank[idx[k]] = r;
  }
  return r + 1;
}

type Levels = Uint8Array | Uint16Array | Int32Array;

/**
 * The raw TypeScript twin of the native kernel: no validation (the caller guarantees dtypes,
 * lengths, markers >= 0, finite floats). Writes the labels to `out` (which may be `markers`).
 */
export function watershedJs(
  elevation: WatershedElevation,
  markers: Int32Array,
  mask: Uint8Array | null,
  out: Int32Array,
  opts: WatershedRawOptions,
): void {
  const { width: W, height: H } = opts;
  const n = W * H;
  let lev: Levels;
  let levels: number;
  if (elevation instanceof Float32Array) {
    const rank = new Int32Array(n);
    levels = Math.max(1, rankFloat(elevation, mask, rank));
    lev = rank;
  } else {
    lev = elevation;
    levels = elevation instanceof Uint8Array ? 256 : 65536;
  }
  const heap = opts.tieBreak === 'heap';
  const S = out;
  const seeds: number[] = [];
  const hist = new Int32Array(levels);
  let inMask = 0;
  for (let i = 0; i < n; i++) {
    const v = markers[i]; // read before S[i] is written: `out` may be `markers`
    if (mask !== null && mask[i] === 0) {
      S[i] = MASKED;
      continue;
    }
    S[i] = v;
    if (v > 0) seeds.push(i);
    hist[lev[i]]++;
    inMask++;
  }
  const quirks: number[] = []; // (index, label) pairs: masked seeds keep their label (skimage)
  const g = new Grid(W, H, opts.connectivity === 8);
  if (heap) floodHeap(g, lev, S, levels, hist, inMask, seeds, opts.watershedLine, quirks);
  else floodFifo(g, lev, S, levels, hist, inMask, seeds, opts.watershedLine, quirks);
  for (let i = 0; i < n; i++) if (S[i] < 0) S[i] = 0;
  for (let k = 0; k < quirks.length; k += 2) S[quirks[k]] = quirks[k + 1];
}

/**
 * Neighbours in scikit-image's order (up, left, right, down, up-left, up-right, down-left,
 * down-right); those outside the image do not exist. fill(p) writes them to `nb`, returns the count.
 */
class Grid {
  readonly nb = new Int32Array(8);
  constructor(readonly W: number, readonly H: number, readonly eight: boolean) {}
  fill(p: number): number {
    const { W, H, nb } = this;
    const y = (p / W) | 0;
    const x = p - y * W;
    const up = y > 0, down = y < H - 1, left = x > 0, right = x < W - 1;
    let c = 0;
    if (up) nb[c++] = p - W;
    if (left) nb[c++] = p - 1;
    if (right) nb[c++] = p + 1;
    if (down) nb[c++] = p + W;
    if (this.eight) {
      if (up && left) nb[c++] = p - W - 1;
      if (up && right) nb[c++] = p - W + 1;
      if (down && left) nb[c++] = p + W - 1;
      if (down && right) nb[c++] = p + W + 1;
    }
    return c;
  }
}

/** skimage's _diff_neighbors test (the mask write is the caller's): two different nonzero labels. */
function diffNeighbours(S: Int32Array, nb: Int32Array, c: number): boolean {
  let l0 = 0;
  for (let k = 0; k < c; k++) {
    const v = S[nb[k]];
    if (v === MASKED) continue;
    const lv = v > 0 ? v : 0;
    if (l0 === 0) l0 = lv;
    else if (lv !== 0 && lv !== l0) return true;
  }
  return false;
}

/** FIFO bucket queue; each pixel is queued at most once, so levels get fixed slices of one array. */
function floodFifo(
  g: Grid, lev: Levels, S: Int32Array, levels: number, hist: Int32Array, inMask: number,
  seeds: number[], wsl: boolean, quirks: number[],
): void {
  const head = new Int32Array(levels), tail = new Int32Array(levels);
  let acc = 0;
  for (let l = 0; l < levels; l++) {
    head[l] = tail[l] = acc;
    acc += hist[l];
  }
  const q = new Int32Array(Math.max(1, inMask));
  const bits = new LevelBits(levels);
  const nb = g.nb;
  let cur = levels;
  const enqueue = (p: number): void => {
    const l = lev[p];
    if (head[l] === tail[l]) bits.set(l);
    q[tail[l]++] = p;
    if (l < cur) cur = l; // no clamping (0.19): a lower neighbour goes to its own level
  };
  for (const p of seeds) enqueue(p);
  while (cur < levels) {
    if (head[cur] === tail[cur]) {
      bits.clear(cur);
      cur = bits.next(cur + 1);
      continue;
    }
    const p = q[head[cur]++];
    const c = g.fill(p);
    let label: number;
    let mark: number;
    if (!wsl) {
      label = mark = S[p];
    } else {
      const v = S[p]; // seed: label > 0; otherwise pending: -label
      label = v > 0 ? v : -v;
      if (diffNeighbours(S, nb, c)) {
        if (v > 0) quirks.push(p, v);
        S[p] = MASKED;
        continue;
      }
      S[p] = label;
      mark = -label;
    }
    for (let k = 0; k < c; k++) {
      const nn = nb[k];
      if (S[nn] === 0) {
        S[nn] = mark;
        enqueue(nn);
      }
    }
  }
}

/**
 * scikit-image 0.19's binary heap (heap_general.pxi), items ordered by (level, age): same
 * comparisons in the same order as its swaps (a moving hole here), so equal keys pop in its order.
 */
class SkimageHeap {
  size = 0;
  private lev = new Int32Array(1024);
  private age = new Float64Array(1024);
  private idx = new Int32Array(1024);
  private lab = new Int32Array(1024);
  // the last popped item
  popLev = 0;
  popAge = 0;
  popIdx = 0;
  popLab = 0;

  private grow(): void {
    const cap = this.lev.length * 2;
    const lev = new Int32Array(cap); lev.set(this.lev); this.lev = lev;
    const age = new Float64Array(cap); age.set(this.age); this.age = age;
    const idx = new Int32Array(cap); idx.set(this.idx); this.idx = idx;
    const lab = new Int32Array(cap); lab.set(this.lab); this.lab = lab;
  }

  push(l: number, a: number, i: number, b: number): void {
    if (this.size === this.lev.length) this.grow();
    const { lev, age, idx, lab } = this;
    let child = this.size++;
    while (child > 0) {
      const parent = ((child + 1) >> 1) - 1;
      if (l < lev[parent] || (l === lev[parent] && a < age[parent])) {
        lev[child] = lev[parent]; age[child] = age[parent]; idx[child] = idx[parent]; lab[child] = lab[parent];
        child = parent;
      } else break;
    }
    lev[child] = l; age[child] = a; idx[child] = i; lab[child] = b;
  }

  /** Empties the heap: its items and their order by (level, age). */
  drain(): { idx: Int32Array; lab: Int32Array; order: Uint32Array } {
    const n = this.size;
    const { lev, age } = this;
    const order = Uint32Array.from({ length: n }, (_, k) => k).sort((a, b) => lev[a] - lev[b] || age[a] - age[b]);
    const out = { idx: this.idx.slice(0, n), lab: this.lab.slice(0, n), order };
    this.size = 0;
    return out;
  }

  pop(): void {
    const { lev, age, idx, lab } = this;
    this.popLev = lev[0]; this.popAge = age[0]; this.popIdx = idx[0]; this.popLab = lab[0];
    const n = --this.size;
    if (n === 0) return;
    const xl = lev[n], xa = age[n], xi = idx[n], xb = lab[n];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      if (l >= n) break;
      let smallest = i;
      let sl = xl, sa = xa;
      if (lev[l] < sl || (lev[l] === sl && age[l] < sa)) {
        smallest = l; sl = lev[l]; sa = age[l];
      }
      if (r < n && (lev[r] < sl || (lev[r] === sl && age[r] < sa))) smallest = r;
      if (smallest === i) break;
      lev[i] = lev[smallest]; age[i] = age[smallest]; idx[i] = idx[smallest]; lab[i] = lab[smallest];
      i = smallest;
    }
    lev[i] = xl; age[i] = xa; idx[i] = xi; lab[i] = xb;
  }
}

/**
 * Exact skimage heap while seeds (age 0, the only equal keys) remain in it; after the last seed
 * pops every key is distinct, so any exact (level, age) order is skimage's: the rest is sorted and
 * handed to the FIFO flood (with a line, only a pixel's first entry; later ones are no-ops).
 */
function floodHeap(
  g: Grid, lev: Levels, S: Int32Array, levels: number, hist: Int32Array, inMask: number,
  seeds: number[], wsl: boolean, quirks: number[],
): void {
  const heap = new SkimageHeap();
  for (const p of seeds) heap.push(lev[p], 0, p, S[p]);
  const nb = g.nb;
  let seedsLeft = seeds.length;
  let age = 1;
  while (heap.size > 0 && seedsLeft > 0) {
    heap.pop();
    const p = heap.popIdx;
    const label = heap.popLab;
    const seed = heap.popAge === 0;
    if (seed) seedsLeft--;
    const c = g.fill(p);
    if (wsl) {
      if (!seed && S[p] !== 0) continue; // already labelled, or a line pixel
      if (diffNeighbours(S, nb, c)) {
        if (seed) quirks.push(p, S[p]);
        S[p] = MASKED;
        continue;
      }
      S[p] = label;
    }
    for (let k = 0; k < c; k++) {
      const nn = nb[k];
      if (S[nn] !== 0) continue;
      if (!wsl) S[nn] = label;
      heap.push(lev[nn], ++age, nn, label);
    }
  }
  if (heap.size === 0) return;
  const rest = heap.drain();
  const entries: number[] = [];
  for (const k of rest.order) {
    const p = rest.idx[k];
    if (!wsl) entries.push(p); // labelled at push, as in the FIFO flood
    else if (S[p] === 0) {
      S[p] = -rest.lab[k]; // pending, as in the FIFO flood
      entries.push(p);
    }
  }
  floodFifo(g, lev, S, levels, hist, inMask, entries, wsl, quirks);
}
