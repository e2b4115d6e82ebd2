/**
 * The stages of `cellcam run`, each a function over a run folder: features, train-image, cam,
 * pseudo-label, train-cell, predict and evaluate (segmentation reuses segment/segment.ts). Every
 * output records the hash of what it was computed from; an output whose key still matches is
 * reused, so reruns skip finished work and a killed run resumes.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CellcamError } from '../errors.js';
import { imageSize, listImageSets, readImageSet, CHANNELS } from '../io/imageset.js';
import { resolveTies, segmentFolder } from '../segment/segment.js';
import { readGrey, readLabels, writeGreyPng } from '../io/png.js';
import { findMasks } from '../io/masks.js';
import { poolCells } from '../kernels/pool.js';
import type { Device } from '../native.js';
import { encodeCells } from '../submit/encode.js';
import { SubmissionWriter } from '../submit/writer.js';
import { NUM_CLASSES, evaluateFiles, readTruth, type EvaluateResult, type ImageTruth } from '../metric/evaluate.js';
import { truthLabelsForMasks } from '../metric/truth-match.js';
import { OrtPool, type OrtTensorData } from '../model/session.js';
import { decodeOnnxModel } from '../model/onnx-writer.js';
import { CELL_CROP_CONTRACT, CELL_FEATURES_CONTRACT, IMAGE_CLASSIFIER_CONTRACT, META } from '../model/contracts.js';
import { cellCrops, decodeNpy, encodeNpy } from '../io/crops.js';
import { readFile } from 'node:fs/promises';
import { FEATURE_COUNT, FEATURE_LAYOUT, featureModel } from '../features/bank.js';
import { imageTensorAsync } from '../features/input.js';
import { imageClassifierModel } from '../cam/image-model.js';
import { activate, applyStandardizer, fitStandardizer, mlpLogits, sigmoid, trainLogistic, type Matrix } from '../train/optim.js';
import { fitMlps, type MlpFitJob } from '../train/mlp-fit.js';
import { cellClassifierModel, cellInputTransform } from '../train/cell-model.js';
import { pseudoLabelImage, pseudoLabelQuality, singleTarget, type PseudoLabelQuality } from '../pseudolabel/pseudolabel.js';
import { tempPathFor, writeFileAtomic } from '../io/atomic.js';
import { hashFile, hashValue, readJson, readJsonOrNull, writeJson } from './store.js';
import type { RunConfig } from './config.js';
import { combine } from '../predict/combine.js';
import type { RunDataset } from './dataset.js';
import { VERSION } from '../version.js';
import { forEachLimit } from '../util/concurrency.js';

/** Per-cell features of one image: `feats` is cells × CELL_FEATURE_COUNT (see docs/pipeline.md). */
export interface CellRecord {
  id: string;
  key: string;
  width: number;
  height: number;
  /** label ids of the non-empty cells, ascending */
  cellIds: number[];
  area: number[];
  /** encoded masks (submission encoding), one per cell */
  masks: string[];
  /** image-level spatial mean of each feature-bank channel */
  gap: number[];
  feats: number[];
}

/** Cell feature layout: bank means over the whole cell, nucleus and cytoplasm, then bank maxima over the cell. */
export const CELL_FEATURE_COUNT = 4 * FEATURE_COUNT;

export interface CamRecord {
  id: string;
  key: string;
  logits: number[];
  /** cells × 19: CAM mean and max over each cell (logit scale) */
  mean: number[];
  max: number[];
  /** cells × 19: CAM mean over the cell's nucleus and over its cytoplasm (0 where a cell has none) */
  nucleusMean: number[];
  cytoplasmMean: number[];
  /**
   * The CAM maps themselves, for viewing (`cellcam report`): `{ID}.cam.npy` beside the record,
   * uint8 [classes, h, w]; class c's value v stands for lo[c] + v / 255 · (hi[c] − lo[c]).
   */
  maps?: { file: string; classes: number; h: number; w: number; lo: number[]; hi: number[] };
}

/** Quantises [C, h, w] maps to uint8 per class (min → 0, max → 255) for storage. */
export function quantizeMaps(data: Float32Array, C: number, hw: number): { q: Uint8Array; lo: number[]; hi: number[] } {
  const q = new Uint8Array(C * hw), lo: number[] = [], hi: number[] = [];
  for (let c = 0; c < C; c++) {
    let a = Infinity, b = -Infinity;
    for (let i = c * hw; i < (c + 1) * hw; i++) {
      const v = data[i];
      if (v < a) a = v;
      if (v > b) b = v;
    }
    if (!(a <= b)) a = b = 0;
    lo.push(a);
    hi.push(b);
    const k = b > a ? 255 / (b - a) : 0;
    for (let i = c * hw; i < (c + 1) * hw; i++) q[i] = Math.round((data[i] - a) * k);
  }
  return { q, lo, hi };
}

/** Stored CAM maps of one image, dequantized one class at a time (see {@link openCamMaps}). */
export interface StoredCamMaps {
  classes: number;
  h: number;
  w: number;
  /** class c's map as float32 [h, w] */
  channel(c: number): Float32Array;
}

/**
 * Opens the stored CAM maps of a record (null when absent); classes are dequantized on demand.
 *
 * @example
 * ```ts
 * const maps = await openCamMaps('out/cam', JSON.parse(await readFile(`out/cam/${id}.json`, 'utf8')));
 * const golgi = maps?.channel(7); // Float32Array [h * w]
 * ```
 */
export async function openCamMaps(camDir: string, rec: CamRecord): Promise<StoredCamMaps | null> {
  const m = rec.maps;
  if (!m) return null;
  const path = join(camDir, m.file);
  if (!existsSync(path)) return null;
  const { data: q } = decodeNpy(new Uint8Array(await readFile(path)), path);
  const hw = m.h * m.w;
  if (q.length !== m.classes * hw) return null;
  return {
    classes: m.classes,
    h: m.h,
    w: m.w,
    channel(c: number): Float32Array {
      const out = new Float32Array(hw);
      const a = m.lo[c], k = (m.hi[c] - m.lo[c]) / 255;
      for (let i = 0; i < hw; i++) out[i] = a + q[c * hw + i] * k;
      return out;
    },
  };
}

export interface RunEvent {
  stage: string;
  done: number;
  total: number;
  id?: string;
  message?: string;
  /** a one-off line for the user (where the kernels run, a CUDA fallback), shown even without --verbose */
  notice?: boolean;
}

