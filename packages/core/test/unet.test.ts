// Tests of the HPA U-Net contract: resampling against skimage 0.19 / OpenCV 4.6 (when installed),
// predictMaps end to end with tiny ONNX models (shapes, channel 0, ranges, determinism, a Python
// replica of hpacellseg's pre/post-processing), and the model/argument errors.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSessionWorkerBuilt, identityModel, tinyUnet } from './fixtures/onnx-models.js';
import { encodeOnnxModel, onnxAttr } from '../src/model/onnx-writer.js';
import { OrtPool } from '../src/model/session.js';
import {
  floatToUbyte, gaussianKernel, hpaPadding, imgAsFloat, padReflect, reflectIndex, rescale, rescaledSize, resizeArea, roundHalfEven,
} from '../src/segment/resize.js';
import { createUnetPool, predictMaps, prepareUnetInputs, unetOutputToMap, type UnetImage } from '../src/segment/unet.js';
import { rng, skimagePython } from './helpers.js';

let dir = '';
beforeAll(() => {
  ensureSessionWorkerBuilt();
  dir = mkdtempSync(join(tmpdir(), 'cellcam-unet-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});



/** A U-Net-shaped model whose output is half the input size (MaxPool 2×2): breaks the same-size rule. */
function halvingUnet(): Uint8Array {
  return encodeOnnxModel({
    graph: {
      nodes: [{ opType: 'MaxPool', inputs: ['input'], outputs: ['output'], attributes: { kernel_shape: onnxAttr.ints([2, 2]), strides: onnxAttr.ints([2, 2]) } }],
      inputs: [{ name: 'input', dtype: 'float32', shape: ['N', 3, 'H', 'W'] }],
      outputs: [{ name: 'output', dtype: 'float32', shape: ['N', 3, 'h', 'w'] }],
    },
  });
}


/** A smooth synthetic 4-channel field with noise, 8- or 16-bit. */
function synthImage(width: number, height: number, bitDepth: 8 | 16, seed = 1): UnetImage {
  const r = rng(seed);
  const max = bitDepth === 8 ? 255 : 65535;
  const Ctor = bitDepth === 8 ? Uint8Array : Uint16Array;
  const make = (fx: number, fy: number, phase: number) => {
    const a = new Ctor(width * height);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
      const v = 0.5 + 0.4 * Math.sin(x / fx + phase) * Math.cos(y / fy - phase) + 0.1 * (r() - 0.5);
      a[y * width + x] = Math.round(Math.min(1, Math.max(0, v)) * max);
    }
    return a;
  };
  return {
    width, height, bitDepth,
    channels: { red: make(9, 13, 0.3), green: make(5, 5, 1), blue: make(17, 7, 2.1), yellow: make(6, 21, -0.7) },
  };
}

const same = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let diff = 0, first = -1;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) {
    diff++;
    if (first < 0) first = i;
  }
  expect(diff, first >= 0 ? `first difference at ${first}: ${a[first]} vs ${b[first]}` : '').toBe(0);
};

describe('resize helpers (self-checks)', () => {
  it('rounds half to even and sizes like skimage rescale', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, 2, 3]);
    expect(rescaledSize(2048, 1728, 0.25)).toEqual({ width: 512, height: 432 });
    expect(rescaledSize(6, 10, 0.25)).toEqual({ width: 2, height: 2 }); // 1.5 → 2, 2.5 → 2
    expect(rescaledSize(1, 1, 0.25)).toEqual({ width: 1, height: 1 });
  });
  it('has the skimage σ=1.5 kernel: radius 6, symmetric, sums to 1', () => {
    const k = gaussianKernel(1.5);
    expect(k.length).toBe(13);
    for (let i = 0; i < 6; i++) expect(k[i]).toBe(k[12 - i]);
    expect(k.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 15);
    expect(k[6]).toBeCloseTo(0.265964, 6);
  });
  it('pads like BORDER_REFLECT and uses the hpacellseg padding sizes', () => {
    expect([-3, -2, -1, 0, 1, 2, 3, 4, 5].map((p) => reflectIndex(p, 3))).toEqual([2, 1, 0, 0, 1, 2, 2, 1, 0]);
    expect(hpaPadding(512, 432)).toEqual({ top: 32, bottom: 16, left: 32, right: 32 });
    const p = padReflect(Float64Array.from([1, 2, 3, 4, 5, 6]), 3, 2, { top: 1, bottom: 0, left: 2, right: 1 });
    expect([...p]).toEqual([2, 1, 1, 2, 3, 3, 2, 1, 1, 2, 3, 3, 5, 4, 4, 5, 6, 6]);
  });
  it('enlarges by an integer factor as pixel replication and shrinks by block means', () => {
    const src = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]); // 2×2×2
    const up = resizeArea(src, 2, 2, 2, 4, 6);
    expect(up.length).toBe(4 * 6 * 2);
    for (let y = 0; y < 6; y++) for (let x = 0; x < 4; x++) for (let c = 0; c < 2; c++) {
      expect(up[(y * 4 + x) * 2 + c]).toBe(src[(Math.floor(y / 3) * 2 + Math.floor(x / 2)) * 2 + c]);
    }
    expect([...resizeArea(Float32Array.from([1, 2, 3, 5]), 2, 2, 1, 1, 1)]).toEqual([2.75]);
    expect(() => resizeArea(new Uint8Array(9), 3, 3, 1, 2, 2)).toThrow(RangeError);
  });
  it('quantises like img_as_ubyte (float32 product, ties to even)', () => {
    expect([0, 1, 0.5, 1.5 / 255, 2.5 / 255, 1e-9].map(floatToUbyte)).toEqual([0, 255, 128, 2, 2, 0]);
  });
});

