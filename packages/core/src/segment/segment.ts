/**
 * Whole-image segmentation and the folder driver behind `cellcam segment`: prediction maps
 * (ONNX U-Nets, or the model-free maps), the official post-processing (labelCell), 16-bit label
 * PNGs written atomically, a resumable segmentation.csv, and parallelism across images.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { CellcamError, rangeError } from '../errors.js';
import { checkInt } from '../util/validate.js';
import { listImageSets, readImageSet, type ImageSet } from '../io/imageset.js';
import { readLabels, writeGreyPng } from '../io/png.js';
import { lockFolder } from '../io/lock.js';
import { findMasks } from '../io/masks.js';
import { writeFileAtomic } from '../io/atomic.js';
import { nativeOrNull, pickDevice, type Backend, type Device } from '../native.js';
import { combineSegmentationScores, segmentationMatches, type SegmentationMatches, type SegmentationScore } from '../metric/segmentation.js';
import { LabelCellBatcher } from './batcher.js';
import { labelCell, type LabelCellOptions, type LabelCellResult, type LabelCellScale } from './label-cell.js';
import { modelFreeMaps, modelFreeMapsAsync } from './model-free.js';
import { ModelFreePool } from './model-free-pool.js';
import { createUnetPool, predictMaps } from './unet.js';
import type { OrtExecutionProvider, OrtPool } from '../model/session.js';

export interface SegmentOptions {
  /** post-processing resolution: 1 (exact), 0.5 or 0.25 (fast path) */
  scale?: LabelCellScale;
  /** ONNX U-Nets (both or neither); without them the model-free maps are used */
  nucleiModel?: string;
  cellModel?: string;
  threads?: number;
  backend?: Backend;
  /**
   * where the ONNX U-Nets run: 'auto' (CUDA EP when it loads, else CPU), 'cpu' or 'cuda'; with
   * `ties: 'fifo'` also where the post-processing runs (labelCell's CUDA chain)
   */
  device?: Device;
  /**
   * watershed seed ties of the post-processing: 'heap' (hpacellseg's exact order, CPU only),
   * 'fifo' (raster order: 4–6× faster, a few tied pixels differ, and it can run on the GPU) or
   * 'auto' (default): 'heap' for U-Net maps, whose official labels it reproduces, 'fifo' for the
   * model-free maps, which no official tool ever labelled ({@link resolveTies}).
   */
  ties?: SegmentTies;
}

export type SegmentTies = 'heap' | 'fifo' | 'auto';

/**
 * The tie order that `ties` stands for. 'auto' is 'heap' for U-Net maps: hpacellseg labelled the
 * challenge's ground truth from those, and only the heap order gives its labels pixel for pixel.
 * For the model-free maps that exactness buys nothing (their ties moved no pixel of 20 synthetic
 * 1024² images, and left AP@0.6 of 8 of 2048² unchanged) and costs 4–6× in the post-processing.
 *
 * @example
 * ```ts
 * resolveTies(undefined, false); // 'fifo'
 * resolveTies('auto', true);     // 'heap'
 * ```
 */
export function resolveTies(ties: SegmentTies | undefined, unet: boolean): 'heap' | 'fifo' {
  if (ties === undefined || ties === 'auto') return unet ? 'heap' : 'fifo';
  if (ties !== 'heap' && ties !== 'fifo') throw rangeError('options.ties', "'heap', 'fifo' or 'auto'", ties);
  return ties;
}

export interface SegmentResult {
  cells: Uint16Array;
  nuclei: Uint16Array;
  cellCount: number;
  /** which maps were used */
  maps: 'unet' | 'model-free';
  /** where the post-processing ran, and why not on CUDA when that was asked for */
  device?: 'cpu' | 'cuda' | 'js';
  deviceNote?: string;
}

interface Models {
  nuclei: OrtPool;
  cell: OrtPool;
}

/** labelCell, or a stand-in with its contract (segmentFolder's batcher). */
type PostProcess = (nucleiPred: Uint8Array, cellPred: Uint8Array, options: LabelCellOptions) => Promise<LabelCellResult>;

/**
 * Segments one decoded image set into cells and nuclei (nucleus id = cell id). Without U-Net
 * models the maps are the model-free ones, from the native kernel where the addon is in use.
 *
 * @example
 * ```ts
 * const img = await readImageSet('data/test', id);
 * const { cells, nuclei, cellCount } = await segmentImage(img);           // model-free maps, fifo ties
 * const exact = await segmentImage(img, { ties: 'heap' });                 // hpacellseg's tie order
 * ```
 */