export interface StageContext {
  out: string;
  config: RunConfig;
  data: RunDataset;
  jobs: number;
  force: boolean;
  onEvent: (e: RunEvent) => void;
  /** where pooling and cell RLE run (runPipeline checked it against the machine) */
  device: Device;
  /** reports a kernel's deviceNote (a CUDA failure under 'auto'); each distinct note once */
  kernelNote: (note: string | undefined) => void;
}

export const dirs = (out: string) => ({
  segment: (split: 'train' | 'test') => join(out, 'segment', split),
  features: join(out, 'features'),
  trainImage: join(out, 'train-image'),
  cam: join(out, 'cam'),
  pseudo: (k: number) => join(out, 'pseudo-label', `cycle-${k}`),
  trainCell: (k: number) => join(out, 'train-cell', `cycle-${k}`),
  predict: (k: number) => join(out, 'predict', `cycle-${k}`),
  evaluate: join(out, 'evaluate'),
});

/** Which image folder an id lives in (train and test ids are disjoint: loadRunDataset checks it). */
export const splitOf = (data: RunDataset, id: string): 'train' | 'test' => (data.labels.has(id) ? 'train' : 'test');

/** Hash of an image set's four channel files, by content (the files are found by listing the folder once). */
async function imageFilesHasher(dir: string): Promise<(id: string) => Promise<string>> {
  const sets = new Map((await listImageSets(dir)).map((x) => [x.id, x]));
  return async (id) => {
    const set = sets.get(id);
    if (!set?.complete) throw new CellcamError('CELLCAM_E_IO', `${dir}: image set ${id} is missing ${set ? set.missing.join(', ') : 'all channels'}`);
    return hashValue(await Promise.all(CHANNELS.map((c) => hashFile(set.files[c]!))));
  };
}

/** What the segment stage did for one split (segmentFolder's summary, or the masks imported). */
export interface SegmentStageSummary {
  total: number;
  /** images segmented (or, with segment.masks, imported) now */
  segmented: number;
  /** images whose outputs were up to date */
  skipped: number;
  /** images whose inputs changed since the last run */
  changed: number;
}

/**
 * Segments the images of one split into OUT/segment/<split>/ (segment/segment.ts): from the
 * model-free maps, or from the U-Nets of segment.nucleiModel/cellModel; with segment.masks, takes
 * the folder's label images instead. A manifest records the hash of each image's inputs; an image
 * whose inputs changed is done again, the others are reused.
 *
 * @example
 * ```ts
 * const s = await segmentStage(ctx, 'test', ctx.data.test);
 * ```
 */
export async function segmentStage(ctx: StageContext, split: 'train' | 'test', ids: readonly string[]): Promise<SegmentStageSummary> {
  const { data, config, out } = ctx;
  if (config.segment.masks !== null) return importMasks(ctx, split, ids, config.segment.masks);
  const imageDir = split === 'train' ? data.trainDir : data.testDir;
  const outDir = dirs(out).segment(split);
  const manifestPath = join(outDir, 'manifest.json');
  const old = await readJsonOrNull<{ inputs: Record<string, string> }>(manifestPath);
  const hashOf = await imageFilesHasher(imageDir);
  const inputs: Record<string, string> = { ...(old?.inputs ?? {}) };
  let changed = 0;
  const { nucleiModel, cellModel, scale } = config.segment;
  for (const [key, file] of [['segment.nucleiModel', nucleiModel], ['segment.cellModel', cellModel]] as const) {
    if (file !== null && !existsSync(file)) throw new CellcamError('CELLCAM_E_IO', `${file}: ${key} not found`);
  }
  // resolveConfig allows both models or neither.
  const unet = nucleiModel !== null && cellModel !== null ? { nucleiModel, cellModel } : null;
  const models = unet ? [await hashFile(unet.nucleiModel), await hashFile(unet.cellModel)] : null;
  // 'auto' ties: hpacellseg's heap order with the U-Nets, fifo on the model-free maps.
  const ties = resolveTies(config.segment.ties, unet !== null);
  // Without models, 'heap' keeps the key it had before ties could be chosen, so existing runs stay up to date.
  const keyOf = (files: string) => {
    if (models) return hashValue(['unet', scale, ties, models, files]);
    return hashValue(ties === 'heap' ? [scale, files] : [scale, ties, files]);
  };
  for (const id of ids) {
    const h = keyOf(await hashOf(id));
    // Only a recorded, different hash means stale; an unrecorded image is left to segmentFolder's own resume.
    if (old?.inputs[id] !== undefined && old.inputs[id] !== h) {
      changed++;
      await Promise.all(['cells', 'nuclei'].map((k) => rm(join(outDir, `${id}_${k}.png`), { force: true })));
    }
    inputs[id] = h;
  }
  await writeJson(manifestPath, { stage: 'segment', split, inputs });
  const s = await segmentFolder({
    imageDir, outDir, ids: [...ids], scale, ties, device: ctx.device, jobs: ctx.jobs, force: ctx.force, ...unet,
    onProgress: (e) => ctx.onEvent({ stage: `segment (${split})`, done: e.done, total: e.total, id: e.id }),
  });
  for (const note of s.notes) ctx.kernelNote(note);
  if (s.failed.length) throw new CellcamError('CELLCAM_E_IO', `segmentation failed for ${s.failed.length} image(s): ${s.failed.slice(0, 3).map((f) => `${f.id}: ${f.error}`).join('; ')}`);
  return { ...s, changed };
}

/**
 * segment.masks: each image's cell mask (and nucleus mask, optional) from `masksDir`, under
 * cellcam's names or the HPA segmentator's (io/masks.ts),
 * checked (label images, the image's size) and written to OUT/segment/<split>/ as 16-bit PNGs, so
 * that every later stage reads them as it reads its own segmentation. Without a nucleus file the
 * nucleus is empty and the cytoplasm is the whole cell (said once).
 */
