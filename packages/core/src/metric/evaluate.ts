/**
 * The challenge metric: mAP over the 19 classes at IoU >= 0.6, following the Open Images
 * challenge rules the competition used (hpa-spec §2.3): evaluatable-label filter, empty masks
 * dropped, greedy matching by descending score to the highest-IoU GT cell (a second hit on a
 * matched cell is a false positive, no fallback), VOC all-point AP, classes without GT left out.
 *
 * Tie order (documented choice; numpy's unstable argsort leaves it undefined): detections with
 * equal confidence keep their order in the submission file (row order, then triple order), both
 * within an image and when the per-class precision/recall curve is built over all images.
 */
import { CellcamError } from '../errors.js';
import { decodeCounts } from '../submit/encode.js';
import { parsePredictions, readSubmissionRows } from '../submit/csv.js';
import { boxIou, maskIou, rleMask, type RleMask } from './rle-iou.js';

export const NUM_CLASSES = 19;

export interface TruthCell {
  mask: string;
  labels: number[];
}

export interface ImageTruth {
  id: string;
  width: number;
  height: number;
  cells: TruthCell[];
}

export interface ImageDetections {
  id: string;
  width: number;
  height: number;
  predictions: { label: number; confidence: number; mask: string }[];
}

export interface EvaluateOptions {
  /** IoU threshold (inclusive), default 0.6 */
  iou?: number;
  /** 'mask' (default, the Kaggle text) or 'box' (the organizers' committed re-scoring script) */
  mode?: 'mask' | 'box';
  /**
   * Count the GT of truth images that are absent from the submission as misses (Kaggle's view of
   * a full test set). Default false: such images are excluded, so a truth file covering train and
   * test (as `cellcam synth` writes) scores a test-only submission; they are listed in the result.
   */
  requireAll?: boolean;
  /** evaluateFiles: also return each class's precision–recall curve, thinned for drawing (`curves`) */
  curves?: boolean;
}

/** A class's precision–recall curve as step points for drawing (see {@link curvePoints}). */
export interface ClassCurve {
  label: number;
  numGt: number;
  ap: number;
  points: { recall: number; precision: number }[];
}

export interface ClassResult {
  label: number;
  /** null when the class has no GT instance (left out of the mean) */
  ap: number | null;
  numGt: number;
  numDetections: number;
  tp: number;
  fp: number;
}

export interface EvaluateResult {
  mAP: number;
  /** whether truth images missing from the submission were counted as misses */
  requireAll: boolean;
  iou: number;
  mode: 'mask' | 'box';
  classes: ClassResult[];
  images: { truth: number; submission: number; evaluated: number; missing: string[]; extra: string[] };
  detections: { total: number; evaluated: number; ignoredClass: number; emptyMask: number; lowScore: number };
  /** with `curves: true` (evaluateFiles): the PR curve of every class with ground truth */
  curves?: ClassCurve[];
}

/**
 * Reads a ground-truth file in submission format (`label 1 mask` per (cell, label)); triples that
 * share a mask string belong to one cell.
 */
export async function readTruth(path: string): Promise<Map<string, ImageTruth>> {
  const out = new Map<string, ImageTruth>();
  for await (const row of readSubmissionRows(path)) {
    if (out.has(row.id)) throw new CellcamError('CELLCAM_E_FORMAT', `${path}:${row.line}: image ${row.id} appears twice`);
    const cells = new Map<string, number[]>();
    for (const p of parsePredictions(row, path, NUM_CLASSES)) {
      const labels = cells.get(p.mask) ?? [];
      if (!labels.includes(p.label)) labels.push(p.label);
      cells.set(p.mask, labels);
    }
    out.set(row.id, { id: row.id, width: row.width, height: row.height, cells: [...cells].map(([mask, labels]) => ({ mask, labels })) });
  }
  return out;
}

/** Reads a submission file into memory (use evaluateFiles for the streaming path). */
export async function readDetections(path: string): Promise<ImageDetections[]> {
  const out: ImageDetections[] = [];
  for await (const row of readSubmissionRows(path)) {
    out.push({ id: row.id, width: row.width, height: row.height, predictions: parsePredictions(row, path, NUM_CLASSES) });
  }
  return out;
}

interface Scored {
  score: number;
  tp: boolean;
}

/** Incremental evaluator: add images one at a time (bounded memory), then result(). */
export class Evaluator {
  private readonly thr: number;
  private readonly mode: 'mask' | 'box';
  private readonly truth: Map<string, ImageTruth>;
  private readonly seen = new Set<string>();
  private readonly scored: Scored[][] = Array.from({ length: NUM_CLASSES }, () => []);
  private readonly numGt = new Array<number>(NUM_CLASSES).fill(0);
  private readonly extra: string[] = [];
  private readonly det = { total: 0, evaluated: 0, ignoredClass: 0, emptyMask: 0, lowScore: 0 };
  private readonly requireAll: boolean;

  /** The (confidence, true positive) of every scored detection of a class so far, in arrival order (for PR curves). */
  scoredDetections(label: number): readonly { score: number; tp: boolean }[] {
    return this.scored[label] ?? [];
  }

