// Tests of the pseudo-labelling rules: candidates, relative and absolute thresholds, single vs multi,
// Negative-only images, ties, empty images, singleTarget and the precision/recall of pseudo-labels.
import { describe, expect, it } from 'vitest';
import {
  NEGATIVE_CLASS, pseudoLabelImage, pseudoLabelQuality, singleTarget, type PseudoLabelRules,
} from '../src/pseudolabel/pseudolabel.js';
import { UNKNOWN_CLASS } from '../src/model/contracts.js';

const C = 19;

/** cells×19 scores from one {class: score} map per cell (unlisted classes score 0). */
function scores(cells: readonly Partial<Record<number, number>>[]): Float64Array {
  const s = new Float64Array(cells.length * C);
  cells.forEach((m, i) => {
    for (const [c, v] of Object.entries(m)) s[i * C + Number(c)] = v ?? 0;
  });
  return s;
}

// Explicit base rules (not DEFAULT_PSEUDO_LABEL_RULES, which is a tuning choice that may change).
const BASE: PseudoLabelRules = { mode: 'single', relative: 0.75, absolute: 0.2, negative: 'all' };
const rules = (o: Partial<PseudoLabelRules> = {}): PseudoLabelRules => ({ ...BASE, ...o });

describe('pseudoLabelImage', () => {
  it.each([
    {
      what: 'only the image labels are candidates (a stronger non-label class is ignored)',
      labels: [0], cells: [{ 0: 0.9, 5: 0.99 }, { 5: 1 }], r: rules({ mode: 'multi' }),
      expected: [[0], []],
    },
    {
      what: 'the relative threshold keeps cells near the strongest cell',
      labels: [3], cells: [{ 3: 0.8 }, { 3: 0.7 }, { 3: 0.61 }, { 3: 0.59 }], r: rules({ relative: 0.75, absolute: 0.2 }),
      expected: [[3], [3], [3], []],
    },
    {
      what: 'a score exactly at relative × best passes',
      labels: [3], cells: [{ 3: 0.8 }, { 3: 0.4 }, { 3: 0.3999 }], r: rules({ relative: 0.5, absolute: 0 }),
      expected: [[3], [3], []],
    },
    {
      what: 'the absolute threshold rejects even the strongest cell',
      labels: [7], cells: [{ 7: 0.15 }, { 7: 0.1 }], r: rules({ relative: 0.5, absolute: 0.2 }),
      expected: [[], []],
    },
    {
      what: 'a score exactly at the absolute threshold passes',
      labels: [7], cells: [{ 7: 0.25 }, { 7: 0.2 }], r: rules({ relative: 0, absolute: 0.25 }),
      expected: [[7], []],
    },
    {
      what: 'relative 0 and absolute 0 label every cell with positive evidence somewhere',
      labels: [2], cells: [{ 2: 0.5 }, {}, { 2: 1e-9 }], r: rules({ relative: 0, absolute: 0 }),
      expected: [[2], [2], [2]],
    },
    {
      what: 'a class with no evidence in any cell is never given',
      labels: [2, 4], cells: [{ 4: 0.9 }, {}], r: rules({ mode: 'multi', relative: 0, absolute: 0 }),
      expected: [[4], [4]],
    },
    {
      what: 'multi gives every passing class, in class order',
      labels: [16, 1], cells: [{ 1: 0.9, 16: 0.8 }, { 1: 0.3, 16: 0.8 }, { 1: 0.1, 16: 0.1 }], r: rules({ mode: 'multi' }),
      expected: [[1, 16], [16], []],
    },
    {
      what: 'single picks the passing class with the highest share of its best cell',
      // cell 1: class 1 is at 0.67 of its best (fails 0.75), so 2. cell 2: both pass; class 2 is at
      // 0.9 of its best and class 1 at 0.78, so 2 although class 1 has the higher score.
      labels: [1, 2], cells: [{ 1: 0.9, 2: 0.4 }, { 1: 0.6, 2: 0.5 }, { 1: 0.7, 2: 0.45 }], r: rules({ mode: 'single' }),
      expected: [[1], [2], [2]],
    },
    {
      what: 'single breaks a tie by the lower class id, whatever the label order',
      labels: [9, 4], cells: [{ 4: 0.8, 9: 0.5 }, { 4: 0.4, 9: 0.25 }], r: rules({ mode: 'single', relative: 0.4 }),
      expected: [[4], [4]],
    },
    {
      what: 'duplicate and unsorted image labels count once',
      labels: [16, 0, 16], cells: [{ 0: 0.9, 16: 0.9 }], r: rules({ mode: 'multi' }),
      expected: [[0, 16]],
    },
    {
      what: 'an image without labels leaves every cell unknown',
      labels: [], cells: [{ 0: 1 }, { 3: 1 }], r: rules(),
      expected: [[], []],
    },
    {
      what: "Negative-only images with 'all': every cell Negative, whatever the evidence",
      labels: [NEGATIVE_CLASS], cells: [{}, { 0: 1 }, { [NEGATIVE_CLASS]: 0.01 }], r: rules({ negative: 'all' }),
      expected: [[18], [18], [18]],
    },
    {
      what: "Negative-only images with 'all' in multi mode",
      labels: [NEGATIVE_CLASS, NEGATIVE_CLASS], cells: [{}, {}], r: rules({ negative: 'all', mode: 'multi' }),
      expected: [[18], [18]],
    },
    {
      what: "Negative-only images with 'unknown': every cell unknown, even with Negative evidence",
      labels: [NEGATIVE_CLASS], cells: [{ [NEGATIVE_CLASS]: 1 }, {}], r: rules({ negative: 'unknown' }),
      expected: [[], []],
    },
    {
      what: 'Negative beside another label is an ordinary candidate',
      labels: [0, NEGATIVE_CLASS], cells: [{ 0: 0.9 }, { [NEGATIVE_CLASS]: 0.9 }], r: rules({ negative: 'all', mode: 'multi' }),
      expected: [[0], [18]],
    },
  ])('$what', ({ labels, cells, r, expected }) => {
    expect(pseudoLabelImage(labels, scores(cells), cells.length, r)).toEqual(expected);
  });

  it.each([[[0, 16]], [[NEGATIVE_CLASS]], [[]]])('returns no rows for zero cells (labels %j)', (labels) => {
    expect(pseudoLabelImage(labels, new Float64Array(0), 0, rules())).toEqual([]);
  });

  it('gives every cell its own list (no shared arrays)', () => {
    const out = pseudoLabelImage([NEGATIVE_CLASS], new Float64Array(3 * C), 3, rules());
    out[0].push(99);
    expect(out[1]).toEqual([18]);
  });

  it('accepts any ArrayLike of scores', () => {
    const s = Array.from(scores([{ 5: 0.9 }, { 5: 0.1 }]));
    expect(pseudoLabelImage([5], s, 2, rules())).toEqual([[5], []]);
  });
});

