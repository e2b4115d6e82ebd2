// Tests of the model inputs (bit-depth scaling; their area resampling: resample.test.ts), the
// feature-bank ONNX model, the built-in image classifier (CAM head + GAP) and the built-in cell
// classifier, run through onnxruntime.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageTensor } from '../src/features/input.js';
import { FEATURE_COUNT, FEATURE_NAMES, FEATURE_STRIDE, featureModel } from '../src/features/bank.js';
import { imageClassifierModel } from '../src/cam/image-model.js';
import { CELL_LOG_EPS, cellClassifierModel, cellInputTransform } from '../src/train/cell-model.js';
import { applyStandardizer, fitStandardizer, mlpLogits, trainMlp, type Matrix } from '../src/train/optim.js';
import { decodeOnnxModel } from '../src/model/onnx-writer.js';
import { OrtPool, type OrtTensorData } from '../src/model/session.js';
import type { ImageSet } from '../src/io/imageset.js';
import { NUM_CLASSES } from '../src/metric/evaluate.js';
import { ensureSessionWorkerBuilt } from './fixtures/onnx-models.js';
import { rng } from './helpers.js';

const pools: OrtPool[] = [];
beforeAll(() => {
  ensureSessionWorkerBuilt();
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

let bankPool: Promise<OrtPool> | null = null;
/** One shared feature-bank pool for the tests that only read features. */
const bank = () => (bankPool ??= pool(featureModel(S)));

async function pool(bytes: Uint8Array): Promise<OrtPool> {
  const p = await OrtPool.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  pools.push(p);
  return p;
}

const mean = (a: ArrayLike<number>, from = 0, to = a.length) => {
  let s = 0;
  for (let i = from; i < to; i++) s += a[i];
  return s / (to - from);
};

/** An 8- or 16-bit image set from per-pixel channel functions. */
function imageSet(W: number, H: number, f: (x: number, y: number) => [number, number, number, number], bitDepth: 8 | 16 = 8): ImageSet {
  const make = () => (bitDepth === 8 ? new Uint8Array(W * H) : new Uint16Array(W * H));
  const ch = { red: make(), green: make(), blue: make(), yellow: make() };
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const v = f(x, y);
    ch.red[y * W + x] = v[0];
    ch.green[y * W + x] = v[1];
    ch.blue[y * W + x] = v[2];
    ch.yellow[y * W + x] = v[3];
  }
  return { id: 'synthetic', width: W, height: H, bitDepth, channels: ch, files: { red: '', green: '', blue: '', yellow: '' } };
}

// ---------------------------------------------------------------------------------------------
// imageTensor (its resampling: resample.test.ts)

describe('imageTensor', () => {
  it.each([
    { bitDepth: 8 as const, values: [51, 102, 0, 255], expected: [0.2, 0.4, 0, 1] },
    { bitDepth: 16 as const, values: [13107, 26214, 0, 65535], expected: [0.2, 0.4, 0, 1] },
    { bitDepth: 16 as const, values: [255, 0, 0, 0], expected: [255 / 65535, 0, 0, 0] },
  ])('scales $bitDepth-bit channels by their maximum, in R, G, B, Y order', ({ bitDepth, values, expected }) => {
    const img = imageSet(40, 24, () => values as [number, number, number, number], bitDepth);
    const S = 16;
    const x = imageTensor(img, S);
    expect(x).toHaveLength(4 * S * S);
    for (let k = 0; k < 4; k++) {
      const plane = x.subarray(k * S * S, (k + 1) * S * S);
      for (const v of plane) expect(v).toBeCloseTo(expected[k], 6);
    }
  });

  it('gives the same tensor for an 8-bit image and its 16-bit ×257 copy', () => {
    const r = rng(2);
    const vals = Array.from({ length: 50 * 50 * 4 }, () => Math.floor(r() * 256));
    const f = (mul: number) => (x: number, y: number) => [0, 1, 2, 3].map((c) => vals[(y * 50 + x) * 4 + c] * mul) as [number, number, number, number];
    const a = imageTensor(imageSet(50, 50, f(1), 8), 32), b = imageTensor(imageSet(50, 50, f(257), 16), 32);
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 6);
  });

  it.each([
    [8, RangeError],
    [15, RangeError],
    [8193, RangeError],
    [16.5, TypeError],
  ])('rejects size %s', (size, type) => {
    expect(() => imageTensor(imageSet(4, 4, () => [0, 0, 0, 0]), size)).toThrow(type);
  });
});

// ---------------------------------------------------------------------------------------------
// the feature bank and the image classifier

const S = 128, M = S / FEATURE_STRIDE;
const R0 = 20; // disc radius in input pixels

