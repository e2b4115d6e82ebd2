/**
 * Cell crops for crop-based cell classifiers (CELL_CROP_CONTRACT) and for external trainers:
 * one masked, square, area-resized [4, S, S] tile per cell, and a folder writer (.npy + CSV).
 */
import { join } from 'node:path';
import { CellcamError, rangeError, typeError } from '../errors.js';
import { resizeArea } from '../segment/resize.js';
import { checkArray, checkInt } from '../util/validate.js';
import { writeFileAtomic } from './atomic.js';
import { CHANNELS, type ImageSet } from './imageset.js';

/** Default crop side S (the contract's `cellcam.crop_size` when a model does not set it). */
export const DEFAULT_CROP_SIZE = 128;

/** Padding used when `options.padding` is not given: this fraction of the bounding box's longer side, rounded. */
export const DEFAULT_CROP_PADDING_FRACTION = 0.1;

// Dense per-label bookkeeping (bounding boxes) is sized by the largest label.
const MAX_LABEL = 2 ** 24;

export interface CellCropOptions {
  /** Output side S in pixels (default 128). */
  size?: number;
  /**
   * Pixels added on every side of the squared bounding box (integer ≥ 0). Default:
   * round(0.1 × the bounding box's longer side), so the context scales with the cell.
   */
  padding?: number;
  /** Cells to crop, in this order (default: every label present, ascending). */
  ids?: readonly number[];
}

export interface CellCrops {
  /** The cell id of each crop. */
  ids: number[];
  /** S. */
  size: number;
  /** [n, 4, S, S] row-major, channels R, G, B, Y, each value / (2^bitDepth − 1); 0 outside the cell. */
  data: Float32Array;
  /** [n, 3]: x0, y0 and side L of the square window each crop was taken from (may extend past the image). */
  boxes: Int32Array;
}

interface Box {
  minX: Int32Array;
  minY: Int32Array;
  maxX: Int32Array;
  maxY: Int32Array;
}

function checkImageSet(image: unknown, name = 'image'): ImageSet {
  if (image === null || typeof image !== 'object') throw typeError(name, 'an ImageSet', image);
  const img = image as ImageSet;
  checkInt(`${name}.width`, img.width, 1, 65536);
  checkInt(`${name}.height`, img.height, 1, 65536);
  if (img.bitDepth !== 8 && img.bitDepth !== 16) throw rangeError(`${name}.bitDepth`, '8 or 16', img.bitDepth);
  if (img.channels === null || typeof img.channels !== 'object') throw typeError(`${name}.channels`, 'an object with red, green, blue and yellow planes', img.channels);
  const ctor = img.bitDepth === 8 ? Uint8Array : Uint16Array;
  for (const c of CHANNELS) checkArray(`${name}.channels.${c}`, img.channels[c], [ctor], img.width * img.height, `${name}.width*${name}.height`);
  return img;
}

function checkCells(cells: unknown, image: ImageSet, name = 'cells'): Uint16Array | Int32Array {
  return checkArray<Uint16Array | Int32Array>(name, cells, [Uint16Array, Int32Array], image.width * image.height, 'image.width*image.height');
}

// One pass over the label image: bounding box of every label (min = +∞ marks an absent label).
function boundingBoxes(cells: Uint16Array | Int32Array, width: number, name: string): { box: Box; maxLabel: number } {
  let maxLabel = 0;
  for (let i = 0; i < cells.length; i++) {
    const v = cells[i];
    if (v > maxLabel) maxLabel = v;
    else if (v < 0) throw rangeError(`${name}[${i}]`, 'a non-negative label', v);
  }
  if (maxLabel > MAX_LABEL) throw rangeError(name, `labels at most ${MAX_LABEL}`, maxLabel);
  const n = maxLabel + 1;
  const box: Box = { minX: new Int32Array(n).fill(0x7fffffff), minY: new Int32Array(n).fill(0x7fffffff), maxX: new Int32Array(n).fill(-1), maxY: new Int32Array(n).fill(-1) };
  for (let i = 0, y = 0; i < cells.length; y++) {
    for (let x = 0; x < width; x++, i++) {
      const v = cells[i];
      if (v === 0) continue;
      if (x < box.minX[v]) box.minX[v] = x;
      if (x > box.maxX[v]) box.maxX[v] = x;
      if (y < box.minY[v]) box.minY[v] = y;
      box.maxY[v] = y;
    }
  }
  return { box, maxLabel };
}