// --------------------------------------------------------------------------------------------
// Oracles: one Python process computes every reference from raw files (inputs written by TS).
const ORACLE = String.raw`
import json, sys, warnings
import numpy as np
warnings.filterwarnings('ignore')
from skimage import transform, util
import cv2
d = sys.argv[1]
jobs = json.load(open(d + '/jobs.json'))
def load(name, dtype, shape): return np.fromfile(d + '/' + name, dtype=dtype).reshape(shape)
for j in jobs:
    k = j['kind']
    if k == 'rescale':
        img = load(j['in'], j['dtype'], (j['h'], j['w'], 3))
        out = transform.rescale(img, j['scale'], multichannel=True)
        np.ascontiguousarray(out.transpose(2, 0, 1), dtype=np.float64).tofile(d + '/' + j['out'])
    elif k == 'pad':
        img = load(j['in'], np.float64, (j['h'], j['w']))
        rows, cols = img.shape
        cv2.copyMakeBorder(img, 32, 32 - rows % 32, 32, 32 - cols % 32, cv2.BORDER_REFLECT).tofile(d + '/' + j['out'])
    elif k == 'area':
        img = load(j['in'], j['dtype'], (j['h'], j['w'], 3))
        cv2.resize(img, (j['ow'], j['oh']), interpolation=cv2.INTER_AREA).tofile(d + '/' + j['out'])
    elif k == 'ubyte':
        util.img_as_ubyte(load(j['in'], np.float32, (-1,))).tofile(d + '/' + j['out'])
    elif k == 'pipeline':
        # hpacellseg 0.1.8 pred_nuclei/pred_cells with the 1x1 conv fixture in place of the DPN
        # U-Net (numpy float32, exact for its weights) and the float64 softmax cast to float32.
        h, w = j['h'], j['w']
        ch = {c: load(j[c], j['dtype'], (h, w)) for c in ('red', 'yellow', 'blue')}
        mean = np.array([124 / 255, 117 / 255, 104 / 255], dtype=np.float32)
        std = np.float32(1 / (0.0167 * 255))
        W = np.array(j['weights'], dtype=np.float32); B = np.array(j['bias'], dtype=np.float32)
        def net(image):
            if j['padding']:
                rows, cols = image.shape[:2]
                image = cv2.copyMakeBorder(image, 32, 32 - rows % 32, 32, 32 - cols % 32, cv2.BORDER_REFLECT)
            x = image.transpose([2, 0, 1]).astype(np.float32)
            x = (x - mean[:, None, None]) / std
            logits = np.stack([sum(W[o, i] * x[i] for i in range(3) if W[o, i] != 0) + B[o] for o in range(3)]).astype(np.float32)
            l = logits.astype(np.float64)
            e = np.exp(l - l.max(axis=0))
            return (e / e.sum(axis=0)).astype(np.float32)
        def restore(pred, rows, cols):
            pred = pred.transpose([1, 2, 0])
            if j['padding']:
                pred = pred[32:32 + rows, 32:32 + cols, ...]
            pred = np.ascontiguousarray(pred)
            pred[..., 0] = 0
            # hpacellseg passes (target_shape[0], target_shape[1]); (w, h) is the correct dsize.
            return cv2.resize(pred, (w, h), interpolation=cv2.INTER_AREA)
        nuc = transform.rescale(np.dstack((ch['blue'],) * 3), j['scale'], multichannel=True)
        nuc = np.dstack((nuc[..., 2],) * 3)
        n_pred = restore(util.img_as_ubyte(net(nuc)), *nuc.shape[:2])
        cell = transform.rescale(np.dstack((ch['red'], ch['yellow'], ch['blue'])), j['scale'], multichannel=True)
        c_pred = util.img_as_ubyte(restore(net(cell), *cell.shape[:2]))
        n_pred.tofile(d + '/' + j['out'] + '.nuclei')
        c_pred.tofile(d + '/' + j['out'] + '.cell')
`;