async function importMasks(ctx: StageContext, split: 'train' | 'test', ids: readonly string[], masksDir: string): Promise<SegmentStageSummary> {
  const { data, out } = ctx;
  if (!existsSync(masksDir)) throw new CellcamError('CELLCAM_E_IO', `${masksDir}: segment.masks folder not found`);
  const imageDir = split === 'train' ? data.trainDir : data.testDir;
  const outDir = dirs(out).segment(split);
  await mkdir(outDir, { recursive: true });
  const manifestPath = join(outDir, 'manifest.json');
  const old = await readJsonOrNull<{ inputs: Record<string, string> }>(manifestPath);
  const inputs: Record<string, string> = { ...(old?.inputs ?? {}) };
  const sets = new Map((await listImageSets(imageDir)).map((x) => [x.id, x]));
  const summary: SegmentStageSummary = { total: ids.length, segmented: 0, skipped: 0, changed: 0 };
  const found = new Map(ids.map((id) => [id, findMasks(masksDir, id)]));
  const missing = ids.filter((id) => found.get(id)!.cells === null);
  if (missing.length) {
    throw new CellcamError('CELLCAM_E_IO', `${masksDir}: segment.masks has no cell mask ({ID}_cells or {ID}_cellmask, .png or .tif) for ${missing.length} ${split} image(s): ${missing.slice(0, 5).join(', ')}`);
  }
  let withoutNuclei = 0, done = 0;
  await forEachLimit(ids, ctx.jobs, async (id) => {
    const { cells: cellsSrc, nuclei: nucleiSrc } = found.get(id)! as { cells: string; nuclei: string | null };
    const hasNuclei = nucleiSrc !== null;
    if (!hasNuclei) withoutNuclei++;
    const key = hashValue(['masks', await hashFile(cellsSrc), hasNuclei ? await hashFile(nucleiSrc) : null]);
    const cellsOut = join(outDir, `${id}_cells.png`), nucleiOut = join(outDir, `${id}_nuclei.png`);
    if (!ctx.force && old?.inputs[id] === key && existsSync(cellsOut) && existsSync(nucleiOut)) summary.skipped++;
    else {
      if (old?.inputs[id] !== undefined && old.inputs[id] !== key) summary.changed++;
      const { width, height } = await imageSize(sets.get(id)!.files.red!);
      const cells = await readLabels(cellsSrc);
      if (cells.width !== width || cells.height !== height) {
        throw new CellcamError('CELLCAM_E_FORMAT', `${cellsSrc}: ${cells.width}x${cells.height} but the image is ${width}x${height}`);
      }
      let nuclei: Uint16Array = new Uint16Array(width * height);
      if (nucleiSrc !== null) {
        const n = await readLabels(nucleiSrc);
        if (n.width !== width || n.height !== height) throw new CellcamError('CELLCAM_E_FORMAT', `${nucleiSrc}: ${n.width}x${n.height} but the image is ${width}x${height}`);
        nuclei = n.data;
      }
      await Promise.all([writeGreyPng(cellsOut, cells.data, width, height), writeGreyPng(nucleiOut, nuclei, width, height)]);
      summary.segmented++;
    }
    inputs[id] = key;
    ctx.onEvent({ stage: `segment (${split})`, done: ++done, total: ids.length, id });
  });
  await writeJson(manifestPath, { stage: 'segment', split, masks: masksDir, inputs });
  if (withoutNuclei) {
    ctx.kernelNote(`segment.masks: ${withoutNuclei} of ${ids.length} ${split} image(s) have no nucleus mask ({ID}_nuclei or {ID}_nucleimask) in ${masksDir}: their nucleus is empty and the cytoplasm is the whole cell`);
  }
  return summary;
}

const nz = (v: number) => (Number.isFinite(v) ? v : 0);

// ---------------------------------------------------------------------------------------------
// features: the feature bank on every image, pooled over each cell (whole, nucleus, cytoplasm)

/**
 * The feature bank on every image, pooled over each cell (whole, nucleus, cytoplasm, max), written
 * to OUT/features/{ID}.json; images whose key still matches are reused.
 *
 * @example
 * ```ts
 * const r = await featuresStage(ctx, [...ctx.data.train, ...ctx.data.val, ...ctx.data.test]);
 * ```
 */
export async function featuresStage(ctx: StageContext, ids: readonly string[]): Promise<{ computed: number; reused: number; cells: number }> {
  const { out, config, data } = ctx;
  const d = dirs(out);
  const size = config.image.inputSize;
  const [trainHash, testHash] = await Promise.all([imageFilesHasher(data.trainDir), imageFilesHasher(data.testDir)]);
  // One pool shared by the concurrent workers: keep the promise, so that two workers cannot both create one.
  let poolP: Promise<OrtPool> | null = null;
  let computed = 0, reused = 0, cells = 0, done = 0;
  try {
    await forEachLimit(ids, ctx.jobs, async (id) => {
      const split = splitOf(data, id);
      const imageDir = split === 'train' ? data.trainDir : data.testDir;
      const segDir = d.segment(split);
      const cellsPng = join(segDir, `${id}_cells.png`), nucleiPng = join(segDir, `${id}_nuclei.png`);
      const key = hashValue([FEATURE_LAYOUT, size, await (split === 'train' ? trainHash : testHash)(id), await hashFile(cellsPng), await hashFile(nucleiPng)]);
      const path = join(d.features, `${id}.json`);
      const old = ctx.force ? null : await readJsonOrNull<CellRecord>(path);
      if (old && old.key === key) {
        reused++;
        cells += old.cellIds.length;
      } else {
        poolP ??= OrtPool.create(featureModel(size), { name: 'feature bank', executionProviders: ['cpu'] });
        const pool = await poolP;
        const img = await readImageSet(imageDir, id);
        const [lab, nuc] = await Promise.all([readGrey(cellsPng), readGrey(nucleiPng)]);
        if (lab.width !== img.width || lab.height !== img.height) {
          throw new CellcamError('CELLCAM_E_FORMAT', `${cellsPng}: ${lab.width}x${lab.height} but the image is ${img.width}x${img.height}`);
        }
        const x = await imageTensorAsync(img, size);
        const res = await pool.run({ image: { dtype: 'float32', dims: [1, 4, size, size], data: x } });
        const f = res.features;
        const [, K, h, w] = f.dims;
        const map = f.data as Float32Array;
        const labels = toU16(lab.data), nuclei = toU16(nuc.data);
        const rec = await cellRecord(id, key, img.width, img.height, map, K, h, w, labels, nuclei, { device: ctx.device, onNote: ctx.kernelNote });
        await writeJson(path, rec);
        computed++;
        cells += rec.cellIds.length;
      }
      ctx.onEvent({ stage: 'features', done: ++done, total: ids.length, id });
    });
  } finally {
    if (poolP) await (await (poolP as Promise<OrtPool>).catch(() => null))?.close();
  }
  return { computed, reused, cells };
}

function toU16(a: Uint8Array | Uint16Array): Uint16Array {
  return a instanceof Uint16Array ? a : Uint16Array.from(a);
}