// Source taps of an exact area-weighted shrink from `src` to `dst` samples (dst < src): output o
// covers [o·src, (o+1)·src) and input i covers [i·dst, (i+1)·dst) in units of 1/dst pixels, so
// the overlaps are integers and the weights overlap/src are exact ratios.
function shrinkTaps(src: number, dst: number): { start: Int32Array; count: Int32Array; weight: Float64Array } {
  const start = new Int32Array(dst), count = new Int32Array(dst);
  const weights: number[] = [];
  for (let o = 0; o < dst; o++) {
    const lo = o * src, hi = lo + src;
    const i0 = Math.floor(lo / dst), i1 = Math.ceil(hi / dst);
    start[o] = i0;
    count[o] = i1 - i0;
    for (let i = i0; i < i1; i++) weights.push((Math.min(hi, (i + 1) * dst) - Math.max(lo, i * dst)) / src);
  }
  return { start, count, weight: Float64Array.from(weights) };
}

// Area shrink of one L×L plane to S×S (S < L): rows then columns in float64, rounded once.
function shrinkPlane(src: Float32Array, L: number, S: number, taps: ReturnType<typeof shrinkTaps>, out: Float32Array, offset: number): void {
  const tmp = new Float64Array(L * S);
  for (let y = 0; y < L; y++) {
    const row = y * L;
    for (let o = 0, w = 0; o < S; o++) {
      let s = 0;
      for (let k = 0, i = taps.start[o]; k < taps.count[o]; k++, i++, w++) s += taps.weight[w] * src[row + i];
      tmp[y * S + o] = s;
    }
  }
  for (let o = 0, w0 = 0; o < S; o++) {
    const n = taps.count[o], y0 = taps.start[o];
    for (let x = 0; x < S; x++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += taps.weight[w0 + k] * tmp[(y0 + k) * S + x];
      out[offset + o * S + x] = s;
    }
    w0 += n;
  }
}

/**
 * Cuts one square crop per cell out of a 4-channel image: the cell's bounding box, made square
 * around its centre, padded on every side, with every pixel that does not belong to the cell
 * (background, other cells, outside the image) set to 0 BEFORE resizing, then area-resized to
 * S×S. Values are channel / (2^bitDepth − 1) in float32, the image classifier's scaling, so the
 * result feeds a CELL_CROP_CONTRACT model (`crop` [n, 4, S, S]) directly.
 *
 * Geometry: bounding box w×h, side = max(w, h), pad = options.padding ?? round(0.1·side),
 * L = side + 2·pad; the window starts at (minX − pad − floor((side − w)/2), minY − pad −
 * floor((side − h)/2)). Resizing L → S: L = S copies; L > S is an exact area-weighted mean (every
 * output pixel averages the L/S × L/S source area it covers, fractional pixels weighted by their
 * overlap; computed in float64, rounded once to float32); L < S is `resizeArea`'s enlargement
 * (OpenCV INTER_AREA, i.e. pixel replication for integer factors, bilinear otherwise).
 *
 * @example
 * ```ts
 * const img = await readImageSet('data/train', id);
 * const { ids, data } = cellCrops(img, cellLabels, { size: 128 });
 * const out = await pool.run({ crop: { dtype: 'float32', dims: [ids.length, 4, 128, 128], data } });
 * ```
 */
