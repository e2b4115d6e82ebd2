/**
 * `cellcam run`: the weakly supervised pipeline end to end — segment → features → train-image →
 * cam → (pseudo-label → train-cell → predict) × cycles → submission.csv → evaluate — with every
 * stage's outputs under OUT/<stage>/, reused when up to date, and OUT/run.json as the record.
 */
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { CellcamError } from '../errors.js';
import { VERSION } from '../version.js';
import { capabilities, checkDevice, nativeOrNull, pickDevice, type Device } from '../native.js';
import { resolveConfig, type RunConfig } from './config.js';
import { loadRunDataset, type RunDataset } from './dataset.js';
import {
  camStage, dirs, evaluateStage, segmentStage, featuresStage, predictStage, pseudoLabelStage, publishSubmission, trainCellStage, trainImageStage,
  type EvaluationSummary, type PredictReport, type PseudoLabels, type RunEvent, type StageContext,
} from './stages.js';
import { readJson, readJsonOrNull, writeJson } from './store.js';
import { sigmoid } from '../train/optim.js';
import { averagePrecision, NUM_CLASSES } from '../metric/evaluate.js';
import { removeStaleTempFiles } from '../io/atomic.js';
import { lockFolder } from '../io/lock.js';

export interface RunOptions {
  train: string;
  test: string;
  out: string;
  /** partial config merged over the defaults (see RunConfig) */
  config?: unknown;
  configSource?: string;
  labels?: string;
  truth?: string;
  jobs?: number;
  /** continue a run in OUT (reusing finished outputs); without it OUT must be empty or hold a finished or compatible run */
  resume?: boolean;
  /** recompute every stage */
  force?: boolean;
  /**
   * Where cell pooling and cell RLE run: 'auto' (default: CUDA when a device is usable, else the
   * CPU, said once), 'cpu', or 'cuda' (rejects with CELLCAM_E_CUDA and the reason before any work
   * when CUDA is unusable). Outputs never depend on it, so it is not part of the config.
   */
  device?: Device;
  onEvent?: (e: RunEvent) => void;
  /** stop after this stage (in cycle `untilCycle`, default 1, for the per-cycle stages) */
  until?: PipelineStage;
  untilCycle?: number;
}

/** The stages in order; pseudo-label, train-cell and predict repeat per cycle. */
export const PIPELINE_STAGES = ['segment', 'features', 'train-image', 'cam', 'pseudo-label', 'train-cell', 'predict', 'evaluate'] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

class StopAfter extends Error {}

export interface StageRecord {
  stage: string;
  ms: number;
  counts: Record<string, number>;
}

export interface RunRecord {
  tool: 'cellcam';
  version: string;
  status: 'running' | 'finished' | 'failed';
  /** set when the run was asked to stop after a stage (`until`) */
  stoppedAfter?: string;
  startedAt: string;
  finishedAt?: string;
  error?: string;
  config: RunConfig;
  inputs: { train: string; test: string; labels: string; truth: string | null };
  versions: Record<string, string>;
  split: { train: number; val: number; test: number };
  stages: StageRecord[];
  pseudoLabels: PseudoLabels['stats'][];
  validation: { imageMAP: number | null; imageF1: number | null };
  evaluation: EvaluationSummary[] | null;
  submission: string | null;
  /** where pooling and cell RLE ran in the last invocation, and why not on CUDA under 'auto' */
  kernels?: { device: 'cpu' | 'cuda' | 'js'; note?: string };
}

async function versions(): Promise<Record<string, string>> {
  const v: Record<string, string> = { cellcam: VERSION, node: process.versions.node };
  try {
    const ort = await import('onnxruntime-node');
    v['onnxruntime-node'] = (ort as unknown as { env?: { versions?: { node?: string } } }).env?.versions?.node ?? 'unknown';
  } catch {
    v['onnxruntime-node'] = 'unavailable';
  }
  const caps = capabilities();
  v.native = caps ? `built${caps.compiledWithCuda ? ' with CUDA' : ''}` : 'not built (TypeScript kernels)';
  return v;
}