/** Cells everywhere (red, yellow), one bright nucleus disc (blue); green inside or outside the disc. */
function discImage(green: 'inside' | 'outside' | 'noise'): ImageSet {
  const r = rng(7);
  return imageSet(S, S, (x, y) => {
    const inDisc = (x - S / 2 + 0.5) ** 2 + (y - S / 2 + 0.5) ** 2 <= R0 * R0;
    const g = green === 'noise' ? Math.floor(r() * 256) : (green === 'inside') === inDisc ? 150 : 0;
    return [100, g, inDisc ? 200 : 0, 100];
  });
}

const run = (p: OrtPool, img: ImageSet) => p.run({ image: { dtype: 'float32', dims: [1, 4, S, S], data: imageTensor(img, S) } });

function channelMean(t: OrtTensorData, k: number): number {
  const n = t.dims[2] * t.dims[3];
  return mean(t.data as Float32Array, k * n, (k + 1) * n);
}

describe('featureModel', () => {
  it('names 20 channels', () => {
    expect(FEATURE_COUNT).toBe(20);
    expect(new Set(FEATURE_NAMES).size).toBe(20);
    const meta = Object.fromEntries(decodeOnnxModel(featureModel(S)).metadataProps.map((p: { key: string; value: string }) => [p.key, p.value]));
    expect(meta).toMatchObject({ 'cellcam.kind': 'feature-bank', 'cellcam.input_size': String(S), 'cellcam.feature_count': '20' });
  });

  it.each(['inside', 'outside', 'noise'] as const)('outputs [1,20,S/4,S/4], finite and ≥ 0, for green %s', async (green) => {
    const p = await bank();
    const { features } = await run(p, discImage(green));
    expect(features.dims).toEqual([1, 20, M, M]);
    const f = features.data as Float32Array;
    let lo = Infinity;
    for (const v of f) {
      expect(Number.isFinite(v)).toBe(true);
      lo = Math.min(lo, v);
    }
    expect(lo).toBeGreaterThanOrEqual(-1e-6);
  });

  it('is finite on an all-dark image', async () => {
    const p = await bank();
    const { features } = await run(p, imageSet(S, S, () => [0, 0, 0, 0]));
    for (const v of features.data as Float32Array) expect(Number.isFinite(v)).toBe(true);
  });

  it('tells nuclear from cytoplasmic green', async () => {
    const p = await bank();
    const nucleus = FEATURE_NAMES.indexOf('green_nucleus'), cytoplasm = FEATURE_NAMES.indexOf('green_cytoplasm');
    const inside = (await run(p, discImage('inside'))).features;
    const outside = (await run(p, discImage('outside'))).features;
    expect(channelMean(inside, nucleus)).toBeGreaterThan(5 * channelMean(inside, cytoplasm));
    expect(channelMean(outside, cytoplasm)).toBeGreaterThan(5 * channelMean(outside, nucleus));
    // green_absolute is not normalised: 10 × the input green mean.
    const absolute = FEATURE_NAMES.indexOf('green_absolute');
    const g = imageTensor(discImage('inside'), S).subarray(S * S, 2 * S * S);
    expect(channelMean(inside, absolute)).toBeCloseTo(10 * mean(g), 3);
  });
});

describe('imageClassifierModel', () => {
  const r = rng(21);
  const head = {
    weights: Float32Array.from({ length: NUM_CLASSES * FEATURE_COUNT }, () => 2 * r() - 1),
    bias: Float32Array.from({ length: NUM_CLASSES }, () => 2 * r() - 1),
  };

  it('logits = spatial mean of cam = W·features + b; features match the feature bank', async () => {
    const clf = await pool(imageClassifierModel(head, S));
    const bankP = await bank();
    const img = discImage('noise');
    const out = await run(clf, img);
    const ref = (await run(bankP, img)).features;
    expect(out.logits.dims).toEqual([1, NUM_CLASSES]);
    expect(out.cam.dims).toEqual([1, NUM_CLASSES, M, M]);
    expect(out.features.dims).toEqual([1, FEATURE_COUNT, M, M]);
    const cam = out.cam.data as Float32Array, f = out.features.data as Float32Array, logits = out.logits.data as Float32Array;
    const n = M * M;
    const fr = ref.data as Float32Array;
    for (let i = 0; i < f.length; i++) expect(Math.abs(f[i] - fr[i])).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(fr[i])));
    for (let c = 0; c < NUM_CLASSES; c++) {
      const m = mean(cam, c * n, (c + 1) * n);
      expect(Math.abs(logits[c] - m)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(m)));
      for (const px of [0, 17, n / 2 + M / 2, n - 1]) {
        let z = head.bias[c], mag = Math.abs(z);
        for (let k = 0; k < FEATURE_COUNT; k++) {
          z += head.weights[c * FEATURE_COUNT + k] * f[k * n + px];
          mag += Math.abs(head.weights[c * FEATURE_COUNT + k] * f[k * n + px]);
        }
        expect(Math.abs(cam[c * n + px] - z)).toBeLessThanOrEqual(1e-4 * (1 + mag));
      }
    }
  });

  it('records its kind and input size', () => {
    const meta = Object.fromEntries(decodeOnnxModel(imageClassifierModel(head, 256, { extra: 'x' })).metadataProps.map((p: { key: string; value: string }) => [p.key, p.value]));
    expect(meta).toMatchObject({ 'cellcam.kind': 'image-classifier', 'cellcam.input_size': '256', 'cellcam.feature_count': '20', extra: 'x' });
  });

  it.each([
    { what: 'too few weights', weights: NUM_CLASSES * FEATURE_COUNT - 1, bias: NUM_CLASSES, name: 'head.weights' },
    { what: 'too many weights', weights: NUM_CLASSES * FEATURE_COUNT + 20, bias: NUM_CLASSES, name: 'head.weights' },
    { what: 'a short bias', weights: NUM_CLASSES * FEATURE_COUNT, bias: NUM_CLASSES - 1, name: 'head.bias' },
    { what: 'a 20-class bias', weights: NUM_CLASSES * FEATURE_COUNT, bias: NUM_CLASSES + 1, name: 'head.bias' },
  ])('rejects $what', ({ weights, bias, name }) => {
    const f = () => imageClassifierModel({ weights: new Float32Array(weights), bias: new Float32Array(bias) });
    expect(f).toThrow(RangeError);
    expect(f).toThrow(name);
    let code: unknown;
    try {
      f();
    } catch (e) {
      code = (e as { code?: string }).code;
    }
    expect(code).toBe('CELLCAM_E_SHAPE');
  });
});

