// `segmentFolder` end to end, ms per image: PNG decoding, model-free maps, labelCell, two 16-bit
// PNGs written. Four synthetic 16-bit fields per size (two with --quick), segmented again on each
// iteration (force). Rows: exact heap ties with the maps on the main thread (the default before
// 2026-11-26), fifo ties likewise, and the default (fifo ties on model-free maps, maps off the main
// thread). Then the model-free maps alone on one 16-bit field: the TypeScript twin against the
// native kernel on 1 and on all threads (the same bytes).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capabilities, modelFreeMaps, modelFreeMapsAsync, segmentFolder, synthImage, synthesize, type SegmentFolderOptions } from '@cellcam/core';
import { runCase, type BenchOptions, type Row } from './harness.js';

export async function run(opts: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const images = opts.quick ? 2 : 4;
  for (const size of opts.sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'cellcam-bench-segment-'));
    try {
      await synthesize({ out: join(dir, 'data'), images, size, seed: 7, bitDepth: 16, testFraction: 0 });
      const seg = (o: Partial<SegmentFolderOptions>) => async () => {
        const s = await segmentFolder({ imageDir: join(dir, 'data', 'train'), outDir: join(dir, 'out'), force: true, ...o });
        if (s.failed.length || s.segmented !== images) throw new Error(`segmentFolder: ${JSON.stringify(s.failed)}`);
      };
      rows.push(...(await runCase('segment', size, [
        { impl: 'heap ties, maps inline', fn: seg({ ties: 'heap', mapsInWorkers: false }), images, note: `${images} images, ms per image, --jobs = cores` },
        { impl: 'fifo ties, maps inline', fn: seg({ ties: 'fifo', mapsInWorkers: false }), images },
        { impl: 'default (auto = fifo, maps off the main thread)', fn: seg({}), images, note: 'cellcam segment DIR --out OUT' },
      ], { ...opts, minIters: 3, minTimeMs: 0 })));
      const s = synthImage('maps', size, 7, [0, 3, 14], { bitDepth: 16 });
      const img = { width: size, height: size, bitDepth: 16 as const, channels: { red: s.red, blue: s.blue, yellow: s.yellow } };
      rows.push(...(await runCase('model-free maps', size, [
        { impl: 'ts', fn: () => modelFreeMaps(img), note: 'one 16-bit field' },
        ...(capabilities().native ? [
          { impl: 'native-1t', fn: () => modelFreeMapsAsync(img, { backend: 'native', threads: 1 }), note: 'same bytes' },
          { impl: 'native-Nt', fn: () => modelFreeMapsAsync(img, { backend: 'native', threads: 0 }) },
        ] : []),
      ], opts)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}