  constructor(truth: Map<string, ImageTruth>, options: EvaluateOptions = {}) {
    const thr = options.iou ?? 0.6;
    if (typeof thr !== 'number' || !(thr > 0 && thr <= 1)) throw new RangeError(`Expected a number in (0, 1] for options.iou but received ${thr}`);
    const mode = options.mode ?? 'mask';
    if (mode !== 'mask' && mode !== 'box') throw new RangeError(`Expected 'mask' or 'box' for options.mode but received ${String(mode)}`);
    this.thr = thr;
    this.mode = mode;
    this.truth = truth;
    this.requireAll = options.requireAll ?? false;
  }

  /** Counts the positives of one truth image (GT with an empty mask is "difficult": not counted). */
  private countGt(img: ImageTruth): void {
    for (const cell of img.cells) {
      if (decodeMask(cell.mask, img, 'truth').area === 0) continue;
      for (const l of cell.labels) this.numGt[l]++;
    }
  }

  /** Scores one image of the submission. */
  add(d: ImageDetections, where = d.id): void {
    const t = this.truth.get(d.id);
    this.det.total += d.predictions.length;
    if (!t) {
      this.extra.push(d.id);
      return;
    }
    if (this.seen.has(d.id)) throw new CellcamError('CELLCAM_E_FORMAT', `${where}: image ${d.id} appears twice in the submission`);
    this.seen.add(d.id);
    this.countGt(t);
    if (t.width !== d.width || t.height !== d.height) {
      throw new CellcamError('CELLCAM_E_FORMAT', `${where}: image ${d.id} is ${d.width}x${d.height} in the submission but ${t.width}x${t.height} in the truth`);
    }
    const imageLabels = new Set<number>();
    const gtByClass: RleMask[][] = Array.from({ length: NUM_CLASSES }, () => []);
    for (const cell of t.cells) {
      const m = decodeMask(cell.mask, t, 'truth');
      for (const l of cell.labels) {
        imageLabels.add(l);
        if (m.area > 0) gtByClass[l].push(m);
      }
    }
    const cache = new Map<string, RleMask>();
    const byClass = new Map<number, { confidence: number; mask: RleMask }[]>();
    for (const p of d.predictions) {
      if (!imageLabels.has(p.label)) {
        this.det.ignoredClass++;
        continue;
      }
      if (!(p.confidence > -10)) {
        this.det.lowScore++;
        continue;
      }
      let m = cache.get(p.mask);
      if (!m) {
        m = decodeMask(p.mask, d, where);
        cache.set(p.mask, m);
      }
      if (m.area === 0) {
        this.det.emptyMask++;
        continue;
      }
      const list = byClass.get(p.label) ?? [];
      list.push({ confidence: p.confidence, mask: m });
      byClass.set(p.label, list);
    }
    const iouFn = this.mode === 'mask' ? maskIou : boxIou;
    for (const [label, dets] of byClass) {
      // Stable sort: equal confidences keep file order (documented tie order).
      const order = dets.map((_, i) => i).sort((a, b) => dets[b].confidence - dets[a].confidence || a - b);
      const gts = gtByClass[label];
      const matched = new Uint8Array(gts.length);
      for (const i of order) {
        this.det.evaluated++;
        let best = -1, bestIou = -Infinity;
        for (let g = 0; g < gts.length; g++) {
          const v = iouFn(dets[i].mask, gts[g]);
          if (v > bestIou) {
            bestIou = v;
            best = g;
          }
        }
        let tp = false;
        if (best >= 0 && bestIou >= this.thr && !matched[best]) {
          matched[best] = 1;
          tp = true;
        }
        this.scored[label].push({ score: dets[i].confidence, tp });
      }
    }
  }

  /** Per-class AP and the mean over classes that have GT. */
  result(): EvaluateResult {
    const missing = [...this.truth.keys()].filter((id) => !this.seen.has(id));
    const numGt = [...this.numGt];
    if (this.requireAll) {
      for (const id of missing) {
        for (const cell of this.truth.get(id)!.cells) {
          if (decodeMask(cell.mask, this.truth.get(id)!, 'truth').area === 0) continue;
          for (const l of cell.labels) numGt[l]++;
        }
      }
    }
    const classes: ClassResult[] = [];
    for (let c = 0; c < NUM_CLASSES; c++) {
      const s = this.scored[c];
      const tp = s.filter((x) => x.tp).length;
      if (numGt[c] === 0) {
        classes.push({ label: c, ap: null, numGt: 0, numDetections: s.length, tp, fp: s.length - tp });
        continue;
      }
      classes.push({ label: c, ap: averagePrecision(s, numGt[c]), numGt: numGt[c], numDetections: s.length, tp, fp: s.length - tp });
    }
    const aps = classes.filter((c) => c.ap !== null).map((c) => c.ap as number);
    return {
      requireAll: this.requireAll,
      mAP: aps.length ? aps.reduce((a, b) => a + b, 0) / aps.length : NaN,
      iou: this.thr,
      mode: this.mode,
      classes,
      images: { truth: this.truth.size, submission: this.seen.size + this.extra.length, evaluated: this.seen.size, missing, extra: [...this.extra] },
      detections: { ...this.det },
    };
  }
}