/** Pools a [K,h,w] feature map over the cells of one image into a {@link CellRecord}. */
export async function cellRecord(
  id: string, key: string, width: number, height: number, map: Float32Array, K: number, h: number, w: number, labels: Uint16Array, nuclei: Uint16Array,
  kernels: { device?: Device; onNote?: (note: string | undefined) => void } = {},
): Promise<CellRecord> {
  let maxId = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] > maxId) maxId = labels[i];
  const gap = new Array<number>(K).fill(0);
  for (let k = 0; k < K; k++) {
    let s = 0;
    for (let i = k * h * w; i < (k + 1) * h * w; i++) s += map[i];
    gap[k] = s / (h * w);
  }
  const rec: CellRecord = { id, key, width, height, cellIds: [], area: [], masks: [], gap, feats: [] };
  if (maxId === 0) return rec;
  const st = await poolCells(map, labels, { channels: K, mapHeight: h, mapWidth: w, width, height, cells: maxId, nuclei, stats: 'mean+max', device: kernels.device });
  kernels.onNote?.(st.deviceNote);
  // cells: maxId spares cellRle its own scan of the label image for the largest id.
  const masks = await encodeCells(labels, width, height, { cells: maxId, device: kernels.device });
  kernels.onNote?.(masks.deviceNote);
  for (let c = 1; c <= maxId; c++) {
    const area = st.area[c - 1];
    if (area === 0) continue;
    rec.cellIds.push(c);
    rec.area.push(area);
    rec.masks.push(masks[c - 1]);
    for (let s = 0; s < 3; s++) for (let k = 0; k < K; k++) rec.feats.push(nz(st.mean[(s * maxId + c - 1) * K + k]));
    for (let k = 0; k < K; k++) rec.feats.push(nz(st.max![(c - 1) * K + k]));
  }
  return rec;
}

async function loadCellRecords(out: string, ids: readonly string[]): Promise<Map<string, CellRecord>> {
  const m = new Map<string, CellRecord>();
  for (const id of ids) m.set(id, await readJson<CellRecord>(join(dirs(out).features, `${id}.json`), `features of ${id}`));
  return m;
}

// ---------------------------------------------------------------------------------------------
// train-image: the linear CAM head on pooled features (GAP commutes with a linear head)

export interface ImageTrainReport {
  key: string;
  source: 'built-in' | 'external' | 'given';
  model: string;
  images: number;
  loss?: number;
}

/**
 * Trains (or takes from config `image.model`, or from the external trainer) the image classifier
 * and writes OUT/train-image/model.onnx.
 *
 * @example
 * ```ts
 * const { model } = await trainImageStage(ctx);
 * ```
 */
export async function trainImageStage(ctx: StageContext): Promise<ImageTrainReport> {
  const { out, config, data } = ctx;
  const d = dirs(out).trainImage;
  const modelPath = join(d, 'model.onnx');
  if (config.image.model) {
    if (!existsSync(config.image.model)) throw new CellcamError('CELLCAM_E_MODEL', `${config.image.model}: image classifier not found (config image.model)`);
    return { key: await hashFile(config.image.model), source: 'given', model: config.image.model, images: 0 };
  }
  const recs = await loadCellRecords(out, data.train);
  const key = hashValue(['train-image', VERSION, config.image, config.seed, config.trainer, config.trainer ? config.trainerParams : null, data.train.map((id) => [id, data.labels.get(id), recs.get(id)!.key])]);
  const reportPath = join(d, 'report.json');
  const old = ctx.force ? null : await readJsonOrNull<ImageTrainReport>(reportPath);
  if (old && old.key === key && existsSync(modelPath)) return old;
  if (config.trainer) {
    const { trainImageExternal } = await import('./external-stages.js');
    const r = await trainImageExternal(ctx, modelPath);
    const report: ImageTrainReport = { key, source: 'external', model: modelPath, images: data.train.length, ...r };
    await writeJson(reportPath, report);
    return report;
  }
  const n = data.train.length, K = FEATURE_COUNT;
  const X: Matrix = { data: new Float64Array(n * K), rows: n, cols: K };
  const Y: Matrix = { data: new Float64Array(n * NUM_CLASSES), rows: n, cols: NUM_CLASSES };
  data.train.forEach((id, i) => {
    recs.get(id)!.gap.forEach((v, k) => (X.data[i * K + k] = v));
    for (const c of data.labels.get(id)!) Y.data[i * NUM_CLASSES + c] = 1;
  });
  ctx.onEvent({ stage: 'train-image', done: 0, total: 1, message: `logistic head on ${n} images × ${K} pooled features` });
  const st = fitStandardizer(X);
  const m = trainLogistic(applyStandardizer(X, st), Y, { l2: config.image.l2, epochs: config.image.epochs, lr: config.image.lr });
  // Fold the standardisation into the head: w' = w / sd, b' = b - Σ w·mean / sd.
  const weights = new Float32Array(NUM_CLASSES * K), bias = new Float32Array(NUM_CLASSES);
  for (let c = 0; c < NUM_CLASSES; c++) {
    let b = m.b[c];
    for (let k = 0; k < K; k++) {
      const wk = m.W[c * K + k] * st.invStd[k];
      weights[c * K + k] = wk;
      b -= wk * st.mean[k];
    }
    bias[c] = b;
  }
  await mkdir(d, { recursive: true });
  await writeFileAtomic(modelPath, imageClassifierModel({ weights, bias }, config.image.inputSize));
  const report: ImageTrainReport = { key, source: 'built-in', model: modelPath, images: n, loss: m.loss };
  await writeJson(reportPath, report);
  ctx.onEvent({ stage: 'train-image', done: 1, total: 1 });
  return report;
}

// ---------------------------------------------------------------------------------------------
// cam: the image classifier on every image; CAMs pooled over each cell

async function decodedModel(path: string): Promise<Record<string, any> | null> {
  try {
    return decodeOnnxModel(await readFile(path));
  } catch {
    return null; // ORT reports an unreadable model with its own message
  }
}

/** Name of a model's first graph input ('' when unreadable). */
export async function modelInputName(path: string): Promise<string> {
  return (await decodedModel(path))?.graph?.input?.[0]?.name ?? '';
}

/** An integer the model declares: metadata `key`, else its first input's dimension `axis`, else the fallback. */
export async function modelMetaInt(path: string, key: string, axis: number, fallback: number): Promise<number> {
  const m = await decodedModel(path);
  const meta = (m?.metadataProps ?? []).find((p: { key: string }) => p.key === key);
  if (meta && Number.isInteger(Number(meta.value)) && Number(meta.value) > 0) return Number(meta.value);
  const dv = m?.graph?.input?.[0]?.type?.tensorType?.shape?.dim?.[axis]?.dimValue;
  if (dv !== undefined && Number(dv) > 0) return Number(dv);
  return fallback;
}