describe('singleTarget', () => {
  it.each([
    [[], UNKNOWN_CLASS],
    [[4], 4],
    [[0], 0],
    [[18], 18],
  ])('%j → %i', (labels, target) => {
    expect(singleTarget(labels)).toBe(target);
  });
  it('unknown is class 19', () => expect(UNKNOWN_CLASS).toBe(19));
});

describe('pseudoLabelQuality', () => {
  it.each([
    {
      what: 'cells without a truth match are skipped',
      pseudo: [[1], [2], [], [3]], truth: [[1], [1, 2], [4], null],
      expected: { precision: 1, recall: 2 / 4, labelledPairs: 2, truePairs: 4 },
    },
    {
      what: 'wrong labels lower precision',
      pseudo: [[1, 2], [3]], truth: [[1], [4]],
      expected: { precision: 1 / 3, recall: 1 / 2, labelledPairs: 3, truePairs: 2 },
    },
    {
      what: 'nothing labelled: precision 0',
      pseudo: [[], []], truth: [[1], [2]],
      expected: { precision: 0, recall: 0, labelledPairs: 0, truePairs: 2 },
    },
    {
      what: 'no truth at all: both 0',
      pseudo: [[1]], truth: [null],
      expected: { precision: 0, recall: 0, labelledPairs: 0, truePairs: 0 },
    },
    {
      what: 'cells whose truth is empty count their labels as false',
      pseudo: [[5], [5]], truth: [[], [5]],
      expected: { precision: 1 / 2, recall: 1, labelledPairs: 2, truePairs: 1 },
    },
    {
      what: 'no cells',
      pseudo: [], truth: [],
      expected: { precision: 0, recall: 0, labelledPairs: 0, truePairs: 0 },
    },
  ])('$what', ({ pseudo, truth, expected }) => {
    const q = pseudoLabelQuality(pseudo, truth);
    expect(q.labelledPairs).toBe(expected.labelledPairs);
    expect(q.truePairs).toBe(expected.truePairs);
    expect(q.precision).toBeCloseTo(expected.precision, 12);
    expect(q.recall).toBeCloseTo(expected.recall, 12);
  });
});