interface Job { kind: string; out: string; [k: string]: unknown }

function runOracle(jobs: Job[], files: Record<string, ArrayBufferView>): void {
  const d = mkdtempSync(join(dir, 'oracle-'));
  for (const [name, a] of Object.entries(files)) writeFileSync(join(d, name), new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  writeFileSync(join(d, 'jobs.json'), JSON.stringify(jobs));
  writeFileSync(join(d, 'oracle.py'), ORACLE);
  const r = spawnSync(skimagePython!, [join(d, 'oracle.py'), d], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`oracle failed: ${r.stderr}`);
  for (const j of jobs) {
    for (const suffix of j.kind === 'pipeline' ? ['.nuclei', '.cell'] : ['']) {
      const buf = readFileSync(join(d, j.out + suffix));
      results.set(j.out + suffix, new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).slice());
    }
  }
}
const results = new Map<string, Uint8Array>();
const f64 = (u: Uint8Array) => new Float64Array(u.buffer, u.byteOffset, u.byteLength / 8);
const f32 = (u: Uint8Array) => new Float32Array(u.buffer, u.byteOffset, u.byteLength / 4);

const interleave = (planes: ArrayLike<number>[], Ctor: new (n: number) => Uint8Array | Uint16Array | Float32Array) => {
  const n = planes[0].length;
  const out = new Ctor(n * planes.length);
  for (let i = 0; i < n; i++) for (let c = 0; c < planes.length; c++) out[i * planes.length + c] = planes[c][i];
  return out;
};

