/**
 * OrtPool: onnxruntime-node sessions inside worker threads (ORT's run() is synchronous native
 * code and would freeze the event loop), with CUDA→CPU fallback and model-contract checks.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CellcamError, rangeError, typeError } from '../errors.js';
import { checkInt } from '../util/validate.js';
import { builtWorkerUrl } from '../util/worker-url.js';
import type { OnnxDataType } from './onnx-writer.js';
import type { FromWorker, ToWorker, WireTensor, WorkerInit } from './session-worker.js';

/** Execution providers a pool may ask for; the list is tried as a whole, then `['cpu']`. */
export type OrtExecutionProvider = 'cuda' | 'cpu';

/** A typed array ORT accepts as tensor data. */
export type OrtTypedArray =
  | Float32Array
  | Float64Array
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** A tensor in or out of a pool: row-major data with its dtype and dims. */
export interface OrtTensorData {
  dtype: OnnxDataType;
  dims: readonly number[];
  data: OrtTypedArray;
}

/** What a model must look like for a caller; checked once when the pool is created. */
export interface OrtTensorSpec {
  name: string;
  /** Allowed element types (ORT names). */
  dtype?: OnnxDataType | readonly OnnxDataType[];
  rank?: number;
  /** Fixed sizes per axis; null leaves an axis free. Symbolic model dims always pass. */
  dims?: readonly (number | null)[];
}

export interface OrtContract {
  inputs?: readonly OrtTensorSpec[];
  outputs?: readonly OrtTensorSpec[];
  /** Fail when the model has inputs the contract does not feed (default true). */
  exactInputs?: boolean;
  /** A hint appended to contract errors (e.g. how to re-export the model). */
  hint?: string;
}

/** Input/output metadata of a loaded model. `shape` is [] when ORT does not know the rank. */
export interface OrtValueInfo {
  name: string;
  dtype: string | null;
  shape: readonly (number | string)[];
}

/** What one worker's session ended up with. */
export interface OrtWorkerInfo {
  executionProvider: OrtExecutionProvider;
  /** Why CUDA was not used when it was asked for (ORT's own message), else null. */
  cudaUnavailable: string | null;
}

export interface OrtPoolInfo {
  /** The model file (or the `name` given for in-memory bytes) used in messages. */
  model: string;
  /** The provider of the first worker (all workers try the same list). */
  executionProvider: OrtExecutionProvider;
  cudaUnavailable: string | null;
  workers: readonly OrtWorkerInfo[];
  inputs: readonly OrtValueInfo[];
  outputs: readonly OrtValueInfo[];
}

export interface OrtPoolOptions {
  /** Worker threads, each with its own session (default 1). */
  workers?: number;
  /** Default `['cuda', 'cpu']`: CUDA when ORT can load it, CPU otherwise (reported in `info`). */
  executionProviders?: readonly OrtExecutionProvider[];
  /** ORT intra-op threads per session; default max(1, floor(cores / workers)). 0 = ORT's default. */
  intraOpNumThreads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Checked against the model's metadata before the pool is returned. */
  contract?: OrtContract;
  /** Name used in messages when the model is given as bytes (default 'model bytes'). */
  name?: string;
}

export interface OrtRunOptions {
  /** Fetch only these outputs (default: all). */
  outputs?: readonly string[];
  /**
   * Move feed buffers to the worker instead of copying them (default true). A transferred
   * TypedArray is detached afterwards (length 0). Views that do not span their whole
   * ArrayBuffer, and SharedArrayBuffer views, are always copied.
   */
  transfer?: boolean;
}

