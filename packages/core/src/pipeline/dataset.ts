/**
 * The Kaggle layout a run reads: image-level labels (train.csv), train and test image sets,
 * sample_submission.csv, an optional truth file, and the seeded validation split.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CellcamError } from '../errors.js';
import { imageSize, listImageSets } from '../io/imageset.js';
import { NUM_CLASSES } from '../metric/evaluate.js';
import { mulberry32 } from '../util/random.js';
import { forEachLimit } from '../util/concurrency.js';

/**
 * Reads `ID,Label` rows ('|'-separated class ids 0..18). Errors name the file and line.
 *
 * @example
 * ```ts
 * const labels = await readImageLabels('data/train.csv'); // Map<id, number[]>
 * ```
 */
export async function readImageLabels(path: string): Promise<Map<string, number[]>> {
  if (!existsSync(path)) throw new CellcamError('CELLCAM_E_IO', `${path}: label file not found (expected ID,Label rows; pass --labels FILE)`);
  const lines = (await readFile(path, 'utf8')).split(/\r?\n/);
  const head = lines[0].trim().split(',').map((s) => s.trim());
  if (head[0] !== 'ID' || head[1] !== 'Label') throw new CellcamError('CELLCAM_E_FORMAT', `${path}:1: expected the header 'ID,Label' but found '${lines[0].slice(0, 60)}'`);
  const out = new Map<string, number[]>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const [id, label, ...rest] = line.split(',');
    if (!id || label === undefined || rest.length) throw new CellcamError('CELLCAM_E_FORMAT', `${path}:${i + 1}: expected 'ID,Label' but found '${line.slice(0, 80)}'`);
    const parts = label.split('|').map((s) => s.trim());
    const ids = parts.map(Number);
    const bad = parts.filter((p, k) => !/^\d+$/.test(p) || ids[k] >= NUM_CLASSES);
    if (bad.length || parts.length === 0) {
      throw new CellcamError('CELLCAM_E_FORMAT', `${path}:${i + 1}: image ${id}: expected class ids 0..${NUM_CLASSES - 1} separated by '|' but found '${label}'`);
    }
    if (out.has(id)) throw new CellcamError('CELLCAM_E_FORMAT', `${path}:${i + 1}: image ${id} is listed twice`);
    out.set(id, [...new Set(ids)].sort((a, b) => a - b));
  }
  return out;
}

export interface RunDataset {
  trainDir: string;
  testDir: string;
  labelsPath: string;
  truthPath: string | null;
  /** training image ids with labels (sorted), split into train and validation */
  train: string[];
  val: string[];
  test: string[];
  labels: Map<string, number[]>;
  /** complete image sets in the train folder that train.csv does not list (not used) */
  unlabelled: string[];
}

export interface DatasetOptions {
  trainDir: string;
  testDir: string;
  labels?: string;
  truth?: string;
  /** share of training images held out for validation (default 0.1) */
  valFraction?: number;
  seed?: number;
}

