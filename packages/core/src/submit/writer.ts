/**
 * Streaming, atomic writer of Kaggle submission files. Rows go to a temp file as they come, with
 * back-pressure, so a full test set stays in bounded memory; close() renames it into place.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CellcamError, rangeError, typeError } from '../errors.js';
import { tempPathFor } from '../io/atomic.js';
import { SUBMISSION_HEADER } from './csv.js';

/** One cell of one image: its encoded mask (written once per class) and class confidences. */
export interface CellPrediction {
  /** encoded mask (see encodeBinaryMask / encodeCells) */
  mask: string;
  /** confidences per class (index = class id), or explicit (label, confidence) pairs */
  scores: ArrayLike<number> | { label: number; confidence: number }[];
}

/** Formats a confidence compactly without losing ranking information (shortest round-trip of float32). */
export function formatConfidence(x: number): string {
  const f = Math.fround(x);
  const s = String(f);
  // Math.fround keeps ranking of float32 inputs exact; prefer fewer digits when they round-trip.
  for (let p = 1; p <= 9; p++) {
    const t = f.toPrecision(p);
    if (Math.fround(Number(t)) === f) return String(Number(t));
  }
  return s;
}

/**
 * Writes `ID,ImageWidth,ImageHeight,PredictionString` rows.
 *
 * @example
 * ```ts
 * const w = await SubmissionWriter.open('out/submission.csv');
 * await w.addImage(id, 2048, 2048, cells.map((c, i) => ({ mask: masks[i], scores: probs[i] })));
 * await w.close(); // atomically renamed into place
 * ```
 */
export class SubmissionWriter {
  readonly path: string;
  private readonly tmp: string;
  private stream: WriteStream;
  private closed = false;
  private seen = new Set<string>();
  images = 0;
  predictions = 0;

  private constructor(path: string, tmp: string, stream: WriteStream) {
    this.path = path;
    this.tmp = tmp;
    this.stream = stream;
  }

  /** Opens a writer; nothing appears at `path` until close(). */
  static async open(path: string): Promise<SubmissionWriter> {
    await mkdir(dirname(path), { recursive: true });
    const tmp = tempPathFor(path);
    const stream = createWriteStream(tmp, { encoding: 'utf8' });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (err) => reject(new CellcamError('CELLCAM_E_IO', `${path}: cannot write (${err.message})`, { cause: err })));
    });
    const w = new SubmissionWriter(path, tmp, stream);
    await w.write(SUBMISSION_HEADER + '\n');
    return w;
  }

  private write(s: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const ok = this.stream.write(s, (err) => (err ? reject(err) : undefined));
      if (ok) resolve();
      else this.stream.once('drain', () => resolve());
    });
  }

  /**
   * Appends one image. Each cell's mask string is written once per predicted class; classes with
   * a non-finite score are skipped. An image may have no cells (empty PredictionString).
   */
  async addImage(id: string, width: number, height: number, cells: CellPrediction[], numClasses = 19): Promise<void> {
    if (this.closed) throw new CellcamError('CELLCAM_E_ARG', 'SubmissionWriter is closed');
    if (typeof id !== 'string' || id === '' || /[,\s]/.test(id)) throw typeError('id', 'a non-empty string without commas or spaces', id);
    if (this.seen.has(id)) throw rangeError('id', 'an image ID not written before', id, 'CELLCAM_E_ARG');
    if (!Number.isInteger(width) || width <= 0 || !Number.isInteger(height) || height <= 0) throw rangeError('width/height', 'positive integers', `${width}x${height}`);
    const parts: string[] = [];
    for (let i = 0; i < cells.length; i++) {
      const { mask, scores } = cells[i];
      if (typeof mask !== 'string' || mask === '' || /\s/.test(mask)) throw typeError(`cells[${i}].mask`, 'an encoded mask string', mask);
      if (Array.isArray(scores) && scores.length > 0 && typeof scores[0] === 'object') {
        for (const p of scores as { label: number; confidence: number }[]) {
          if (!Number.isInteger(p.label) || p.label < 0 || p.label >= numClasses) throw rangeError(`cells[${i}].scores.label`, `an integer in 0..${numClasses - 1}`, p.label);
          if (!Number.isFinite(p.confidence)) continue;
          parts.push(`${p.label} ${formatConfidence(p.confidence)} ${mask}`);
        }
      } else {
        const s = scores as ArrayLike<number>;
        if (s.length > numClasses) throw rangeError(`cells[${i}].scores`, `at most ${numClasses} class scores`, s.length);
        for (let c = 0; c < s.length; c++) {
          if (!Number.isFinite(s[c])) continue;
          parts.push(`${c} ${formatConfidence(s[c])} ${mask}`);
        }
      }
    }
    this.seen.add(id);
    this.images++;
    this.predictions += parts.length;
    await this.write(`${id},${width},${height},${parts.join(' ')}\n`);
  }

  /** Flushes, fsyncs and renames the temp file into place. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve, reject) => this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
    await rename(this.tmp, this.path);
  }

  /** Discards the partial file (e.g. after an error); `path` is left untouched. */
  async abort(): Promise<void> {
    this.closed = true;
    this.stream.destroy();
    await rm(this.tmp, { force: true });
  }
}
