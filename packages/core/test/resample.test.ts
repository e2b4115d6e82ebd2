// Tests of the area-resampling kernel: the twin's semantics (constants, means, block averages,
// fractional overlaps, upsampling, scale and offset), native == TypeScript twin byte for byte on
// random planes of every source dtype and shrink/grow factor, threads and offsets,
// imageTensorAsync == imageTensor, the native boundary's guards, and bad input named by argument.
import { describe, expect, it } from 'vitest';
import { resample, resamplePlane, type ResampleSource } from '../src/kernels/resample.js';
import { imageTensor, imageTensorAsync } from '../src/features/input.js';
import type { ImageSet } from '../src/io/imageset.js';
import { nativeOrNull } from '../src/native.js';
import { hasNative, randInt, rejection, rng } from './helpers.js';

const backends = hasNative ? (['js', 'native'] as const) : (['js'] as const);

const mean = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
};

function randomPlane(n: number, seed: number, max = 255): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: n }, () => Math.floor(r() * (max + 1)));
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

function plane(dtype: 'u8' | 'u16' | 'f32' | 'f64', n: number, r: () => number): ResampleSource {
  switch (dtype) {
    case 'u8': return Uint8Array.from({ length: n }, () => randInt(r, 256));
    case 'u16': return Uint16Array.from({ length: n }, () => randInt(r, 65536));
    case 'f32': return Float32Array.from({ length: n }, () => (r() - 0.3) * 1e3);
    default: return Float64Array.from({ length: n }, () => (r() - 0.3) * 1e6);
  }
}

describe('resamplePlane', () => {
  it.each([
    [1728, 1728, 512, 512],
    [600, 600, 512, 512],
    [512, 512, 512, 512],
    [100, 100, 512, 512],
    [7, 5, 3, 2],
    [3, 7, 8, 20],
    [600, 400, 512, 300],
  ])('keeps a constant %ix%i → %ix%i constant', (w, h, ow, oh) => {
    const out = resamplePlane(new Float64Array(w * h).fill(37), w, h, ow, oh);
    expect(out).toHaveLength(ow * oh);
    let lo = Infinity, hi = -Infinity;
    for (const v of out) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    expect(lo).toBeCloseTo(37, 3);
    expect(hi).toBeCloseTo(37, 3);
  });

  it.each([
    [1728, 1728, 512, 512],
    [600, 600, 512, 512],
    [2048, 2048, 512, 512],
    [100, 100, 512, 512],
    [100, 100, 300, 300],
    [37, 23, 10, 7],
    [10, 7, 37, 23],
  ])('preserves the mean of a random %ix%i → %ix%i', (w, h, ow, oh) => {
    const src = randomPlane(w * h, w * 1000 + h);
    const out = resamplePlane(src, w, h, ow, oh);
    expect(mean(out) / mean(src)).toBeCloseTo(1, 4);
  });

  it('is the identity for equal sizes', () => {
    const src = randomPlane(64 * 48, 3);
    expect(Array.from(resamplePlane(src, 64, 48, 64, 48))).toEqual(Array.from(src));
  });

  it('averages k×k blocks on an integer shrink', () => {
    const W = 12, H = 8, k = 4;
    const src = randomPlane(W * H, 4);
    const out = resamplePlane(src, W, H, W / k, H / k);
    for (let y = 0; y < H / k; y++) for (let x = 0; x < W / k; x++) {
      let s = 0;
      for (let v = 0; v < k; v++) for (let u = 0; u < k; u++) s += src[(y * k + v) * W + x * k + u];
      expect(out[y * (W / k) + x]).toBeCloseTo(s / (k * k), 3);
    }
  });

  it('weights fractional overlaps (3 → 2: [a + b/2, b/2 + c] / 1.5)', () => {
    const out = resamplePlane(Float64Array.of(3, 6, 9), 3, 1, 2, 1);
    expect(out[0]).toBeCloseTo((3 + 6 / 2) / 1.5, 5);
    expect(out[1]).toBeCloseTo((6 / 2 + 9) / 1.5, 5);
  });

  it('repeats pixels on an integer upsample (nearest)', () => {
    const src = Float64Array.of(1, 2, 3, 4, 5, 6);
    const out = resamplePlane(src, 3, 2, 9, 4);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 9; x++) expect(out[y * 9 + x]).toBeCloseTo(src[Math.floor(y / 2) * 3 + Math.floor(x / 3)], 5);
  });

  it('scales, and writes at an offset without touching the rest', () => {
    const out = new Float32Array(4 + 4 + 2).fill(-1);
    resamplePlane(Float64Array.of(2, 4, 6, 8), 2, 2, 2, 2, 0.5, out, 4);
    expect(Array.from(out)).toEqual([-1, -1, -1, -1, 1, 2, 3, 4, -1, -1]);
  });
});