const RESCALE_CASES = [
  { name: '64² uint8 ×0.25', w: 64, h: 64, bits: 8 as const, scale: 0.25 },
  { name: '70×50 uint16 ×0.25 (σ differs per axis)', w: 70, h: 50, bits: 16 as const, scale: 0.25 },
  { name: '13×9 uint8 ×0.25 (kernel wider than the image)', w: 13, h: 9, bits: 8 as const, scale: 0.25 },
  { name: '41×37 uint16 ×0.3', w: 41, h: 37, bits: 16 as const, scale: 0.3 },
  { name: '30×20 uint8 ×0.5', w: 30, h: 20, bits: 8 as const, scale: 0.5 },
];
const AREA_CASES = [
  { name: 'uint8 ×4', w: 16, h: 12, ow: 64, oh: 48, dtype: 'uint8' as const, exact: true },
  { name: 'float32 ×4', w: 16, h: 12, ow: 64, oh: 48, dtype: 'float32' as const, exact: true },
  { name: 'float32 non-integer enlargement', w: 50, h: 38, ow: 201, oh: 150, dtype: 'float32' as const, exact: true },
  { name: 'uint8 non-integer enlargement', w: 50, h: 38, ow: 201, oh: 150, dtype: 'uint8' as const, exact: false },
  { name: 'uint8 ÷2', w: 32, h: 20, ow: 16, oh: 10, dtype: 'uint8' as const, exact: true },
  { name: 'uint8 ÷3', w: 30, h: 21, ow: 10, oh: 7, dtype: 'uint8' as const, exact: true },
  { name: 'float32 ÷3', w: 30, h: 21, ow: 10, oh: 7, dtype: 'float32' as const, exact: false },
];
const PIPELINE_CASES = [
  { name: '256² 8-bit, padding', w: 256, h: 256, bits: 8 as const, padding: true, exact: true },
  { name: '256² 16-bit, padding', w: 256, h: 256, bits: 16 as const, padding: true, exact: true },
  { name: '200×152 8-bit, no padding', w: 200, h: 152, bits: 8 as const, padding: false, exact: true },
  { name: '201×150 16-bit (non-integer restore)', w: 201, h: 150, bits: 16 as const, padding: true, exact: false },
];
const WEIGHTS = [[0, 0, 2], [2, 0, 0], [0, 2, 0]];
const BIAS = [0, -0.5, 0.25];