export function cellCrops(image: ImageSet, cells: Uint16Array | Int32Array, options: CellCropOptions = {}): CellCrops {
  const img = checkImageSet(image);
  const labels = checkCells(cells, img);
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  const S = options.size === undefined ? DEFAULT_CROP_SIZE : checkInt('options.size', options.size, 1, 4096);
  const fixedPad = options.padding === undefined ? null : checkInt('options.padding', options.padding, 0, 65536);
  const { box, maxLabel } = boundingBoxes(labels, img.width, 'cells');

  let ids: number[];
  if (options.ids === undefined) {
    ids = [];
    for (let v = 1; v <= maxLabel; v++) if (box.maxX[v] >= 0) ids.push(v);
  } else {
    if (!Array.isArray(options.ids)) throw typeError('options.ids', 'an array of cell ids', options.ids);
    const seen = new Set<number>();
    ids = options.ids.map((v: unknown, k) => {
      const id = checkInt(`options.ids[${k}]`, v, 1, Number.MAX_SAFE_INTEGER);
      if (id > maxLabel || box.maxX[id] < 0) throw rangeError(`options.ids[${k}]`, 'the id of a cell present in cells', id);
      if (seen.has(id)) throw rangeError(`options.ids[${k}]`, 'ids without repeats', id);
      seen.add(id);
      return id;
    });
  }

  const n = ids.length, plane = S * S;
  const data = new Float32Array(n * 4 * plane);
  const boxes = new Int32Array(n * 3);
  const scale = img.bitDepth === 8 ? 255 : 65535;
  const W = img.width;
  const planes = CHANNELS.map((c) => img.channels[c]);
  const tapsCache = new Map<number, ReturnType<typeof shrinkTaps>>();
  for (let k = 0; k < n; k++) {
    const id = ids[k];
    const bw = box.maxX[id] - box.minX[id] + 1, bh = box.maxY[id] - box.minY[id] + 1;
    const side = Math.max(bw, bh);
    const pad = fixedPad ?? Math.round(DEFAULT_CROP_PADDING_FRACTION * side);
    const L = side + 2 * pad;
    const x0 = box.minX[id] - pad - Math.floor((side - bw) / 2);
    const y0 = box.minY[id] - pad - Math.floor((side - bh) / 2);
    boxes[3 * k] = x0;
    boxes[3 * k + 1] = y0;
    boxes[3 * k + 2] = L;
    // Only the bounding box can hold the cell's pixels; the rest of the window stays 0.
    const window = planes.map(() => new Float32Array(L * L));
    for (let y = box.minY[id]; y <= box.maxY[id]; y++) {
      const row = y * W, wrow = (y - y0) * L - x0;
      for (let x = box.minX[id]; x <= box.maxX[id]; x++) {
        if (labels[row + x] !== id) continue;
        for (let c = 0; c < 4; c++) window[c][wrow + x] = planes[c][row + x] / scale;
      }
    }
    for (let c = 0; c < 4; c++) {
      const offset = (k * 4 + c) * plane;
      if (L === S) data.set(window[c], offset);
      else if (L < S) data.set(resizeArea(window[c], L, L, 1, S, S), offset);
      else {
        let taps = tapsCache.get(L);
        if (!taps) tapsCache.set(L, (taps = shrinkTaps(L, S)));
        shrinkPlane(window[c], L, S, taps, data, offset);
      }
    }
  }
  return { ids, size: S, data, boxes };
}

/** Typed arrays `encodeNpy` can store, with their numpy dtype strings (little-endian). */
export type NpyArray = Float32Array | Float64Array | Uint8Array | Uint16Array | Int32Array | Int16Array | Uint32Array;

const NPY_DESCR: [new (...a: never[]) => NpyArray, string][] = [
  [Float32Array, '<f4'],
  [Float64Array, '<f8'],
  [Uint8Array, '|u1'],
  [Uint16Array, '<u2'],
  [Int16Array, '<i2'],
  [Int32Array, '<i4'],
  [Uint32Array, '<u4'],
];

function littleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

/**
 * Encodes a C-order array as a NumPy `.npy` (format 1.0) file: `np.load(path)` returns it with
 * this shape and dtype.
 *
 * @example
 * ```ts
 * await writeFileAtomic('features.npy', encodeNpy(features, [nCells, K]));
 * ```
 */