describe('resample: native equals the TypeScript twin', () => {
  it.each([
    // [width, height, outWidth, outHeight]: integer shrinks, HPA sizes, fractional, grow, 1×N, N×1
    [2048, 2048, 512, 512],
    [1728, 1728, 512, 512],
    [600, 400, 512, 300],
    [37, 23, 10, 7],
    [10, 7, 37, 23],
    [1, 97, 1, 13],
    [97, 1, 13, 1],
    [1, 1, 5, 3],
    [64, 48, 64, 48],
  ])('%ix%i → %ix%i in every dtype', async (w, h, ow, oh) => {
    if (!hasNative) return;
    const r = rng(w * 7919 + h * 31 + ow);
    for (const dtype of ['u8', 'u16', 'f32', 'f64'] as const) {
      const src = plane(dtype, w * h, r);
      const scale = dtype === 'u16' ? 1 / 65535 : dtype === 'u8' ? 1 / 255 : 1;
      const js = resamplePlane(src, w, h, ow, oh, scale);
      const nat = await resample(src, { width: w, height: h, outWidth: ow, outHeight: oh, scale, backend: 'native' });
      expect(bits(nat), dtype).toEqual(bits(js));
    }
  });

  it('on 200 random shapes, factors, threads and offsets', async () => {
    if (!hasNative) return;
    const r = rng(20261126);
    for (let t = 0; t < 200; t++) {
      const w = 1 + randInt(r, 90), h = 1 + randInt(r, 90), ow = 1 + randInt(r, 60), oh = 1 + randInt(r, 60);
      const dtype = (['u8', 'u16', 'f32', 'f64'] as const)[t % 4];
      const src = plane(dtype, w * h, r);
      const offset = randInt(r, 5), scale = r() * 3 - 1;
      const a = new Float32Array(offset + ow * oh + 3).fill(-7), b = a.slice();
      resamplePlane(src, w, h, ow, oh, scale, a, offset);
      await resample(src, { width: w, height: h, outWidth: ow, outHeight: oh, scale, out: b, offset, threads: 1 + randInt(r, 8), backend: 'native' });
      expect(bits(b), `case ${t}: ${dtype} ${w}x${h} → ${ow}x${oh}`).toEqual(bits(a));
    }
  });

  it.each(backends)('%s: the thread count never changes the bytes', async (backend) => {
    const src = plane('u16', 300 * 200, rng(5));
    const one = await resample(src, { width: 300, height: 200, outWidth: 128, outHeight: 77, threads: 1, backend });
    for (const threads of [2, 3, 16, 0]) {
      expect(bits(await resample(src, { width: 300, height: 200, outWidth: 128, outHeight: 77, threads, backend }))).toEqual(bits(one));
    }
  });

  it.each(backends)('%s: averages 2×2 blocks and writes only outWidth × outHeight at the offset', async (backend) => {
    const out = new Float32Array(2 + 2 + 1).fill(-1);
    await resample(Uint8Array.of(0, 2, 4, 6, 2, 4, 6, 8), { width: 4, height: 2, outWidth: 2, outHeight: 1, out, offset: 2, scale: 0.5, backend });
    expect(Array.from(out)).toEqual([-1, -1, 1, 3, -1]);
  });
});

describe('imageTensorAsync', () => {
  function imageSet(W: number, H: number, bitDepth: 8 | 16, seed: number): ImageSet {
    const r = rng(seed);
    const make = () => (bitDepth === 8 ? plane('u8', W * H, r) : plane('u16', W * H, r)) as Uint8Array | Uint16Array;
    return { id: 'x', width: W, height: H, bitDepth, channels: { red: make(), green: make(), blue: make(), yellow: make() }, files: { red: '', green: '', blue: '', yellow: '' } };
  }

  it.each([
    [512, 8, 128],
    [600, 16, 128],
    [1024, 16, 256],
    [100, 8, 128],
  ] as const)('%i² %i-bit → %i² equals imageTensor on every backend', async (S, bitDepth, size) => {
    const img = imageSet(S, S, bitDepth, S + bitDepth);
    const expected = bits(imageTensor(img, size));
    for (const backend of backends) expect(bits(await imageTensorAsync(img, size, { backend })), backend).toEqual(expected);
  });

  it('rejects a size out of range, naming it', async () => {
    const e = await rejection(imageTensorAsync(imageSet(32, 32, 8, 1), 8));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe('Expected an integer in [16, 8192] for size but received number 8');
  });
});