export async function segmentImage(
  img: ImageSet, options: SegmentOptions = {}, models?: Models, post: PostProcess = labelCell, freeMaps?: ModelFreePool | null,
): Promise<SegmentResult> {
  const { width, height } = img;
  let nucleiPred: Uint8Array, cellPred: Uint8Array, maps: SegmentResult['maps'];
  if (models) {
    const m = await predictMaps(img, { nucleiModel: models.nuclei, cellModel: models.cell });
    nucleiPred = m.nucleiPred;
    cellPred = m.cellPred;
    maps = 'unet';
  } else {
    // segmentFolder's pool; null (its mapsInWorkers false): inline on this thread; by default the
    // native kernel where the addon is in use. The same bytes either way.
    let m: { nucleiPred: Uint8Array; cellPred: Uint8Array };
    if (freeMaps) m = await freeMaps.maps(img);
    else if (freeMaps === null) m = modelFreeMaps(img);
    else m = await modelFreeMapsAsync(img, { backend: options.backend, threads: options.threads });
    nucleiPred = m.nucleiPred;
    cellPred = m.cellPred;
    maps = 'model-free';
  }
  // Exact ties are sequential: the post-processing follows `device` only with 'fifo' ties.
  const tieBreak = resolveTies(options.ties, models !== undefined);
  const opts = {
    threads: options.threads, backend: options.backend, tieBreak,
    device: tieBreak === 'fifo' ? options.device ?? 'auto' : 'cpu',
  } as const;
  const heapNote = tieBreak === 'heap' && options.device === 'cuda'
    ? "post-processing on the CPU: exact (heap) ties have no CUDA version; --ties fifo runs it on the GPU" : undefined;
  const tag = (r: { device?: SegmentResult['device']; deviceNote?: string }) => ({ device: r.device, deviceNote: r.deviceNote ?? heapNote });
  const f = options.scale && options.scale !== 1 ? 1 : sizeFactor(width, height);
  if (f === 1) {
    const r = await post(nucleiPred, cellPred, { width, height, scale: options.scale ?? 1, ...opts });
    return { nuclei: r.nuclei, cells: r.cells, cellCount: r.cellCount, maps, ...tag(r) };
  }
  // labelCell's size constants are for ~2048 px HPA fields. A small field is treated as the
  // 1/f-scale version of one: replicate the maps ×f and run the fast path at scale 1/f, whose
  // block mean gives back the original maps and whose constants are scaled by 1/f². Every f-th
  // pixel of the replicated labels is then the labelling at the original size.
  const r = await post(replicate(nucleiPred, width, height, f), replicate(cellPred, width, height, f), {
    width: width * f, height: height * f, scale: (1 / f) as LabelCellScale, ...opts,
  });
  return { cells: decimate(r.cells, width, height, f), nuclei: decimate(r.nuclei, width, height, f), cellCount: r.cellCount, maps, ...tag(r) };
}

/**
 * 4 for fields up to 640 px, 2 up to 900 px (treated as 1/4 and 1/2 scale HPA fields), else 1:
 * on the synthetic benchmark 1024 px fields scored best with the full-size constants.
 */
function sizeFactor(width: number, height: number): 1 | 2 | 4 {
  const side = Math.max(width, height);
  return side <= 640 ? 4 : side <= 900 ? 2 : 1;
}

function replicate(pred: Uint8Array, w: number, h: number, f: number): Uint8Array {
  const W = w * f, out = new Uint8Array(W * h * f * 3);
  for (let y = 0; y < h; y++) {
    const rowOut = new Uint8Array(W * 3);
    for (let x = 0; x < w; x++) {
      const src = (y * w + x) * 3;
      for (let k = 0; k < f; k++) rowOut.set(pred.subarray(src, src + 3), (x * f + k) * 3);
    }
    for (let k = 0; k < f; k++) out.set(rowOut, (y * f + k) * W * 3);
  }
  return out;
}

function decimate(labels: Uint16Array, w: number, h: number, f: number): Uint16Array {
  const out = new Uint16Array(w * h), W = w * f;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = labels[y * f * W + x * f];
  return out;
}

