// The challenge metric on hand-computed cases: IoU exactly 0.6, duplicates, ignored classes,
// empty masks, classes without GT, score ties (file order), no fallback, box mode; the true labels
// of another segmentation's cells.
import { describe, expect, it } from 'vitest';
import { encodeBinaryMask } from '../src/submit/encode.js';
import { averagePrecision, evaluate, type ImageDetections, type ImageTruth } from '../src/metric/evaluate.js';
import { boxIou, maskIou, rleIntersection, rleMask } from '../src/metric/rle-iou.js';
import { truthLabelsForMasks } from '../src/metric/truth-match.js';
import { rleCounts } from '../src/kernels/rle.js';
import { rng } from './helpers.js';

const W = 10, H = 10;
/** Mask from a list of [x, y] pixels or a rectangle [x0, y0, x1, y1) */
function rect(x0: number, y0: number, x1: number, y1: number): string {
  const m = new Uint8Array(W * H);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * W + x] = 1;
  return encodeBinaryMask(m, W, H);
}
const EMPTY = encodeBinaryMask(new Uint8Array(W * H), W, H);

function truthOf(...images: { id: string; cells: { mask: string; labels: number[] }[] }[]): Map<string, ImageTruth> {
  return new Map(images.map((i) => [i.id, { id: i.id, width: W, height: H, cells: i.cells }]));
}
function dets(id: string, ...p: [number, number, string][]): ImageDetections {
  return { id, width: W, height: H, predictions: p.map(([label, confidence, mask]) => ({ label, confidence, mask })) };
}

describe('averagePrecision (VOC all-point)', () => {
  it.each([
    ['all TP', [[0.9, true], [0.8, true]], 2, 1],
    ['TP then FP', [[0.9, true], [0.8, false]], 1, 1],
    ['FP then TP', [[0.9, false], [0.8, true]], 1, 0.5],
    ['TP FP TP', [[0.9, true], [0.8, false], [0.7, true]], 2, 0.5 + 0.5 * (2 / 3)],
    ['half recall', [[0.9, true]], 2, 0.5],
    ['no detections', [], 3, 0],
  ] as [string, [number, boolean][], number, number][])('%s', (_name, rows, numGt, ap) => {
    expect(averagePrecision(rows.map(([score, tp]) => ({ score, tp })), numGt)).toBeCloseTo(ap, 12);
  });
});