const DTYPE_CTOR: Record<OnnxDataType, { name: string; is: (a: unknown) => boolean }> = {
  float32: { name: 'Float32Array', is: (a) => a instanceof Float32Array },
  float64: { name: 'Float64Array', is: (a) => a instanceof Float64Array },
  uint8: { name: 'Uint8Array', is: (a) => a instanceof Uint8Array },
  bool: { name: 'Uint8Array', is: (a) => a instanceof Uint8Array },
  int8: { name: 'Int8Array', is: (a) => a instanceof Int8Array },
  uint16: { name: 'Uint16Array', is: (a) => a instanceof Uint16Array },
  float16: { name: 'Uint16Array', is: (a) => a instanceof Uint16Array },
  int16: { name: 'Int16Array', is: (a) => a instanceof Int16Array },
  int32: { name: 'Int32Array', is: (a) => a instanceof Int32Array },
  uint32: { name: 'Uint32Array', is: (a) => a instanceof Uint32Array },
  int64: { name: 'BigInt64Array', is: (a) => a instanceof BigInt64Array },
  uint64: { name: 'BigUint64Array', is: (a) => a instanceof BigUint64Array },
};

/**
 * Where the worker entry lives. From dist/ it sits next to this file. From the TypeScript sources
 * (vitest) a Worker cannot load session-worker.ts, so the built copy in packages/core/dist is
 * used: build the core first (`npx tsc -p packages/core/tsconfig.build.json`, or `npm run build`).
 */
export function sessionWorkerUrl(): URL {
  const { url, tried } = builtWorkerUrl(import.meta.url, 'model', 'session-worker.js');
  if (url) return url;
  throw new CellcamError(
    'CELLCAM_E_INTERNAL',
    `ONNX worker entry not found (looked for ${tried.join(' and ')}); ` +
      'build @cellcam/core first: npx tsc -p packages/core/tsconfig.build.json',
  );
}

function modelError(model: string, problem: string, hint?: string, cause?: unknown): CellcamError {
  return new CellcamError('CELLCAM_E_MODEL', `${model}: ${problem}${hint ? ` (${hint})` : ''}`, cause === undefined ? undefined : { cause });
}

function shapeText(shape: readonly (number | string)[]): string {
  return `[${shape.map((d) => (typeof d === 'string' ? `'${d}'` : String(d))).join(', ')}]`;
}

/** Checks model metadata against a contract; returns the list of problems (empty when it fits). */
export function contractProblems(info: { inputs: readonly OrtValueInfo[]; outputs: readonly OrtValueInfo[] }, contract: OrtContract): string[] {
  const problems: string[] = [];
  const check = (kind: 'input' | 'output', have: readonly OrtValueInfo[], specs: readonly OrtTensorSpec[]) => {
    for (const spec of specs) {
      const m = have.find((v) => v.name === spec.name);
      if (!m) {
        problems.push(`missing ${kind} '${spec.name}' (model ${kind}s: ${have.map((v) => `'${v.name}'`).join(', ') || 'none'})`);
        continue;
      }
      const allowed = spec.dtype === undefined ? null : Array.isArray(spec.dtype) ? spec.dtype : [spec.dtype];
      if (allowed && (m.dtype === null || !allowed.includes(m.dtype as OnnxDataType))) {
        problems.push(`${kind} '${spec.name}' has dtype ${m.dtype ?? 'non-tensor'} but ${allowed.join(' or ')} is required`);
      }
      // ORT reports [] for an unknown shape as well as for a scalar: only a known rank is checked.
      if (spec.rank !== undefined && m.shape.length > 0 && m.shape.length !== spec.rank) {
        problems.push(`${kind} '${spec.name}' has rank ${m.shape.length} ${shapeText(m.shape)} but rank ${spec.rank} is required`);
      }
      if (spec.dims && m.shape.length === spec.dims.length) {
        spec.dims.forEach((d, k) => {
          const got = m.shape[k];
          if (d !== null && typeof got === 'number' && got >= 0 && got !== d) {
            problems.push(`${kind} '${spec.name}' has size ${got} on axis ${k} ${shapeText(m.shape)} but ${d} is required`);
          }
        });
      }
    }
  };
  check('input', info.inputs, contract.inputs ?? []);
  check('output', info.outputs, contract.outputs ?? []);
  if (contract.inputs && (contract.exactInputs ?? true)) {
    const fed = new Set(contract.inputs.map((s) => s.name));
    for (const m of info.inputs) if (!fed.has(m.name)) problems.push(`unexpected input '${m.name}' (only ${[...fed].map((n) => `'${n}'`).join(', ')} is fed)`);
  }
  return problems;
}