describe.skipIf(!skimagePython)('against skimage 0.19 / OpenCV 4.6', () => {
  let pool: OrtPool;
  const ubyteIn = Float32Array.from([0, 1, 0.5, 0.25, 1 / 3, 0.5 / 255, 1.5 / 255, 2.5 / 255, 254.5 / 255, 0.999, 1e-7, ...Array.from({ length: 500 }, (_, i) => (i * 0.618034) % 1)]);
  beforeAll(async () => {
    const jobs: Job[] = [];
    const files: Record<string, ArrayBufferView> = { 'ubyte.in': ubyteIn };
    jobs.push({ kind: 'ubyte', in: 'ubyte.in', out: 'ubyte.out' });
    RESCALE_CASES.forEach((c, k) => {
      const img = synthImage(c.w, c.h, c.bits, 10 + k);
      files[`rs${k}.in`] = interleave([img.channels.red, img.channels.yellow!, img.channels.blue], c.bits === 8 ? Uint8Array : Uint16Array);
      jobs.push({ kind: 'rescale', in: `rs${k}.in`, out: `rs${k}.out`, w: c.w, h: c.h, dtype: c.bits === 8 ? 'uint8' : 'uint16', scale: c.scale });
    });
    [[13, 9], [50, 38], [64, 64]].forEach(([w, h], k) => {
      files[`pad${k}.in`] = Float64Array.from({ length: w * h }, (_, i) => i * 0.5);
      jobs.push({ kind: 'pad', in: `pad${k}.in`, out: `pad${k}.out`, w, h });
    });
    AREA_CASES.forEach((c, k) => {
      const r = rng(40 + k);
      const n = c.w * c.h * 3;
      files[`area${k}.in`] = c.dtype === 'uint8' ? Uint8Array.from({ length: n }, () => Math.floor(r() * 256)) : Float32Array.from({ length: n }, () => r());
      jobs.push({ kind: 'area', in: `area${k}.in`, out: `area${k}.out`, ...c });
    });
    PIPELINE_CASES.forEach((c, k) => {
      const img = synthImage(c.w, c.h, c.bits, 20 + k);
      Object.assign(files, { [`p${k}r`]: img.channels.red, [`p${k}y`]: img.channels.yellow!, [`p${k}b`]: img.channels.blue });
      const dtype = c.bits === 8 ? 'uint8' : 'uint16';
      jobs.push({ kind: 'pipeline', out: `pipe${k}`, w: c.w, h: c.h, dtype, scale: 0.25, padding: c.padding, weights: WEIGHTS, bias: BIAS, red: `p${k}r`, yellow: `p${k}y`, blue: `p${k}b` });
    });
    runOracle(jobs, files);
    pool = await createUnetPool(tinyUnet(WEIGHTS, BIAS), { name: 'tiny-unet' });
  });
  afterAll(async () => {
    await pool?.close();
  });

  it('img_as_ubyte', () => same(Array.from(ubyteIn, floatToUbyte), results.get('ubyte.out')!));

  it.each(RESCALE_CASES.map((c, k) => [c.name, k, c] as const))('rescale %s is bit-exact', (_n, k, c) => {
    const img = synthImage(c.w, c.h, c.bits, 10 + k);
    const planes = [img.channels.red, img.channels.yellow!, img.channels.blue].map(imgAsFloat);
    const out = rescale(planes, c.w, c.h, c.scale);
    const ref = f64(results.get(`rs${k}.out`)!);
    const n = out.width * out.height;
    expect(ref.length).toBe(3 * n);
    for (let ch = 0; ch < 3; ch++) same(out.planes[ch], ref.subarray(ch * n, (ch + 1) * n));
  });

  it.each([[13, 9, 0], [50, 38, 1], [64, 64, 2]])('copyMakeBorder BORDER_REFLECT %i×%i', (w, h, k) => {
    const plane = Float64Array.from({ length: w * h }, (_, i) => i * 0.5);
    same(padReflect(plane, w, h, hpaPadding(w, h)), f64(results.get(`pad${k}.out`)!));
  });

  it.each(AREA_CASES.map((c, k) => [c.name, k, c] as const))('INTER_AREA %s', (_n, k, c) => {
    const r = rng(40 + k);
    const n = c.w * c.h * 3;
    const src = c.dtype === 'uint8' ? Uint8Array.from({ length: n }, () => Math.floor(r() * 256)) : Float32Array.from({ length: n }, () => r());
    const out = resizeArea(src, c.w, c.h, 3, c.ow, c.oh);
    const refBytes = results.get(`area${k}.out`)!;
    const ref = c.dtype === 'uint8' ? refBytes : f32(refBytes);
    if (c.exact) same(out, ref);
    else {
      expect(out.length).toBe(ref.length);
      let worst = 0;
      for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - ref[i]));
      expect(worst).toBeLessThanOrEqual(c.dtype === 'uint8' ? 1 : 1e-6);
    }
  });

  it.each(PIPELINE_CASES.map((c, k) => [c.name, k, c] as const))(
    'matches a Python replica of hpacellseg: %s',
    async (_n, k, c) => {
      const img = synthImage(c.w, c.h, c.bits, 20 + k);
      const got = await predictMaps(img, { nucleiModel: pool, cellModel: pool, padding: c.padding });
      for (const [mine, ref] of [[got.nucleiPred, results.get(`pipe${k}.nuclei`)!], [got.cellPred, results.get(`pipe${k}.cell`)!]]) {
        if (c.exact) same(mine, ref);
        else {
          expect(mine.length).toBe(ref.length);
          let worst = 0, off = 0;
          for (let i = 0; i < mine.length; i++) {
            const d = Math.abs(mine[i] - ref[i]);
            worst = Math.max(worst, d);
            if (d) off++;
          }
          expect(worst).toBeLessThanOrEqual(1);
          expect(off).toBeLessThan(mine.length * 0.02);
        }
      }
    },
  );
});