describe('evaluate: matching rules', () => {
  const gt5 = rect(0, 0, 5, 1); // 5 pixels
  it.each([
    ['IoU exactly 0.6 matches (inclusive)', rect(0, 0, 3, 1), 1],
    ['IoU 0.5 does not', rect(0, 0, 3, 1) === '' ? '' : rect(2, 0, 6, 1), 0], // inter 3, union 6
  ])('%s', (_n, det, ap) => {
    const r = evaluate(truthOf({ id: 'a', cells: [{ mask: gt5, labels: [0] }] }), [dets('a', [0, 0.9, det])]);
    expect(r.classes[0].ap).toBe(ap);
    expect(r.mAP).toBe(ap);
  });

  it('a duplicate detection of a matched cell is a false positive', () => {
    const g1 = rect(0, 0, 3, 3), g2 = rect(5, 5, 8, 8);
    const r = evaluate(truthOf({ id: 'a', cells: [{ mask: g1, labels: [2] }, { mask: g2, labels: [2] }] }), [
      dets('a', [2, 0.9, g1], [2, 0.8, g1], [2, 0.7, g2]),
    ]);
    expect(r.classes[2]).toMatchObject({ numGt: 2, tp: 2, fp: 1 });
    expect(r.classes[2].ap).toBeCloseTo(0.5 + 0.5 * (2 / 3), 12);
  });

  it('no fallback to the second-best GT when the best one is taken', () => {
    // GT A = 3x2 block, GT B overlaps the detection a little less; the detection's best is A.
    const a = rect(0, 0, 5, 2), b = rect(0, 2, 5, 4);
    const d1 = a, d2 = rect(0, 0, 5, 3); // IoU(d2,A)=10/15=0.667, IoU(d2,B)=5/20=0.25
    const r = evaluate(truthOf({ id: 'a', cells: [{ mask: a, labels: [1] }, { mask: b, labels: [1] }] }), [dets('a', [1, 0.9, d1], [1, 0.8, d2])]);
    expect(r.classes[1]).toMatchObject({ tp: 1, fp: 1 });
    expect(r.classes[1].ap).toBeCloseTo(0.5, 12);
  });

  it('ignores classes absent from the image labels and drops empty masks', () => {
    const g = rect(0, 0, 4, 4);
    const r = evaluate(truthOf({ id: 'a', cells: [{ mask: g, labels: [3] }] }), [
      dets('a', [5, 0.99, g], [3, 0.95, EMPTY], [3, 0.5, g]),
    ]);
    expect(r.detections).toMatchObject({ ignoredClass: 1, emptyMask: 1, evaluated: 1 });
    expect(r.classes[5]).toMatchObject({ ap: null, numGt: 0, numDetections: 0 });
    expect(r.classes[3].ap).toBe(1);
    expect(r.mAP).toBe(1); // only class 3 has GT
  });

  it('leaves classes without GT out of the mean and scores missed classes 0', () => {
    const g = rect(0, 0, 4, 4), h = rect(5, 5, 9, 9);
    const r = evaluate(truthOf({ id: 'a', cells: [{ mask: g, labels: [0] }, { mask: h, labels: [16] }] }), [dets('a', [0, 0.9, g])]);
    expect(r.classes[0].ap).toBe(1);
    expect(r.classes[16].ap).toBe(0);
    expect(r.classes.filter((c) => c.ap !== null)).toHaveLength(2);
    expect(r.mAP).toBe(0.5);
  });

  it.each([
    ['TP first in file order', [[0, 0.5, 'tp'], [0, 0.5, 'fp']], 1],
    ['FP first in file order', [[0, 0.5, 'fp'], [0, 0.5, 'tp']], 0.5],
  ] as [string, [number, number, string][], number][])('score ties keep file order: %s', (_n, rows, ap) => {
    const g = rect(0, 0, 4, 4), other = rect(6, 6, 9, 9);
    const m = { tp: g, fp: other };
    const r = evaluate(truthOf({ id: 'a', cells: [{ mask: g, labels: [0] }, { mask: other, labels: [4] }] }),
      [dets('a', ...rows.map(([l, c, k]) => [l, c, m[k as 'tp' | 'fp']] as [number, number, string]))]);
    expect(r.classes[0].ap).toBeCloseTo(ap, 12);
  });

  it('ties across images keep submission row order', () => {
    const g = rect(0, 0, 4, 4), wrong = rect(6, 6, 9, 9);
    const truth = truthOf({ id: 'a', cells: [{ mask: g, labels: [0] }, { mask: wrong, labels: [7] }] }, { id: 'b', cells: [{ mask: g, labels: [0] }, { mask: wrong, labels: [7] }] });
    const fpFirst = evaluate(truth, [dets('a', [0, 0.5, wrong]), dets('b', [0, 0.5, g])]);
    const tpFirst = evaluate(truth, [dets('b', [0, 0.5, g]), dets('a', [0, 0.5, wrong])]);
    // numGt = 2: [FP, TP] -> AP 0.25; [TP, FP] -> AP 0.5
    expect(fpFirst.classes[0].ap).toBeCloseTo(0.25, 12);
    expect(tpFirst.classes[0].ap).toBeCloseTo(0.5, 12);
  });

  it('box mode scores L-shapes by their boxes (organizers\' script)', () => {
    // GT: full 4x4 square; detection: an L inside the same box (7 px): mask IoU 7/16 < 0.6, box IoU 1.
    const L = new Uint8Array(W * H);
    for (let i = 0; i < 4; i++) {
      L[i * W] = 1;
      L[3 * W + i] = 1;
    }
    const det = encodeBinaryMask(L, W, H), g = rect(0, 0, 4, 4);
    const truth = truthOf({ id: 'a', cells: [{ mask: g, labels: [9] }] });
    expect(evaluate(truth, [dets('a', [9, 1, det])], { mode: 'mask' }).classes[9].ap).toBe(0);
    expect(evaluate(truth, [dets('a', [9, 1, det])], { mode: 'box' }).classes[9].ap).toBe(1);
  });

  it('excludes truth images absent from the submission unless requireAll', () => {
    const g = rect(0, 0, 4, 4);
    const truth = truthOf({ id: 'a', cells: [{ mask: g, labels: [0] }] }, { id: 'b', cells: [{ mask: g, labels: [0] }] });
    const sub = [dets('a', [0, 1, g])];
    const r = evaluate(truth, sub);
    expect(r).toMatchObject({ mAP: 1, requireAll: false, images: { evaluated: 1, missing: ['b'] } });
    const all = evaluate(truth, sub, { requireAll: true });
    expect(all.classes[0]).toMatchObject({ numGt: 2, tp: 1 });
    expect(all.mAP).toBe(0.5);
  });

  it('rejects a size mismatch and bad options naming them', () => {
    const t = truthOf({ id: 'a', cells: [{ mask: rect(0, 0, 2, 2), labels: [0] }] });
    expect(() => evaluate(t, [{ id: 'a', width: 12, height: 10, predictions: [] }])).toThrow(/12x10 in the submission but 10x10 in the truth/);
    expect(() => evaluate(t, [], { iou: 1.5 })).toThrow(/options.iou/);
    expect(() => evaluate(t, [], { mode: 'poly' as never })).toThrow(/options.mode/);
  });
});

