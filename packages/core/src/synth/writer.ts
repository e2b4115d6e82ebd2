/**
 * `synthesize`: writes a whole synthetic HPA-like benchmark (train/test PNGs, train.csv, per-cell
 * truth.csv in the submission's mask encoding, label images, synth.json) deterministically.
 */
import { access, constants, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CellcamError, rangeError, typeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { writeGreyPng } from '../io/png.js';
import { encodeCells } from '../submit/encode.js';
import { checkBool, checkInt } from '../util/validate.js';
import { VERSION } from '../version.js';
import { HPA_CLASSES, NUM_CLASSES, planImageLabels } from './classes.js';
import { SYNTH_MAX_SIZE, SYNTH_MIN_SIZE, synthImage, type SynthImage } from './image.js';
import { renderComposite } from './preview.js';
import { Rng } from './random.js';

export interface SynthOptions {
  /** Output directory (created if missing). */
  out: string;
  /** Number of images (default 20). */
  images?: number;
  /** Image side in pixels, 512..4096 (default 1024). */
  size?: number;
  /** Seed of every random choice (default 1). */
  seed?: number;
  /** PNG bit depth of the stains (default 8). */
  bitDepth?: 8 | 16;
  /** Share of images held out as the test split, in [0, 1) (default 0.2). */
  testFraction?: number;
  /** Put every class in at least two images (needs images >= 19). */
  balanced?: boolean;
  /** Also write an RGB composite of the first image, with outlines, at most 768 px wide. */
  preview?: string;
  /** Called after each image is written. */
  onProgress?: (done: number, total: number, id: string) => void;
}

export interface SynthSummary {
  /** Ids of the train images, in generation order. */
  train: string[];
  /** Ids of the test images, in generation order. */
  test: string[];
  /** Number of cells over all images. */
  cells: number;
  /** Images per class (image-level labels, train and test). */
  labelCounts: number[];
  /** Cells per class. */
  cellLabelCounts: number[];
  /** Share of cells that lack at least one of their image's labels (the weak-label gap). */
  fractionCellsMissingALabel: number;
}

/** The option values after defaults and validation. */
export interface ResolvedSynthOptions {
  out: string;
  images: number;
  size: number;
  seed: number;
  bitDepth: 8 | 16;
  testFraction: number;
  balanced: boolean;
  preview: string | null;
}

/**
 * Validates the options of {@link synthesize} and fills in the defaults (throws TypeError/RangeError
 * with a `code`, naming the option).
 *
 * @example
 * ```ts
 * resolveSynthOptions({ out: 'data/synth' });          // { images: 20, size: 1024, seed: 1, bitDepth: 8, ... }
 * resolveSynthOptions({ out: 'x', bitDepth: 12 as 8 }); // RangeError: Expected 8 or 16 for options.bitDepth ...
 * ```
 */
export function resolveSynthOptions(options: SynthOptions): ResolvedSynthOptions {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  const { out } = options;
  if (typeof out !== 'string' || out.length === 0) throw typeError('options.out', 'a directory path', out);
  const images = checkInt('options.images', options.images ?? 20, 1, 100000);
  const size = checkInt('options.size', options.size ?? 1024, SYNTH_MIN_SIZE, SYNTH_MAX_SIZE);
  const seed = checkInt('options.seed', options.seed ?? 1, 0, 2 ** 32 - 1);
  const bitDepth = options.bitDepth ?? 8;
  if (bitDepth !== 8 && bitDepth !== 16) throw rangeError('options.bitDepth', '8 or 16', bitDepth);
  const testFraction = options.testFraction ?? 0.2;
  if (typeof testFraction !== 'number' || Number.isNaN(testFraction)) throw typeError('options.testFraction', 'a number in [0, 1)', testFraction);
  if (!(testFraction >= 0 && testFraction < 1)) throw rangeError('options.testFraction', 'a number in [0, 1)', testFraction);
  const balanced = checkBool('options.balanced', options.balanced, false);
  if (balanced && images < NUM_CLASSES) {
    throw rangeError('options.images', `at least ${NUM_CLASSES} images when balanced is set (every class in two images; --images >= 19 with --balanced)`, images);
  }
  const preview = options.preview ?? null;
  if (preview !== null && (typeof preview !== 'string' || preview.length === 0)) throw typeError('options.preview', 'a file path', preview);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw typeError('options.onProgress', 'a function', options.onProgress);
  return { out, images, size, seed, bitDepth, testFraction, balanced, preview };
}

/**
 * Creates `dir` if needed and checks it is a writable directory (CellcamError CELLCAM_E_IO naming
 * options.out otherwise). {@link synthesize} calls it first; exposed so a caller can tell a bad
 * output directory from a failure later on.
 *
 * @example
 * ```ts
 * await prepareSynthOut('data/synth');
 * ```
 */
export async function prepareSynthOut(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    const st = await stat(dir);
    if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    await access(dir, constants.W_OK);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CellcamError('CELLCAM_E_IO', `Expected a writable directory for options.out but received '${dir}' (${e.code ?? e.message})`, { cause: err });
  }
}