describe('predictMaps with tiny models', () => {
  let pool: OrtPool;
  beforeAll(async () => {
    pool = await createUnetPool(tinyUnet(WEIGHTS, BIAS), { name: 'tiny-unet' });
  });
  afterAll(async () => {
    await pool?.close();
  });

  it.each([[8, 1], [16, 2]] as const)('gives H×W×3 uint8 maps with channel 0 = 0, deterministically (%i-bit)', async (bits, seed) => {
    const img = synthImage(256, 256, bits, seed);
    const a = await predictMaps(img, { nucleiModel: pool, cellModel: pool });
    const b = await predictMaps(img, { nucleiModel: pool, cellModel: pool });
    expect(a.width).toBe(256);
    expect(a.height).toBe(256);
    for (const m of [a.nucleiPred, a.cellPred]) {
      expect(m).toBeInstanceOf(Uint8Array);
      expect(m.length).toBe(256 * 256 * 3);
      let c0 = 0, lo = 255, hi = 0, pairMax = 0;
      for (let i = 0; i < m.length; i += 3) {
        c0 |= m[i];
        lo = Math.min(lo, m[i + 1], m[i + 2]);
        hi = Math.max(hi, m[i + 1], m[i + 2]);
        pairMax = Math.max(pairMax, m[i + 1] + m[i + 2]);
      }
      expect(c0).toBe(0);
      // Softmax of 3 channels: the two kept probabilities never exceed 1 together (+ rounding).
      expect(pairMax).toBeLessThanOrEqual(256);
      expect(hi - lo).toBeGreaterThan(50); // the maps follow the image, not a constant
    }
    same(a.nucleiPred, b.nucleiPred);
    same(a.cellPred, b.cellPred);
    // ×4 restore is 4×4 replication: every block is constant.
    let uneven = 0;
    for (let y = 0; y < 256; y += 4) for (let x = 0; x < 256; x += 4) {
      for (const [dy, dx] of [[0, 3], [3, 0], [3, 3], [1, 2]]) {
        if (a.cellPred[((y + dy) * 256 + x + dx) * 3 + 2] !== a.cellPred[(y * 256 + x) * 3 + 2]) uneven++;
      }
    }
    expect(uneven).toBe(0);
  });

  it('gives the same maps from a model path (pool per call) as from a pool', async () => {
    const path = join(dir, 'tiny.onnx');
    writeFileSync(path, tinyUnet(WEIGHTS, BIAS));
    const img = synthImage(64, 48, 8, 3);
    const a = await predictMaps(img, { nucleiModel: path, cellModel: path, poolOptions: { executionProviders: ['cpu'] } });
    const b = await predictMaps(img, { nucleiModel: pool, cellModel: pool });
    same(a.nucleiPred, b.nucleiPred);
    same(a.cellPred, b.cellPred);
  });

  it('feeds the nuclei model blue×3 and the cell model (red, yellow, blue); zeros for the 2-channel model', () => {
    const img = synthImage(64, 64, 8, 4);
    const three = prepareUnetInputs(img);
    expect(three.nuclei.dims).toEqual([1, 3, 64, 64]); // 16 + 32 + 16 → 64
    expect(three.geometry).toMatchObject({ scaledWidth: 16, scaledHeight: 16, pad: { top: 32, bottom: 16, left: 32, right: 16 } });
    const plane = 64 * 64;
    const nd = three.nuclei.data as Float32Array;
    // Blue in all three channels, each normalised with its own channel mean.
    const back = (c: number, i: number) => nd[c * plane + i] / (0.0167 * 255) + [124, 117, 104][c] / 255;
    let worst = 0;
    for (let i = 0; i < plane; i++) worst = Math.max(worst, Math.abs(back(0, i) - back(1, i)), Math.abs(back(0, i) - back(2, i)));
    expect(worst).toBeLessThan(1e-6);
    const cd = three.cell.data as Float32Array;
    const two = prepareUnetInputs(img, { multiChannelModel: false });
    const yellow0 = (two.cell.data as Float32Array).subarray(plane, 2 * plane);
    expect(new Set(yellow0).size).toBe(1); // a constant (zero) plane, normalised
    expect(yellow0[0]).toBeCloseTo((0 - 117 / 255) * 0.0167 * 255, 5);
    expect(cd.subarray(plane, 2 * plane)).not.toEqual(yellow0);
  });
});