describe('RLE geometry equals dense computation', () => {
  it('intersection, IoU, area and box on random masks', () => {
    const r = rng(5);
    for (let t = 0; t < 200; t++) {
      const w = 1 + Math.floor(r() * 17), h = 1 + Math.floor(r() * 17);
      const a = new Uint8Array(w * h), b = new Uint8Array(w * h);
      const pa = r(), pb = r();
      for (let i = 0; i < w * h; i++) {
        a[i] = r() < pa ? 1 : 0;
        b[i] = r() < pb ? 1 : 0;
      }
      let inter = 0, areaA = 0, areaB = 0, bx0 = w, by0 = h, bx1 = 0, by1 = 0;
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        const i = y * w + x;
        inter += a[i] & b[i];
        areaA += a[i];
        areaB += b[i];
        if (a[i]) { bx0 = Math.min(bx0, x); by0 = Math.min(by0, y); bx1 = Math.max(bx1, x + 1); by1 = Math.max(by1, y + 1); }
      }
      const ma = rleMask(rleCounts(a, w, h), h), mb = rleMask(rleCounts(b, w, h), h);
      expect(rleIntersection(ma.counts, mb.counts)).toBe(inter);
      expect(ma.area).toBe(areaA);
      if (areaA) expect(ma.box).toEqual([bx0, by0, bx1, by1]);
      const iou = areaA && areaB ? inter / (areaA + areaB - inter) : 0;
      expect(maskIou(ma, mb)).toBeCloseTo(iou, 12);
      expect(boxIou(ma, ma)).toBe(areaA ? 1 : 0);
    }
  });
});

describe('truthLabelsForMasks: the true labels of any segmentation', () => {
  const t: ImageTruth = {
    id: 'img',
    width: W,
    height: H,
    cells: [
      { mask: rect(0, 0, 5, 10), labels: [1] },
      { mask: rect(5, 0, 10, 5), labels: [2, 7] },
    ],
  };
  it.each([
    // name, predicted mask, minIou, expected labels
    ['the identical mask', rect(0, 0, 5, 10), 0.9, [1]],
    ['the most-overlapping true cell', rect(4, 0, 10, 5), 0, [2, 7]],
    ['overlap below minIou', rect(5, 0, 7, 5), 0.5, null], // IoU 10/25 = 0.4
    ['overlap at minIou', rect(5, 0, 7, 5), 0.4, [2, 7]],
    ['no true cell under it', rect(5, 5, 10, 10), 0, null],
  ] as const)('%s', (_name, mask, minIou, expected) => {
    expect(truthLabelsForMasks(t, [mask], minIou, { width: W, height: H })).toEqual([expected]);
  });

  it('masks of another size: the error names the image and both sizes', () => {
    const big = encodeBinaryMask(new Uint8Array(12 * 12).fill(1), 12, 12);
    expect(() => truthLabelsForMasks(t, [big], 0, { width: 12, height: 12 })).toThrow(/image img: the cell masks are 12x12 but the truth is 10x10/);
    // without the size, the decode error still names the image
    expect(() => truthLabelsForMasks(t, [big])).toThrow(/image img: a cell mask: mask runs sum to 144, expected width\*height = 10\*10 = 100/);
  });
});
