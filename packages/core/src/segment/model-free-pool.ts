/**
 * ModelFreePool: the model-free prediction maps off the main thread, for a folder's images in
 * flight at once. With the native addon each image is one call of the native kernel (the same
 * bytes as {@link modelFreeMaps}, 2.4× faster on one thread, on the libuv pool); without it, one
 * worker thread per image runs the TypeScript maps, so that they still get every core.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CellcamError, type CellcamErrorCode } from '../errors.js';
import { resolveBackend, type Backend } from '../native.js';
import { checkInt } from '../util/validate.js';
import { builtWorkerUrl } from '../util/worker-url.js';
import { modelFreeMapsAsync, type ModelFreeChannels, type ModelFreeOptions } from './model-free.js';
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
 * Builds model-free maps for `size` images in flight: native calls, or worker threads.
 *
 * @example
 * ```ts
 * const pool = ModelFreePool.create(4);   // null without the addon when the worker entry is not built
 * const maps = pool ? await pool.maps(img) : modelFreeMaps(img);
 * await pool?.close();
 * ```
 */
export class ModelFreePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private readonly inFlight = new Set<(e: Error) => void>();  // native calls' rejecters, for close()
  private nextId = 0;
  private closed = false;
  /** 'native': each image is one call of the native kernel; 'workers': worker threads run the twin. */
  readonly mode: 'native' | 'workers';
  private readonly threads: number;

  private constructor(private readonly url: URL | null, size: number) {
    this.mode = url === null ? 'native' : 'workers';
    // The native calls run on libuv's pool (UV_THREADPOOL_SIZE, default 4, shared with the other
    // kernels): the cores are split between the calls that can run at once.
    const running = Math.min(size, Number(process.env.UV_THREADPOOL_SIZE) || 4);
    this.threads = Math.max(1, Math.floor(availableParallelism() / running));
    if (url) for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  /**
   * A pool for `size` images in flight (1–256): native calls when the addon is in use (`backend`
   * 'auto' or 'native'), else worker threads, or null when their entry is not built.
   */
  static create(size: number, options: { backend?: Backend } = {}): ModelFreePool | null {
    checkInt('size', size, 1, 256);
    if (resolveBackend(options.backend) !== null) return new ModelFreePool(null, size);
    const { url } = builtWorkerUrl(import.meta.url, 'segment', 'model-free-worker.js');
    return url ? new ModelFreePool(url, size) : null;
  }

  /**
   * The maps of one image set. The caller keeps its channels: a worker gets a copy, and the native
   * call reads them in place (leave them unchanged until the promise settles).
   */
  maps(img: ModelFreeChannels, options: ModelFreeOptions = {}): Promise<Maps> {
    if (this.closed) return Promise.reject(new CellcamError('CELLCAM_E_INTERNAL', 'ModelFreePool is closed'));
    if (this.mode === 'native') {
      return new Promise<Maps>((resolve, reject) => {
        this.inFlight.add(reject);
        modelFreeMapsAsync(img, { ...options, backend: 'native', threads: this.threads }).then(resolve, (err: Error & { code?: string }) => {
          reject(new CellcamError((err.code as CellcamErrorCode | undefined) ?? 'CELLCAM_E_INTERNAL', `model-free maps: ${err.message}`, { cause: err }));
        }).finally(() => this.inFlight.delete(reject));
      });
    }
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
    for (const reject of this.inFlight) reject(new CellcamError('CELLCAM_E_INTERNAL', 'ModelFreePool closed before the maps were made'));
    this.inFlight.clear();
    const unfinished = [...this.slots.flatMap((s) => (s.busy ? [s.busy] : [])), ...this.queue.splice(0)];
    for (const s of this.slots) s.busy = null;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    for (const p of unfinished) p.reject(new CellcamError('CELLCAM_E_INTERNAL', 'ModelFreePool closed before the maps were made'));
  }

  private spawn(): Slot {
    const worker = new Worker(this.url!);
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
