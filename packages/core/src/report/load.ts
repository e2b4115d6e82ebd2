/**
 * Reads whatever a run folder holds for the report — run.json, the split, labels, truth, the
 * latest pseudo-labels, final probabilities and evaluations — tolerating older, partial and
 * failed runs: each missing piece becomes a notice instead of an error.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CellcamError } from '../errors.js';
import { readTruth, type EvaluateResult, type ImageTruth } from '../metric/evaluate.js';
import { DEFAULT_CONFIG, type RunConfig } from '../pipeline/config.js';
import { loadRunDataset, readImageLabels } from '../pipeline/dataset.js';
import type { RunRecord } from '../pipeline/run.js';
import { dirs, type PseudoLabels } from '../pipeline/stages.js';
import { readJsonOrNull } from '../pipeline/store.js';
import { VERSION } from '../version.js';

export type Split = 'train' | 'val' | 'test';

/** predict/cycle-K/probabilities.json: per image, the image probabilities (19) and the cell probabilities (cells × 19). */
export type FinalProbabilities = Record<string, { image: number[]; cell: number[] }>;

export interface EvaluationFile {
  split: 'val' | 'test';
  name: string;
  result: EvaluateResult;
}

/** What the report knows about a run folder. */
export interface RunView {
  dir: string;
  record: RunRecord | null;
  config: RunConfig;
  /** problems and gaps, in words, for the summary page */
  notices: string[];
  trainDir: string | null;
  testDir: string | null;
  /** image folder per split, when present on disk */
  imageDir: (split: Split) => string | null;
  labels: Map<string, number[]>;
  truth: Map<string, ImageTruth> | null;
  truthPath: string | null;
  /** every image with a segmentation, in report order: test, validation, train (each sorted) */
  ids: string[];
  split: Map<string, Split>;
  /** latest pseudo-labels (train images) */
  pseudo: PseudoLabels | null;
  /** latest cycle with predictions: probabilities of validation and test images */
  predict: { cycle: number; probs: FinalProbabilities } | null;
  /** out-of-fold cell probabilities (cells × 19) of the train images, of the same cycle's cell classifier */
  oof: { cycle: number; probs: Record<string, number[]> } | null;
  evaluations: EvaluationFile[];
  /** image classifier (for CAM heatmaps), when present */
  imageModel: string | null;
  /** test submission of the latest cycle (for the PR curves) */
  submission: string | null;
}

async function cycles(dir: string): Promise<number[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir)).map((n) => /^cycle-(\d+)$/.exec(n)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1])).sort((a, b) => a - b);
}

async function segmentedIds(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir)).map((n) => /^(.+)_cells\.png$/.exec(n)).filter((m): m is RegExpExecArray => !!m).map((m) => m[1]).sort();
}

/**
 * Loads a run folder for the report. Throws CELLCAM_E_IO only when the folder is not a run at all
 * (no run.json and no segmentation).
 *
 * @example
 * ```ts
 * const view = await loadRunView('out');
 * console.log(view.ids.length, view.notices);
 * ```
 */
