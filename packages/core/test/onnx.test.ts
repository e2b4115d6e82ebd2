// Tests of the ONNX writer (protobuf round trip, ORT loads what it writes) and of OrtPool (worker
// results equal in-process runs, the event loop keeps ticking, CUDA→CPU fallback, bad models).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSessionWorkerBuilt, identityModel, tinyUnet } from './fixtures/onnx-models.js';
import { decodeOnnxModel, encodeOnnxModel, onnxAttr, ONNX_DATA_TYPES, type OnnxModel } from '../src/model/onnx-writer.js';
import { OrtPool, contractProblems, type OrtContract } from '../src/model/session.js';

ort.env.logLevel = 'fatal';

// onnxruntime-node ships CPU only; its postinstall (skipped offline) adds the CUDA provider here.
const ortBin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
const hasCudaEp = existsSync(join(ortBin, 'libonnxruntime_providers_cuda.so'));

let dir = '';
beforeAll(() => {
  ensureSessionWorkerBuilt();
  dir = mkdtempSync(join(tmpdir(), 'cellcam-onnx-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});



/**
 * A deliberately slow model: `x` [n,n] multiplied `depth` times by a constant [n,n] matrix of
 * 1/n (values stay bounded). n=384, depth=96 takes ~150 ms on one CPU thread here.
 */
function slowModel(n = 384, depth = 48): Uint8Array {
  const nodes = Array.from({ length: depth }, (_, k) => ({
    opType: 'MatMul',
    inputs: [k === 0 ? 'x' : `h${k}`, 'm'],
    outputs: [k === depth - 1 ? 'y' : `h${k + 1}`],
  }));
  return encodeOnnxModel({
    graph: {
      nodes,
      inputs: [{ name: 'x', dtype: 'float32', shape: [n, n] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [n, n] }],
      initializers: [{ name: 'm', dtype: 'float32', dims: [n, n], data: new Float32Array(n * n).fill(1 / n) }],
    },
  });
}


function save(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

// Hand computation of the 1×1 conv fixture: out[o] = Σ_i w[o][i]·x[i] + b[o].
function conv1x1(x: Float32Array, n: number, hw: number, w: number[][], b: number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let k = 0; k < n; k++) for (let o = 0; o < 3; o++) for (let p = 0; p < hw; p++) {
    let s = 0;
    for (let i = 0; i < 3; i++) s += w[o][i] * x[(k * 3 + i) * hw + p];
    out[(k * 3 + o) * hw + p] = Math.fround(s + b[o]);
  }
  return out;
}

const W = [[0, 0, 2], [2, 0, 0], [0, 2, 0]];
const B = [0, -0.5, 0.25];
const ramp = (n: number, f = 0.01) => Float32Array.from({ length: n }, (_, i) => ((i * 37) % 101) * f - 0.3);

describe('encodeOnnxModel', () => {
  it('round-trips through protobufjs with onnx.proto field values', () => {
    const model: OnnxModel = {
      producerVersion: '0.1.0',
      docString: 'round trip',
      metadata: { purpose: 'test' },
      graph: {
        name: 'g',
        nodes: [
          { opType: 'Conv', inputs: ['input', 'w', 'b'], outputs: ['c'], name: 'conv', attributes: { kernel_shape: onnxAttr.ints([1, 1]) } },
          { opType: 'Elu', inputs: ['c'], outputs: ['output'], attributes: { alpha: onnxAttr.float(2) } },
        ],
        inputs: [{ name: 'input', dtype: 'float32', shape: ['N', 3, 'H', null] }],
        outputs: [{ name: 'output', dtype: 'float32', shape: ['N', 3, 'H', 'W'] }],
        initializers: [
          { name: 'w', dtype: 'float32', dims: [3, 3, 1, 1], data: Float32Array.from(W.flat()) },
          { name: 'b', dtype: 'float32', dims: [3], data: B },
        ],
      },
    };
    const bytes = encodeOnnxModel(model);
    const m = decodeOnnxModel(bytes);
    expect(m.irVersion).toBe(8);
    expect(m.opsetImport).toEqual([{ domain: '', version: 17 }]);
    expect(m.producerName).toBe('cellcam');
    expect(m.producerVersion).toBe('0.1.0');
    expect(m.metadataProps).toEqual([{ key: 'purpose', value: 'test' }]);
    expect(m.graph.name).toBe('g');
    expect(m.graph.node.map((n: { opType: string }) => n.opType)).toEqual(['Conv', 'Elu']);
    expect(m.graph.node[0].name).toBe('conv');
    expect(m.graph.node[0].input).toEqual(['input', 'w', 'b']);
    expect(m.graph.node[0].attribute[0]).toMatchObject({ name: 'kernel_shape', type: 7, ints: [1, 1] });
    // An integer-valued float attribute stays a FLOAT (type 1), not an INT.
    expect(m.graph.node[1].attribute[0]).toMatchObject({ name: 'alpha', type: 1, f: 2 });
    const [wInit, bInit] = m.graph.initializer;
    expect(wInit).toMatchObject({ name: 'w', dims: [3, 3, 1, 1], dataType: ONNX_DATA_TYPES.float32 });
    expect(new Float32Array(new Uint8Array(wInit.rawData).buffer)).toEqual(Float32Array.from(W.flat()));
    expect(new Float32Array(new Uint8Array(bInit.rawData).buffer)).toEqual(Float32Array.from(B));
    const dims = m.graph.input[0].type.tensorType.shape.dim;
    expect(m.graph.input[0].type.tensorType.elemType).toBe(1);
    expect(dims).toEqual([{ dimParam: 'N' }, { dimValue: 3 }, { dimParam: 'H' }, {}]);
  });

  it('writes models onnxruntime loads and runs to the hand-computed values', async () => {
    const s = await ort.InferenceSession.create(tinyUnet(W, B));
    expect(s.inputNames).toEqual(['input']);
    expect(s.outputNames).toEqual(['output']);
    const meta = s.inputMetadata[0];
    expect(meta.isTensor && meta.type).toBe('float32');
    expect(meta.isTensor && meta.shape).toEqual(['N', 3, 'H', 'W']);
    const x = ramp(2 * 3 * 5 * 4);
    const r = await s.run({ input: new ort.Tensor('float32', x, [2, 3, 5, 4]) });
    expect(r.output.dims).toEqual([2, 3, 5, 4]);
    expect(r.output.data).toEqual(conv1x1(x, 2, 20, W, B));
    await s.release();
  });

  it.each([
    ['int64', BigInt64Array.from([5n, -7n, 1n << 40n]), [BigInt64Array.from([1n, 2n, 3n]), BigInt64Array.from([6n, -5n, (1n << 40n) + 3n])]],
    ['uint8', Uint8Array.from([1, 2, 250]), [Uint8Array.from([3, 4, 5]), Uint8Array.from([4, 6, 255])]],
    ['int32', [1, -2, 3], [Int32Array.from([10, 20, 30]), Int32Array.from([11, 18, 33])]],
    ['float64', [0.5, 0.25, -1], [Float64Array.from([1, 1, 1]), Float64Array.from([1.5, 1.25, 0])]],
  ] as const)('stores %s initializers (raw_data) that ORT reads back', async (dtype, c, [x, y]) => {
    const bytes = encodeOnnxModel({
      graph: {
        nodes: [{ opType: 'Add', inputs: ['x', 'c'], outputs: ['y'] }],
        inputs: [{ name: 'x', dtype, shape: [3] }],
        outputs: [{ name: 'y', dtype, shape: [3] }],
        initializers: [{ name: 'c', dtype, dims: [3], data: c as never }],
      },
    });
    const s = await ort.InferenceSession.create(bytes);
    const r = await s.run({ x: new ort.Tensor(dtype, x as never, [3]) });
    expect(r.y.data).toEqual(y);
    await s.release();
  });

  const base = () => ({
    nodes: [{ opType: 'Relu', inputs: ['x'], outputs: ['y'] }],
    inputs: [{ name: 'x', dtype: 'float32' as const, shape: [2] }],
    outputs: [{ name: 'y', dtype: 'float32' as const, shape: [2] }],
  });
  it.each([
    ['an undefined node input', { ...base(), nodes: [{ opType: 'Relu', inputs: ['nope'], outputs: ['y'] }] }, RangeError, /nodes\[0\]\.inputs\[0\].*'nope'/],
    ['an output nothing produces', { ...base(), outputs: [{ name: 'z', dtype: 'float32' as const, shape: [2] }] }, RangeError, /outputs\[0\]\.name.*'z'/],
    ['a tensor of the wrong size', { ...base(), initializers: [{ name: 'c', dtype: 'float32' as const, dims: [2, 2], data: [1, 2, 3] }] }, RangeError, /4 elements/],
    ['data of the wrong typed array', { ...base(), initializers: [{ name: 'c', dtype: 'int64' as const, dims: [1], data: new Int32Array(1) as never }] }, TypeError, /BigInt64Array for dtype int64/],
    ['an unknown dtype', { ...base(), inputs: [{ name: 'x', dtype: 'complex' as never, shape: [2] }] }, TypeError, /inputs\[0\]\.dtype/],
    ['a non-integer int attribute', { ...base(), nodes: [{ opType: 'Relu', inputs: ['x'], outputs: ['y'], attributes: { k: onnxAttr.int(1.5) } }] }, TypeError, /attributes\.k\.value/],
  ])('rejects %s', (_name, graph, Ctor, msg) => {
    expect(() => encodeOnnxModel({ graph: graph as never })).toThrow(Ctor);
    expect(() => encodeOnnxModel({ graph: graph as never })).toThrow(msg);
  });
});

describe('OrtPool', () => {
  it('returns what an in-process session returns, and reports the execution provider', async () => {
    const bytes = tinyUnet(W, B);
    const path = save('tiny.onnx', bytes);
    const pool = await OrtPool.create(path);
    try {
      expect(pool.info.model).toBe(path);
      expect(pool.info.inputs).toEqual([{ name: 'input', dtype: 'float32', shape: ['N', 3, 'H', 'W'] }]);
      expect(pool.info.outputs).toEqual([{ name: 'output', dtype: 'float32', shape: ['N', 3, 'H', 'W'] }]);
      // Default ['cuda','cpu']: CUDA when ORT can load it, otherwise CPU with ORT's reason.
      if (pool.info.executionProvider === 'cpu') expect(pool.info.cudaUnavailable).toMatch(/cuda/i);
      else expect(pool.info.cudaUnavailable).toBeNull();
      const x = ramp(3 * 7 * 6);
      const s = await ort.InferenceSession.create(bytes);
      const ref = (await s.run({ input: new ort.Tensor('float32', x, [1, 3, 7, 6]) })).output;
      await s.release();
      const out = await pool.run({ input: { dtype: 'float32', dims: [1, 3, 7, 6], data: x.slice() } });
      expect(Object.keys(out)).toEqual(['output']);
      expect(out.output.dtype).toBe('float32');
      expect(out.output.dims).toEqual([1, 3, 7, 6]);
      expect(out.output.data).toEqual(ref.data);
      expect(out.output.data).toEqual(conv1x1(x, 1, 42, W, B));
    } finally {
      await pool.close();
    }
  });

  it("falls back to CPU when ['cuda','cpu'] cannot load CUDA, and never tries CUDA for ['cpu']", async () => {
    const bytes = tinyUnet();
    if (!hasCudaEp) {
      // Without ORT's CUDA provider library the CUDA attempt must fail and CPU must take over.
      const p = await OrtPool.create(bytes, { name: 'no-cuda' });
      expect(p.info.executionProvider).toBe('cpu');
      expect(p.info.cudaUnavailable).toMatch(/Cuda: Failed to load shared library/i);
      await p.close();
    }
    const cpu = await OrtPool.create(bytes, { executionProviders: ['cpu'] });
    expect(cpu.info).toMatchObject({ model: 'model bytes', executionProvider: 'cpu', cudaUnavailable: null });
    await cpu.close();
    const auto = await OrtPool.create(bytes, { name: 'tiny-auto', workers: 2 });
    expect(auto.info.workers).toHaveLength(2);
    for (const w of auto.info.workers) {
      if (w.executionProvider === 'cpu') expect(w.cudaUnavailable).toMatch(/cuda/i);
    }
    await auto.close();
    // CUDA only: either it works, or a CELLCAM_E_CUDA error says why (no silent CPU run).
    const only = await OrtPool.create(bytes, { executionProviders: ['cuda'], name: 'tiny-cuda' }).then(
      async (p) => {
        const ep = p.info.executionProvider;
        await p.close();
        return ep;
      },
      (err: { code: string; message: string }) => err,
    );
    if (only !== 'cuda') {
      expect(only).toMatchObject({ code: 'CELLCAM_E_CUDA' });
      expect((only as unknown as Error).message).toMatch(/^tiny-cuda: the CUDA execution provider is unavailable/);
    }
  });

  it('keeps the main event loop ticking while a slow model runs in the worker', async () => {
    const n = 384;
    const pool = await OrtPool.create(slowModel(n, 96), { intraOpNumThreads: 1, executionProviders: ['cpu'] });
    try {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      let during = -1;
      const x = new Float32Array(n * n).fill(1);
      await pool.run({ x: { dtype: 'float32', dims: [n, n], data: x } }).then((out) => {
        during = ticks;
        expect(out.y.data[0]).toBeCloseTo(1, 4);
      });
      clearInterval(timer);
      // A run on the main thread would hold every tick until it returns (ticks stay 0).
      expect(during).toBeGreaterThanOrEqual(3);
    } finally {
      await pool.close();
    }
  });

  it('lets a run in progress finish when the pool is closed, and rejects queued ones', async () => {
    const n = 128;
    const pool = await OrtPool.create(slowModel(n, 16), { executionProviders: ['cpu'] });
    const feed = () => ({ x: { dtype: 'float32' as const, dims: [n, n], data: new Float32Array(n * n).fill(2) } });
    const first = pool.run(feed());
    const queued = pool.run(feed()).catch((e: unknown) => e);
    await pool.close();
    expect((await first).y.data[0]).toBeCloseTo(2, 4);
    expect(await queued).toMatchObject({ code: 'CELLCAM_E_MODEL', message: 'model bytes: the session pool was closed before this run started' });
  });

  it('replaces a worker that died (at most 3 times per pool), so later runs go on', async () => {
    // Killed while idle: onnxruntime-node aborts the whole process when a worker is terminated in
    // the middle of a native run, so no test (and no pool) ever does that.
    const pool = await OrtPool.create(tinyUnet(W, B), { executionProviders: ['cpu'] });
    const slots = (pool as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots;
    const x = ramp(3 * 4 * 4, 0.01);
    const feed = () => ({ input: { dtype: 'float32' as const, dims: [1, 3, 4, 4], data: x.slice() } });
    try {
      for (let k = 1; k <= 4; k++) {
        await slots[0].worker.terminate();
        const next = pool.run(feed()).catch((e: unknown) => e as Error);
        if (k <= 3) {
          // the run waits for the replacement, and the pool is whole again
          expect(((await next) as unknown as { output: { data: Float32Array } }).output.data).toEqual(conv1x1(x, 1, 16, W, B));
          expect(pool.liveWorkers).toBe(1);
        } else {
          expect(await next).toMatchObject({ code: 'CELLCAM_E_MODEL', message: 'model bytes: every session worker has exited' });
          expect(pool.liveWorkers).toBe(0);
        }
      }
    } finally {
      await pool.close();
    }
  });

  it('runs concurrent requests across workers, each answer matching its own feed', async () => {
    const pool = await OrtPool.create(tinyUnet(W, B), { workers: 2 });
    try {
      const feeds = [0, 1, 2, 3, 4].map((k) => ramp(3 * 4 * 4, 0.01 * (k + 1)));
      const outs = await Promise.all(feeds.map((x) => pool.run({ input: { dtype: 'float32', dims: [1, 3, 4, 4], data: x.slice() } })));
      outs.forEach((o, k) => expect(o.output.data).toEqual(conv1x1(feeds[k], 1, 16, W, B)));
    } finally {
      await pool.close();
    }
  });

  it('transfers whole-buffer feeds, copies views and keeps them with transfer: false', async () => {
    const pool = await OrtPool.create(tinyUnet(W, B));
    try {
      const dims = [1, 3, 2, 2];
      const moved = ramp(12);
      await pool.run({ input: { dtype: 'float32', dims, data: moved } });
      expect(moved.length).toBe(0); // detached: the buffer now belongs to the worker
      const kept = ramp(12);
      const out = await pool.run({ input: { dtype: 'float32', dims, data: kept } }, { transfer: false });
      expect(kept).toEqual(ramp(12));
      expect(out.output.data).toEqual(conv1x1(ramp(12), 1, 4, W, B));
      const big = ramp(24);
      const view = big.subarray(12);
      const out2 = await pool.run({ input: { dtype: 'float32', dims, data: view } });
      expect(big.length).toBe(24);
      expect(out2.output.data).toEqual(conv1x1(ramp(24).subarray(12), 1, 4, W, B));
    } finally {
      await pool.close();
    }
  });

  it('checks feeds against the model inputs before posting', async () => {
    const pool = await OrtPool.create(tinyUnet(), { name: 'tiny.onnx' });
    try {
      const good = { dtype: 'float32' as const, dims: [1, 3, 2, 2], data: new Float32Array(12) };
      const cases: [string, unknown, RegExp, string][] = [
        ['missing input', {}, /^Expected a tensor for input 'input' of tiny\.onnx for feeds\.input but received undefined$/, 'CELLCAM_E_DTYPE'],
        ['unknown input', { input: good, extra: good }, /feeds\.extra/, 'CELLCAM_E_ARG'],
        ['wrong dtype', { input: { ...good, dtype: 'float64', data: new Float64Array(12) } }, /Expected float32 \(input 'input' of tiny\.onnx\) for feeds\.input\.dtype/, 'CELLCAM_E_DTYPE'],
        ['wrong rank', { input: { ...good, dims: [3, 2, 2], data: new Float32Array(12) } }, /rank 4/, 'CELLCAM_E_SHAPE'],
        ['wrong fixed size', { input: { ...good, dims: [1, 4, 2, 2], data: new Float32Array(16) } }, /feeds\.input\.dims\[1\]/, 'CELLCAM_E_SHAPE'],
        ['wrong data length', { input: { ...good, data: new Float32Array(11) } }, /length 12/, 'CELLCAM_E_SHAPE'],
        ['data of another array type', { input: { ...good, data: new Float64Array(12) } }, /Float32Array for feeds\.input\.data/, 'CELLCAM_E_DTYPE'],
      ];
      for (const [, feeds, msg, code] of cases) {
        await expect(pool.run(feeds as never)).rejects.toMatchObject({ message: expect.stringMatching(msg), code });
      }
      await expect(pool.run({ input: good }, { outputs: ['nope'] })).rejects.toMatchObject({ code: 'CELLCAM_E_ARG' });
    } finally {
      await pool.close();
    }
    await expect(pool.run({})).rejects.toMatchObject({ code: 'CELLCAM_E_MODEL', message: 'tiny.onnx: the session pool is closed' });
    await pool.close(); // idempotent
  });

  it('turns inference failures into CELLCAM_E_MODEL naming the model', async () => {
    // MatMul with free dims: a [2,3] feed against a [4,4] weight fails inside ORT.
    const bytes = encodeOnnxModel({
      graph: {
        nodes: [{ opType: 'MatMul', inputs: ['a', 'm'], outputs: ['y'] }],
        inputs: [{ name: 'a', dtype: 'float32', shape: ['N', 'K'] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: null }],
        initializers: [{ name: 'm', dtype: 'float32', dims: [4, 4], data: new Float32Array(16) }],
      },
    });
    const path = save('matmul.onnx', bytes);
    const pool = await OrtPool.create(path);
    try {
      const err = await pool.run({ a: { dtype: 'float32', dims: [2, 3], data: new Float32Array(6) } }).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'CellcamError', code: 'CELLCAM_E_MODEL' });
      expect((err as Error).message).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: inference failed: .+`));
      expect((err as Error).stack).toMatch(/onnx\.test\.ts/); // the caller's stack, not the worker's
      // The pool still works after a failed run.
      const ok = await pool.run({ a: { dtype: 'float32', dims: [1, 4], data: Float32Array.from([1, 2, 3, 4]) } });
      expect(ok.y.dims).toEqual([1, 4]);
    } finally {
      await pool.close();
    }
  });
});

describe('OrtPool with bad models', () => {
  const contract: OrtContract = {
    inputs: [{ name: 'input', dtype: 'float32', rank: 4, dims: [null, 3, null, null] }],
    outputs: [{ name: 'output', dtype: 'float32', rank: 4 }],
    hint: 'see docs',
  };
  it.each([
    ['garbage bytes', () => Uint8Array.from([8, 1, 18, 200, 3, 7, 7]), /onnxruntime cannot load the model: .*protobuf parsing failed/i],
    ['an empty file', () => new Uint8Array(0), /onnxruntime cannot load the model/],
    ['a wrong input name', () => identityModel('x', 'float32', ['N', 3, 'H', 'W']), /missing input 'input' \(model inputs: 'x'\).*unexpected input 'x'.* \(see docs\)$/],
    ['a wrong input rank', () => identityModel('input', 'float32', [3, 'H', 'W']), /input 'input' has rank 3 \[3, 'H', 'W'\] but rank 4 is required/],
    ['a wrong input dtype', () => identityModel('input', 'float64', ['N', 3, 'H', 'W']), /input 'input' has dtype float64 but float32 is required/],
    ['a wrong channel count', () => identityModel('input', 'float32', ['N', 4, 'H', 'W']), /input 'input' has size 4 on axis 1/],
    ['a wrong output name', () => identityModel('input', 'float32', ['N', 3, 'H', 'W'], 'logits'), /missing output 'output' \(model outputs: 'logits'\)/],
  ])('rejects %s with CELLCAM_E_MODEL naming the file', async (name, make, msg) => {
    const path = save(`${name.replace(/\W+/g, '_')}.onnx`, make());
    const err = await OrtPool.create(path, { contract }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: 'CellcamError', code: 'CELLCAM_E_MODEL' });
    expect((err as Error).message.startsWith(`${path}: `)).toBe(true);
    expect((err as Error).message).toMatch(msg);
  });

  it('rejects a missing file and bad arguments before starting workers', async () => {
    await expect(OrtPool.create(join(dir, 'absent.onnx'))).rejects.toMatchObject({ code: 'CELLCAM_E_MODEL', message: `${join(dir, 'absent.onnx')}: model file not found` });
    await expect(OrtPool.create(42 as never)).rejects.toThrow(TypeError);
    await expect(OrtPool.create(tinyUnet(), { workers: 0 })).rejects.toThrow(RangeError);
    await expect(OrtPool.create(tinyUnet(), { executionProviders: ['tensorrt' as never] })).rejects.toThrow(TypeError);
  });

  it('contractProblems accepts a fitting model and lists every problem of a bad one', () => {
    const fits = { inputs: [{ name: 'input', dtype: 'float32', shape: ['N', 3, 'H', 'W'] }], outputs: [{ name: 'output', dtype: 'float32', shape: ['N', 3, 'H', 'W'] }] };
    expect(contractProblems(fits, contract)).toEqual([]);
    // ORT reports [] for an unknown shape: the rank cannot be checked then.
    expect(contractProblems({ ...fits, inputs: [{ name: 'input', dtype: 'float32', shape: [] }] }, contract)).toEqual([]);
    const bad = { inputs: [{ name: 'input', dtype: 'uint8', shape: [1, 3, 8] }], outputs: [] };
    expect(contractProblems(bad, contract)).toEqual([
      "input 'input' has dtype uint8 but float32 is required",
      "input 'input' has rank 3 [1, 3, 8] but rank 4 is required",
      "missing output 'output' (model outputs: none)",
    ]);
  });
});
