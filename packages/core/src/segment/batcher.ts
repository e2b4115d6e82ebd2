/**
 * Collects the labelCell calls of concurrent segmentation workers into labelCellBatch calls: on a
 * GPU one stacked chain for several images shares its launches and host round trips
 * (docs/segmentation.md, "Batches"). Calls of one size and scale are grouped; a group goes out
 * when it is full, or when every worker that is still running waits on the batcher (nothing more
 * can join, so waiting longer would only stall).
 */
import { labelCellBatch, type LabelCellOptions, type LabelCellResult } from './label-cell.js';

interface Pending {
  nucleiPred: Uint8Array;
  cellPred: Uint8Array;
  resolve: (r: LabelCellResult) => void;
  reject: (e: unknown) => void;
}

export class LabelCellBatcher {
  private readonly groups = new Map<string, { options: LabelCellOptions; items: Pending[] }>();
  /** What the batches said about themselves (a batch that the GPU's memory split into stacks). */
  readonly notes = new Set<string>();
  private waiting = 0;
  private running: number;

  /**
   * @param maxBatch images per labelCellBatch call
   * @param workers the workers that may call `labelCell`; each calls `workerDone()` when it stops
   */
  constructor(private readonly maxBatch: number, workers: number) {
    this.running = workers;
  }

  /** Same contract as labelCell: resolves with this image's result once its batch has run. */
  labelCell = (nucleiPred: Uint8Array, cellPred: Uint8Array, options: LabelCellOptions): Promise<LabelCellResult> => {
    const key = `${options.width}x${options.height}@${options.scale ?? 1}`;
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = { options, items: [] }));
    const done = new Promise<LabelCellResult>((resolve, reject) => g!.items.push({ nucleiPred, cellPred, resolve, reject }));
    this.waiting++;
    if (g.items.length >= this.maxBatch) this.flush(key);
    else this.flushIfStalled();
    return done;
  };

  /** A worker has no more images. */
  workerDone(): void {
    this.running--;
    this.flushIfStalled();
  }

  private flushIfStalled(): void {
    if (this.waiting < this.running) return;
    for (const key of [...this.groups.keys()]) this.flush(key);
  }

  private flush(key: string): void {
    const g = this.groups.get(key);
    if (!g) return;
    this.groups.delete(key);
    this.waiting -= g.items.length;
    labelCellBatch(g.items, g.options).then(
      (b) => {
        if (b.memoryNote) this.notes.add(b.memoryNote);
        g.items.forEach((it, k) => it.resolve({ ...b.results[k], ...(b.deviceNote ? { deviceNote: b.deviceNote } : {}), ...(b.timings ? { timings: b.timings } : {}) }));
      },
      (err) => g.items.forEach((it) => it.reject(err)),
    );
  }
}
