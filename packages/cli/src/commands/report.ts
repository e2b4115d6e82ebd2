/**
 * `cellcam report RUN_DIR`: a static HTML report of a run (summary and charts, per-image pages
 * with composites and CAM heatmaps, a cell browser), written beside the run; works offline.
 */
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { buildReport } from '@cellcam/core';
import { parseIntOption } from '../options.js';
import { progress, type Progress } from '../progress.js';

interface ReportCliOptions {
  out?: string;
  images?: number;
  ids?: string;
  maxSide?: number;
  jobs?: number;
  heatmaps?: boolean;
  open?: boolean;
  quiet?: boolean;
}

/** Opens a file in the desktop's browser; a missing opener is not an error. */
function openInBrowser(path: string): void {
  const url = pathToFileURL(path).href;
  const [cmd, args] = process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]];
  const child = spawn(cmd, args, { detached: true, stdio: 'ignore' });
  child.on('error', () => process.stderr.write(`cellcam: could not start ${cmd}; open ${url} yourself\n`));
  child.unref();
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('a static HTML report of a run folder: summary, charts, per-image pages with CAM heatmaps, a cell browser (offline, no server)')
    .argument('<run-dir>', 'the run folder (cellcam run --out)')
    .option('--out <dir>', 'report folder (default RUN_DIR/report)')
    .option('--images <n>', 'per-image pages for the first N images (test, then validation, then training)', parseIntOption('--images', 0))
    .option('--ids <a,b,…>', 'per-image pages for exactly these image ids')
    .option('--max-side <px>', 'longer side of the displayed images (default 512)', parseIntOption('--max-side', 64, 8192))
    .option('--jobs <n>', 'images in parallel (default: min(2, cores))', parseIntOption('--jobs', 1, 256))
    .option('--no-heatmaps', 'skip the CAM heatmaps (they rerun the image classifier on every image)')
    .option('--open', 'open the report in the browser when done')
    .option('--quiet', 'no progress output')
    .action(async (runDir: string, opts: ReportCliOptions) => {
      if (opts.images !== undefined && opts.ids !== undefined) throw new Error('use either --images or --ids, not both');
      const ids = opts.ids?.split(',').map((s) => s.trim()).filter(Boolean);
      let bar: Progress | null = null;
      try {
        const r = await buildReport({
          run: runDir, out: opts.out, images: opts.images, ids, maxSide: opts.maxSide, jobs: opts.jobs, heatmaps: opts.heatmaps,
          onProgress: (e) => {
            bar ??= progress('report'.padEnd(16), Math.max(1, e.total), !!opts.quiet);
            bar.tick(e.done, Math.max(1, e.total), e.id);
          },
        });
        (bar as Progress | null)?.stop();
        if (!opts.quiet) for (const n of r.notices) process.stderr.write(`note: ${n}\n`);
        process.stdout.write(`report: ${r.index} (${r.images} images, ${r.cells} cells, ${(r.ms / 1000).toFixed(1)} s)\n`);
        if (opts.open) openInBrowser(r.index);
      } finally {
        (bar as Progress | null)?.stop();
      }
    });
}