export interface SegmentFolderOptions extends SegmentOptions {
  imageDir: string;
  outDir: string;
  /** restrict to these IDs (default: every complete image set in imageDir) */
  ids?: string[];
  /** images processed concurrently (default: the number of cores) */
  jobs?: number;
  /** re-segment images whose outputs exist */
  force?: boolean;
  /**
   * Images per post-processing call (labelCellBatch), 1–256. Default: 16 when the post-processing
   * runs on a GPU (`ties: 'fifo'` and a usable CUDA device), whose launches and round trips a
   * batch shares; else 1. Above 1 on the CPU a batch's images run one after another in one
   * worker: the same labels, less parallelism. At most `jobs` images are ever waiting, so a batch
   * holds at most `jobs` images (the summary notes it when `batch` is larger).
   */
  batch?: number;
  /**
   * score each image against true cell masks: a dataset folder with cells/{ID}_cells.png (synth),
   * or a folder of masks itself, {ID}_cells.png or the HPA segmentator's {ID}_cellmask.png
   */
  evalDir?: string;
  /**
   * Build the model-free maps off the main thread (default true): one native call per image in
   * flight, or worker threads without the addon (ModelFreePool); false builds them on the calling
   * thread with the TypeScript twin (the same bytes; for benchmarks and debugging).
   */
  mapsInWorkers?: boolean;
  onProgress?: (event: { done: number; total: number; id: string; skipped: boolean; error?: Error; ms?: number; cells?: number }) => void;
}

export interface SegmentFolderSummary {
  total: number;
  segmented: number;
  skipped: number;
  failed: { id: string; error: string }[];
  csv: string;
  /** AP@0.6 etc. against evalDir (null without it) */
  score: SegmentationScore | null;
  /** the tie order the post-processing used (`ties` resolved) */
  ties: 'heap' | 'fifo';
  /** where the post-processing ran: images per device */
  devices: Partial<Record<'cpu' | 'cuda' | 'js', number>>;
  /** each distinct device note once (why CUDA was not used, or failed and the CPU ran) */
  notes: string[];
}

const CSV_HEADER = 'ID,width,height,cells,ms';

function readCsvRows(path: string): Map<string, string> {
  const rows = new Map<string, string>();
  if (!existsSync(path)) return rows;
  for (const line of readFileSync(path, 'utf8').split('\n').slice(1)) {
    if (line.trim()) rows.set(line.split(',')[0], line);
  }
  return rows;
}

/**
 * Segments every image set of a folder into OUT/{ID}_cells.png and {ID}_nuclei.png plus
 * OUT/segmentation.csv. Resumes: images with both PNGs and a CSV row are skipped. One failing
 * image is reported and does not stop the others.
 *
 * @example
 * ```ts
 * const s = await segmentFolder({ imageDir: 'data/test', outDir: 'out/seg', scale: 0.5 });
 * if (s.failed.length) process.exitCode = 1;
 * ```
 */
