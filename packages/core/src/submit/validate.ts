/**
 * `cellcam submit validate`: checks a submission file and reports every problem with its line
 * number (not only the first), plus a summary. Expected IDs and sizes come from an image folder or
 * from sample_submission.csv.
 */
import { stat } from 'node:fs/promises';
import { CellcamError } from '../errors.js';
import { imageSize, listImageSets } from '../io/imageset.js';
import { readSubmissionRows } from './csv.js';
import { decodeCounts } from './encode.js';
import { rleArea } from '../kernels/rle.js';

export interface ValidationProblem {
  line: number;
  id?: string;
  message: string;
}

export interface ValidationReport {
  ok: boolean;
  problems: ValidationProblem[];
  summary: { images: number; cells: number; predictions: number; bytes: number; expectedImages: number | null };
}

export interface ValidateOptions {
  /** folder of image sets: expected IDs are its complete sets, sizes from the files */
  images?: string;
  /** sample_submission.csv: expected IDs and sizes */
  sample?: string;
  /** stop collecting after this many problems (default 1000) */
  maxProblems?: number;
}

/**
 * Validates a submission file.
 *
 * @example
 * ```ts
 * const r = await validateSubmission('out/submission.csv', { sample: 'data/sample_submission.csv' });
 * if (!r.ok) for (const p of r.problems) console.log(`line ${p.line}: ${p.message}`);
 * ```
 */
export async function validateSubmission(file: string, options: ValidateOptions = {}): Promise<ValidationReport> {
  const problems: ValidationProblem[] = [];
  const max = options.maxProblems ?? 1000;
  const report = (p: ValidationProblem) => {
    if (problems.length < max) problems.push(p);
  };
  let expected: Map<string, { width: number; height: number }> | null = null;
  if (options.images && options.sample) throw new CellcamError('CELLCAM_E_ARG', 'give either --images or --sample, not both');
  if (options.images) {
    expected = new Map();
    for (const s of await listImageSets(options.images)) {
      if (!s.complete) continue;
      expected.set(s.id, await imageSize(s.files.green ?? s.files.red!));
    }
  } else if (options.sample) {
    expected = new Map();
    for await (const row of readSubmissionRows(options.sample)) expected.set(row.id, { width: row.width, height: row.height });
  }

  let bytes = 0;
  try {
    bytes = (await stat(file)).size;
  } catch (err) {
    throw new CellcamError('CELLCAM_E_IO', `${file}: cannot read (${(err as Error).message})`, { cause: err });
  }
  const seen = new Map<string, number>();
  let cells = 0, predictions = 0;
  const rows = readSubmissionRows(file);
  while (true) {
    let next: IteratorResult<Awaited<ReturnType<typeof rows.next>>['value']>;
    try {
      next = await rows.next();
    } catch (err) {
      // Header and column errors stop the reader: report and end.
      const m = /:(\d+): (.*)$/.exec((err as Error).message);
      report({ line: m ? Number(m[1]) : 0, message: m ? m[2] : (err as Error).message });
      break;
    }
    if (next.done) break;
    const row = next.value;
    if (seen.has(row.id)) report({ line: row.line, id: row.id, message: `duplicate ID ${row.id} (first on line ${seen.get(row.id)})` });
    seen.set(row.id, row.line);
    const exp = expected?.get(row.id);
    if (expected && !exp) report({ line: row.line, id: row.id, message: `unexpected ID ${row.id} (not in the ${options.images ? 'image folder' : 'sample submission'})` });
    if (exp && (exp.width !== row.width || exp.height !== row.height)) {
      report({ line: row.line, id: row.id, message: `size ${row.width}x${row.height} does not match the image (${exp.width}x${exp.height})` });
    }
    const t = row.tokens;
    if (t.length % 3 !== 0) report({ line: row.line, id: row.id, message: `PredictionString has ${t.length} tokens, not a multiple of 3` });
    const masks = new Map<string, boolean>(); // mask -> valid
    const pairs = new Set<string>();
    for (let k = 0; k + 2 < t.length; k += 3) {
      const triple = k / 3 + 1;
      predictions++;
      if (!/^\d+$/.test(t[k]) || Number(t[k]) > 18) report({ line: row.line, id: row.id, message: `triple ${triple}: label '${t[k]}' is not an integer in 0..18` });
      if (!Number.isFinite(Number(t[k + 1])) || t[k + 1] === '') report({ line: row.line, id: row.id, message: `triple ${triple}: confidence '${t[k + 1]}' is not a number` });
      const mask = t[k + 2];
      if (!masks.has(mask)) {
        let valid = true;
        try {
          const counts = decodeCounts(mask, row.width, row.height);
          if (rleArea(counts) === 0) report({ line: row.line, id: row.id, message: `triple ${triple}: empty mask (it will be ignored by the scorer)` });
        } catch (err) {
          valid = false;
          report({ line: row.line, id: row.id, message: `triple ${triple}: mask does not decode for ${row.width}x${row.height}: ${(err as Error).message}` });
        }
        masks.set(mask, valid);
      }
      const pair = `${t[k]}|${mask}`;
      if (pairs.has(pair)) report({ line: row.line, id: row.id, message: `triple ${triple}: duplicate (cell, class ${t[k]}) pair; the second counts as a false positive` });
      pairs.add(pair);
    }
    cells += masks.size;
  }
  if (expected) {
    for (const id of expected.keys()) if (!seen.has(id)) report({ line: 0, id, message: `missing ID ${id}` });
  }
  return {
    ok: problems.length === 0,
    problems,
    summary: { images: seen.size, cells, predictions, bytes, expectedImages: expected ? expected.size : null },
  };
}