describe('predictMaps errors', () => {
  it('rejects models that break the U-Net contract, naming the file', async () => {
    const img = synthImage(32, 32, 8);
    const good = join(dir, 'good.onnx');
    writeFileSync(good, tinyUnet());
    const cases: [string, Uint8Array, RegExp][] = [
      ['named-x.onnx', identityModel('x', 'float32', ['N', 3, 'H', 'W']), /missing input 'input'.*torch\.onnx\.export/],
      ['rank3.onnx', identityModel('input', 'float32', [3, 'H', 'W']), /input 'input' has rank 3/],
      ['uint8.onnx', identityModel('input', 'uint8', ['N', 3, 'H', 'W']), /input 'input' has dtype uint8 but float32 is required/],
      ['halving.onnx', halvingUnet(), /output has float32 dims \[1, 3, 32, 32\] but float32 \[1, 3, 64, 64\] is required/],
    ];
    for (const [name, bytes, msg] of cases) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      const err = await predictMaps(img, { nucleiModel: good, cellModel: path, poolOptions: { executionProviders: ['cpu'] } }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'CELLCAM_E_MODEL' });
      expect((err as Error).message.startsWith(`${path}: `)).toBe(true);
      expect((err as Error).message).toMatch(msg);
    }
    // A generic pool that does not fit is refused too.
    const generic = await OrtPool.create(identityModel('x', 'float32', ['N', 3, 'H', 'W']), { name: 'generic.onnx', executionProviders: ['cpu'] });
    await expect(predictMaps(img, { nucleiModel: generic, cellModel: generic })).rejects.toMatchObject({
      code: 'CELLCAM_E_MODEL', message: expect.stringMatching(/^generic\.onnx: does not fit the model contract: missing input 'input'/),
    });
    await generic.close();
  });

  it('validates the image and options', async () => {
    const img = synthImage(16, 16, 8);
    const m = tinyUnet();
    const bad: [unknown, unknown, ErrorConstructor, RegExp][] = [
      [{ ...img, bitDepth: 12 }, {}, RangeError, /image\.bitDepth/],
      [{ ...img, bitDepth: 16 }, {}, TypeError, /Uint16Array \(bitDepth 16\) for image\.channels\.blue/],
      [{ ...img, channels: { ...img.channels, red: new Uint8Array(10) } }, {}, RangeError, /image\.channels\.red/],
      [{ ...img, channels: { ...img.channels, yellow: undefined } }, {}, TypeError, /image\.channels\.yellow/],
      [img, { scaleFactor: 0 }, RangeError, /options\.scaleFactor/],
      [img, { scaleFactor: 1.5 }, RangeError, /options\.scaleFactor/],
      [img, { padding: 'yes' }, TypeError, /options\.padding/],
      [img, { cellModel: undefined }, TypeError, /options\.cellModel/],
    ];
    for (const [image, opts, Ctor, msg] of bad) {
      const err = await predictMaps(image as UnetImage, { nucleiModel: m, cellModel: m, ...(opts as object) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Ctor);
      expect((err as Error).message).toMatch(msg);
    }
    // The 2-channel model needs no yellow.
    const noYellow = { ...img, channels: { ...img.channels, yellow: undefined } };
    expect(() => prepareUnetInputs(noYellow, { multiChannelModel: false })).not.toThrow();
  });

  it('unetOutputToMap refuses logits of the wrong size', () => {
    const g = { width: 8, height: 8, scaledWidth: 2, scaledHeight: 2, pad: { top: 0, bottom: 0, left: 0, right: 0 } };
    expect(() => unetOutputToMap({ dtype: 'float32', dims: [1, 3, 2, 3], data: new Float32Array(18) }, 'cell', g, 'm.onnx')).toThrow(/^m\.onnx: output has float32 dims \[1, 3, 2, 3\]/);
    expect(unetOutputToMap({ dtype: 'float32', dims: [1, 3, 2, 2], data: new Float32Array(12) }, 'cell', g).length).toBe(8 * 8 * 3);
  });
});
