/**
 * Per-cell truth for any segmentation: each cell takes the labels of the true cell it overlaps
 * most (mask IoU on the encoded RLE), or of the true cell with the identical mask.
 */
import { decodeCounts } from '../submit/encode.js';
import { maskIou, rleMask, type RleMask } from './rle-iou.js';
import type { ImageTruth } from './evaluate.js';

/**
 * @param masks encoded cell masks (submission encoding) of one image
 * @param minIou cells whose best IoU is below it get null (default 0: any overlap counts)
 * @returns per mask the true labels, or null when no true cell overlaps it enough
 *
 * @example
 * ```ts
 * const truth = await readTruth('data/truth.csv');
 * const labels = truthLabelsForMasks(truth.get(id)!, await encodeCells(cells, w, h), 0.5);
 * ```
 */
export function truthLabelsForMasks(t: ImageTruth, masks: readonly string[], minIou = 0): (number[] | null)[] {
  const exact = new Map(t.cells.map((c) => [c.mask, c.labels]));
  let geom: { labels: number[]; m: RleMask }[] | null = null;
  return masks.map((mask) => {
    const hit = exact.get(mask);
    if (hit) return hit;
    geom ??= t.cells.map((c) => ({ labels: c.labels, m: rleMask(decodeCounts(c.mask, t.width, t.height), t.height) }));
    const m = rleMask(decodeCounts(mask, t.width, t.height), t.height);
    let best: number[] | null = null, bestIou = 0;
    for (const g of geom) {
      const v = maskIou(m, g.m);
      if (v > bestIou) {
        bestIou = v;
        best = g.labels;
      }
    }
    return best && bestIou >= minIou && bestIou > 0 ? best : null;
  });
}