function decodeMask(encoded: string, img: { width: number; height: number; id: string }, where: string): RleMask {
  try {
    return rleMask(decodeCounts(encoded, img.width, img.height), img.height);
  } catch (err) {
    throw new CellcamError('CELLCAM_E_FORMAT', `${where}: image ${img.id}: ${(err as Error).message}`, { cause: err });
  }
}

export interface PrCurve {
  /** recall and interpolated precision (VOC envelope) at each recall change, from recall 0 */
  recall: number[];
  precision: number[];
  /** area under the envelope = averagePrecision(scored, numGt) */
  ap: number;
}

/**
 * The VOC all-point precision envelope of ranked detections: detections sorted stably by
 * descending score (ties keep their order), precision made monotone from the right, one point per
 * recall change. `ap` is the sum of recall steps × envelope precision, exactly as averagePrecision.
 *
 * @example
 * ```ts
 * const c = prCurve([{ score: 0.9, tp: true }, { score: 0.5, tp: false }, { score: 0.4, tp: true }], 2);
 * // c.recall [0, 0.5, 1], c.precision [1, 1, 0.6667], c.ap 0.8333
 * ```
 */
export function prCurve(scored: readonly { score: number; tp: boolean }[], numGt: number): PrCurve {
  if (numGt <= 0) return { recall: [], precision: [], ap: NaN };
  if (scored.length === 0) return { recall: [0], precision: [0], ap: 0 };
  const order = scored.map((_, i) => i).sort((a, b) => scored[b].score - scored[a].score || a - b);
  const n = order.length;
  const rec = new Float64Array(n + 2), prec = new Float64Array(n + 2);
  let ctp = 0, cfp = 0;
  for (let k = 0; k < n; k++) {
    if (scored[order[k]].tp) ctp++;
    else cfp++;
    rec[k + 1] = ctp / numGt;
    prec[k + 1] = ctp / (ctp + cfp);
  }
  rec[n + 1] = 1;
  prec[n + 1] = 0;
  for (let i = n; i >= 0; i--) prec[i] = Math.max(prec[i], prec[i + 1]);
  const recall = [0], precision = [prec[1]];
  let ap = 0;
  for (let i = 1; i <= n + 1; i++) {
    if (rec[i] === rec[i - 1]) continue;
    ap += (rec[i] - rec[i - 1]) * prec[i];
    recall.push(rec[i]);
    precision.push(prec[i]);
  }
  return { recall, precision, ap };
}

/**
 * VOC all-point average precision of detections (in ranking order after a stable sort by
 * descending score) against `numGt` positives: the area under {@link prCurve}'s envelope.
 */
export function averagePrecision(scored: readonly { score: number; tp: boolean }[], numGt: number): number {
  return prCurve(scored, numGt).ap;
}

/**
 * Scores in-memory truth and detections.
 *
 * @example
 * ```ts
 * const r = evaluate(truthMap, detections, { iou: 0.6 });
 * console.log(r.mAP, r.classes[0].ap);
 * ```
 */
export function evaluate(truth: Map<string, ImageTruth>, detections: ImageDetections[], options: EvaluateOptions = {}): EvaluateResult {
  const ev = new Evaluator(truth, options);
  for (const d of detections) ev.add(d);
  return ev.result();
}

/**
 * Scores a submission file against a truth file, streaming the submission.
 *
 * @example
 * ```ts
 * const r = await evaluateFiles('data/truth.csv', 'out/submission.csv');
 * console.log(r.mAP.toFixed(4));
 * ```
 */
export async function evaluateFiles(truthPath: string, submissionPath: string, options: EvaluateOptions = {}): Promise<EvaluateResult> {
  const truth = await readTruth(truthPath);
  const ev = new Evaluator(truth, options);
  for await (const row of readSubmissionRows(submissionPath)) {
    ev.add({ id: row.id, width: row.width, height: row.height, predictions: parsePredictions(row, submissionPath, NUM_CLASSES) }, `${submissionPath}:${row.line}`);
  }
  const res = ev.result();
  if (options.curves) {
    res.curves = res.classes.filter((c) => c.numGt > 0).map((c) => {
      const curve = prCurve(ev.scoredDetections(c.label), c.numGt);
      return { label: c.label, numGt: c.numGt, ap: curve.ap, points: curvePoints(curve) };
    });
  }
  return res;
}

/** At most `max` points of a curve for drawing (evenly thinned; the first and last kept), as step pairs. */
export function curvePoints(c: PrCurve, max = 120): { recall: number; precision: number }[] {
  const pts: { recall: number; precision: number }[] = [];
  const n = c.recall.length;
  const step = Math.max(1, Math.ceil(n / max));
  let prevR = 0;
  for (let i = 0; i < n; i += step) {
    const j = Math.min(n - 1, i + step - 1);
    // the envelope is flat over (recall[i-1], recall[i]] at precision[i]
    pts.push({ recall: prevR, precision: c.precision[i] }, { recall: c.recall[j], precision: c.precision[j] });
    prevR = c.recall[j];
  }
  return pts;
}
