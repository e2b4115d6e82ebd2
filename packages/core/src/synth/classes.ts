/**
 * The 19 HPA single-cell classes and the synthetic label model: image-level label sets drawn with
 * challenge-like frequencies, and weak per-cell subsets of them.
 */
import { HPA_CLASS_NAMES } from '../classes.js';
import { rangeError, typeError } from '../errors.js';
import { Rng } from './random.js';

/** Class names, indexed by class id 0..18 (competition order); the same list as HPA_CLASS_NAMES. */
export const HPA_CLASSES: readonly string[] = HPA_CLASS_NAMES;

export const NUM_CLASSES = 19;
export const MITOTIC_SPINDLE = 11;
export const NEGATIVE = 18;

/**
 * Relative weight of each class when drawing an image's labels (issue 3 §1): Nucleoplasm and
 * Cytosol most common, Mitotic spindle and Negative rare, as in the challenge's train.csv.
 */
export const CLASS_WEIGHTS: readonly number[] = Object.freeze([
  0.3, 0.04, 0.08, 0.05, 0.06, 0.07, 0.04, 0.08, 0.05, 0.03, 0.03, 0.008, 0.06, 0.11, 0.09, 0.012, 0.21, 0.14, 0.005,
]);

/** Share of images with 1, 2 and 3 labels (train.csv has 48 % / 41 % / 11 % once 4–5 are folded into 3). */
const LABEL_COUNT_SHARE = [0.48, 0.41, 0.11];

/** Probability that a cell shows each of its image's classes (before rejecting empty subsets). */
export const CELL_CLASS_PROBABILITY = 0.4;

/** Checks an image's class list: distinct ids 0..18, non-empty, Negative alone, Mitotic spindle with company. */
export function checkClasses(name: string, classes: unknown): number[] {
  if (!Array.isArray(classes)) throw typeError(name, 'an array of class ids 0..18', classes);
  if (classes.length === 0 || classes.length > NUM_CLASSES) throw rangeError(name, 'between 1 and 19 class ids', classes);
  const seen = new Set<number>();
  for (const c of classes) {
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c >= NUM_CLASSES) throw rangeError(`${name}[]`, 'an integer class id in [0, 18]', c);
    if (seen.has(c)) throw rangeError(name, 'distinct class ids', classes);
    seen.add(c);
  }
  if (seen.has(NEGATIVE) && seen.size > 1) throw rangeError(name, 'Negative (18) on its own', classes);
  if (seen.has(MITOTIC_SPINDLE) && seen.size === 1) {
    // Only the mitotic cell could carry a label, leaving every other cell unlabelled.
    throw rangeError(name, 'Mitotic spindle (11) together with at least one other class', classes);
  }
  return [...seen].sort((a, b) => a - b);
}

/** Draws one image's classes: `k` distinct classes by weight; Negative is exclusive; 11 never alone. */
function drawClasses(rng: Rng, k: number): number[] {
  const w = CLASS_WEIGHTS.slice();
  const first = rng.weighted(w);
  if (first === NEGATIVE) return [NEGATIVE];
  const out = [first];
  w[first] = 0;
  w[NEGATIVE] = 0;
  while (out.length < k) {
    const c = rng.weighted(w);
    out.push(c);
    w[c] = 0;
  }
  if (out.length === 1 && out[0] === MITOTIC_SPINDLE) {
    w[MITOTIC_SPINDLE] = 0;
    out.push(rng.weighted(w));
  }
  return out.sort((a, b) => a - b);
}

/**
 * Plans the image-level classes of a whole set. The number of labels per image is stratified
 * (fixed shares of 1/2/3-label images, shuffled) so that small sets have stable label statistics.
 * With `balanced`, every class is placed in at least two images (needs `count >= 19`).
 *
 * @example
 * ```ts
 * const plan = planImageLabels(20, 1);   // e.g. [[0, 16], [13], ...]
 * ```
 */
export function planImageLabels(count: number, seed: number, balanced = false): number[][] {
  const rng = new Rng(seed, 'labels');
  if (balanced) return planBalanced(rng, count);
  const n1 = Math.round(count * LABEL_COUNT_SHARE[0]);
  const n3 = Math.round(count * LABEL_COUNT_SHARE[2]);
  const ks: number[] = [];
  for (let i = 0; i < count; i++) ks.push(i < n1 ? 1 : i < n1 + n3 ? 3 : 2);
  rng.shuffle(ks);
  return ks.map((k) => drawClasses(rng, k));
}

function planBalanced(rng: Rng, count: number): number[][] {
  if (count < NUM_CLASSES) {
    throw rangeError('options.images', `at least ${NUM_CLASSES} images with balanced (--images >= 19 with --balanced)`, count);
  }
  // Two Negative-only images; the two copies of every other class go round-robin over the rest,
  // adjacent copies landing in different images (at most 3 per image since count - 2 >= 17).
  const m = count - 2;
  const order = rng.shuffle(Array.from({ length: NEGATIVE }, (_, c) => c));
  const items: number[] = [];
  for (const c of order) items.push(c, c);
  const plan: number[][] = Array.from({ length: m }, () => []);
  items.forEach((c, j) => plan[j % m].push(c));
  for (let i = 0; i < m; i++) {
    if (plan[i].length === 0) plan[i] = drawClasses(rng, 1 + (rng.chance(0.5) ? 1 : 0));
    if (plan[i].length === 1 && plan[i][0] === MITOTIC_SPINDLE) {
      const w = CLASS_WEIGHTS.slice();
      w[MITOTIC_SPINDLE] = 0;
      w[NEGATIVE] = 0;
      plan[i].push(rng.weighted(w));
    }
    plan[i].sort((a, b) => a - b);
  }
  plan.push([NEGATIVE], [NEGATIVE]);
  return rng.shuffle(plan);
}

/**
 * Weak per-cell labels: every cell shows a random non-empty subset of the image's classes;
 * Mitotic spindle goes to the mitotic cells only (always) and to no other cell; every image class
 * is shown by at least one cell, so the image labels are the union of the cell labels.
 */
export function assignCellLabels(rng: Rng, classes: readonly number[], nCells: number, mitotic: ReadonlySet<number>): number[][] {
  const hasSpindle = classes.includes(MITOTIC_SPINDLE);
  const others = classes.filter((c) => c !== MITOTIC_SPINDLE);
  const out: number[][] = [];
  for (let i = 0; i < nCells; i++) {
    const isMitotic = mitotic.has(i + 1);
    let set: number[] = [];
    if (others.length === 1) set = [others[0]];
    else if (others.length > 1) {
      do set = others.filter(() => rng.chance(CELL_CLASS_PROBABILITY));
      while (set.length === 0 && !(isMitotic && hasSpindle));
    }
    if (isMitotic && hasSpindle) set.push(MITOTIC_SPINDLE);
    out.push(set.sort((a, b) => a - b));
  }
  // Guarantee the union: give any class nobody drew to a random eligible cell.
  for (const c of classes) {
    if (out.some((s) => s.includes(c))) continue;
    const eligible = [...out.keys()].filter((i) => c !== MITOTIC_SPINDLE || mitotic.has(i + 1));
    if (eligible.length === 0) continue;
    const i = eligible[Math.floor(rng.next() * eligible.length)];
    out[i].push(c);
    out[i].sort((a, b) => a - b);
  }
  return out;
}
