/**
 * Per-class precision–recall curves of a submission, from the same matching as the challenge
 * metric (metric/evaluate.ts Evaluator) and the same ranking and interpolation as its
 * averagePrecision, so the area under each drawn curve is the class AP the run reports.
 */
import { Evaluator, NUM_CLASSES, readTruth, type ImageTruth } from '../metric/evaluate.js';
import { parsePredictions, readSubmissionRows } from '../submit/csv.js';

export { prCurve, type PrCurve } from '../metric/evaluate.js';
import { prCurve, type PrCurve } from '../metric/evaluate.js';

export interface ClassPr extends PrCurve {
  label: number;
  numGt: number;
}


/**
 * PR curves of every class with ground truth, for a submission file scored against truth
 * (default IoU 0.6, mask mode; images absent from the submission are left out, as evaluateFiles).
 *
 * @example
 * ```ts
 * const curves = await classPrCurves(await readTruth('data/truth.csv'), 'out/submission.csv');
 * ```
 */
export async function classPrCurves(truth: Map<string, ImageTruth> | string, submissionPath: string, iou = 0.6): Promise<ClassPr[]> {
  const t = typeof truth === 'string' ? await readTruth(truth) : truth;
  const ev = new Evaluator(t, { iou });
  for await (const row of readSubmissionRows(submissionPath)) {
    ev.add({ id: row.id, width: row.width, height: row.height, predictions: parsePredictions(row, submissionPath, NUM_CLASSES) }, `${submissionPath}:${row.line}`);
  }
  const res = ev.result();
  // The curves use the Evaluator's own matching, not a copy of it.
  return res.classes.filter((c) => c.numGt > 0).map((c) => ({ label: c.label, numGt: c.numGt, ...prCurve(ev.scoredDetections(c.label), c.numGt) }));
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
