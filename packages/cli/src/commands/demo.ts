/**
 * `cellcam demo`: the built-in end-to-end job. Synthesizes a balanced HPA-like set with per-cell
 * truth, runs the whole weakly supervised pipeline on it (`cellcam run`), validates the submission
 * and prints the cell-level mAP of each cycle next to the broadcast and oracle references.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig, runPipeline, synthesize, validateSubmission } from '@cellcam/core';
import { parseIntOption } from '../options.js';
import { stageReporter, summaryTable } from './run.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('synthesize a balanced dataset and run the whole pipeline on it, scored against the per-cell truth')
    .option('--out <dir>', 'working folder', 'cellcam-demo')
    .option('--images <n>', 'synthetic images (>= 19 for a balanced set)', parseIntOption('--images', 19, 10000), 80)
    .option('--size <px>', 'image side', parseIntOption('--size', 512, 4096), 1024)
    .option('--seed <k>', 'seed', parseIntOption('--seed', 0), 1)
    .option('--cycles <n>', 'pseudo-label cycles', parseIntOption('--cycles', 1, 10), 2)
    .option('--quiet', 'no progress output')
    .action(async (opts: { out: string; images: number; size: number; seed: number; cycles: number; quiet?: boolean }) => {
      const t0 = performance.now();
      const data = join(opts.out, 'data');
      const say = (s: string) => process.stdout.write(`${s}\n`);
      if (!existsSync(join(data, 'synth.json'))) {
        say(`synth: ${opts.images} images of ${opts.size}² (balanced, 25 % test) -> ${data}`);
        await synthesize({ out: data, images: opts.images, size: opts.size, seed: opts.seed, balanced: true, testFraction: 0.25 });
      } else say(`synth: ${data} exists, reusing it`);
      say(`run: segment → features → train-image → cam → (pseudo-label → train-cell → predict) × ${opts.cycles} → evaluate`);
      const rep = stageReporter(opts.quiet);
      const run = await runPipeline({
        train: join(data, 'train'), test: join(data, 'test'), out: join(opts.out, 'run'),
        config: resolveConfig({ cycles: opts.cycles, seed: opts.seed }), resume: true, onEvent: rep.onEvent,
      });
      rep.stop();
      process.stdout.write(summaryTable(run));
      const v = await validateSubmission(run.submission!, { images: join(data, 'test') });
      say(`submit validate: ${v.ok ? 'valid' : `${v.problems.length} problems`}`);
      say(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s; outputs in ${opts.out}`);
      if (!v.ok) process.exitCode = 1;
    });
}
