/**
 * Worker-thread entry for OrtPool (session.ts): owns one onnxruntime-node session so that the
 * synchronous native run() never blocks the main event loop. Imports nothing from cellcam, so a
 * built copy stays valid while the rest of dist/ is stale (tests load it from dist/, see session.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

/** Options the pool passes in `workerData`. */
export interface WorkerInit {
  model: string | Uint8Array;
  executionProviders: readonly ('cuda' | 'cpu')[];
  intraOpNumThreads: number;
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  logLevel: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
}

/** A tensor crossing the thread boundary (data is transferred, not copied, where possible). */
export interface WireTensor {
  dtype: string;
  dims: number[];
  data: ArrayBufferView;
}

/** Input/output metadata as ORT reports it (shape [] when ORT does not know it). */
export interface WireValueInfo {
  name: string;
  isTensor: boolean;
  dtype: string | null;
  shape: (number | string)[];
}

export type ToWorker =
  | { type: 'run'; id: number; feeds: Record<string, WireTensor>; outputs?: string[] }
  | { type: 'close' };

export type FromWorker =
  | {
      type: 'ready';
      executionProvider: 'cuda' | 'cpu';
      cudaError: string | null;
      inputs: WireValueInfo[];
      outputs: WireValueInfo[];
    }
  | { type: 'init-error'; message: string; cudaError: string | null }
  | { type: 'result'; id: number; outputs: Record<string, WireTensor> }
  | { type: 'run-error'; id: number; message: string }
  | { type: 'closed' };

const port = parentPort;
if (port) void main(port, workerData as WorkerInit);

function errorMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).trim();
}

function describeValues(list: readonly ort.InferenceSession.ValueMetadata[]): WireValueInfo[] {
  return list.map((m) => ({
    name: m.name,
    isTensor: m.isTensor,
    dtype: m.isTensor ? m.type : null,
    shape: m.isTensor ? [...m.shape] : [],
  }));
}

async function createSession(init: WorkerInit): Promise<{ session: ort.InferenceSession; ep: 'cuda' | 'cpu'; cudaError: string | null }> {
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: init.graphOptimizationLevel,
    ...(init.intraOpNumThreads > 0 ? { intraOpNumThreads: init.intraOpNumThreads } : {}),
  };
  const model = init.model;
  const create = (eps: ('cuda' | 'cpu')[]) =>
    typeof model === 'string'
      ? ort.InferenceSession.create(model, { ...base, executionProviders: eps })
      : ort.InferenceSession.create(model, { ...base, executionProviders: eps });
  let cudaError: string | null = null;
  if (init.executionProviders.includes('cuda')) {
    try {
      // ORT fails the whole create when the CUDA EP cannot load, so CPU needs a second attempt.
      return { session: await create([...init.executionProviders]), ep: 'cuda', cudaError: null };
    } catch (err) {
      cudaError = errorMessage(err);
      if (!init.executionProviders.includes('cpu')) throw Object.assign(new Error(cudaError), { cudaError });
    }
  }
  try {
    return { session: await create(['cpu']), ep: 'cpu', cudaError };
  } catch (err) {
    throw Object.assign(new Error(errorMessage(err)), { cudaError });
  }
}

function toWire(t: ort.Tensor): { wire: WireTensor; transfer: ArrayBuffer[] } {
  // ORT output buffers are external memory owned by the OrtValue; copy into a plain ArrayBuffer
  // here, off the main thread, so the transfer is a move and the OrtValue can be released.
  const src = t.data as unknown as ArrayBufferView & { slice(): ArrayBufferView };
  const data = src.slice();
  return { wire: { dtype: t.type, dims: [...t.dims], data }, transfer: [data.buffer as ArrayBuffer] };
}

async function main(port: NonNullable<typeof parentPort>, init: WorkerInit): Promise<void> {
  ort.env.logLevel = init.logLevel;
  let session: ort.InferenceSession;
  try {
    const made = await createSession(init);
    session = made.session;
    const ready: FromWorker = {
      type: 'ready',
      executionProvider: made.ep,
      cudaError: made.cudaError,
      inputs: describeValues(session.inputMetadata),
      outputs: describeValues(session.outputMetadata),
    };
    port.postMessage(ready);
  } catch (err) {
    const msg: FromWorker = { type: 'init-error', message: errorMessage(err), cudaError: (err as { cudaError?: string }).cudaError ?? null };
    port.postMessage(msg);
    return;
  }
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'close') {
      void session.release().finally(() => {
        port.postMessage({ type: 'closed' } satisfies FromWorker);
        port.close();
      });
      return;
    }
    void (async () => {
      try {
        const feeds: Record<string, ort.Tensor> = {};
        for (const [name, t] of Object.entries(msg.feeds)) {
          feeds[name] = new ort.Tensor(t.dtype as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.dims);
        }
        const out = msg.outputs ? await session.run(feeds, msg.outputs) : await session.run(feeds);
        const outputs: Record<string, WireTensor> = {};
        const transfer: ArrayBuffer[] = [];
        for (const [name, value] of Object.entries(out)) {
          const w = toWire(value as ort.Tensor);
          outputs[name] = w.wire;
          transfer.push(...w.transfer);
          (value as ort.Tensor).dispose();
        }
        port.postMessage({ type: 'result', id: msg.id, outputs } satisfies FromWorker, transfer);
      } catch (err) {
        port.postMessage({ type: 'run-error', id: msg.id, message: errorMessage(err) } satisfies FromWorker);
      }
    })();
  });
}
