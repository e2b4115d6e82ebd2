/** `cellcam submit validate`: checks a submission file and lists every problem with its line. */
import type { Command } from 'commander';
import { validateSubmission } from '@cellcam/core';

export function registerSubmit(program: Command): void {
  const submit = program.command('submit').description('submission file tools');
  submit
    .command('validate <file>')
    .description('check a submission: header, IDs, sizes, triples, labels, confidences, masks, duplicates')
    .option('--images <dir>', 'image folder: expected IDs are its complete image sets, sizes from the files')
    .option('--sample <csv>', 'sample_submission.csv: expected IDs and sizes')
    .option('--json', 'print one JSON object')
    .action(async (file: string, opts: { images?: string; sample?: string; json?: boolean }) => {
      const r = await validateSubmission(file, { images: opts.images, sample: opts.sample });
      if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
      else {
        for (const p of r.problems) process.stdout.write(`${file}:${p.line}: ${p.id ? `${p.id}: ` : ''}${p.message}\n`);
        const s = r.summary;
        process.stdout.write(
          `${r.ok ? 'OK' : `${r.problems.length} problem(s)`}: ${s.images} images${s.expectedImages !== null ? ` (expected ${s.expectedImages})` : ''}, ` +
            `${s.cells} cells, ${s.predictions} predictions, ${(s.bytes / 1024 / 1024).toFixed(2)} MiB\n`,
        );
      }
      if (!r.ok) process.exitCode = 1;
    });
}
