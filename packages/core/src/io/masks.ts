/**
 * Finding an image's label images in a folder of masks made elsewhere: cellcam's own names
 * (`{ID}_cells.png`, `{ID}_nuclei.png`, as `cellcam segment` writes them) and the HPA cell
 * segmentator's (`{ID}_cellmask.png`, `{ID}_nucleimask.png`), in PNG or TIFF.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const NAMES = {
  cells: ['cells', 'cellmask'],
  nuclei: ['nuclei', 'nucleimask'],
} as const;
const EXTENSIONS = ['png', 'tif', 'tiff'];

/** The names tried for one kind of mask, first found wins (for errors and docs). */
export function maskNames(id: string, kind: 'cells' | 'nuclei'): string[] {
  return NAMES[kind].flatMap((n) => EXTENSIONS.map((e) => `${id}_${n}.${e}`));
}

/**
 * The cell and nucleus label files of image `id` in `dir` (null where none exists).
 *
 * @example
 * ```ts
 * const { cells, nuclei } = findMasks('hpa-masks', '1000_A12_2'); // …/1000_A12_2_cellmask.png, …_nucleimask.png
 * ```
 */
export function findMasks(dir: string, id: string): { cells: string | null; nuclei: string | null } {
  const find = (kind: 'cells' | 'nuclei') => maskNames(id, kind).map((n) => join(dir, n)).find((p) => existsSync(p)) ?? null;
  return { cells: find('cells'), nuclei: find('nuclei') };
}
