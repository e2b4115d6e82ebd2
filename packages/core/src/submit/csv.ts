/**
 * Reading submission-format CSV files (`ID,ImageWidth,ImageHeight,PredictionString`) line by line,
 * keeping line numbers for error messages. Used for submissions and for ground truth alike.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { CellcamError } from '../errors.js';

export const SUBMISSION_HEADER = 'ID,ImageWidth,ImageHeight,PredictionString';

/** One raw row: tokens are not interpreted beyond splitting on whitespace. */
export interface SubmissionRow {
  line: number;
  id: string;
  width: number;
  height: number;
  /** whitespace-separated tokens of PredictionString */
  tokens: string[];
}

/** One (label, confidence, mask) triple. */
export interface Prediction {
  label: number;
  confidence: number;
  mask: string;
}

/**
 * Streams the rows of a submission-format CSV. Throws CELLCAM_E_FORMAT naming the file and line on
 * a wrong header, a wrong column count, or non-integer sizes.
 */
export async function* readSubmissionRows(path: string): AsyncGenerator<SubmissionRow> {
  let stream;
  try {
    stream = createReadStream(path, { encoding: 'utf8' });
    await new Promise<void>((resolve, reject) => {
      stream!.once('open', () => resolve());
      stream!.once('error', reject);
    });
  } catch (err) {
    throw new CellcamError('CELLCAM_E_IO', `${path}: cannot open (${(err as Error).message})`, { cause: err });
  }
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  for await (const raw of rl) {
    line++;
    const text = raw.replace(/^\uFEFF/, '');
    if (line === 1) {
      const header = text.trim().replace(/^ImageID,/, 'ID,');
      if (header !== SUBMISSION_HEADER) {
        throw new CellcamError('CELLCAM_E_FORMAT', `${path}:1: expected header '${SUBMISSION_HEADER}' but found '${text.slice(0, 80)}'`);
      }
      continue;
    }
    if (text.trim() === '') continue;
    const parts = text.split(',');
    if (parts.length !== 4) {
      throw new CellcamError('CELLCAM_E_FORMAT', `${path}:${line}: expected 4 comma-separated columns but found ${parts.length}`);
    }
    const [id, w, h, pred] = parts;
    const width = Number(w), height = Number(h);
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new CellcamError('CELLCAM_E_FORMAT', `${path}:${line}: expected positive integer ImageWidth/ImageHeight but found '${w}','${h}'`);
    }
    yield { line, id: id.trim(), width, height, tokens: pred.trim() === '' ? [] : pred.trim().split(/\s+/) };
  }
}

/**
 * Splits tokens into (label, confidence, mask) triples. Throws CELLCAM_E_FORMAT naming the file,
 * line and triple when the count is not a multiple of 3, a label is not an integer in 0..18, or a
 * confidence is not a finite number.
 */
export function parsePredictions(row: SubmissionRow, file: string, numClasses = 19): Prediction[] {
  const t = row.tokens;
  if (t.length % 3 !== 0) {
    throw new CellcamError('CELLCAM_E_FORMAT', `${file}:${row.line}: image ${row.id}: PredictionString has ${t.length} tokens, not a multiple of 3`);
  }
  const out: Prediction[] = [];
  for (let k = 0; k < t.length; k += 3) {
    const label = Number(t[k]);
    if (!/^\d+$/.test(t[k]) || label >= numClasses) {
      throw new CellcamError('CELLCAM_E_FORMAT', `${file}:${row.line}: image ${row.id}: triple ${k / 3 + 1}: expected a label in 0..${numClasses - 1} but found '${t[k]}'`);
    }
    const confidence = Number(t[k + 1]);
    if (t[k + 1].trim() === '' || !Number.isFinite(confidence)) {
      throw new CellcamError('CELLCAM_E_FORMAT', `${file}:${row.line}: image ${row.id}: triple ${k / 3 + 1}: expected a numeric confidence but found '${t[k + 1]}'`);
    }
    out.push({ label, confidence, mask: t[k + 2] });
  }
  return out;
}
