/**
 * Reference submissions built from ground-truth cell masks, the yardsticks for the pipeline:
 * 'broadcast' copies every image label to every cell (the common Kaggle baseline), 'random' gives
 * all 19 classes random confidences, 'oracle' writes the true labels (with another segmentation,
 * each cell takes the labels of the true cell it overlaps most).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CellcamError } from '../errors.js';
import { listImageSets } from '../io/imageset.js';
import { readLabels } from '../io/png.js';
import { findMasks } from '../io/masks.js';
import { compressRleString, encodeCells } from '../submit/encode.js';
import { truthLabelsForMasks } from './truth-match.js';
import { rleToString } from '../kernels/rle.js';
import { SubmissionWriter } from '../submit/writer.js';
import { readTruth, NUM_CLASSES } from './evaluate.js';
import { mulberry32 } from '../util/random.js';

export type BaselineKind = 'broadcast' | 'random' | 'oracle';

export interface BaselineOptions {
  /** dataset folder in the `cellcam synth` layout (test/, cells/, truth.csv) */
  dataset: string;
  kind: BaselineKind;
  out: string;
  /** folder with {ID}_cells.png to use instead of DIR/cells (e.g. `cellcam segment` output) */
  cells?: string;
  /** image folder; default DIR/test */
  images?: string;
  seed?: number;
  onProgress?: (done: number, total: number, id: string) => void;
}


/**
 * Writes a baseline submission for the test images of a dataset.
 *
 * @example
 * ```ts
 * await writeBaseline({ dataset: 'synth', kind: 'broadcast', out: 'broadcast.csv' });
 * ```
 */
export async function writeBaseline(options: BaselineOptions): Promise<{ images: number; cells: number; out: string }> {
  const { dataset, kind } = options;
  if (!['broadcast', 'random', 'oracle'].includes(kind)) {
    throw new RangeError(`Expected 'broadcast', 'random' or 'oracle' for kind but received '${kind}'`);
  }
  const truthPath = join(dataset, 'truth.csv');
  if (!existsSync(truthPath)) throw new CellcamError('CELLCAM_E_IO', `${truthPath}: not found (baselines need the dataset's truth.csv)`);
  const truth = await readTruth(truthPath);
  const imageDir = options.images ?? join(dataset, 'test');
  const cellsDir = options.cells ?? join(dataset, 'cells');
  const sets = (await listImageSets(imageDir)).filter((s) => s.complete);
  if (sets.length === 0) throw new CellcamError('CELLCAM_E_IO', `${imageDir}: no complete image sets ({ID}_{red,green,blue,yellow}.png)`);
  const rand = mulberry32(options.seed ?? 1);
  const writer = await SubmissionWriter.open(options.out);
  let cells = 0;
  try {
    for (let i = 0; i < sets.length; i++) {
      const id = sets[i].id;
      const t = truth.get(id);
      if (!t) throw new CellcamError('CELLCAM_E_FORMAT', `${truthPath}: no row for test image ${id}`);
      // {ID}_cells.png as synth and `cellcam segment` write it, or the HPA segmentator's {ID}_cellmask.png
      const labelFile = findMasks(cellsDir, id).cells ?? join(cellsDir, `${id}_cells.png`);
      const lab = await readLabels(labelFile);
      if (lab.width !== t.width || lab.height !== t.height) {
        throw new CellcamError('CELLCAM_E_FORMAT', `${labelFile}: ${lab.width}x${lab.height} but truth.csv says ${t.width}x${t.height}`);
      }
      const labels = lab.data;
      const masks = await encodeCells(labels, lab.width, lab.height);
      const oracle = kind === 'oracle' ? truthLabelsForMasks(t, masks) : null;
      const imageLabels = [...new Set(t.cells.flatMap((c) => c.labels))].sort((a, b) => a - b);
      const preds = [];
      for (const [k, mask] of masks.entries()) {
        let scores: { label: number; confidence: number }[];
        if (kind === 'broadcast') scores = imageLabels.map((label) => ({ label, confidence: 1 }));
        else if (kind === 'oracle') scores = (oracle![k] ?? []).map((label) => ({ label, confidence: 1 }));
        else scores = Array.from({ length: NUM_CLASSES }, (_, label) => ({ label, confidence: rand() }));
        if (scores.length) preds.push({ mask, scores });
      }
      // Cells absent from the label image have the empty mask: never write those.
      const nonEmpty = preds.filter((p) => !isEmptyMask(p.mask, lab.width, lab.height));
      cells += nonEmpty.length;
      await writer.addImage(id, lab.width, lab.height, nonEmpty);
      options.onProgress?.(i + 1, sets.length, id);
    }
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return { images: sets.length, cells, out: options.out };
}

const emptyCache = new Map<string, string>();
function isEmptyMask(mask: string, width: number, height: number): boolean {
  const key = `${width}x${height}`;
  let empty = emptyCache.get(key);
  if (empty === undefined) {
    // The empty mask's encoding depends only on the size.
    empty = encodeEmpty(width, height);
    emptyCache.set(key, empty);
  }
  return mask === empty;
}

function encodeEmpty(width: number, height: number): string {
  return compressRleString(rleToString([width * height]));
}