/** The square input side a model declares (metadata, else its input shape, else the config). */
export async function modelInputSize(path: string, fallback: number): Promise<number> {
  return modelMetaInt(path, META.inputSize, 2, fallback);
}

/**
 * Runs the image classifier on every image and pools each CAM over each cell (OUT/cam/{ID}.json).
 *
 * @example
 * ```ts
 * await camStage(ctx, ids, 'out/train-image/model.onnx');
 * ```
 */
export async function camStage(ctx: StageContext, ids: readonly string[], modelPath: string): Promise<{ computed: number; reused: number }> {
  const { out, config, data } = ctx;
  const d = dirs(out);
  const modelHash = await hashFile(modelPath);
  const size = await modelInputSize(modelPath, config.image.inputSize);
  let pool: OrtPool | null = null;
  let computed = 0, reused = 0, done = 0;
  try {
    pool = await OrtPool.create(modelPath, { contract: { ...IMAGE_CLASSIFIER_CONTRACT, exactInputs: true } });
    const p = pool;
    await forEachLimit(ids, ctx.jobs, async (id) => {
      const rec = await readJson<CellRecord>(join(d.features, `${id}.json`), `features of ${id}`);
      const key = hashValue(['cam-v2', modelHash, size, rec.key]);
      const path = join(d.cam, `${id}.json`);
      const old = ctx.force ? null : await readJsonOrNull<CamRecord>(path);
      if (old && old.key === key && old.maps && existsSync(join(d.cam, old.maps.file))) reused++;
      else {
        const split = splitOf(data, id);
        const img = await readImageSet(split === 'train' ? data.trainDir : data.testDir, id);
        const res = await p.run({ image: { dtype: 'float32', dims: [1, 4, size, size], data: await imageTensorAsync(img, size) } }, { outputs: ['logits', 'cam'] });
        const [, C, h, w] = res.cam.dims;
        if (C !== NUM_CLASSES) throw new CellcamError('CELLCAM_E_MODEL', `${modelPath}: cam has ${C} channels but ${NUM_CLASSES} are required`);
        const [labels, nuclei] = await Promise.all(['cells', 'nuclei'].map(async (k) => toU16((await readGrey(join(d.segment(split), `${id}_${k}.png`))).data)));
        const n = rec.cellIds.length;
        const camRec: CamRecord = {
          id, key, logits: Array.from(res.logits.data as Float32Array),
          mean: new Array(n * C), max: new Array(n * C), nucleusMean: new Array(n * C), cytoplasmMean: new Array(n * C),
        };
        if (n) {
          const maxId = rec.cellIds[n - 1];
          // Slots: whole cell, nucleus, cytoplasm (poolCells with the nucleus label image).
          const st = await poolCells(res.cam.data as Float32Array, labels, { channels: C, mapHeight: h, mapWidth: w, width: rec.width, height: rec.height, cells: maxId, nuclei, device: ctx.device });
          ctx.kernelNote(st.deviceNote);
          rec.cellIds.forEach((cid, i) => {
            for (let c = 0; c < C; c++) {
              camRec.mean[i * C + c] = nz(st.mean[(cid - 1) * C + c]);
              camRec.max[i * C + c] = nz(st.max![(cid - 1) * C + c]);
              camRec.nucleusMean[i * C + c] = nz(st.mean[(maxId + cid - 1) * C + c]);
              camRec.cytoplasmMean[i * C + c] = nz(st.mean[(2 * maxId + cid - 1) * C + c]);
            }
          });
        }
        const { q, lo, hi } = quantizeMaps(res.cam.data as Float32Array, C, h * w);
        camRec.maps = { file: `${id}.cam.npy`, classes: C, h, w, lo, hi };
        await writeFileAtomic(join(d.cam, camRec.maps.file), encodeNpy(q, [C, h, w]));
        await writeJson(path, camRec);
        computed++;
      }
      ctx.onEvent({ stage: 'cam', done: ++done, total: ids.length, id });
    });
  } finally {
    await pool?.close();
  }
  return { computed, reused };
}

// ---------------------------------------------------------------------------------------------
// pseudo-label: image labels + evidence → per-cell labels

export interface PseudoLabels {
  key: string;
  cycle: number;
  /** per image, per cell (in CellRecord order): labels ([] = unknown) */
  labels: Record<string, number[][]>;
  stats: {
    images: number;
    cells: number;
    labelled: number;
    unknown: number;
    perClass: number[];
    quality: PseudoLabelQuality | null;
    /** sha256 of the truth file `quality` was measured against (null: none) */
    truthKey?: string | null;
  };
}

/**
 * Per-cell evidence in [0, 1]: sigmoid of the pooled CAM (mean over the cell, its nucleus or its
 * cytoplasm, or max over the cell), fused with out-of-fold cell probabilities after cycle 1.
 *
 * @example
 * ```ts
 * const e = cellEvidence(cam, 'mean', null, 0.5, 'cell'); // cells × 19
 * ```
 */
export function cellEvidence(cam: CamRecord, statistic: 'mean' | 'max', previous: number[] | null, fuse: number, region: 'cell' | 'nucleus' | 'cytoplasm' = 'cell'): Float64Array {
  const src = statistic === 'max' ? cam.max : region === 'nucleus' ? cam.nucleusMean : region === 'cytoplasm' ? cam.cytoplasmMean : cam.mean;
  const e = Float64Array.from(src, (v) => sigmoid(v));
  if (previous) for (let i = 0; i < e.length; i++) e[i] = fuse * previous[i] + (1 - fuse) * e[i];
  return e;
}

/**
 * Pseudo-labels the training cells of cycle `cycle` (OUT/pseudo-label/cycle-k/labels.json), with
 * precision/recall against the truth when it is known.
 *
 * @example
 * ```ts
 * const pl = await pseudoLabelStage(ctx, 1, null);
 * console.log(pl.stats.labelled, pl.stats.unknown);
 * ```
 */