/**
 * Runs the whole pipeline. Stage outputs are reused when their inputs are unchanged, so calling
 * it again after an interruption continues where it stopped.
 *
 * @example
 * ```ts
 * const run = await runPipeline({ train: 'data/train', test: 'data/test', out: 'out', config: { cycles: 2 } });
 * console.log(run.submission, run.evaluation?.[1]?.rows);
 * ```
 */
export async function runPipeline(o: RunOptions): Promise<RunRecord> {
  const config = resolveConfig(o.config ?? {}, o.configSource ?? 'config');
  const device = checkDevice(o.device, 'device');
  const kernels = pickDevice(device, nativeOrNull() !== null, undefined, 'device'); // 'cuda' without a usable GPU throws here
  if (o.until !== undefined && !PIPELINE_STAGES.includes(o.until)) throw new RangeError(`Expected one of ${PIPELINE_STAGES.join(', ')} for until but received '${o.until}'`);
  const untilCycle = o.untilCycle ?? 1;
  if (!Number.isInteger(untilCycle) || untilCycle < 1 || untilCycle > config.cycles) throw new RangeError(`Expected an integer 1..${config.cycles} (the run's cycles) for untilCycle but received ${o.untilCycle}`);
  if (config.cell.input === 'crops' && !config.trainer) {
    throw new CellcamError('CELLCAM_E_CONFIG', `${o.configSource ?? 'config'}: cell.input 'crops' needs an external trainer (--trainer): the built-in cell classifier trains on pooled features`);
  }
  const data = await loadRunDataset({ trainDir: o.train, testDir: o.test, labels: o.labels, truth: o.truth, valFraction: config.valFraction, seed: config.seed });
  const runPath = join(o.out, 'run.json');
  const previous = await readJsonOrNull<RunRecord>(runPath);
  await mkdir(o.out, { recursive: true });
  // One writer per folder: a second run (or stage command) on OUT stops here, naming the one that
  // is writing, before it can take the unfinished run.json for a stopped run.
  const lock = await lockFolder(o.out, 'cellcam run');
  try {
    if (!o.resume && !o.force && previous && previous.status !== 'finished') {
      throw new CellcamError('CELLCAM_E_ARG', `${o.out}: holds an unfinished run (status '${previous.status}'); pass --resume to continue it or --force to start over`);
    }
    // A killed run can leave half-written temp files; they are never read, but should not pile up.
    await removeStaleTempFiles(o.out);
    const onEvent = o.onEvent ?? (() => {});
    if (device !== 'cpu') {
      const where = kernels.run === 'cuda' ? `CUDA (${capabilities().deviceNames[0] ?? 'device 0'})` : kernels.run === 'js' ? 'TypeScript' : 'CPU';
      onEvent({ stage: 'kernels', done: -1, total: 0, notice: true, message: `pooling and cell RLE: ${where}${kernels.note ? ` (${kernels.note})` : ''}` });
    }
    // A CUDA failure under 'auto' falls back to the CPU per call; the user hears of each reason once.
    const noted = new Set<string>();
    const kernelNote = (note: string | undefined) => {
      if (note === undefined || note === kernels.note || noted.has(note)) return;
      noted.add(note);
      onEvent({ stage: 'kernels', done: -1, total: 0, notice: true, message: note });
    };
    const ctx: StageContext = {
      out: o.out, config, data, jobs: o.jobs ?? Math.max(1, Math.min(2, availableParallelism())), force: !!o.force, onEvent, device, kernelNote,
    };
    const record: RunRecord = {
      tool: 'cellcam', version: VERSION, status: 'running', startedAt: new Date().toISOString(), config,
      inputs: { train: data.trainDir, test: data.testDir, labels: data.labelsPath, truth: data.truthPath },
      versions: await versions(),
      split: { train: data.train.length, val: data.val.length, test: data.test.length },
      stages: [], pseudoLabels: [], validation: { imageMAP: null, imageF1: null }, evaluation: null, submission: null,
      kernels: { device: kernels.run, ...(kernels.note ? { note: kernels.note } : {}) },
    };
    const save = () => writeJson(runPath, record);
    await save();
    const stage = async <T>(name: string, fn: () => Promise<T>, counts: (r: T) => Record<string, number>, base = name, cycle = 0): Promise<T> => {
      const t0 = performance.now();
      onEvent({ stage: name, done: 0, total: 1, message: 'start' });
      const r = await fn();
      record.stages.push({ stage: name, ms: Math.round(performance.now() - t0), counts: counts(r) });
      await save();
      if (o.until === base && (cycle === 0 || cycle === untilCycle)) {
        record.stoppedAfter = name;
        throw new StopAfter(name);
      }
      return r;
    };
    try {
      const trainIds = [...data.train, ...data.val];
      for (const [split, ids] of [['train', trainIds], ['test', data.test]] as const) {
        await stage(`segment (${split})`, () => segmentStage(ctx, split, ids), (s) => ({ images: s.total, segmented: s.segmented, reused: s.skipped, changed: s.changed }),
          split === 'test' ? 'segment' : 'segment (train)');
      }
      const all = [...trainIds, ...data.test];
      await stage('features', () => featuresStage(ctx, all), (r) => r);
      const img = await stage('train-image', () => trainImageStage(ctx), (r) => ({ images: r.images }));
      await stage('cam', async () => {
        const r = await camStage(ctx, all, img.model);
        record.validation = await imageValidation(ctx);
        return r;
      }, (r) => r);
      let oofKey: string | null = null;
      const predictions: PredictReport[] = [];
      for (let k = 1; k <= config.cycles; k++) {
        const pl = await stage(`pseudo-label ${k}`, () => pseudoLabelStage(ctx, k, oofKey).then((r) => (record.pseudoLabels.push(r.stats), r)),
          (r) => ({ cells: r.stats.cells, labelled: r.stats.labelled, unknown: r.stats.unknown }), 'pseudo-label', k);
        const cell = await stage(`train-cell ${k}`, () => trainCellStage(ctx, k, pl), (r) => ({ cells: r.cells }), 'train-cell', k);
        oofKey = cell.key;
        predictions.push(await stage(`predict ${k}`, async () => {
          const p = await predictStage(ctx, k, cell.model);
          record.submission = await publishSubmission(o.out, p);
          return p;
        }, (r) => ({ images: r.images, cells: r.cells }), 'predict', k));
      }
      record.evaluation = await stage('evaluate', () => evaluateStage(ctx, predictions), (r) => ({ splits: r?.length ?? 0 }));
      record.status = 'finished';
      record.finishedAt = new Date().toISOString();
      await save();
      return record;
    } catch (e) {
      if (e instanceof StopAfter) {
        record.status = 'finished';
        record.finishedAt = new Date().toISOString();
        await save();
        return record;
      }
      record.status = 'failed';
      record.error = (e as Error).message;
      await save();
      throw e;
    }
  } finally {
    await lock.release();
  }
}

