// Time to generate one synthetic HPA-like field (4 stains + labels, without PNG encoding).
import { synthImage } from '@cellcam/core';
import { runCase, type BenchOptions, type Row } from './harness.js';

export async function run(opts: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  for (const size of opts.sizes) {
    let seed = 1;
    rows.push(...(await runCase('synth', size, [
      { impl: 'synthImage (8-bit)', fn: () => synthImage(`b${seed}`, size, seed++, [0, 16]), note: 'red, green, blue, yellow, cells, nuclei' },
      { impl: 'synthImage (16-bit)', fn: () => synthImage(`b${seed}`, size, seed++, [0, 16], { bitDepth: 16 }) },
    ], { ...opts, minIters: 3, minTimeMs: 500 })));
  }
  return rows;
}
