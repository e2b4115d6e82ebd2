/**
 * Pseudo-labels per cell from image-level labels and per-cell class evidence (pooled CAMs in
 * cycle 1, CAMs fused with the previous cell classifier later). The rules are documented in
 * docs/pipeline.md; every threshold is a config value.
 */
import { NUM_CLASSES } from '../metric/evaluate.js';
import { UNKNOWN_CLASS } from '../model/contracts.js';

export const NEGATIVE_CLASS = 18;

export interface PseudoLabelRules {
  /** 'single': one label per cell (the best passing class), as in the write-up; 'multi': every passing class. */
  mode: 'single' | 'multi';
  /** A class passes when the cell's score is ≥ relative × the image's strongest cell score for that class… */
  relative: number;
  /** …and ≥ this absolute score (scores are probabilities in [0, 1]). */
  absolute: number;
  /** Images labelled Negative only: 'all' labels every cell Negative (default), 'unknown' leaves them unknown. */
  negative: 'all' | 'unknown';
}

export const DEFAULT_PSEUDO_LABEL_RULES: PseudoLabelRules = Object.freeze({ mode: 'single', relative: 0, absolute: 0, negative: 'all' });

/**
 * Labels the cells of one image. `scores` is cells×19 (probability-like evidence per class);
 * only the image's own labels are candidates. Returns per cell the list of labels; an empty list
 * means "unknown" (class 19 for a single-label classifier).
 *
 * @example
 * ```ts
 * const labels = pseudoLabelImage([0, 16], scores, cells, DEFAULT_PSEUDO_LABEL_RULES);
 * ```
 */
export function pseudoLabelImage(imageLabels: readonly number[], scores: ArrayLike<number>, cells: number, rules: PseudoLabelRules): number[][] {
  const out: number[][] = Array.from({ length: cells }, () => []);
  if (cells === 0) return out;
  const labels = [...new Set(imageLabels)].sort((a, b) => a - b);
  if (labels.length === 1 && labels[0] === NEGATIVE_CLASS) {
    if (rules.negative === 'all') for (const l of out) l.push(NEGATIVE_CLASS);
    return out;
  }
  const best: number[] = [];
  for (const c of labels) {
    let mx = 0;
    for (let i = 0; i < cells; i++) mx = Math.max(mx, scores[i * NUM_CLASSES + c]);
    best.push(mx);
  }
  for (let i = 0; i < cells; i++) {
    let pick = -1, pickRel = -1;
    labels.forEach((c, k) => {
      const s = scores[i * NUM_CLASSES + c];
      if (best[k] <= 0 || s < rules.absolute || s < rules.relative * best[k]) return;
      if (rules.mode === 'multi') out[i].push(c);
      else if (s / best[k] > pickRel) {
        pickRel = s / best[k];
        pick = c;
      }
    });
    if (rules.mode === 'single' && pick >= 0) out[i].push(pick);
  }
  return out;
}

/** The class index a single-label classifier trains on: the label, or UNKNOWN_CLASS. */
export function singleTarget(labels: readonly number[]): number {
  return labels.length ? labels[0] : UNKNOWN_CLASS;
}

export interface PseudoLabelQuality {
  /** labelled (cell, class) pairs that are true */
  precision: number;
  /** true (cell, class) pairs of labelled-candidate classes that were labelled */
  recall: number;
  labelledPairs: number;
  truePairs: number;
}

/** Precision and recall of pseudo-labels against true per-cell labels (cells without a truth match are skipped). */
export function pseudoLabelQuality(pseudo: readonly (readonly number[])[], truth: readonly (readonly number[] | null)[]): PseudoLabelQuality {
  let tp = 0, labelled = 0, truePairs = 0;
  pseudo.forEach((p, i) => {
    const t = truth[i];
    if (!t) return;
    labelled += p.length;
    truePairs += t.length;
    for (const c of p) if (t.includes(c)) tp++;
  });
  return { precision: labelled ? tp / labelled : 0, recall: truePairs ? tp / truePairs : 0, labelledPairs: labelled, truePairs };
}