interface Task {
  id: number;
  settled: Promise<void>;
  message: ToWorker & { type: 'run' };
  transfer: ArrayBuffer[];
  resolve: (out: Record<string, OrtTensorData>) => void;
  reject: (err: Error) => void;
  stack: Error;
}

interface Slot {
  worker: Worker;
  info: OrtWorkerInfo;
  task: Task | null;
  dead: boolean;
}

/**
 * A small pool of worker threads, each holding one ORT session of the same model.
 *
 * @example
 * ```ts
 * const pool = await OrtPool.create('models/nuclei.onnx', { workers: 1 });
 * console.log(pool.info.executionProvider, pool.info.cudaUnavailable);
 * const out = await pool.run({ input: { dtype: 'float32', dims: [1, 3, 64, 64], data } });
 * await pool.close();
 * ```
 */
export class OrtPool {
  readonly info: OrtPoolInfo;
  private readonly slots: Slot[];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closed = false;
  /** how a crashed worker is started again (the same model and settings) */
  private readonly respawn: { url: URL; init: WorkerInit; name: string };
  /** replacements started so far, and those still loading */
  private restarts = 0;
  private restarting = 0;

  private constructor(info: OrtPoolInfo, slots: Slot[], respawn: { url: URL; init: WorkerInit; name: string }) {
    this.info = info;
    this.slots = slots;
    this.respawn = respawn;
    for (const slot of slots) this.attach(slot);
  }

  /** Worker threads that are alive (a crashed one is replaced, at most MAX_RESTARTS times per pool). */
  get liveWorkers(): number {
    return this.slots.filter((s) => !s.dead).length;
  }

