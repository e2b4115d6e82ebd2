/**
 * Cell-MLP fits off the main thread: `cellcam run` trains one MLP per out-of-fold split plus the
 * final one, each seconds to minutes of TypeScript. In worker threads they run side by side (up to
 * the run's jobs) and the progress bar keeps moving; the code is the same, so are the weights.
 */
import { Worker } from 'node:worker_threads';
import { CellcamError } from '../errors.js';
import { forEachLimit } from '../util/concurrency.js';
import { checkInt } from '../util/validate.js';
import { builtWorkerUrl } from '../util/worker-url.js';
import { applyStandardizer, fitStandardizer, trainMlp, type Matrix, type Mlp, type MlpOptions, type Standardizer } from './optim.js';

/** One fit: standardise X (statistics of X itself), then train an MLP on it. */
export interface MlpFitJob {
  X: Matrix;
  targets: Float64Array;
  options: MlpOptions;
  /** The job's arrays are the caller's to give away: they move to the worker instead of being copied. */
  transfer?: boolean;
}

export interface MlpFit {
  st: Standardizer;
  mlp: Mlp;
}

/** A fit on the calling thread: what every worker runs. `onEpoch` sees each finished epoch. */
export function fitMlp(job: MlpFitJob, onEpoch?: (epoch: number) => void): MlpFit {
  const st = fitStandardizer(job.X);
  return { st, mlp: trainMlp(applyStandardizer(job.X, st), job.targets, { ...job.options, onEpoch }) };
}

/** What a worker posts: each finished epoch, then the fit or the error. */
export type MlpWorkerReply = { epoch: number } | { fit: MlpFit } | { error: string };

/**
 * Runs the fits, `workers` at a time, each in a worker thread of its own (inline when the built
 * worker entry is missing, or `workers` is 0). Results are in job order and equal
 * {@link fitMlp}'s bit for bit. `onFit(i)` is called as fit i finishes, `onEpoch(i, epoch)` as
 * each of its epochs does (for progress). A job may be a function that makes it when its turn
 * comes, so that only the jobs in flight hold their matrices.
 *
 * @example
 * ```ts
 * const fits = await fitMlps(folds.map((f) => ({ X: f.X, targets: f.y, options: { mode: 'softmax', classes: 20 } })), { workers: 2 });
 * ```
 */
export async function fitMlps(
  jobs: readonly (MlpFitJob | (() => MlpFitJob))[],
  options: { workers: number; onFit?: (i: number) => void; onEpoch?: (i: number, epoch: number) => void },
): Promise<MlpFit[]> {
  const workers = checkInt('options.workers', options.workers, 0, 256);
  const { url } = builtWorkerUrl(import.meta.url, 'train', 'mlp-worker.js');
  const out = new Array<MlpFit>(jobs.length);
  const make = (j: MlpFitJob | (() => MlpFitJob)) => (typeof j === 'function' ? j() : j);
  const { onEpoch } = options;
  if (url === null || workers === 0) {
    for (let i = 0; i < jobs.length; i++) {
      out[i] = fitMlp(make(jobs[i]), onEpoch && ((e) => onEpoch(i, e)));
      options.onFit?.(i);
      // Let progress events reach the terminal between fits.
      await new Promise((r) => setImmediate(r));
    }
    return out;
  }
  await forEachLimit(jobs, workers, async (job, i) => {
    out[i] = await fitInWorker(url, make(job), (e) => onEpoch?.(i, e));
    options.onFit?.(i);
  });
  return out;
}

function fitInWorker(url: URL, job: MlpFitJob, onEpoch: (epoch: number) => void): Promise<MlpFit> {
  return new Promise<MlpFit>((resolve, reject) => {
    const { X, targets, options } = job;
    const transferList = job.transfer ? [...new Set([X.data.buffer, targets.buffer, options.sampleWeight?.buffer].filter((b) => b !== undefined))] : [];
    const worker = new Worker(url, { workerData: { X, targets, options }, transferList: transferList as ArrayBuffer[] });
    let settled = false;
    const done = (f: () => void) => {
      if (settled) return;
      settled = true;
      f();
      void worker.terminate();
    };
    worker.on('message', (reply: MlpWorkerReply) => {
      if ('epoch' in reply) {
        if (!settled) onEpoch(reply.epoch);
        return;
      }
      done(() => ('fit' in reply ? resolve(reply.fit) : reject(new CellcamError('CELLCAM_E_INTERNAL', `cell MLP fit failed: ${reply.error}`))));
    });
    worker.once('error', (err) => done(() => reject(new CellcamError('CELLCAM_E_INTERNAL', `cell MLP worker failed: ${err.message}`, { cause: err }))));
    worker.once('exit', (code) => done(() => reject(new CellcamError('CELLCAM_E_INTERNAL', `cell MLP worker exited with code ${code} before its fit was done`))));
  });
}
