/**
 * `cellcam run` and the single-stage commands (train-image, cam, pseudo-label, train-cell,
 * predict): the weakly supervised pipeline over a Kaggle-layout dataset, with progress per stage
 * and a summary table at the end.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { readConfigFile, resolveConfig, runPipeline, CellcamError, type PipelineStage, type RunEvent, type RunRecord } from '@cellcam/core';
import { parseChoice, parseIntOption } from '../options.js';
import { progress, type Progress } from '../progress.js';

interface RunCliOptions {
  train: string;
  test: string;
  out: string;
  config?: string;
  cycles?: number;
  cycle?: number;
  trainer?: string;
  labels?: string;
  truth?: string;
  jobs?: number;
  resume?: boolean;
  force?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  device?: 'auto' | 'cpu' | 'cuda';
  nucleiModel?: string;
  cellModel?: string;
  masks?: string;
}

/** Progress bars per stage (stderr), trainer lines with --verbose. */
export function stageReporter(quiet = false, verbose = false): { onEvent: (e: RunEvent) => void; stop: () => void } {
  let bar: Progress | null = null, current = '';
  return {
    onEvent(e) {
      if (e.notice) {
        if (!quiet) {
          bar?.stop();
          bar = null;
          current = '';
          process.stderr.write(`${e.message}\n`);
        }
        return;
      }
      if (e.done < 0) {
        if (verbose && e.message && !quiet) process.stderr.write(`  ${e.message}\n`);
        return;
      }
      if (e.stage !== current) {
        bar?.stop();
        current = e.stage;
        bar = progress(e.stage.padEnd(16), Math.max(1, e.total), quiet);
      }
      if (e.message === 'start') return;
      bar!.tick(e.done, Math.max(1, e.total), e.id ?? e.message ?? '');
    },
    stop: () => bar?.stop(),
  };
}

/** The end-of-run summary table (stdout). */
export function summaryTable(r: RunRecord): string {
  const lines: string[] = [];
  lines.push(`images: ${r.split.train} train, ${r.split.val} validation, ${r.split.test} test`);
  lines.push('', '| stage | time | counts |', '|---|---:|---|');
  for (const s of r.stages) lines.push(`| ${s.stage} | ${(s.ms / 1000).toFixed(1)} s | ${Object.entries(s.counts).map(([k, v]) => `${k} ${v}`).join(', ')} |`);
  r.pseudoLabels.forEach((p, i) => {
    const q = p.quality ? `; precision ${p.quality.precision.toFixed(3)}, recall ${p.quality.recall.toFixed(3)} against the truth` : '';
    lines.push(`pseudo-labels cycle ${i + 1}: ${p.labelled} of ${p.cells} cells labelled, ${p.unknown} unknown${q}`);
  });
  if (r.validation.imageMAP !== null) lines.push(`validation, image level: mAP ${r.validation.imageMAP.toFixed(4)}, F1@0.5 ${r.validation.imageF1!.toFixed(4)}`);
  for (const e of r.evaluation ?? []) {
    lines.push('', `cell-level mAP@0.6 (${e.split === 'val' ? 'validation' : 'test'} images, same segmentation)`, '| submission | mAP |', '|---|---:|');
    for (const row of e.rows) lines.push(`| ${row.name} | ${row.mAP.toFixed(4)} |`);
  }
  if (r.submission) lines.push('', `submission: ${r.submission}`);
  if (r.stoppedAfter) lines.push(`stopped after ${r.stoppedAfter} as asked`);
  return lines.join('\n') + '\n';
}

