/**
 * Per-class precision–recall curves of a submission, from the same matching as the challenge
 * metric (metric/evaluate.ts Evaluator) and the same ranking and interpolation as its
 * averagePrecision, so the area under each drawn curve is the class AP the run reports.
 */
import { Evaluator, NUM_CLASSES, readTruth, type ImageTruth } from '../metric/evaluate.js';
import { parsePredictions, readSubmissionRows } from '../submit/csv.js';

export { prCurve, curvePoints, type PrCurve } from '../metric/evaluate.js';
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
