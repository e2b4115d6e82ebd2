/** How a cell's final per-class confidence combines the image and cell classifiers. */
import type { CombineRule } from '../pipeline/config.js';

/**
 * Final confidence of (cell, class) from the image probability `pi` and the cell probability `pc`
 * (docs/pipeline.md): product (default, as top solutions did), cell only, image only, arithmetic
 * mean, or geometric mean.
 *
 * @example
 * ```ts
 * combine('product', 0.9, 0.5); // 0.45
 * ```
 */
export function combine(rule: CombineRule, pi: number, pc: number): number {
  switch (rule) {
    case 'product': return pi * pc;
    case 'cell': return pc;
    case 'image': return pi;
    case 'mean': return (pi + pc) / 2;
    case 'geometric': return Math.sqrt(pi * pc);
  }
}