/** Resolves the inputs of a run and checks that they agree. */
export async function loadRunDataset(o: DatasetOptions): Promise<RunDataset> {
  for (const [name, dir] of [['--train', o.trainDir], ['--test', o.testDir]] as const) {
    if (!existsSync(dir)) throw new CellcamError('CELLCAM_E_IO', `${dir}: ${name} folder not found`);
  }
  const labelsPath = o.labels ?? join(dirname(o.trainDir), 'train.csv');
  const labels = await readImageLabels(labelsPath);
  const trainSets = (await listImageSets(o.trainDir)).filter((s) => s.complete).map((s) => s.id);
  const have = new Set(trainSets);
  const unknown = [...labels.keys()].filter((id) => !have.has(id));
  if (unknown.length) {
    throw new CellcamError('CELLCAM_E_FORMAT', `${labelsPath}: ${unknown.length} image id(s) have no complete image set in ${o.trainDir}: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''}`);
  }
  const ids = trainSets.filter((id) => labels.has(id)).sort();
  if (ids.length === 0) throw new CellcamError('CELLCAM_E_ARG', `${o.trainDir}: no labelled training images (${labelsPath} lists ${labels.size})`);
  const frac = o.valFraction ?? 0.1;
  if (!(frac >= 0 && frac < 1)) throw new RangeError(`Expected a number in [0, 1) for valFraction but received ${frac}`);
  // Never the whole set: at least one image is left to train on.
  const nVal = ids.length >= 5 ? Math.min(ids.length - 1, Math.max(frac > 0 ? 1 : 0, Math.round(ids.length * frac))) : 0;
  const order = [...ids];
  const rand = mulberry32((o.seed ?? 1) ^ 0x5eed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const valSet = new Set(order.slice(0, nVal));
  const testSets = new Map((await listImageSets(o.testDir)).filter((s) => s.complete).map((s) => [s.id, s.files.red!]));
  let test = [...testSets.keys()].sort();
  const sample = join(dirname(o.testDir), 'sample_submission.csv');
  if (existsSync(sample)) {
    const rows = await readSampleRows(sample);
    const missing = rows.filter((r) => !testSets.has(r.id)).map((r) => r.id);
    if (missing.length) throw new CellcamError('CELLCAM_E_FORMAT', `${sample}: ${missing.length} id(s) have no complete image set in ${o.testDir}: ${missing.slice(0, 5).join(', ')}`);
    // Kaggle scores masks at the sample's sizes: resized test images would give a submission it
    // rejects, found only after the whole run.
    const wrong: { line: number; text: string }[] = [];
    await forEachLimit(rows, 8, async (r) => {
      if (r.width === null || r.height === null) return;
      const file = testSets.get(r.id)!;
      const { width, height } = await imageSize(file);
      if (width !== r.width || height !== r.height) wrong.push({ line: r.line, text: `line ${r.line}: ${r.id} is ${r.width}x${r.height} there but ${file} is ${width}x${height}` });
    });
    if (wrong.length) {
      const first = wrong.sort((a, b) => a.line - b.line).slice(0, 5).map((w) => w.text);
      throw new CellcamError('CELLCAM_E_FORMAT', `${sample}: ${wrong.length} test image(s) are not the size the sample gives, and Kaggle scores masks at the sample's size; use the original images. ${first.join('; ')}`);
    }
    test = [...new Set(rows.map((r) => r.id))];
  }
  if (test.length === 0) throw new CellcamError('CELLCAM_E_IO', `${o.testDir}: no complete test image sets ({ID}_{red,green,blue,yellow}.png|.jpg|.tif)`);
  const trainSet = new Set(ids);
  const both = test.filter((id) => trainSet.has(id));
  if (both.length) throw new CellcamError('CELLCAM_E_ARG', `${both.length} image id(s) are both training (${labelsPath}) and test images (${o.testDir}): ${both.slice(0, 5).join(', ')}`);
  let truthPath: string | null = o.truth ?? join(dirname(o.testDir), 'truth.csv');
  if (!existsSync(truthPath)) {
    if (o.truth) throw new CellcamError('CELLCAM_E_IO', `${o.truth}: --truth file not found`);
    truthPath = null;
  }
  return {
    trainDir: o.trainDir, testDir: o.testDir, labelsPath, truthPath,
    train: ids.filter((id) => !valSet.has(id)), val: ids.filter((id) => valSet.has(id)), test, labels,
    unlabelled: trainSets.filter((id) => !labels.has(id)),
  };
}

/** The rows of a sample_submission.csv: id, the size it gives (null without those columns) and the line. */
async function readSampleRows(path: string): Promise<{ id: string; width: number | null; height: number | null; line: number }[]> {
  const lines = (await readFile(path, 'utf8')).split(/\r?\n/);
  const header = lines[0].split(',').map((h) => h.trim());
  const wi = header.indexOf('ImageWidth'), hi = header.indexOf('ImageHeight');
  const rows: { id: string; width: number | null; height: number | null; line: number }[] = [];
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i].split(',');
    const id = f[0].trim();
    if (!id) continue;
    const num = (k: number) => {
      if (k < 0) return null;
      const v = Number(f[k]);
      if (!Number.isInteger(v) || v < 1) throw new CellcamError('CELLCAM_E_FORMAT', `${path} line ${i + 1}: expected a positive integer ${header[k]} but found '${f[k] ?? ''}'`);
      return v;
    };
    rows.push({ id, width: num(wi), height: num(hi), line: i + 1 });
  }
  return rows;
}