/** Image-level mAP (macro over classes with positives) and micro F1 at 0.5 on the validation images. */
async function imageValidation(ctx: StageContext): Promise<RunRecord['validation']> {
  const { data, out } = ctx;
  if (!data.val.length) return { imageMAP: null, imageF1: null };
  const rows: { p: number[]; y: number[] }[] = [];
  for (const id of data.val) {
    const cam = await readJson<{ logits: number[] }>(join(dirs(out).cam, `${id}.json`), `CAM of ${id}`);
    rows.push({ p: cam.logits.map(sigmoid), y: data.labels.get(id)! });
  }
  const aps: number[] = [];
  let tp = 0, fp = 0, fn = 0;
  for (let c = 0; c < NUM_CLASSES; c++) {
    const scored = rows.map((r) => ({ score: r.p[c], tp: r.y.includes(c) })).sort((a, b) => b.score - a.score);
    const pos = scored.filter((s) => s.tp).length;
    if (pos) aps.push(averagePrecision(scored, pos));
    for (const s of scored) {
      if (s.score >= 0.5 && s.tp) tp++;
      else if (s.score >= 0.5) fp++;
      else if (s.tp) fn++;
    }
  }
  return { imageMAP: aps.length ? aps.reduce((a, b) => a + b, 0) / aps.length : null, imageF1: tp ? (2 * tp) / (2 * tp + fp + fn) : 0 };
}