export async function pseudoLabelStage(ctx: StageContext, cycle: number, oofKey: string | null): Promise<PseudoLabels> {
  const { out, config, data } = ctx;
  const d = dirs(out);
  const cams = new Map<string, CamRecord>();
  for (const id of data.train) cams.set(id, await readJson<CamRecord>(join(d.cam, `${id}.json`), `CAM of ${id}`));
  const pl = config.pseudoLabel;
  const key = hashValue(['pseudo', cycle, pl, oofKey, data.train.map((id) => [id, data.labels.get(id), cams.get(id)!.key])]);
  const path = join(d.pseudo(cycle), 'labels.json');
  const old = ctx.force ? null : await readJsonOrNull<PseudoLabels>(path);
  // The quality is a report, not an input: a changed truth file remeasures it, labels reused.
  const truthKey = data.truthPath ? await hashFile(data.truthPath) : null;
  if (old && old.key === key) {
    if ((old.stats.truthKey ?? null) === truthKey) return old;
    old.stats.quality = await pseudoLabelQualityOf(ctx, old.labels);
    old.stats.truthKey = truthKey;
    await writeJson(path, old);
    return old;
  }
  const oof = cycle > 1 ? await readJson<{ probs: Record<string, number[]> }>(join(d.trainCell(cycle - 1), 'oof.json'), `cycle ${cycle - 1} out-of-fold predictions`) : null;
  const res: PseudoLabels = { key, cycle, labels: {}, stats: { images: data.train.length, cells: 0, labelled: 0, unknown: 0, perClass: new Array(NUM_CLASSES).fill(0), quality: null, truthKey } };
  for (const id of data.train) {
    const cam = cams.get(id)!;
    const n = cam.mean.length / NUM_CLASSES;
    const ev = cellEvidence(cam, pl.statistic, oof ? oof.probs[id] : null, pl.fuse, pl.region);
    const labels = pseudoLabelImage(data.labels.get(id)!, ev, n, pl);
    res.labels[id] = labels;
    res.stats.cells += n;
    for (const l of labels) {
      if (l.length) res.stats.labelled++;
      else res.stats.unknown++;
      for (const c of l) res.stats.perClass[c]++;
    }
  }
  res.stats.quality = await pseudoLabelQualityOf(ctx, res.labels);
  await writeJson(path, res);
  ctx.onEvent({ stage: `pseudo-label ${cycle}`, done: 1, total: 1 });
  return res;
}

// ---------------------------------------------------------------------------------------------
// train-cell: an MLP on pooled cell features; out-of-fold probabilities for the next cycle

export interface CellTrainReport {
  key: string;
  cycle: number;
  source: 'built-in' | 'external';
  model: string;
  cells: number;
  classes: number;
  loss?: number;
}

function cellMatrix(recs: CellRecord[]): Matrix {
  const n = recs.reduce((s, r) => s + r.cellIds.length, 0);
  const X = new Float64Array(n * CELL_FEATURE_COUNT);
  let o = 0;
  for (const r of recs) {
    cellInputTransform(r.feats, X.subarray(o, o + r.feats.length));
    o += r.feats.length;
  }
  return { data: X, rows: n, cols: CELL_FEATURE_COUNT };
}

function cellTargets(ids: readonly string[], pseudo: PseudoLabels, mode: 'single' | 'multi'): { y: Float64Array; weight: Float64Array } {
  const rows = ids.flatMap((id) => pseudo.labels[id]);
  const C = mode === 'single' ? NUM_CLASSES + 1 : NUM_CLASSES;
  const y = new Float64Array(mode === 'single' ? rows.length : rows.length * C);
  const count = new Float64Array(C);
  rows.forEach((l, i) => {
    if (mode === 'single') count[(y[i] = singleTarget(l))]++;
    else for (const c of l) (y[i * C + c] = 1), count[c]++;
  });
  // Inverse square-root class frequency: rare classes count more without drowning the common ones.
  const weight = new Float64Array(rows.length).fill(1);
  if (mode === 'single') {
    rows.forEach((_, i) => (weight[i] = 1 / Math.sqrt(count[y[i]])));
    const mean = weight.reduce((a, b) => a + b, 0) / (weight.length || 1);
    for (let i = 0; i < weight.length; i++) weight[i] /= mean;
  }
  return { y, weight };
}

function cellMlpJob(config: RunConfig, X: Matrix, y: Float64Array, weight: Float64Array, seed: number): MlpFitJob {
  const mode = config.cell.mode === 'single' ? 'softmax' : 'sigmoid';
  const classes = config.cell.mode === 'single' ? NUM_CLASSES + 1 : NUM_CLASSES;
  return { X, targets: y, options: { mode, classes, hidden: config.cell.hidden, epochs: config.cell.epochs, lr: config.cell.lr, l2: config.cell.l2, seed, sampleWeight: weight } };
}

/** Probabilities per 19 classes from a cell model's logits (softmax over 20 drops 'unknown'). */
export function cellProbabilities(logits: ArrayLike<number>, width: number): Float64Array {
  const rows = logits.length / width;
  const p = activate(Float64Array.from(logits as ArrayLike<number>), width, width === NUM_CLASSES + 1 ? 'softmax' : 'sigmoid');
  if (width === NUM_CLASSES) return p;
  const out = new Float64Array(rows * NUM_CLASSES);
  for (let i = 0; i < rows; i++) for (let c = 0; c < NUM_CLASSES; c++) out[i * NUM_CLASSES + c] = p[i * width + c];
  return out;
}

/**
 * Trains the cell classifier of a cycle on its pseudo-labels, plus image-grouped out-of-fold
 * probabilities for the next cycle (OUT/train-cell/cycle-k/).
 *
 * @example
 * ```ts
 * const cell = await trainCellStage(ctx, 1, pl);
 * ```
 */