// ---------------------------------------------------------------------------------------------
// the cell classifier

describe('cellInputTransform', () => {
  it.each([
    [0, Math.log(CELL_LOG_EPS)],
    [-5, Math.log(CELL_LOG_EPS)],
    [Number.NaN, Math.log(CELL_LOG_EPS)],
    [1, Math.log(1 + CELL_LOG_EPS)],
    [10, Math.log(10 + CELL_LOG_EPS)],
    [1e-4, Math.log(1e-4 + CELL_LOG_EPS)],
  ])('%s → %s', (x, y) => {
    expect(cellInputTransform([x])[0]).toBeCloseTo(y, 12);
  });

  it('writes into a given buffer', () => {
    const out = new Float64Array(3);
    expect(cellInputTransform(Float32Array.of(1, 2, 3), out)).toBe(out);
    expect(out[2]).toBeCloseTo(Math.log(3 + CELL_LOG_EPS), 6);
  });
});

describe('cellClassifierModel', () => {
  const n = 240, d = 6;
  /** Pooled-feature-like inputs: log-uniform over 1e-4..10, with some zeros and small negatives. */
  const raw = (() => {
    const r = rng(31);
    return Float32Array.from({ length: n * d }, () => {
      const u = r();
      return u < 0.05 ? 0 : u < 0.08 ? -r() * 1e-3 : 10 ** (-4 + 5 * r());
    });
  })();
  const X: Matrix = { data: cellInputTransform(raw), rows: n, cols: d };
  const st = fitStandardizer(X);
  const Z = applyStandardizer(X, st);

  it.each([
    {
      mode: 'softmax' as const, classes: NUM_CLASSES + 1,
      targets: Float64Array.from({ length: n }, (_, i) => (raw[i * d] > 0.1 ? 3 : raw[i * d + 1] > 0.01 ? 7 : NUM_CLASSES)),
    },
    {
      mode: 'sigmoid' as const, classes: NUM_CLASSES,
      targets: Float64Array.from({ length: n * NUM_CLASSES }, (_, k) => {
        const i = Math.floor(k / NUM_CLASSES), c = k % NUM_CLASSES;
        return (c === 0 && raw[i * d + 2] > 0.1) || (c === 18 && raw[i * d + 3] < 0.01) ? 1 : 0;
      }),
    },
  ])('$mode model: ONNX logits = mlpLogits(standardised log features)', async ({ mode, classes, targets }) => {
    const m = trainMlp(Z, targets, { mode, classes, hidden: 12, epochs: 20, lr: 0.01, seed: 5 });
    const bytes = cellClassifierModel(m, st, { note: 'test' });
    const meta = Object.fromEntries(decodeOnnxModel(bytes).metadataProps.map((p: { key: string; value: string }) => [p.key, p.value]));
    expect(meta).toMatchObject({ 'cellcam.kind': 'cell-classifier', 'cellcam.cell_input': 'features', 'cellcam.feature_count': String(d), 'cellcam.activation': mode, note: 'test' });
    const p = await pool(bytes);
    const out = await p.run({ cell_features: { dtype: 'float32', dims: [n, d], data: raw.slice() } });
    expect(out.logits.dims).toEqual([n, classes]);
    const got = out.logits.data as Float32Array;
    const want = mlpLogits(m, applyStandardizer({ data: cellInputTransform(raw), rows: n, cols: d }, st));
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
    expect(worst).toBeLessThanOrEqual(1e-3);
    // The model learned something: the logits are not constant across cells.
    expect(Math.max(...want) - Math.min(...want)).toBeGreaterThan(0.5);
  });
});
