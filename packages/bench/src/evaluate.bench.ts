// Scoring a test-set-sized submission: 559 images of 2048² × 25 cells × 19 classes (265,525
// predictions), written with SubmissionWriter and scored with evaluateFiles (RLE-level IoU).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCells, evaluateFiles, mulberry32, SubmissionWriter } from '@cellcam/core';
import type { BenchOptions, Row } from './harness.js';

export async function run(opts: BenchOptions): Promise<Row[]> {
  const images = opts.quick ? 60 : 559, size = 2048, grid = 5;
  const dir = mkdtempSync(join(tmpdir(), 'cellcam-bench-eval-'));
  const r = mulberry32(3);
  try {
    const truth = await SubmissionWriter.open(join(dir, 'truth.csv'));
    const sub = await SubmissionWriter.open(join(dir, 'submission.csv'));
    for (let i = 0; i < images; i++) {
      // 25 jittered rectangular cells; the submission's cells are shifted a little.
      const labels = new Uint16Array(size * size), shifted = new Uint16Array(size * size);
      const step = size / grid;
      for (let c = 0; c < grid * grid; c++) {
        const x0 = Math.floor((c % grid) * step + 10), y0 = Math.floor(Math.floor(c / grid) * step + 10);
        const w = Math.floor(step - 20 - r() * 60), h = Math.floor(step - 20 - r() * 60), dx = Math.floor(r() * 30), dy = Math.floor(r() * 30);
        for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) labels[y * size + x] = c + 1;
        for (let y = y0 + dy; y < Math.min(size, y0 + h + dy); y++) for (let x = x0 + dx; x < Math.min(size, x0 + w + dx); x++) shifted[y * size + x] = c + 1;
      }
      const [tm, sm] = await Promise.all([encodeCells(labels, size, size), encodeCells(shifted, size, size)]);
      const classes = [0, 16, Math.floor(r() * 19)];
      await truth.addImage(`img${i}`, size, size, tm.map((mask) => ({ mask, scores: [{ label: classes[Math.floor(r() * 3)], confidence: 1 }] })));
      await sub.addImage(`img${i}`, size, size, sm.map((mask) => ({ mask, scores: Float32Array.from({ length: 19 }, () => r()) })));
    }
    await truth.close();
    await sub.close();
    const mb = statSync(join(dir, 'submission.csv')).size / 1e6;
    const rows: Row[] = [];
    for (const mode of ['mask', 'box'] as const) {
      const t0 = performance.now();
      const res = await evaluateFiles(join(dir, 'truth.csv'), join(dir, 'submission.csv'), { mode });
      const ms = performance.now() - t0;
      rows.push({ kernel: 'evaluate', size, impl: `evaluateFiles (${mode} IoU)`, medianMs: ms, mpixPerS: (images * size * size) / 1e6 / (ms / 1000), vsTs: null, iterations: 1,
        note: `${images} images × 25 cells × 19 classes, ${mb.toFixed(0)} MB, mAP ${res.mAP.toFixed(3)}` });
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