export async function trainCellStage(ctx: StageContext, cycle: number, pseudo: PseudoLabels): Promise<CellTrainReport> {
  const { out, config, data } = ctx;
  const d = dirs(out).trainCell(cycle);
  const modelPath = join(d, 'model.onnx'), reportPath = join(d, 'report.json'), oofPath = join(d, 'oof.json');
  const key = hashValue(['train-cell', VERSION, cycle, config.cell, config.seed, config.trainer, config.trainer ? config.trainerParams : null, pseudo.key]);
  const old = ctx.force ? null : await readJsonOrNull<CellTrainReport>(reportPath);
  if (old && old.key === key && existsSync(modelPath) && existsSync(oofPath)) return old;
  const recs = await loadCellRecords(out, data.train);
  const ids = data.train;
  const X = cellMatrix(ids.map((id) => recs.get(id)!));
  const { y, weight } = cellTargets(ids, pseudo, config.cell.mode);
  if (X.rows === 0) throw new CellcamError('CELLCAM_E_ARG', 'no cells in the training images: nothing to train the cell classifier on');
  const classes = config.cell.mode === 'single' ? NUM_CLASSES + 1 : NUM_CLASSES;
  // Out-of-fold probabilities, folds grouped by image, so the next cycle never relabels a cell
  // with a model that saw that cell's own pseudo-label.
  // With a single training image there is nothing to hold out: its probabilities are in-sample.
  const folds = Math.max(1, Math.min(config.cell.folds, ids.length));
  // Progress counts epochs: one fit per fold, plus the final model with the built-in trainer.
  const total = (folds + (config.trainer ? 0 : 1)) * config.cell.epochs;
  ctx.onEvent({ stage: `train-cell ${cycle}`, done: 0, total, message: `${X.rows} cells` });
  const rowsOf: number[][] = [];
  let r0 = 0;
  for (const id of ids) {
    const n = recs.get(id)!.cellIds.length;
    rowsOf.push(Array.from({ length: n }, (_, k) => r0 + k));
    r0 += n;
  }
  const pick = (src: Float64Array, w: number, rows: number[]) => {
    const o = new Float64Array(rows.length * w);
    rows.forEach((r, i) => o.set(src.subarray(r * w, r * w + w), i * w));
    return o;
  };
  const yW = config.cell.mode === 'single' ? 1 : NUM_CLASSES;
  // Each fold's rows are copied out when its fit starts, and moved (not copied) to its worker.
  const jobs: (MlpFitJob | (() => MlpFitJob))[] = [];
  for (let f = 0; f < folds; f++) {
    jobs.push(() => {
      const trainRows = folds === 1 ? rowsOf.flat() : ids.flatMap((_, i) => (i % folds !== f ? rowsOf[i] : []));
      const Xf: Matrix = { data: pick(X.data, X.cols, trainRows), rows: trainRows.length, cols: X.cols };
      return { ...cellMlpJob(config, Xf, pick(y, yW, trainRows), pick(weight, 1, trainRows), config.seed + cycle * 100 + f), transfer: true };
    });
  }
  // The final model (built-in trainer only) trains beside the folds.
  if (!config.trainer) jobs.push(cellMlpJob(config, X, y, weight, config.seed + cycle * 100 + 99));
  // Progress in epochs over all fits, at most about 20 events (a log line each off a terminal).
  const every = Math.max(1, Math.ceil(total / 20));
  let epochs = 0;
  const fits = await fitMlps(jobs, {
    workers: Math.min(ctx.jobs, jobs.length),
    onEpoch: () => {
      if (++epochs % every === 0 || epochs === total) ctx.onEvent({ stage: `train-cell ${cycle}`, done: epochs, total, message: 'epochs' });
    },
  });
  const probs: Record<string, number[]> = {};
  for (let f = 0; f < folds; f++) {
    const { st, mlp } = fits[f];
    for (let i = f; i < ids.length; i += folds) {
      const rows = rowsOf[i];
      const Xi: Matrix = { data: pick(X.data, X.cols, rows), rows: rows.length, cols: X.cols };
      probs[ids[i]] = Array.from(cellProbabilities(mlpLogits(mlp, applyStandardizer(Xi, st)), classes));
    }
  }
  await writeJson(oofPath, { key, probs });
  let report: CellTrainReport;
  if (config.trainer) {
    const { trainCellExternal } = await import('./external-stages.js');
    const r = await trainCellExternal(ctx, cycle, pseudo, modelPath);
    report = { key, cycle, source: 'external', model: modelPath, cells: X.rows, classes, ...r };
  } else {
    const { st, mlp } = fits[folds];
    await mkdir(d, { recursive: true });
    await writeFileAtomic(modelPath, cellClassifierModel(mlp, st));
    report = { key, cycle, source: 'built-in', model: modelPath, cells: X.rows, classes, loss: mlp.loss };
  }
  await writeJson(reportPath, report);
  ctx.onEvent({ stage: `train-cell ${cycle}`, done: total, total });
  return report;
}

// ---------------------------------------------------------------------------------------------
// predict: cell × image probabilities → submission rows

export interface PredictReport {
  cycle: number;
  submissions: { test: string; val: string | null };
  images: number;
  cells: number;
}

/**
 * Scores the validation and test cells with a cell classifier (features or crops, by its input
 * name) and the image classifier, and writes the submissions of a cycle.
 *
 * @example
 * ```ts
 * const p = await predictStage(ctx, 2, 'out/train-cell/cycle-2/model.onnx');
 * ```
 */
export async function predictStage(ctx: StageContext, cycle: number, cellModel: string): Promise<PredictReport> {
  const { out, config, data } = ctx;
  const d = dirs(out);
  const crops = (await modelInputName(cellModel)) === 'crop';
  const cropSize = crops ? await modelMetaInt(cellModel, META.cropSize, 2, config.cell.cropSize) : 0;
  const pool = await OrtPool.create(cellModel, { contract: crops ? CELL_CROP_CONTRACT : CELL_FEATURES_CONTRACT, executionProviders: ['cpu'] });
  const width = pool.info.outputs.find((v) => v.name === 'logits')?.shape[1];
  try {
    const outDir = d.predict(cycle);
    await mkdir(outDir, { recursive: true });
    const result: PredictReport = { cycle, submissions: { test: join(outDir, 'submission.csv'), val: data.val.length ? join(outDir, 'validation.csv') : null }, images: 0, cells: 0 };
    const probs: Record<string, { image: number[]; cell: number[] }> = {};
    for (const [split, ids] of [['val', data.val], ['test', data.test]] as const) {
      if (!ids.length) continue;
      const writer = await SubmissionWriter.open(split === 'test' ? result.submissions.test : result.submissions.val!);
      try {
        let done = 0;
        for (const id of ids) {
          const rec = await readJson<CellRecord>(join(d.features, `${id}.json`), `features of ${id}`);
          const cam = await readJson<CamRecord>(join(d.cam, `${id}.json`), `CAM of ${id}`);
          const n = rec.cellIds.length;
          const pi = cam.logits.map(sigmoid);
          let pc: Float64Array = new Float64Array(0);
          if (n) {
            let feeds: Record<string, OrtTensorData>;
            if (crops) {
              const imageDir = split === 'test' ? data.testDir : data.trainDir;
              const img = await readImageSet(imageDir, id);
              const labels = toU16((await readGrey(join(d.segment(splitOf(data, id)), `${id}_cells.png`))).data);
              const c = cellCrops(img, labels, { size: cropSize, ids: rec.cellIds });
              feeds = { crop: { dtype: 'float32', dims: [n, 4, cropSize, cropSize], data: c.data } };
            } else feeds = { cell_features: { dtype: 'float32', dims: [n, CELL_FEATURE_COUNT], data: Float32Array.from(rec.feats) } };
            const res = await pool.run(feeds);
            const w = res.logits.dims[1];
            if (w !== NUM_CLASSES && w !== NUM_CLASSES + 1) throw new CellcamError('CELLCAM_E_MODEL', `${cellModel}: logits have ${w} columns but 19 or 20 are required`);
            pc = cellProbabilities(res.logits.data as Float32Array, w);
          }
          probs[id] = { image: pi, cell: Array.from(pc) };
          const cells = rec.masks.map((mask, i) => ({
            mask,
            scores: Array.from({ length: NUM_CLASSES }, (_, c) => combine(config.predict.combine, pi[c], pc[i * NUM_CLASSES + c])),
          }));
          await writer.addImage(id, rec.width, rec.height, cells);
          result.images++;
          result.cells += n;
          ctx.onEvent({ stage: `predict ${cycle} (${split})`, done: ++done, total: ids.length, id });
        }
        await writer.close();
      } catch (e) {
        await writer.abort();
        throw e;
      }
    }
    await writeJson(join(outDir, 'probabilities.json'), { cycle, width, probs });
    return result;
  } finally {
    await pool.close();
  }
}

