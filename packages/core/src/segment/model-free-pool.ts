/**
 * ModelFreePool: the model-free prediction maps in worker threads, one image per worker at a
 * time, so a folder's images get their maps on every core while the native post-processing of
 * others runs on the libuv pool. Same code as {@link modelFreeMaps}, so the same bytes.
 */
import { Worker } from 'node:worker_threads';
import { CellcamError } from '../errors.js';
import { checkInt } from '../util/validate.js';
import { builtWorkerUrl } from '../util/worker-url.js';
import type { ModelFreeChannels, ModelFreeOptions } from './model-free.js';
import type { ModelFreeJob, ModelFreeReply } from './model-free-worker.js';

type Maps = { nucleiPred: Uint8Array; cellPred: Uint8Array };

interface Pending {
  job: ModelFreeJob;
  resolve: (m: Maps) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: Pending | null;
}

/**
 * Worker threads that build model-free maps.
 *
 * @example
 * ```ts
 * const pool = ModelFreePool.create(4);   // null when the worker entry is not built
 * const maps = pool ? await pool.maps(img) : modelFreeMaps(img);
 * await pool?.close();
 * ```
 */
export class ModelFreePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private closed = false;

  private constructor(private readonly url: URL, size: number) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  /** A pool of `size` workers (1–256), or null when the worker entry is not built. */
  static create(size: number): ModelFreePool | null {
    checkInt('size', size, 1, 256);
    const { url } = builtWorkerUrl(import.meta.url, 'segment', 'model-free-worker.js');
    return url ? new ModelFreePool(url, size) : null;
  }

  /** The maps of one image set (its channels are copied to the worker; the caller keeps them). */
  maps(img: ModelFreeChannels, options: ModelFreeOptions = {}): Promise<Maps> {
    if (this.closed) return Promise.reject(new CellcamError('CELLCAM_E_INTERNAL', 'ModelFreePool is closed'));
    const { width, height, bitDepth } = img;
    // green is not used by the maps: leave it out of the copy.
    const channels = { red: img.channels.red, blue: img.channels.blue, yellow: img.channels.yellow };
    return new Promise<Maps>((resolve, reject) => {
      this.queue.push({ job: { id: this.nextId++, img: { width, height, bitDepth, channels }, options }, resolve, reject });
      this.pump();
    });
  }

  /** Stops the workers; calls still queued or running are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const unfinished = [...this.slots.flatMap((s) => (s.busy ? [s.busy] : [])), ...this.queue.splice(0)];
    for (const s of this.slots) s.busy = null;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    for (const p of unfinished) p.reject(new CellcamError('CELLCAM_E_INTERNAL', 'ModelFreePool closed before the maps were made'));
  }

  private spawn(): Slot {
    const worker = new Worker(this.url);
    const slot: Slot = { worker, busy: null };
    // An idle worker must not keep the process alive; a busy one must (its caller awaits it).
    worker.unref();
    worker.on('message', (reply: ModelFreeReply) => {
      const p = slot.busy;
      if (!p || p.job.id !== reply.id) return;
      this.release(slot);
      if ('error' in reply) p.reject(new CellcamError('CELLCAM_E_INTERNAL', `model-free maps: ${reply.error}`));
      else p.resolve({ nucleiPred: reply.nucleiPred, cellPred: reply.cellPred });
    });
    const fail = (err: Error) => {
      const p = slot.busy;
      slot.busy = null;
      // Replace the dead worker; its image fails with the reason, the others go on.
      const i = this.slots.indexOf(slot);
      if (i >= 0 && !this.closed) this.slots[i] = this.spawn();
      p?.reject(new CellcamError('CELLCAM_E_INTERNAL', `model-free maps worker stopped: ${err.message}`, { cause: err }));
      this.pump();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.closed && this.slots.includes(slot)) fail(new Error(`exit code ${code}`));
    });
    return slot;
  }

  private release(slot: Slot): void {
    slot.busy = null;
    slot.worker.unref();
    this.pump();
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.busy) continue;
      const p = this.queue.shift()!;
      slot.busy = p;
      slot.worker.ref();
      slot.worker.postMessage(p.job);
    }
  }
}