/**
 * Writes a synthetic HPA-like benchmark with per-cell ground truth to `options.out`:
 * `train/` and `test/` stains (`{ID}_{red,green,blue,yellow}.png`), `train.csv` (image labels),
 * `truth.csv` (per-cell labels with encoded masks, train and test), `cells/{ID}_{cells,nuclei}.png`
 * (16-bit label images) and `synth.json`. The same options give byte-identical files.
 *
 * @example
 * ```ts
 * const summary = await synthesize({ out: 'data/synth', images: 20, size: 1024, seed: 1 });
 * console.log(summary.cells, summary.fractionCellsMissingALabel);
 * ```
 */
export async function synthesize(options: SynthOptions): Promise<SynthSummary> {
  const o = resolveSynthOptions(options);
  await prepareSynthOut(o.out);
  const plan = planImageLabels(o.images, o.seed, o.balanced);
  const idRng = new Rng(o.seed, 'ids');
  const ids = plan.map(() => idRng.uuid());
  const nTest = Math.min(o.images - 1, Math.round(o.images * o.testFraction));
  const order = new Rng(o.seed, 'split').shuffle(ids.map((_, i) => i));
  const isTest = new Uint8Array(o.images);
  for (let k = 0; k < nTest; k++) isTest[order[k]] = 1;

  const trainRows: string[] = ['ID,Label'];
  const truthRows: string[] = ['ID,ImageWidth,ImageHeight,PredictionString'];
  const labelCounts = new Array<number>(NUM_CLASSES).fill(0);
  const cellLabelCounts = new Array<number>(NUM_CLASSES).fill(0);
  let cells = 0, missing = 0;
  let pending: Promise<unknown> = Promise.resolve();
  for (let i = 0; i < o.images; i++) {
    const id = ids[i];
    const img = synthImage(id, o.size, o.seed, plan[i], { bitDepth: o.bitDepth });
    // Encode while the previous image's PNGs finish, then queue this image's files.
    const masks = await encodeCells(img.cells, o.size, o.size);
    await pending;
    const split = isTest[i] ? 'test' : 'train';
    const writes: Promise<unknown>[] = [];
    for (const ch of ['red', 'green', 'blue', 'yellow'] as const) {
      writes.push(writeGreyPng(join(o.out, split, `${id}_${ch}.png`), img[ch], o.size, o.size));
    }
    writes.push(writeGreyPng(join(o.out, 'cells', `${id}_cells.png`), img.cells, o.size, o.size));
    writes.push(writeGreyPng(join(o.out, 'cells', `${id}_nuclei.png`), img.nuclei, o.size, o.size));
    if (i === 0 && o.preview) writes.push(writePreview(o.preview, img));
    const done = i + 1;
    pending = Promise.all(writes).then(() => options.onProgress?.(done, o.images, id));
    // Handled here so a failed write during the next image's work is not an unhandled rejection;
    // it is still thrown by the next `await pending`.
    pending.catch(() => undefined);

    if (!isTest[i]) trainRows.push(`${id},${img.labels.join('|')}`);
    const triples: string[] = [];
    img.cellLabels.forEach((labels, c) => {
      for (const l of labels) triples.push(`${l} 1 ${masks[c]}`);
    });
    truthRows.push(`${id},${o.size},${o.size},${triples.join(' ')}`);
    for (const l of img.labels) labelCounts[l]++;
    for (const labels of img.cellLabels) {
      cells++;
      for (const l of labels) cellLabelCounts[l]++;
      if (labels.length < img.labels.length) missing++;
    }
  }
  await pending;
  const summary: SynthSummary = {
    train: ids.filter((_, i) => !isTest[i]),
    test: ids.filter((_, i) => isTest[i]),
    cells,
    labelCounts,
    cellLabelCounts,
    fractionCellsMissingALabel: cells ? missing / cells : 0,
  };
  await writeFileAtomic(join(o.out, 'train.csv'), trainRows.join('\n') + '\n');
  await writeFileAtomic(join(o.out, 'truth.csv'), truthRows.join('\n') + '\n');
  const { out: _out, preview: _preview, ...recorded } = o;
  const meta = { generator: 'cellcam synth', version: VERSION, options: recorded, classes: HPA_CLASSES, summary };
  await writeFileAtomic(join(o.out, 'synth.json'), JSON.stringify(meta, null, 2) + '\n');
  return summary;
}

async function writePreview(path: string, img: SynthImage): Promise<void> {
  const png = await renderComposite(img, img.width, { cells: img.cells, nuclei: img.nuclei, maxSide: 768, palette: true });
  await writeFileAtomic(path, png);
}
