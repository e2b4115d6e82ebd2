/** `cellcam synth`: writes a synthetic HPA-like benchmark with per-cell ground truth. */
import type { Command } from 'commander';
import { prepareSynthOut, resolveSynthOptions, synthesize, type SynthOptions } from '@cellcam/core';
import { parseChoice, parseFloatOption, parseIntOption } from '../options.js';

/** Core option names -> the flags a CLI user typed. */
const FLAGS: Record<string, string> = {
  'options.out': '--out',
  'options.images': '--images',
  'options.size': '--size',
  'options.seed': '--seed',
  'options.bitDepth': '--bit-depth',
  'options.testFraction': '--test-fraction',
  'options.balanced': '--balanced',
  'options.preview': '--preview',
};
const toFlags = (msg: string) => msg.replace(/options\.[A-Za-z]+/g, (m) => FLAGS[m] ?? m);

/** Exit status for bad arguments, as the program gives commander's own parse errors. */
const EXIT_USAGE = 2;

interface SynthCliOptions {
  out: string;
  images: number;
  size: number;
  seed: number;
  bitDepth: '8' | '16';
  testFraction: number;
  balanced?: boolean;
  preview?: string;
  json?: boolean;
  quiet?: boolean;
}

function fail(err: Error & { code?: string }): void {
  process.stderr.write(`cellcam: ${toFlags(err.message)}${err.code ? ` [${err.code}]` : ''}\n`);
  process.exitCode = EXIT_USAGE;
}

export function registerSynth(program: Command): void {
  const cmd = program
    .command('synth')
    .description('write a synthetic HPA-like benchmark (4 stains, weak image labels, per-cell truth.csv)')
    .requiredOption('--out <dir>', 'output directory (created if missing)')
    .option('--images <n>', 'number of images', parseIntOption('--images', 1), 20)
    .option('--size <px>', 'image side in pixels (512..4096)', parseIntOption('--size', 512, 4096), 1024)
    .option('--seed <k>', 'random seed; the same seed writes the same bytes', parseIntOption('--seed', 0, 2 ** 32 - 1), 1)
    .option('--bit-depth <bits>', 'PNG bit depth of the stains: 8 or 16', parseChoice('--bit-depth', ['8', '16'] as const), '8')
    .option('--test-fraction <f>', 'share of images in test/ (0 <= f < 1)', parseFloatOption('--test-fraction', 0, 1), 0.2)
    .option('--balanced', 'every class in at least two images (needs --images >= 19)')
    .option('--preview <file.png>', 'also write an RGB composite of the first image with cell outlines')
    .option('--json', 'print the summary as one JSON object')
    .option('--quiet', 'no progress lines on stderr')
    .action(async (opts: SynthCliOptions) => {
      const options: SynthOptions = {
        out: opts.out,
        images: opts.images,
        size: opts.size,
        seed: opts.seed,
        bitDepth: Number(opts.bitDepth) as 8 | 16,
        testFraction: opts.testFraction,
        balanced: opts.balanced ?? false,
        preview: opts.preview,
        onProgress: opts.quiet ? undefined : (done, total, id) => process.stderr.write(`synth: ${done}/${total} ${id}\n`),
      };
      // Bad options and an unusable output directory are usage errors (exit 2), found before any work.
      try {
        resolveSynthOptions(options);
        await prepareSynthOut(options.out);
      } catch (err) {
        fail(err as Error);
        return;
      }
      const t0 = performance.now();
      const s = await synthesize(options);
      const seconds = (performance.now() - t0) / 1000;
      if (opts.json) {
        process.stdout.write(JSON.stringify({ ...s, seconds }) + '\n');
        return;
      }
      process.stdout.write(
        `wrote ${s.train.length + s.test.length} images (${s.train.length} train, ${s.test.length} test), ${s.cells} cells to ${options.out} in ${seconds.toFixed(1)} s\n` +
          `cells lacking one of their image's labels: ${(100 * s.fractionCellsMissingALabel).toFixed(1)} %\n`,
      );
    });
}
