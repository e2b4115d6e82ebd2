/** `cellcam segment` and `cellcam label-cells`: cell segmentation with the HPA post-processing. */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { labelCell, readRgb8, segmentFolder, writeGreyPng, CellcamError } from '@cellcam/core';
import { parseChoice, parseIntOption } from '../options.js';
import { progress } from '../progress.js';

function idsFromCsv(file: string): string[] {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim());
  if (!/^ID(,|$)/.test(lines[0] ?? '')) throw new CellcamError('CELLCAM_E_FORMAT', `${file}:1: expected a header starting with 'ID'`);
  return lines.slice(1).map((l) => l.split(',')[0].trim());
}

export function registerSegment(program: Command): void {
  program
    .command('segment <imageDir>')
    .description('segment every image set of a folder into cell and nucleus label PNGs (resumable)')
    .requiredOption('--out <dir>', 'output folder: {ID}_cells.png, {ID}_nuclei.png, segmentation.csv')
    .option('--ids <a,b,...>', 'only these image IDs')
    .option('--csv <file>', 'only the IDs of this CSV (first column ID, e.g. train.csv)')
    .option('--scale <s>', 'post-processing resolution: 1 (exact), 0.5 or 0.25 (fast)', parseChoice('--scale', ['1', '0.5', '0.25']), '1')
    .option('--nuclei-model <file.onnx>', 'HPA nuclei U-Net in ONNX (with --cell-model); default: model-free maps')
    .option('--cell-model <file.onnx>', 'HPA cell U-Net in ONNX (3-channel red, yellow, blue)')
    .option('--device <d>', 'auto | cpu | cuda: where the ONNX U-Nets run, and with fifo ties (--ties fifo, or auto without U-Nets) the post-processing (auto falls back to CPU and says why)', parseChoice('--device', ['auto', 'cpu', 'cuda']), 'auto')
    .option('--ties <t>', 'watershed seed ties: heap (exact, as hpacellseg; CPU only), fifo (4-6x faster, a few tied pixels differ; runs on the GPU) or auto: heap with --nuclei-model/--cell-model, fifo for the model-free maps', parseChoice('--ties', ['auto', 'heap', 'fifo']), 'auto')
    .option('--jobs <n>', 'images in parallel (default: number of cores)', parseIntOption('--jobs', 1, 256))
    .option('--batch <n>', 'images per post-processing call (default: 16 when it runs on the GPU, else 1; at most --jobs wait; on the CPU a batch runs in one worker, so more than 1 only slows it)', parseIntOption('--batch', 1, 256))
    .option('--force', 're-segment images whose outputs exist')
    .option('--eval <dir>', 'score the cells (AP@0.6) against true masks: DIR/cells/{ID}_cells.png (cellcam synth), or DIR/{ID}_cells.png or DIR/{ID}_cellmask.png (the HPA segmentator)')
    .option('--quiet', 'no progress output')
    .action(async (imageDir: string, opts: { out: string; ids?: string; csv?: string; scale: string; nucleiModel?: string; cellModel?: string; device: string; ties: string; jobs?: number; batch?: number; force?: boolean; eval?: string; quiet?: boolean }) => {
      if (opts.ids && opts.csv) throw new CellcamError('CELLCAM_E_ARG', 'give --ids or --csv, not both');
      const ids = opts.ids ? opts.ids.split(',').map((s) => s.trim()).filter(Boolean) : opts.csv ? idsFromCsv(opts.csv) : undefined;
      let bar: ReturnType<typeof progress> | null = null;
      const s = await segmentFolder({
        imageDir, outDir: opts.out, ids, scale: Number(opts.scale) as 1 | 0.5 | 0.25, nucleiModel: opts.nucleiModel, cellModel: opts.cellModel,
        jobs: opts.jobs, batch: opts.batch, force: opts.force, evalDir: opts.eval, device: opts.device as 'auto' | 'cpu' | 'cuda', ties: opts.ties as 'heap' | 'fifo' | 'auto',
        onProgress: (e) => {
          bar ??= progress('segment', e.total, opts.quiet);
          if (e.error) bar.log(`segment: ${e.id}: FAILED: ${e.error.message}`);
          bar.tick(e.done, e.total, e.skipped ? `${e.id} (done before)` : `${e.id}${e.cells !== undefined ? ` ${e.cells} cells ${e.ms} ms` : ''}`);
        },
      });
      (bar as ReturnType<typeof progress> | null)?.stop();
      process.stdout.write(`segmented ${s.segmented}, skipped ${s.skipped} (already done), failed ${s.failed.length} of ${s.total}; ${s.csv}\n`);
      for (const f of s.failed) process.stdout.write(`  ${f.id}: ${f.error}\n`);
      const where = Object.entries(s.devices).map(([d, k]) => `${d} ${k}`).join(', ');
      if (where) process.stdout.write(`post-processing (${s.ties} ties) on: ${where}\n`);
      for (const note of s.notes) process.stdout.write(`note: ${note}\n`);
      if (s.score) {
        const sc = s.score;
        process.stdout.write(`cell-mask AP@0.6: ${sc.ap.toFixed(4)}  precision ${sc.precision.toFixed(3)}  recall ${sc.recall.toFixed(3)}  (${sc.matched}/${sc.truth} GT cells matched, ${sc.predicted} predicted, mean IoU ${sc.meanIou.toFixed(3)}; ${sc.images} of ${s.total} images${s.failed.length ? `, ${s.failed.length} failed and not scored` : ''})\n`);
      }
      if (s.failed.length) process.exitCode = 1;
    });

  program
    .command('label-cells')
    .description('run the official HPA post-processing alone on U-Net prediction maps')
    .requiredOption('--nuclei-pred <png>', 'nuclei prediction map (RGB 8-bit, G = border, B = interior)')
    .requiredOption('--cell-pred <png>', 'cell prediction map (RGB 8-bit)')
    .requiredOption('--out <dir>', 'writes DIR/cells.png and DIR/nuclei.png (16-bit labels)')
    .option('--scale <s>', '1 (exact), 0.5 or 0.25 (fast)', parseChoice('--scale', ['1', '0.5', '0.25']), '1')
    .option('--ties <t>', 'watershed seed ties: heap (exact, CPU only) or fifo (faster; runs on the GPU)', parseChoice('--ties', ['heap', 'fifo']), 'heap')
    .option('--device <d>', 'auto | cpu | cuda: where the post-processing runs with --ties fifo', parseChoice('--device', ['auto', 'cpu', 'cuda']), 'auto')
    .action(async (opts: { nucleiPred: string; cellPred: string; out: string; scale: string; ties: string; device: string }) => {
      // Both reads start at once, but errors are reported in argument order (not whichever fails first).
      const [nr, cr] = await Promise.allSettled([readRgb8(opts.nucleiPred), readRgb8(opts.cellPred)]);
      if (nr.status === 'rejected') throw nr.reason;
      if (cr.status === 'rejected') throw cr.reason;
      const n = nr.value, c = cr.value;
      if (n.width !== c.width || n.height !== c.height) {
        throw new CellcamError('CELLCAM_E_FORMAT', `${opts.cellPred}: ${c.width}x${c.height} but ${opts.nucleiPred} is ${n.width}x${n.height}`);
      }
      const t0 = performance.now();
      const tieBreak = opts.ties as 'heap' | 'fifo';
      if (tieBreak === 'heap' && opts.device === 'cuda') {
        throw new CellcamError('CELLCAM_E_ARG', '--device cuda needs --ties fifo: exact (heap) ties have no CUDA version');
      }
      const device = tieBreak === 'fifo' ? (opts.device as 'auto' | 'cpu' | 'cuda') : 'cpu';
      const r = await labelCell(n.data, c.data, { width: n.width, height: n.height, scale: Number(opts.scale) as 1 | 0.5 | 0.25, tieBreak, device });
      const ms = performance.now() - t0;
      if (r.deviceNote) process.stderr.write(`label-cells: ${r.deviceNote}\n`);
      await writeGreyPng(join(opts.out, 'nuclei.png'), r.nuclei, n.width, n.height);
      await writeGreyPng(join(opts.out, 'cells.png'), r.cells, n.width, n.height);
      process.stdout.write(`${r.cellCount} cells in ${ms.toFixed(0)} ms (${r.device}) -> ${join(opts.out, 'cells.png')}, ${join(opts.out, 'nuclei.png')}\n`);
    });
}
