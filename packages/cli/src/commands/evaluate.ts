/** `cellcam evaluate`: per-class AP and mAP of a submission against a truth file. */
import type { Command } from 'commander';
import { evaluateFiles, HPA_CLASS_NAMES } from '@cellcam/core';
import { parseFloatOption, parseChoice } from '../options.js';

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description('score a submission: per-class AP and mAP at IoU >= 0.6 (Open Images challenge rules)')
    .requiredOption('--truth <file>', 'ground truth in submission format (e.g. DIR/truth.csv from cellcam synth)')
    .requiredOption('--submission <file>', 'submission file to score')
    .option('--iou <t>', 'IoU threshold, inclusive', parseFloatOption('--iou', 0, 1), 0.6)
    .option('--mode <mode>', "'mask' IoU (Kaggle text) or 'box' IoU (organizers' re-scoring script)", parseChoice('--mode', ['mask', 'box']), 'mask')
    .option('--require-all', 'count truth images absent from the submission as misses (default: exclude them)')
    .option('--json', 'print one JSON object')
    .action(async (opts: { truth: string; submission: string; iou: number; mode: 'mask' | 'box'; requireAll?: boolean; json?: boolean }) => {
      const t0 = performance.now();
      const r = await evaluateFiles(opts.truth, opts.submission, { iou: opts.iou, mode: opts.mode, requireAll: opts.requireAll });
      const seconds = (performance.now() - t0) / 1000;
      if (opts.json) {
        process.stdout.write(JSON.stringify({ ...r, seconds }) + '\n');
        return;
      }
      const lines = ['class                                        AP     GT   dets    TP    FP'];
      for (const c of r.classes) {
        const name = `${String(c.label).padStart(2)} ${HPA_CLASS_NAMES[c.label]}`.padEnd(40);
        lines.push(`${name} ${c.ap === null ? '    -' : c.ap.toFixed(4)} ${String(c.numGt).padStart(6)} ${String(c.numDetections).padStart(6)} ${String(c.tp).padStart(5)} ${String(c.fp).padStart(5)}`);
      }
      lines.push(`mAP@${r.iou} (${r.mode}): ${r.mAP.toFixed(4)} over ${r.classes.filter((c) => c.ap !== null).length} classes with GT`);
      lines.push(`images: ${r.images.evaluated}/${r.images.truth} scored` +
        (r.images.missing.length ? `, ${r.images.missing.length} truth images not in the submission ${r.requireAll ? 'counted as misses' : 'excluded (--require-all counts them)'}` : '') +
        (r.images.extra.length ? `, ${r.images.extra.length} not in the truth (ignored)` : '') +
        `; detections: ${r.detections.evaluated} scored, ${r.detections.ignoredClass} of classes absent from the image (ignored), ${r.detections.emptyMask} empty masks; ${seconds.toFixed(2)} s`);
      process.stdout.write(lines.join('\n') + '\n');
    });
}
