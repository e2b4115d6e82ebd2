/**
 * Per-cell truth for any segmentation: each cell takes the labels of the true cell it overlaps
 * most (mask IoU on the encoded RLE), or of the true cell with the identical mask.
 */
import { CellcamError } from '../errors.js';
import { decodeCounts } from '../submit/encode.js';
import { maskIou, rleMask, type RleMask } from './rle-iou.js';
import type { ImageTruth } from './evaluate.js';

/**
 * @param masks encoded cell masks (submission encoding) of one image
 * @param minIou cells whose best IoU is below it get null (default 0: any overlap counts)
 * @param size the size of the image the masks were made on; when it is not the truth's, the error
 *   names the image and both sizes (a truth file of another dataset, or resized images)
 * @returns per mask the true labels, or null when no true cell overlaps it enough
 *
 * @example
 * ```ts
 * const truth = await readTruth('data/truth.csv');
 * const labels = truthLabelsForMasks(truth.get(id)!, await encodeCells(cells, w, h), 0.5);
 * ```
 */
export function truthLabelsForMasks(t: ImageTruth, masks: readonly string[], minIou = 0, size?: { width: number; height: number }): (number[] | null)[] {
  if (size && (size.width !== t.width || size.height !== t.height)) {
    throw new CellcamError('CELLCAM_E_FORMAT', `image ${t.id}: the cell masks are ${size.width}x${size.height} but the truth is ${t.width}x${t.height}; is the truth file of another dataset, or were the images resized?`);
  }
  const decode = (mask: string, what: string) => {
    try {
      return rleMask(decodeCounts(mask, t.width, t.height), t.height);
    } catch (err) {
      throw new CellcamError('CELLCAM_E_FORMAT', `image ${t.id}: ${what}: ${(err as Error).message}`, { cause: err });
    }
  };
  const exact = new Map(t.cells.map((c) => [c.mask, c.labels]));
  let geom: { labels: number[]; m: RleMask }[] | null = null;
  return masks.map((mask) => {
    const hit = exact.get(mask);
    if (hit) return hit;
    geom ??= t.cells.map((c, i) => ({ labels: c.labels, m: decode(c.mask, `true cell ${i + 1}`) }));
    const m = decode(mask, 'a cell mask');
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