export function encodeNpy(data: NpyArray, shape: readonly number[]): Uint8Array {
  const descr = NPY_DESCR.find(([ctor]) => data instanceof ctor)?.[1];
  if (!descr) throw typeError('data', NPY_DESCR.map(([c]) => c.name).join(' or '), data);
  if (!Array.isArray(shape)) throw typeError('shape', 'an array of non-negative integers', shape);
  let count = 1;
  shape.forEach((d, k) => (count *= checkInt(`shape[${k}]`, d, 0)));
  if (count !== data.length) throw rangeError('data', `length ${count} (shape [${shape.join(', ')}])`, data, 'CELLCAM_E_SHAPE');
  if (!littleEndian()) throw new CellcamError('CELLCAM_E_INTERNAL', 'encodeNpy: big-endian hosts are not supported');
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${dims}, }`;
  // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64 bytes.
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/**
 * Decodes a little-endian C-order `.npy` file (format 1.x/2.x) of one of the dtypes `encodeNpy`
 * writes. Errors (CELLCAM_E_FORMAT) name `name`.
 *
 * @example
 * ```ts
 * const { shape, data } = decodeNpy(await readFile('crops/abc.npy'), 'crops/abc.npy');
 * ```
 */
export function decodeNpy(bytes: Uint8Array, name = 'npy bytes'): { shape: number[]; data: NpyArray } {
  if (!(bytes instanceof Uint8Array)) throw typeError('bytes', 'Uint8Array', bytes);
  const bad = (why: string) => new CellcamError('CELLCAM_E_FORMAT', `${name}: not a readable .npy file (${why})`);
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) throw bad('missing \\x93NUMPY magic');
  const major = bytes[6];
  const lenBytes = major === 1 ? 2 : 4;
  let hlen = 0;
  for (let i = lenBytes - 1; i >= 0; i--) hlen = hlen * 256 + bytes[8 + i];
  const start = 8 + lenBytes + hlen;
  if (start > bytes.length) throw bad('truncated header');
  const header = new TextDecoder('latin1').decode(bytes.subarray(8 + lenBytes, start));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw bad(`header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw bad('Fortran order');
  const ctor = NPY_DESCR.find(([, d]) => d === descr || (d.startsWith('<') && d.replace('<', '=') === descr))?.[0];
  if (!ctor) throw bad(`dtype ${descr}; expected one of ${NPY_DESCR.map(([, d]) => d).join(', ')}`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const elem = (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  if (bytes.length - start < count * elem) throw bad(`${bytes.length - start} data bytes for shape (${shape.join(', ')}) of ${descr}`);
  // Copy (the payload need not be aligned to the element size); `new Uint8Array(view)` copies even
  // for a Buffer, whose slice() would share the whole pooled ArrayBuffer.
  const buf = new Uint8Array(bytes.subarray(start, start + count * elem)).buffer;
  return { shape, data: new (ctor as unknown as new (b: ArrayBuffer) => NpyArray)(buf) };
}

/** One image for {@link writeCellCrops}. */
export interface CellCropItem {
  image: ImageSet;
  cells: Uint16Array | Int32Array;
  /** Cells to write (default: all, ascending). */
  ids?: readonly number[];
  /** Values of the extra manifest columns (`options.columns`) for one cell; missing keys are left empty. */
  extra?: (cell: number) => Readonly<Record<string, string | number>>;
}

export interface WriteCellCropsOptions {
  size?: number;
  padding?: number;
  /**
   * Element type of the .npy files: 'uint16' (default) stores round(value × 65535), lossless for
   * unresampled 8- and 16-bit pixels (divide by 65535 to get the contract's input); 'float32'
   * stores the contract values themselves (twice the size).
   */
  dtype?: 'uint16' | 'float32';
  /** Extra manifest columns after the fixed ones, filled by each item's `extra` (e.g. ['labels', 'split']). */
  columns?: readonly string[];
  /** Manifest file name inside the folder (default 'manifest.csv'). */
  manifest?: string;
  onProgress?: (p: { done: number; id: string; cells: number }) => void;
  signal?: AbortSignal;
}

export interface WriteCellCropsResult {
  dir: string;
  /** Path of the manifest CSV. */
  manifest: string;
  /** The .npy files written (images without cells get none). */
  files: string[];
  images: number;
  cells: number;
  size: number;
  dtype: 'uint16' | 'float32';
}

/** Fixed leading columns of a crop manifest. */
export const CROP_MANIFEST_COLUMNS = Object.freeze(['ID', 'cell', 'file', 'index', 'x0', 'y0', 'side'] as const);

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** RFC 4180 quoting for one CSV field. */
export function csvField(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Writes the crops of many images to `dir` for a training script: `<ID>.npy` per image holding
 * [n, 4, S, S] (uint16 = round(value × 65535), or float32), a manifest CSV with one row per cell
 * (`ID,cell,file,index,x0,y0,side` + `options.columns`; `file` relative to `dir`, `index` the
 * row in that file) and `crops.json` describing the layout. Every file is written atomically and
 * the manifest last, so an interrupted run leaves no manifest that points at missing files.
 * Items are consumed one at a time: pass an async generator to keep one image in memory.
 *
 * @example
 * ```ts
 * async function* items() {
 *   for (const id of ids) yield { image: await readImageSet('data/train', id), cells: await readCells(id),
 *                                 extra: (cell) => ({ labels: labelsOf(id, cell), split: 'train' }) };
 * }
 * await writeCellCrops('work/crops', items(), { size: 128, columns: ['labels', 'split'] });
 * // Python: x = np.load('work/crops/<ID>.npy')[index].astype(np.float32) / 65535
 * ```
 */
export async function writeCellCrops(
  dir: string,
  items: Iterable<CellCropItem> | AsyncIterable<CellCropItem>,
  options: WriteCellCropsOptions = {},
): Promise<WriteCellCropsResult> {
  if (typeof dir !== 'string' || dir.length === 0) throw typeError('dir', 'a non-empty folder path', dir);
  if (items === null || typeof items !== 'object' || !(Symbol.iterator in items || Symbol.asyncIterator in items)) {
    throw typeError('items', 'an iterable or async iterable of { image, cells }', items);
  }
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  const size = options.size === undefined ? DEFAULT_CROP_SIZE : checkInt('options.size', options.size, 1, 4096);
  if (options.padding !== undefined) checkInt('options.padding', options.padding, 0, 65536);
  const dtype = options.dtype ?? 'uint16';
  if (dtype !== 'uint16' && dtype !== 'float32') throw rangeError('options.dtype', "'uint16' or 'float32'", dtype);
  const columns = options.columns ?? [];
  if (!Array.isArray(columns)) throw typeError('options.columns', 'an array of column names', columns);
  columns.forEach((c: unknown, k) => {
    if (typeof c !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(c)) throw typeError(`options.columns[${k}]`, 'a column name ([A-Za-z_][A-Za-z0-9_]*)', c);
    if ((CROP_MANIFEST_COLUMNS as readonly string[]).includes(c) || columns.indexOf(c) !== k) throw rangeError(`options.columns[${k}]`, 'a column name not used before', c);
  });
  const manifestName = options.manifest ?? 'manifest.csv';
  if (typeof manifestName !== 'string' || !ID_RE.test(manifestName)) throw typeError('options.manifest', 'a plain file name', manifestName);

  const rows: string[] = [[...CROP_MANIFEST_COLUMNS, ...columns].join(',')];
  const files: string[] = [];
  const seen = new Set<string>();
  let images = 0, cells = 0;
  for await (const item of items as AsyncIterable<CellCropItem>) {
    options.signal?.throwIfAborted();
    const where = `items[${images}]`;
    if (item === null || typeof item !== 'object') throw typeError(where, 'an object { image, cells }', item);
    const id = item.image?.id;
    if (typeof id !== 'string' || !ID_RE.test(id)) throw typeError(`${where}.image.id`, 'an image ID usable as a file name ([A-Za-z0-9._-])', id);
    if (seen.has(id)) throw rangeError(`${where}.image.id`, 'an ID not written before', id);
    seen.add(id);
    if (item.extra !== undefined && typeof item.extra !== 'function') throw typeError(`${where}.extra`, 'a function (cell) => values', item.extra);
    const crops = cellCrops(item.image, item.cells, { size, padding: options.padding, ids: item.ids });
    const n = crops.ids.length;
    if (n > 0) {
      const file = `${id}.npy`;
      let payload: Float32Array | Uint16Array = crops.data;
      if (dtype === 'uint16') {
        payload = new Uint16Array(crops.data.length);
        for (let i = 0; i < payload.length; i++) payload[i] = Math.round(crops.data[i] * 65535);
      }
      await writeFileAtomic(join(dir, file), encodeNpy(payload, [n, 4, size, size]));
      files.push(join(dir, file));
      for (let k = 0; k < n; k++) {
        const extra = item.extra ? item.extra(crops.ids[k]) : {};
        const fixed = [id, crops.ids[k], file, k, crops.boxes[3 * k], crops.boxes[3 * k + 1], crops.boxes[3 * k + 2]];
        rows.push([...fixed, ...columns.map((c) => extra[c] ?? '')].map(csvField).join(','));
      }
    }
    images++;
    cells += n;
    options.onProgress?.({ done: images, id, cells: n });
  }
  const info = {
    version: 1,
    layout: '[n, 4, S, S] C-order; channels red, green, blue, yellow',
    size,
    padding: options.padding ?? `round(${DEFAULT_CROP_PADDING_FRACTION} * longer bounding-box side)`,
    dtype,
    scale: dtype === 'uint16' ? 'value = stored / 65535 (contract input: channel / (2^bitDepth - 1))' : 'value = stored',
    manifest: manifestName,
    images,
    cells,
  };
  await writeFileAtomic(join(dir, 'crops.json'), JSON.stringify(info, null, 2) + '\n');
  const manifest = join(dir, manifestName);
  await writeFileAtomic(manifest, rows.join('\n') + '\n');
  return { dir, manifest, files, images, cells, size, dtype };
}