// ---------------------------------------------------------------------------------------------
// evaluate: cell-level mAP per cycle and the reference submissions on the same cells

export interface EvaluationSummary {
  split: 'val' | 'test';
  rows: { name: string; mAP: number; file: string }[];
}

/**
 * Writes broadcast (true image labels, confidence 1), image-only and oracle submissions for ids.
 * `truthPath` names the truth in errors.
 */
export async function writeReferences(out: string, ids: readonly string[], truth: Map<string, ImageTruth>, split: string, truthPath = 'truth'): Promise<Record<string, string>> {
  const d = dirs(out);
  const files: Record<string, string> = {
    broadcast: join(d.evaluate, `${split}-broadcast.csv`),
    'image-only': join(d.evaluate, `${split}-image-only.csv`),
    oracle: join(d.evaluate, `${split}-oracle.csv`),
  };
  const writers = Object.fromEntries(await Promise.all(Object.entries(files).map(async ([k, f]) => [k, await SubmissionWriter.open(f)] as const)));
  try {
    for (const id of ids) {
      const rec = await readJson<CellRecord>(join(d.features, `${id}.json`), `features of ${id}`);
      const cam = await readJson<CamRecord>(join(d.cam, `${id}.json`), `CAM of ${id}`);
      const t = truth.get(id);
      if (!t) continue;
      const imageLabels = [...new Set(t.cells.flatMap((c) => c.labels))].sort((a, b) => a - b);
      const oracle = truthOfCells(truthPath, t, rec);
      const pi = cam.logits.map(sigmoid);
      await writers.broadcast.addImage(id, rec.width, rec.height, rec.masks.map((mask) => ({ mask, scores: imageLabels.map((label) => ({ label, confidence: 1 })) })));
      await writers['image-only'].addImage(id, rec.width, rec.height, rec.masks.map((mask) => ({ mask, scores: pi })));
      await writers.oracle.addImage(id, rec.width, rec.height, rec.masks.map((mask, i) => ({ mask, scores: (oracle[i] ?? []).map((label) => ({ label, confidence: 1 })) })));
    }
    for (const w of Object.values(writers)) await w.close();
  } catch (e) {
    for (const w of Object.values(writers)) await w.abort();
    throw e;
  }
  return files;
}

/**
 * With truth: the mAP@0.6 of every cycle's submissions and of broadcast, image-only and oracle on
 * the same cells, for the validation and the test images (null without truth).
 *
 * @example
 * ```ts
 * const table = await evaluateStage(ctx, predictions);
 * ```
 */
export async function evaluateStage(ctx: StageContext, predictions: PredictReport[]): Promise<EvaluationSummary[] | null> {
  const { out, data } = ctx;
  if (!data.truthPath) return null;
  const truth = await readTruth(data.truthPath);
  await mkdir(dirs(out).evaluate, { recursive: true });
  const summaries: EvaluationSummary[] = [];
  for (const split of ['val', 'test'] as const) {
    const ids = split === 'val' ? data.val : data.test;
    if (!ids.length || !ids.some((id) => truth.has(id))) continue;
    const refs = await writeReferences(out, ids, truth, split, data.truthPath);
    const rows: EvaluationSummary['rows'] = [];
    const score = async (name: string, file: string) => {
      // The cycles' files keep their PR curves (thinned) for the report.
      const r: EvaluateResult = await evaluateFiles(data.truthPath!, file, { curves: name.startsWith('cycle') });
      rows.push({ name, mAP: r.mAP, file });
      await writeJson(join(dirs(out).evaluate, `${split}-${name}.json`), r);
    };
    await score('broadcast', refs.broadcast);
    await score('image-only', refs['image-only']);
    for (const p of predictions) {
      const file = split === 'test' ? p.submissions.test : p.submissions.val;
      if (file) await score(`cycle ${p.cycle}`, file);
    }
    await score('oracle', refs.oracle);
    summaries.push({ split, rows });
    ctx.onEvent({ stage: 'evaluate', done: summaries.length, total: 2, message: split });
  }
  return summaries;
}

/** Copies the last cycle's test submission to OUT/submission.csv (atomically). */
export async function publishSubmission(out: string, p: PredictReport): Promise<string> {
  const dst = join(out, 'submission.csv');
  const tmp = tempPathFor(dst); // the usual temp name, so a resumed run can clean it up
  await copyFile(p.submissions.test, tmp);
  await rename(tmp, dst);
  return dst;
}

/** Precision and recall of pseudo-labels against the truth file, over the train images it covers (null: no truth). */
async function pseudoLabelQualityOf(ctx: StageContext, labels: PseudoLabels['labels']): Promise<PseudoLabelQuality | null> {
  const { data } = ctx;
  if (!data.truthPath) return null;
  const truth = await readTruth(data.truthPath);
  const allPseudo: number[][] = [], allTruth: (number[] | null)[] = [];
  for (const id of data.train) {
    const t = truth.get(id);
    if (!t || !labels[id]) continue;
    const rec = await readJson<CellRecord>(join(dirs(ctx.out).features, `${id}.json`), `features of ${id}`);
    allPseudo.push(...labels[id]);
    allTruth.push(...truthOfCells(data.truthPath, t, rec, 0.5));
  }
  return allPseudo.length ? pseudoLabelQuality(allPseudo, allTruth) : null;
}

/** The true labels of a record's cells; a truth that does not fit the images is named with its file. */
function truthOfCells(truthPath: string, t: ImageTruth, rec: CellRecord, minIou = 0): (number[] | null)[] {
  try {
    return truthLabelsForMasks(t, rec.masks, minIou, rec);
  } catch (err) {
    if (err instanceof CellcamError) throw new CellcamError(err.code, `${truthPath}: ${err.message}`, { cause: err });
    throw err;
  }
}