async function action(opts: RunCliOptions, until?: PipelineStage): Promise<void> {
  const base = opts.config ? readConfigFile(opts.config) : resolveConfig({});
  if ((opts.nucleiModel === undefined) !== (opts.cellModel === undefined)) {
    throw new CellcamError('CELLCAM_E_ARG', 'give both --nuclei-model and --cell-model, or neither (the model-free maps)');
  }
  if (opts.masks !== undefined && opts.nucleiModel !== undefined) {
    throw new CellcamError('CELLCAM_E_ARG', '--masks replaces the segmentation: give it without --nuclei-model and --cell-model');
  }
  const config = {
    ...base,
    ...(opts.cycles !== undefined ? { cycles: opts.cycles } : {}),
    ...(opts.trainer !== undefined ? { trainer: opts.trainer } : {}),
    segment: {
      ...base.segment,
      // A flag replaces the config's way of segmenting as a whole.
      ...(opts.nucleiModel !== undefined ? { nucleiModel: opts.nucleiModel, cellModel: opts.cellModel!, masks: null } : {}),
      ...(opts.masks !== undefined ? { masks: opts.masks, nucleiModel: null, cellModel: null } : {}),
    },
  };
  if (opts.cycle !== undefined && opts.cycle > config.cycles) config.cycles = opts.cycle;
  const rep = stageReporter(opts.quiet, opts.verbose);
  try {
    const r = await runPipeline({
      train: opts.train, test: opts.test, out: opts.out, config, configSource: opts.config ?? 'command line', labels: opts.labels, truth: opts.truth,
      jobs: opts.jobs, resume: opts.resume, force: opts.force, device: opts.device, onEvent: rep.onEvent, until, untilCycle: opts.cycle,
    });
    rep.stop();
    process.stdout.write(summaryTable(r));
    process.stdout.write(`run record: ${join(opts.out, 'run.json')}\n`);
  } finally {
    rep.stop();
  }
}

function common(cmd: Command, perCycle: boolean): Command {
  cmd
    .requiredOption('--train <dir>', 'training images ({ID}_{red,green,blue,yellow}.png|.jpg|.tif); labels from ../train.csv')
    .requiredOption('--test <dir>', 'test images (or the rows of ../sample_submission.csv)')
    .requiredOption('--out <dir>', 'run folder: one subfolder per stage, run.json, submission.csv')
    .option('--config <file.json>', 'run configuration (docs/pipeline.md); unknown keys are errors')
    .option('--cycles <n>', 'pseudo-label → train-cell cycles (default 2)', parseIntOption('--cycles', 1, 10))
    .option('--trainer <command>', "external trainer command (docs/trainer-protocol.md), e.g. 'python train.py'")
    .option('--labels <file>', 'image-level labels (default: train.csv beside the train folder)')
    .option('--truth <file>', 'per-cell truth in submission format (default: truth.csv beside the test folder, when present)')
    .option('--nuclei-model <file.onnx>', 'HPA nuclei U-Net (ONNX, docs/model-contract.md) for the segmentation, with --cell-model, in place of the model-free maps (config segment.nucleiModel)')
    .option('--cell-model <file.onnx>', 'HPA cell U-Net (ONNX) for the segmentation, with --nuclei-model (config segment.cellModel)')
    .option('--masks <dir>', "use this folder's label images instead of segmenting: {ID}_cells.png and {ID}_nuclei.png (cellcam segment), or {ID}_cellmask.png and {ID}_nucleimask.png (the HPA segmentator); .tif too (config segment.masks)")
    .option('--jobs <n>', 'images in parallel (default: min(2, cores))', parseIntOption('--jobs', 1, 256))
    .option('--device <d>', 'auto | cpu | cuda: where cell pooling, cell RLE and, with fifo ties (the default segment.ties auto), the segmentation post-processing run (auto: CUDA when usable, else the CPU, said once; cuda fails with the reason when unusable)', parseChoice('--device', ['auto', 'cpu', 'cuda']), 'auto')
    .option('--resume', 'continue an interrupted run in --out')
    .option('--force', 'recompute every stage')
    .option('--quiet', 'no progress output')
    .option('--verbose', "show the external trainer's output lines");
  if (perCycle) cmd.option('--cycle <k>', 'which cycle to stop in (default 1)', parseIntOption('--cycle', 1, 10));
  return cmd;
}

export function registerRun(program: Command): void {
  common(program.command('run').description('the whole pipeline: segment → train-image → cam → pseudo-label → train-cell (× cycles) → predict → submission.csv → evaluate'), false)
    .action((opts: RunCliOptions) => action(opts));
  const stages: [PipelineStage, string, boolean][] = [
    ['train-image', 'run the pipeline up to the image classifier (segment, features, train-image)', false],
    ['cam', 'up to the CAMs of every image pooled over its cells', false],
    ['pseudo-label', 'up to the pseudo-labels of cycle --cycle', true],
    ['train-cell', 'up to the cell classifier of cycle --cycle', true],
    ['predict', "up to cycle --cycle's predictions and OUT/submission.csv", true],
  ];
  for (const [name, desc, perCycle] of stages) {
    common(program.command(name).description(`${desc}; finished stages are reused`), perCycle).action((opts: RunCliOptions) => action(opts, name));
  }
}