  /**
   * Starts the workers and loads the model in each. Rejects with CELLCAM_E_MODEL when ORT cannot
   * load the model or it breaks `options.contract`, and with CELLCAM_E_CUDA when only `['cuda']`
   * was asked for and CUDA is unavailable.
   */
  static async create(model: string | Uint8Array, options: OrtPoolOptions = {}): Promise<OrtPool> {
    if (typeof model !== 'string' && !(model instanceof Uint8Array)) throw typeError('model', 'a file path or Uint8Array', model);
    if (typeof model === 'string' && model.length === 0) throw typeError('model', 'a non-empty file path', model);
    const workers = options.workers === undefined ? 1 : checkInt('options.workers', options.workers, 1, 64);
    const eps = options.executionProviders ?? ['cuda', 'cpu'];
    if (!Array.isArray(eps) || eps.length === 0 || eps.some((e) => e !== 'cuda' && e !== 'cpu')) {
      throw typeError('options.executionProviders', "a non-empty array of 'cuda' | 'cpu'", eps);
    }
    const threads =
      options.intraOpNumThreads === undefined
        ? Math.max(1, Math.floor(availableParallelism() / workers))
        : checkInt('options.intraOpNumThreads', options.intraOpNumThreads, 0, 1024);
    const level = options.graphOptimizationLevel ?? 'all';
    if (!['disabled', 'basic', 'extended', 'all'].includes(level)) throw typeError('options.graphOptimizationLevel', "'disabled' | 'basic' | 'extended' | 'all'", level);
    const name = typeof model === 'string' ? model : (options.name ?? 'model bytes');
    if (typeof model === 'string' && !existsSync(model)) throw modelError(name, 'model file not found');

    const url = sessionWorkerUrl();
    const init: WorkerInit = { model, executionProviders: eps, intraOpNumThreads: threads, graphOptimizationLevel: level, logLevel: 'fatal' };
    const started = await Promise.allSettled(Array.from({ length: workers }, () => startWorker(url, init, name)));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.worker.terminate() : undefined)));
      throw failed.reason;
    }
    const ok = started.map((s) => (s as PromiseFulfilledResult<Started>).value);
    const first = ok[0].ready;
    const info: OrtPoolInfo = {
      model: name,
      executionProvider: first.executionProvider,
      cudaUnavailable: first.cudaError,
      workers: ok.map((s) => ({ executionProvider: s.ready.executionProvider, cudaUnavailable: s.ready.cudaError })),
      inputs: first.inputs.map(({ name: n, dtype, shape }) => ({ name: n, dtype, shape })),
      outputs: first.outputs.map(({ name: n, dtype, shape }) => ({ name: n, dtype, shape })),
    };
    if (options.contract) {
      const problems = contractProblems(info, options.contract);
      if (problems.length > 0) {
        await Promise.all(ok.map((s) => s.worker.terminate()));
        throw modelError(name, `does not fit the model contract: ${problems.join('; ')}`, options.contract.hint);
      }
    }
    return new OrtPool(
      info,
      ok.map((s, k) => ({ worker: s.worker, info: info.workers[k], task: null, dead: false })),
      { url, init, name },
    );
  }

  /**
   * Runs the model on one set of feeds in the next free worker. Feeds are checked against the
   * model's inputs (names, dtype, rank, fixed sizes, data length) before anything is posted.
   */
  run(feeds: Readonly<Record<string, OrtTensorData>>, options: OrtRunOptions = {}): Promise<Record<string, OrtTensorData>> {
    const stack = new Error();
    if (this.closed) return Promise.reject(modelError(this.info.model, 'the session pool is closed'));
    let message: ToWorker & { type: 'run' };
    let transfer: ArrayBuffer[];
    try {
      ({ message, transfer } = this.prepare(feeds, options));
    } catch (err) {
      return Promise.reject(err);
    }
    let markSettled!: () => void;
    const settled = new Promise<void>((r) => (markSettled = r));
    const result = new Promise<Record<string, OrtTensorData>>((resolve, reject) => {
      this.queue.push({
        id: message.id,
        settled,
        message,
        transfer,
        resolve: (v) => (markSettled(), resolve(v)),
        reject: (e) => (markSettled(), reject(e)),
        stack,
      });
    });
    this.pump();
    return result;
  }

  /** Ends the sessions and the worker threads. Queued runs reject; runs in progress finish first. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(modelError(this.info.model, 'the session pool was closed before this run started'));
    // ORT defers the native run by a tick inside the worker: releasing the session under it
    // would strand the caller's promise.
    await Promise.all(this.slots.map((s) => s.task?.settled));
    await Promise.all(
      this.slots.map(async (slot) => {
        if (slot.dead) return;
        slot.dead = true;
        slot.worker.ref();
        const exited = new Promise<void>((r) => slot.worker.once('exit', () => r()));
        slot.worker.postMessage({ type: 'close' } satisfies ToWorker);
        const timer = setTimeout(() => void slot.worker.terminate(), 5000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  private prepare(feeds: Readonly<Record<string, OrtTensorData>>, options: OrtRunOptions): { message: ToWorker & { type: 'run' }; transfer: ArrayBuffer[] } {
    if (feeds === null || typeof feeds !== 'object') throw typeError('feeds', 'an object of tensors keyed by input name', feeds);
    const model = this.info.model;
    const wire: Record<string, WireTensor> = {};
    const transfer: ArrayBuffer[] = [];
    const move = options.transfer ?? true;
    for (const input of this.info.inputs) {
      if (!(input.name in feeds)) throw typeError(`feeds.${input.name}`, `a tensor for input '${input.name}' of ${model}`, undefined);
    }
    for (const [name, t] of Object.entries(feeds)) {
      const where = `feeds.${name}`;
      const input = this.info.inputs.find((i) => i.name === name);
      if (!input) throw rangeError(where, `one of the inputs of ${model} (${this.info.inputs.map((i) => `'${i.name}'`).join(', ')})`, name, 'CELLCAM_E_ARG');
      if (t === null || typeof t !== 'object') throw typeError(where, 'a tensor {dtype, dims, data}', t);
      const ctor = DTYPE_CTOR[t.dtype];
      if (!ctor) throw typeError(`${where}.dtype`, `one of ${Object.keys(DTYPE_CTOR).join(', ')}`, t.dtype);
      if (input.dtype !== null && input.dtype !== t.dtype) throw typeError(`${where}.dtype`, `${input.dtype} (input '${name}' of ${model})`, t.dtype);
      if (!Array.isArray(t.dims)) throw typeError(`${where}.dims`, 'an array of integers', t.dims);
      let count = 1;
      t.dims.forEach((d, k) => {
        if (!Number.isSafeInteger(d) || d < 0) throw rangeError(`${where}.dims[${k}]`, 'a non-negative integer', d, 'CELLCAM_E_SHAPE');
        count *= d;
      });
      if (input.shape.length > 0) {
        if (input.shape.length !== t.dims.length) {
          throw rangeError(`${where}.dims`, `rank ${input.shape.length} ${shapeText(input.shape)} for input '${name}' of ${model}`, t.dims, 'CELLCAM_E_SHAPE');
        }
        input.shape.forEach((d, k) => {
          if (typeof d === 'number' && d >= 0 && t.dims[k] !== d) {
            throw rangeError(`${where}.dims[${k}]`, `${d} (input '${name}' of ${model} is ${shapeText(input.shape)})`, t.dims[k], 'CELLCAM_E_SHAPE');
          }
        });
      }
      if (!ctor.is(t.data)) throw typeError(`${where}.data`, ctor.name, t.data);
      if (t.data.length !== count) throw rangeError(`${where}.data`, `${ctor.name} of length ${count} (dims [${t.dims.join(', ')}])`, t.data, 'CELLCAM_E_SHAPE');
      let data: OrtTypedArray = t.data;
      const buf = data.buffer;
      const whole = buf instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buf.byteLength;
      // Structured clone copies a view's entire buffer: copy just the view unless it is moved.
      if (move && whole) transfer.push(buf as ArrayBuffer);
      else data = data.slice() as OrtTypedArray;
      wire[name] = { dtype: t.dtype, dims: [...t.dims], data };
    }
    let outputs: string[] | undefined;
    if (options.outputs !== undefined) {
      if (!Array.isArray(options.outputs) || options.outputs.length === 0) throw typeError('options.outputs', 'a non-empty array of output names', options.outputs);
      for (const o of options.outputs) {
        if (!this.info.outputs.some((m) => m.name === o)) {
          throw rangeError('options.outputs', `output names of ${model} (${this.info.outputs.map((m) => `'${m.name}'`).join(', ')})`, o, 'CELLCAM_E_ARG');
        }
      }
      outputs = [...options.outputs];
    }
    return { message: { type: 'run', id: this.nextId++, feeds: wire, ...(outputs ? { outputs } : {}) }, transfer };
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.find((s) => !s.dead && s.task === null);
      if (!slot) break;
      const task = this.queue.shift()!;
      slot.task = task;
      slot.worker.ref();
      try {
        slot.worker.postMessage(task.message, task.transfer);
      } catch (err) {
        slot.task = null;
        slot.worker.unref();
        task.reject(modelError(this.info.model, `cannot send the feeds to the worker: ${(err as Error).message}`, undefined, err));
      }
    }
    if (this.queue.length > 0 && this.restarting === 0 && this.slots.every((s) => s.dead)) {
      for (const t of this.queue.splice(0)) t.reject(modelError(this.info.model, 'every session worker has exited'));
    }
  }

  /** Starts a new worker in a crashed worker's slot; the run that was on it has already failed. */
  private replace(slot: Slot): void {
    if (this.closed || this.restarts >= MAX_RESTARTS) return;
    this.restarts++;
    this.restarting++;
    startWorker(this.respawn.url, this.respawn.init, this.respawn.name).then(
      ({ worker }) => {
        this.restarting--;
        if (this.closed) {
          void worker.terminate();
          return;
        }
        slot.worker = worker;
        slot.dead = false;
        this.attach(slot);
        this.pump();
      },
      () => {
        this.restarting--;
        this.pump();
      },
    );
  }

  private attach(slot: Slot): void {
    const { worker } = slot;
    // An idle pool must not keep the process alive; a worker is ref'ed only while it runs.
    worker.unref();
    worker.on('message', (msg: FromWorker) => {
      const task = slot.task;
      if (msg.type !== 'result' && msg.type !== 'run-error') return;
      if (!task || task.id !== msg.id) return;
      slot.task = null;
      worker.unref();
      if (msg.type === 'result') {
        const out: Record<string, OrtTensorData> = {};
        for (const [name, t] of Object.entries(msg.outputs)) out[name] = { dtype: t.dtype as OnnxDataType, dims: t.dims, data: t.data as OrtTypedArray };
        task.resolve(out);
      } else {
        const err = modelError(this.info.model, `inference failed: ${msg.message}`);
        err.stack = `${err.name}: ${err.message}\n${(task.stack.stack ?? '').split('\n').slice(1).join('\n')}`;
        task.reject(err);
      }
      this.pump();
    });
    let failed = false;
    const fail = (why: string, cause?: unknown) => {
      // 'error' is followed by 'exit': handle a worker's end once, and never touch a slot that a
      // replacement worker has taken over since.
      if (failed || slot.worker !== worker) return;
      failed = true;
      if (slot.dead && this.closed) return;
      slot.dead = true;
      const task = slot.task;
      slot.task = null;
      if (task) task.reject(modelError(this.info.model, `session worker ${why}`, undefined, cause));
      this.replace(slot);
      this.pump();
    };
    worker.on('error', (err) => fail(`crashed: ${err.message}`, err));
    worker.on('exit', (code) => fail(`exited with code ${code}`));
  }
}