export async function loadRunView(run: string): Promise<RunView> {
  if (!existsSync(run)) throw new CellcamError('CELLCAM_E_IO', `${run}: run folder not found`);
  const d = dirs(run);
  const notices: string[] = [];
  const record = await readJsonOrNull<RunRecord>(join(run, 'run.json'));
  const segTrain = await segmentedIds(d.segment('train')), segTest = await segmentedIds(d.segment('test'));
  if (!record && !segTrain.length && !segTest.length) {
    throw new CellcamError('CELLCAM_E_IO', `${run}: not a cellcam run folder (no run.json and no segment/ outputs)`);
  }
  if (!record) notices.push('run.json is missing or unreadable (a run from an older version, or one that was interrupted before it started): config, versions, stage times and metrics are not shown.');
  else {
    if (record.version && record.version !== VERSION) notices.push(`This run was written by cellcam ${record.version}; this report is cellcam ${VERSION}. Fields the older version did not write are left out.`);
    if (record.status === 'running') notices.push(`The run has not finished (status "running": still running, or killed). Last stage recorded: ${record.stages?.at(-1)?.stage ?? 'none'}.`);
    if (record.status === 'failed') notices.push(`The run failed${record.error ? `: ${record.error}` : ''}. Everything written before the failure is shown.`);
    if (record.stoppedAfter) notices.push(`The run was asked to stop after ${record.stoppedAfter}; later stages are not shown.`);
  }
  const config: RunConfig = { ...DEFAULT_CONFIG, ...(record?.config ?? {}) } as RunConfig;

  // Split and labels: the run's own dataset rules when its inputs are still there, else the folders.
  let trainDir: string | null = record?.inputs?.train ?? null, testDir: string | null = record?.inputs?.test ?? null;
  let labels = new Map<string, number[]>();
  const split = new Map<string, Split>();
  let fromDataset = false;
  if (trainDir && testDir && existsSync(trainDir) && existsSync(testDir)) {
    try {
      const data = await loadRunDataset({ trainDir, testDir, labels: record?.inputs?.labels, valFraction: config.valFraction, seed: config.seed });
      labels = data.labels;
      for (const id of data.train) split.set(id, 'train');
      for (const id of data.val) split.set(id, 'val');
      for (const id of data.test) split.set(id, 'test');
      fromDataset = true;
    } catch (e) {
      notices.push(`The run's inputs could not be read again (${(e as Error).message}); the split is taken from the run folder.`);
    }
  }
  if (!fromDataset) {
    if (record?.inputs?.labels && existsSync(record.inputs.labels)) labels = await readImageLabels(record.inputs.labels).catch(() => new Map());
    for (const id of segTest) split.set(id, 'test');
  }
  if (!trainDir || !existsSync(trainDir)) {
    notices.push(`The training image folder${trainDir ? ` ${trainDir}` : ''} is not available: training images are listed without composites or heatmaps.`);
    trainDir = trainDir && existsSync(trainDir) ? trainDir : null;
  }
  if (!testDir || !existsSync(testDir)) {
    notices.push(`The test image folder${testDir ? ` ${testDir}` : ''} is not available: test images are listed without composites or heatmaps.`);
    testDir = testDir && existsSync(testDir) ? testDir : null;
  }

  // Latest cycle outputs.
  const pseudoCycles = await cycles(join(run, 'pseudo-label')), predictCycles = await cycles(join(run, 'predict'));
  let pseudo: PseudoLabels | null = null;
  for (const k of [...pseudoCycles].reverse()) if ((pseudo = await readJsonOrNull<PseudoLabels>(join(d.pseudo(k), 'labels.json')))) break;
  let predict: RunView['predict'] = null;
  for (const k of [...predictCycles].reverse()) {
    const p = await readJsonOrNull<{ probs: FinalProbabilities }>(join(d.predict(k), 'probabilities.json'));
    if (p?.probs) {
      predict = { cycle: k, probs: p.probs };
      break;
    }
  }
  const oofCycle = predict?.cycle ?? pseudo?.cycle ?? null;
  const oofRaw = oofCycle ? await readJsonOrNull<{ probs: Record<string, number[]> }>(join(d.trainCell(oofCycle), 'oof.json')) : null;
  const oof = oofRaw?.probs && oofCycle ? { cycle: oofCycle, probs: oofRaw.probs } : null;
  if (!fromDataset) {
    // Without the dataset: validation images are the predicted ones of the train folder.
    for (const id of segTrain) split.set(id, predict?.probs[id] && !split.has(id) ? 'val' : 'train');
  }

  // Truth.
  const truthPath = record?.inputs?.truth ?? null;
  let truth: Map<string, ImageTruth> | null = null;
  if (truthPath) {
    if (existsSync(truthPath)) truth = await readTruth(truthPath).catch((e) => (notices.push(`The truth file ${truthPath} could not be read (${(e as Error).message}).`), null));
    else notices.push(`The truth file ${truthPath} is gone: wrong cells are not marked.`);
  }

  // Evaluations: run.json's table, else whatever evaluate/ holds.
  const evaluations: EvaluationFile[] = [];
  const evalDir = d.evaluate;
  const names: { split: 'val' | 'test'; name: string }[] = record?.evaluation?.length
    ? record.evaluation.flatMap((e) => e.rows.map((r) => ({ split: e.split, name: r.name })))
    : existsSync(evalDir)
      ? (await readdir(evalDir)).map((f) => /^(val|test)-(.+)\.json$/.exec(f)).filter((m): m is RegExpExecArray => !!m).map((m) => ({ split: m[1] as 'val' | 'test', name: m[2] }))
      : [];
  for (const n of names) {
    const result = await readJsonOrNull<EvaluateResult>(join(evalDir, `${n.split}-${n.name}.json`));
    if (result?.classes) evaluations.push({ ...n, result });
  }

  // What is missing, stage by stage.
  const missing: string[] = [];
  if (!segTrain.length && !segTest.length) missing.push('segment (no cell masks: no outlines, no cells)');
  if (!existsSync(d.features)) missing.push('features (cell areas and masks are recomputed from the label images)');
  const imageModel = existsSync(join(d.trainImage, 'model.onnx')) ? join(d.trainImage, 'model.onnx') : config.image?.model && existsSync(config.image.model) ? config.image.model : null;
  if (!imageModel) missing.push('train-image (no image classifier: no CAM heatmaps)');
  if (!existsSync(d.cam)) missing.push('cam (no image-level predictions)');
  if (!pseudo) missing.push('pseudo-label (no pseudo-labels)');
  if (!predict) missing.push('predict (no final cell classes for validation and test images)');
  if (!oof) missing.push('train-cell out-of-fold predictions (no final classes for training cells)');
  if (truth && !evaluations.length) missing.push('evaluate (no cell-level mAP, AP chart or PR curves)');
  if (missing.length) notices.push(`Missing from this run folder: ${missing.join('; ')}.`);

  const order: Split[] = ['test', 'val', 'train'];
  const ids = [...split.entries()]
    .filter(([id, s]) => (s === 'test' ? segTest : segTrain).includes(id))
    .sort((a, b) => order.indexOf(a[1]) - order.indexOf(b[1]) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([id]) => id);
  const submission = predict && existsSync(join(d.predict(predict.cycle), 'submission.csv')) ? join(d.predict(predict.cycle), 'submission.csv') : null;
  return {
    dir: run, record, config, notices, trainDir, testDir,
    imageDir: (s) => (s === 'test' ? testDir : trainDir),
    labels, truth, truthPath: truth ? truthPath : null, ids, split, pseudo, predict, oof, evaluations, imageModel, submission,
  };
}