export async function segmentFolder(options: SegmentFolderOptions): Promise<SegmentFolderSummary> {
  const { imageDir, outDir } = options;
  if (!!options.nucleiModel !== !!options.cellModel) {
    throw new CellcamError('CELLCAM_E_ARG', 'give both --nuclei-model and --cell-model, or neither (model-free maps)');
  }
  const jobs = options.jobs ?? availableParallelism();
  if (!Number.isInteger(jobs) || jobs < 1) throw rangeError('options.jobs', 'a positive integer', jobs);
  // Where the post-processing runs: with fifo ties, 'cuda' and no usable GPU fails here, once,
  // with the reason, before any image is read.
  const ties = resolveTies(options.ties, !!options.nucleiModel);
  const onGpu = ties === 'fifo' && options.device !== 'cpu' &&
    pickDevice(options.device ?? 'auto', options.backend !== 'js' && nativeOrNull() !== null, options.backend, 'device').run === 'cuda';
  const batch = options.batch === undefined ? (onGpu ? 16 : 1) : checkInt('options.batch', options.batch, 1, 256);
  const sets = await listImageSets(imageDir);
  let ids = sets.filter((s) => s.complete).map((s) => s.id);
  if (options.ids) {
    const known = new Set(sets.map((s) => s.id));
    const unknown = options.ids.filter((id) => !known.has(id));
    if (unknown.length) throw new CellcamError('CELLCAM_E_ARG', `${imageDir}: no image set for ID(s) ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''}`);
    ids = options.ids;
  }
  await mkdir(outDir, { recursive: true });
  // The truth of --eval: DIR/cells as synth writes it, or DIR itself (a folder of masks, under
  // cellcam's names or the HPA segmentator's).
  let evalCells = options.evalDir;
  if (evalCells !== undefined && existsSync(join(evalCells, 'cells'))) evalCells = join(evalCells, 'cells');
  // One writer per folder: a second `cellcam segment` (or a run's segment stage) on the same
  // folder stops here, naming the holder, instead of racing on the same outputs.
  const lock = await lockFolder(outDir, 'cellcam segment');
  try {
    const csvPath = join(outDir, 'segmentation.csv');
    const rows = readCsvRows(csvPath);
    let models: Models | undefined;
    if (options.nucleiModel && options.cellModel) {
      const device = options.device ?? 'auto';
      const executionProviders: OrtExecutionProvider[] = device === 'cpu' ? ['cpu'] : device === 'cuda' ? ['cuda'] : ['cuda', 'cpu'];
      models = {
        nuclei: await createUnetPool(options.nucleiModel, { executionProviders }),
        cell: await createUnetPool(options.cellModel, { executionProviders }),
      };
    }
    const summary: SegmentFolderSummary = { total: ids.length, segmented: 0, skipped: 0, failed: [], csv: csvPath, score: null, ties, devices: {}, notes: [] };
    const matches: SegmentationMatches[] = [];
    let done = 0;
    let csvWrite: Promise<void> = Promise.resolve();
    const flushCsv = () => {
      // Serialised, whole-file atomic rewrites: a kill leaves either the old or the new CSV.
      const text = [CSV_HEADER, ...[...rows.values()]].join('\n') + '\n';
      csvWrite = csvWrite.then(() => writeFileAtomic(csvPath, text));
      return csvWrite;
    };
    const queue = [...ids];
    const workers = Math.min(jobs, Math.max(1, ids.length));
    const batcher = batch > 1 ? new LabelCellBatcher(batch, workers) : null;
    if (batcher && batch > workers && ids.length > workers) {
      // Each worker waits on its image's batch, so a batch never holds more images than workers.
      summary.notes.push(`batch ${batch} > jobs ${workers}: a batch holds at most ${workers} image${workers > 1 ? 's' : ''} (each worker waits on its image's batch); give jobs >= batch to fill it`);
    }
    // The model-free maps off the main thread for the images in flight: native calls, or worker
    // threads with the twin (inline when neither the addon nor the worker entry is there).
    const freeMaps = models || options.mapsInWorkers === false ? null : ModelFreePool.create(workers, { backend: options.backend });
    const imageOptions = { ...options, ties };
    const worker = async () => {
      try {
        await segmentQueued();
      } finally {
        batcher?.workerDone();
      }
    };
    const segmentQueued = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const cellsPng = join(outDir, `${id}_cells.png`), nucleiPng = join(outDir, `${id}_nuclei.png`);
        const isDone = !options.force && rows.has(id) && existsSync(cellsPng) && existsSync(nucleiPng);
        try {
          let cells: Uint16Array, width: number, height: number, ms: number | undefined, count: number | undefined;
          if (isDone) {
            summary.skipped++;
            if (!options.evalDir) {
              options.onProgress?.({ done: ++done, total: ids.length, id, skipped: true });
              continue;
            }
            const g = await readLabels(cellsPng);
            cells = g.data;
            width = g.width;
            height = g.height;
          } else {
            const t0 = performance.now();
            const img = await readImageSet(imageDir, id);
            const r = await segmentImage(img, imageOptions, models, batcher?.labelCell, freeMaps);
            ({ width, height } = img);
            cells = r.cells;
            await writeGreyPng(nucleiPng, r.nuclei, width, height);
            await writeGreyPng(cellsPng, r.cells, width, height);
            ms = Math.round(performance.now() - t0);
            count = r.cellCount;
            if (r.device) summary.devices[r.device] = (summary.devices[r.device] ?? 0) + 1;
            if (r.deviceNote && !summary.notes.includes(r.deviceNote)) summary.notes.push(r.deviceNote);
            rows.set(id, `${id},${width},${height},${r.cellCount},${ms}`);
            await flushCsv();
            summary.segmented++;
          }
          if (options.evalDir) {
            const truthFile = findMasks(evalCells!, id).cells ?? join(evalCells!, `${id}_cells.png`);
            const t = await readLabels(truthFile);
            if (t.width !== width || t.height !== height) throw new CellcamError('CELLCAM_E_FORMAT', `${truthFile}: ${t.width}x${t.height} but the image is ${width}x${height}`);
            matches.push(segmentationMatches(cells, t.data));
          }
          options.onProgress?.({ done: ++done, total: ids.length, id, skipped: isDone, ms, cells: count });
        } catch (err) {
          summary.failed.push({ id, error: (err as Error).message });
          options.onProgress?.({ done: ++done, total: ids.length, id, skipped: false, error: err as Error });
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: workers }, worker));
      await csvWrite;
      if (rows.size === 0) await flushCsv();
    } finally {
      await models?.nuclei.close();
      await models?.cell.close();
      await freeMaps?.close();
    }
    for (const note of batcher?.notes ?? []) summary.notes.push(note);
    if (options.evalDir) summary.score = combineSegmentationScores(matches);
    return summary;
  } finally {
    await lock.release();
  }
}