// Workers inherit the parent's execArgv; `--input-type` (and the -e/-p code that goes with it)
// would break loading the worker file, so those are dropped.
function workerExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print') {
      i++;
      continue;
    }
    if (a.startsWith('--input-type') || a.startsWith('--eval=') || a.startsWith('--print=')) continue;
    out.push(a);
  }
  return out;
}

/** A pool replaces dead workers (an uncaught error, a worker heap out of memory) this many times in all, then runs on with fewer. */
const MAX_RESTARTS = 3;

interface Started {
  worker: Worker;
  ready: FromWorker & { type: 'ready' };
}

function startWorker(url: URL, init: WorkerInit, name: string): Promise<Started> {
  return new Promise((resolve, reject) => {
    let worker: Worker;
    try {
      // Bytes are cloned into each worker: every session needs its own copy anyway.
      worker = new Worker(url, { workerData: init, execArgv: workerExecArgv() });
    } catch (err) {
      reject(new CellcamError('CELLCAM_E_INTERNAL', `cannot start the ONNX worker ${fileURLToPath(url)}: ${(err as Error).message}`, { cause: err }));
      return;
    }
    const done = (fn: () => void) => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      fn();
    };
    const onMessage = (msg: FromWorker) => {
      if (msg.type === 'ready') done(() => resolve({ worker, ready: msg }));
      else if (msg.type === 'init-error') {
        done(() => {
          void worker.terminate();
          const cudaOnly = !init.executionProviders.includes('cpu');
          if (cudaOnly && msg.cudaError) {
            reject(new CellcamError('CELLCAM_E_CUDA', `${name}: the CUDA execution provider is unavailable and CPU fallback was not allowed: ${msg.cudaError}`));
          } else {
            reject(modelError(name, `onnxruntime cannot load the model: ${msg.message}`));
          }
        });
      }
    };
    const onError = (err: Error) => done(() => reject(modelError(name, `session worker crashed while loading: ${err.message}`, undefined, err)));
    const onExit = (code: number) => done(() => reject(modelError(name, `session worker exited with code ${code} while loading`)));
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
