/**
 * Cell-mask quality of a segmentation against ground-truth cells: class-agnostic AP at an IoU
 * threshold with the challenge's matching rule (each predicted cell goes to its highest-IoU GT
 * cell; a GT cell matches at most one prediction; IoU >= threshold inclusive). Predicted cells are
 * ranked by area (largest first, ties by id) since a segmentation carries no confidence.
 */
import { averagePrecision } from './evaluate.js';

export interface SegmentationScore {
  ap: number;
  precision: number;
  recall: number;
  matched: number;
  predicted: number;
  truth: number;
  /** mean IoU of the matched pairs */
  meanIou: number;
  /** images scored */
  images: number;
}

/** Overlap table of two label images: areas and pairwise intersections. */
function overlaps(pred: ArrayLike<number>, truth: ArrayLike<number>): { areaP: Map<number, number>; areaT: Map<number, number>; inter: Map<number, Map<number, number>> } {
  const areaP = new Map<number, number>(), areaT = new Map<number, number>(), inter = new Map<number, Map<number, number>>();
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i], t = truth[i];
    if (p) areaP.set(p, (areaP.get(p) ?? 0) + 1);
    if (t) areaT.set(t, (areaT.get(t) ?? 0) + 1);
    if (p && t) {
      let row = inter.get(p);
      if (!row) inter.set(p, (row = new Map()));
      row.set(t, (row.get(t) ?? 0) + 1);
    }
  }
  return { areaP, areaT, inter };
}

/**
 * Scores one predicted label image against the truth (same size, 0 = background).
 *
 * @example
 * ```ts
 * const s = segmentationScore(predCells, truthCells);
 * console.log(s.ap, s.recall);
 * ```
 */
export function segmentationScore(pred: ArrayLike<number>, truth: ArrayLike<number>, iouThreshold = 0.6): SegmentationScore {
  return combineSegmentationScores([segmentationMatches(pred, truth, iouThreshold)]);
}

/** Per-image matches, to be combined over a dataset with {@link combineSegmentationScores}. */
export interface SegmentationMatches {
  scored: { score: number; tp: boolean; iou: number }[];
  truth: number;
}

export function segmentationMatches(pred: ArrayLike<number>, truth: ArrayLike<number>, iouThreshold = 0.6): SegmentationMatches {
  if (pred.length !== truth.length) throw new RangeError(`Expected label images of equal length but received ${pred.length} and ${truth.length}`);
  const { areaP, areaT, inter } = overlaps(pred, truth);
  const order = [...areaP.keys()].sort((a, b) => areaP.get(b)! - areaP.get(a)! || a - b);
  const matched = new Set<number>();
  const scored: SegmentationMatches['scored'] = [];
  for (const p of order) {
    let best = -1, bestIou = 0;
    for (const [t, n] of inter.get(p) ?? []) {
      const iou = n / (areaP.get(p)! + areaT.get(t)! - n);
      if (iou > bestIou || (iou === bestIou && t < best)) {
        bestIou = iou;
        best = t;
      }
    }
    const tp = best >= 0 && bestIou >= iouThreshold && !matched.has(best);
    if (tp) matched.add(best);
    scored.push({ score: areaP.get(p)!, tp, iou: tp ? bestIou : 0 });
  }
  return { scored, truth: areaT.size };
}

/** Dataset-level AP, precision and recall from per-image matches. */
export function combineSegmentationScores(images: SegmentationMatches[]): SegmentationScore {
  const scored = images.flatMap((m) => m.scored);
  const truth = images.reduce((a, m) => a + m.truth, 0);
  const tps = scored.filter((s) => s.tp);
  return {
    ap: truth > 0 ? averagePrecision(scored, truth) : NaN,
    precision: scored.length ? tps.length / scored.length : 0,
    recall: truth ? tps.length / truth : 0,
    matched: tps.length,
    predicted: scored.length,
    truth,
    meanIou: tps.length ? tps.reduce((a, s) => a + s.iou, 0) / tps.length : 0,
    images: images.length,
  };
}