describe('resample: bad input', () => {
  const base = { width: 4, height: 2, outWidth: 2, outHeight: 1 };
  const src = new Uint8Array(8);
  it.each([
    ['a JS array', [1, 2], base, TypeError, 'Expected Uint8Array or Uint16Array or Float32Array or Float64Array for src but received Array of length 2'],
    ['Int32Array', new Int32Array(8), base, TypeError, 'Expected Uint8Array or Uint16Array or Float32Array or Float64Array for src but received Int32Array of length 8'],
    ['a short src', new Uint8Array(7), base, RangeError, 'Expected Uint8Array or Uint16Array or Float32Array or Float64Array of length width*height = 8 for src but received Uint8Array of length 7'],
    ['width 0', src, { ...base, width: 0 }, RangeError, 'Expected an integer in [1, 65536] for options.width but received number 0'],
    ['outHeight 1.5', src, { ...base, outHeight: 1.5 }, TypeError, 'Expected an integer for options.outHeight but received number 1.5'],
    ['outWidth 0', src, { ...base, outWidth: 0 }, RangeError, 'Expected an integer in [1, 65536] for options.outWidth but received number 0'],
    ['an output over 2^30 pixels', src, { ...base, outWidth: 65536, outHeight: 16385 }, RangeError, 'Expected at most 2^30 pixels for options.outWidth*outHeight but received number 1073807360'],
    ['scale NaN', src, { ...base, scale: NaN }, RangeError, 'Expected a finite number for options.scale but received number NaN'],
    ['scale string', src, { ...base, scale: '2' }, TypeError, "Expected a finite number for options.scale but received string '2'"],
    ['offset without out', src, { ...base, offset: 1 }, RangeError, 'Expected 0 when options.out is not given for options.offset but received number 1'],
    ['out Float64Array', src, { ...base, out: new Float64Array(2) }, TypeError, 'Expected Float32Array for options.out but received Float64Array of length 2'],
    ['out too short for the offset', src, { ...base, out: new Float32Array(3), offset: 2 }, RangeError, 'Expected Float32Array of length >= offset + outWidth*outHeight = 4 for options.out but received Float32Array of length 3'],
    ['threads -1', src, { ...base, threads: -1 }, RangeError, 'Expected an integer in [0, 1024] for options.threads but received number -1'],
    ['backend gpu', src, { ...base, backend: 'gpu' }, RangeError, "Expected 'auto', 'native' or 'js' for options.backend but received string 'gpu'"],
  ])('%s', async (_name, s, options, ctor, message) => {
    const e = await rejection(resample(s as ResampleSource, options as never));
    expect(e).toBeInstanceOf(ctor);
    expect(e.message).toBe(message);
  });

  it('rejects an out that shares memory with src', async () => {
    const buf = new ArrayBuffer(64);
    const e = await rejection(resample(new Float32Array(buf, 0, 8), { ...base, out: new Float32Array(buf, 16, 4) }));
    expect(e.message).toMatch(/^Expected an array that does not share memory with src for options.out/);
    expect((e as { code?: string }).code).toBe('CELLCAM_E_ARG');
  });

  it.skipIf(!hasNative)('the addon guards its arguments itself, naming them', async () => {
    const native = nativeOrNull()!;
    const cases: [unknown[], string][] = [
      [[new Int8Array(8), new Float32Array(2), base], 'Expected Uint8Array or Uint16Array or Float32Array or Float64Array for src but received Int8Array of length 8'],
      [[src, new Float64Array(2), base], 'Expected Float32Array for out but received Float64Array of length 2'],
      [[src, new Float32Array(2), null], 'Expected an object for options but received null'],
      [[src, new Float32Array(2), { ...base, outWidth: 70000 }], 'Expected an integer in [1, 65536] for options.outWidth but received number 70000'],
      [[new Uint8Array(9), new Float32Array(2), base], 'Expected Uint8Array of length width*height = 8 for src but received Uint8Array of length 9'],
      [[src, new Float32Array(2), { ...base, offset: 1 }], 'Expected Float32Array of length >= offset + outWidth*outHeight = 3 for out but received Float32Array of length 2'],
      [[src, new Float32Array(2), { ...base, scale: Infinity }], 'Expected a finite number for options.scale but received number Infinity'],
    ];
    for (const [args, message] of cases) {
      const call = native.resample as unknown as (...a: unknown[]) => Promise<void>;
      const e = await rejection(() => call(...args));
      expect(e.message).toBe(message);
      expect(e.code).toMatch(/^CELLCAM_E_/);
    }
    const shared = new Float32Array(16);
    const e = await rejection(() => native.resample(shared.subarray(0, 8), shared.subarray(6, 8), base));
    expect(e.message).toMatch(/^Expected out not to share memory with src/);
  });
});
