/**
 * `cellcam demo`: the built-in end-to-end job on synthetic data. Synthesizes a small HPA-like set,
 * segments its test images with the model-free maps and the official post-processing, scores the
 * segmentation, writes the broadcast / random / oracle baselines on both the true and the predicted
 * cells, validates and scores every submission. The learned pipeline (issue 5) plugs in here.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateFiles, segmentFolder, synthesize, validateSubmission, writeBaseline, type BaselineKind } from '@cellcam/core';
import { parseIntOption } from '../options.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('synthesize a small dataset and run segmentation, baselines, validation and scoring end to end')
    .option('--out <dir>', 'working folder', 'cellcam-demo')
    .option('--images <n>', 'synthetic images (>= 19 for a balanced set)', parseIntOption('--images', 19, 10000), 24)
    .option('--size <px>', 'image side', parseIntOption('--size', 512, 4096), 1024)
    .option('--seed <k>', 'seed', parseIntOption('--seed', 0), 1)
    .action(async (opts: { out: string; images: number; size: number; seed: number }) => {
      const t0 = performance.now();
      const data = join(opts.out, 'data');
      const say = (s: string) => process.stdout.write(`${s}\n`);
      if (!existsSync(join(data, 'synth.json'))) {
        say(`1/4 synth: ${opts.images} images of ${opts.size}² -> ${data}`);
        await synthesize({ out: data, images: opts.images, size: opts.size, seed: opts.seed, balanced: true, testFraction: 0.25 });
      } else say(`1/4 synth: ${data} exists, reusing it`);
      say('2/4 segment: model-free maps + official post-processing on the test images');
      const seg = await segmentFolder({ imageDir: join(data, 'test'), outDir: join(opts.out, 'segmentation'), evalDir: data });
      const sc = seg.score!;
      say(`    cell-mask AP@0.6 ${sc.ap.toFixed(3)} (recall ${sc.recall.toFixed(3)}, precision ${sc.precision.toFixed(3)}, ${sc.truth} GT cells)`);
      say('3/4 baselines and 4/4 scoring (mAP@0.6, mask IoU, test images)');
      const rows: string[] = [];
      for (const cells of ['truth', 'predicted'] as const) {
        for (const kind of ['broadcast', 'random', 'oracle'] as BaselineKind[]) {
          const file = join(opts.out, `${kind}-${cells}-cells.csv`);
          await writeBaseline({ dataset: data, kind, out: file, cells: cells === 'predicted' ? join(opts.out, 'segmentation') : undefined });
          const v = await validateSubmission(file, { images: join(data, 'test') });
          const e = await evaluateFiles(join(data, 'truth.csv'), file);
          rows.push(`| ${kind} | ${cells} | ${e.mAP.toFixed(4)} | ${v.ok ? 'valid' : `${v.problems.length} problems`} |`);
        }
      }
      say('\n| submission | cells | mAP@0.6 | submit validate |\n|---|---|---:|---|');
      for (const r of rows) say(r);
      say(`\ndone in ${((performance.now() - t0) / 1000).toFixed(1)} s; outputs in ${opts.out}`);
    });
}
