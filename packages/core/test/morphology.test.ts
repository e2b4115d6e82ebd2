// Tests of the HPA post-processing primitives: hand cases, native/TS parity across threads and
// dtypes, scikit-image/scipy oracles, otsu edge cases, and argument errors (core and addon).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  binaryErosion, binaryFillHoles, diskHalfWidths, findBoundaries, greyMorphology, otsu, otsuJs, removeSmallHoles,
  removeSmallObjects, roundHalfEven, threshold, type GreyOp, type LabelArray,
} from '../src/segment/morphology.js';
import { nativeOrNull } from '../src/native.js';
import { hasNative, randInt, rng, skimagePython } from './helpers.js';

const backends = hasNative ? (['js', 'native'] as const) : (['js'] as const);
type Backend = (typeof backends)[number];

/** Parses a picture: one row per line, '.' = 0, digits/letters = values (a=10 ...). */
function pic(s: string): { data: Uint8Array; width: number; height: number } {
  const rows = s.trim().split('\n').map((r) => r.trim());
  const width = rows[0].length, height = rows.length;
  const data = new Uint8Array(width * height);
  rows.forEach((r, y) => [...r].forEach((ch, x) => (data[y * width + x] = ch === '.' ? 0 : parseInt(ch, 36))));
  return { data, width, height };
}
/** Fast exact equality of two typed arrays (vitest's deep equality is slow on large arrays). */
function sameArray(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.constructor === b.constructor && a.byteLength === b.byteLength &&
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
const show = (a: ArrayLike<number>, w: number): string =>
  Array.from({ length: a.length / w }, (_, y) => Array.from({ length: w }, (_, x) => (a[y * w + x] ? a[y * w + x].toString(36) : '.')).join('')).join('\n');

/** Blobby random image: values 1..levels in smoothed patches, else 0. */
function blobs(seed: number, w: number, h: number, density: number, levels: number): Uint8Array {
  const r = rng(seed);
  const a = new Uint8Array(w * h);
  for (let k = 0; k < Math.max(1, Math.round((w * h * density) / 12)); k++) {
    const cx = randInt(r, w), cy = randInt(r, h), rad = 1 + randInt(r, 4), v = 1 + randInt(r, levels);
    for (let y = Math.max(0, cy - rad); y < Math.min(h, cy + rad + 1); y++) {
      for (let x = Math.max(0, cx - rad); x < Math.min(w, cx + rad + 1); x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= rad * rad) a[y * w + x] = v;
    }
  }
  return a;
}

describe('morphology: helpers', () => {
  it('roundHalfEven is numpy round', () => {
    expect([0.5, 1.5, 2.5, 3.49, 343.75, 62.5, 31.25, 1.4999].map(roundHalfEven)).toEqual([0, 2, 2, 3, 344, 62, 31, 1]);
  });
  it('diskHalfWidths matches skimage.morphology.disk rows', () => {
    expect(Array.from(diskHalfWidths(0))).toEqual([0]);
    expect(Array.from(diskHalfWidths(1))).toEqual([0, 1, 0]);
    expect(Array.from(diskHalfWidths(2))).toEqual([0, 1, 2, 1, 0]);
    expect(Array.from(diskHalfWidths(6))).toEqual([0, 3, 4, 5, 5, 5, 6, 5, 5, 5, 4, 3, 0]);
  });
});

describe('morphology: hand cases', () => {
  for (const backend of backends) {
    it(`${backend}: threshold compares value / divisor in float64 (102/255 == 0.4)`, async () => {
      const pred = new Uint8Array([0, 10, 103, 0, 20, 102, 0, 30, 255]);
      const m = await threshold(pred, 0.4, { width: 3, height: 1, channels: 3, channel: 2, divisor: 255, backend });
      expect(Array.from(m)).toEqual([1, 0, 1]);
      const f = await threshold(new Float32Array([0.5, 0.25, 0.75]), 0.25, { width: 3, height: 1, backend });
      expect(Array.from(f)).toEqual([1, 0, 1]);
      const d = await threshold(new Float64Array([0.15000000000000002, 0.15]), 0.15, { width: 2, height: 1, backend });
      expect(Array.from(d)).toEqual([1, 0]);
    });
    it(`${backend}: removeSmallObjects, binary (4-conn by default) and label images`, async () => {
      const p = pic('11.1\n1..1\n..1.\n1...');
      const four = await removeSmallObjects(p.data, 2, { width: 4, height: 4, backend });
      expect(show(four, 4)).toBe(show(pic('11.1\n1..1\n....\n....').data, 4));
      const eight = await removeSmallObjects(p.data, 3, { width: 4, height: 4, connectivity: 8, backend });
      expect(show(eight, 4)).toBe(show(pic('11.1\n1..1\n..1.\n....').data, 4));
      const ids = new Int32Array([3, 0, 3, 5, 7, 7, 7, 0]);
      const kept = await removeSmallObjects(ids, 2, { width: 4, height: 2, backend });
      expect(Array.from(kept)).toEqual([3, 0, 3, 0, 7, 7, 7, 0]);
      const u16 = await removeSmallObjects(new Uint16Array([9, 9, 0, 9]), 3, { width: 4, height: 1, backend });
      expect(Array.from(u16)).toEqual([9, 9, 0, 9]);
      const asLabels = await removeSmallObjects(new Uint8Array([2, 0, 2, 1]), 2, { width: 4, height: 1, mode: 'label', backend });
      expect(Array.from(asLabels)).toEqual([2, 0, 2, 0]);
    });
    it(`${backend}: removeSmallHoles fills border-touching holes too`, async () => {
      const p = pic('.111\n1.11\n1111\n11..');
      const f = await removeSmallHoles(p.data, 2, { width: 4, height: 4, backend });
      expect(show(f, 4)).toBe(show(pic('1111\n1111\n1111\n11..').data, 4));
      const none = await removeSmallHoles(p.data, 0, { width: 4, height: 4, backend });
      expect(show(none, 4)).toBe(show(p.data, 4));
    });
    it(`${backend}: binaryErosion, cross and square, outside = borderValue`, async () => {
      const p = pic('111\n111\n.11');
      expect(show(await binaryErosion(p.data, { width: 3, height: 3, backend }), 3)).toBe(show(pic('111\n.11\n..1').data, 3));
      expect(show(await binaryErosion(p.data, { width: 3, height: 3, connectivity: 8, backend }), 3)).toBe(show(pic('111\n..1\n..1').data, 3));
      expect(show(await binaryErosion(p.data, { width: 3, height: 3, borderValue: false, backend }), 3)).toBe(show(pic('...\n.1.\n...').data, 3));
    });
    it(`${backend}: binaryFillHoles fills only holes off the border`, async () => {
      const p = pic('1111.\n1..1.\n1111.\n.....');
      expect(show(await binaryFillHoles(p.data, { width: 5, height: 4, backend }), 5)).toBe(show(pic('1111.\n1111.\n1111.\n.....').data, 5));
    });
    it(`${backend}: findBoundaries is thick with 4-connectivity`, async () => {
      const p = pic('1122\n1122\n..22');
      expect(show(await findBoundaries(p.data, { width: 4, height: 3, backend }), 4)).toBe(show(pic('.11.\n111.\n111.').data, 4));
      expect(Array.from(await findBoundaries(new Int32Array([-5, -5, 7]), { width: 3, height: 1, backend }))).toEqual([0, 1, 1]);
    });
    it(`${backend}: grey dilation/erosion/closing with disk(1) (the cross) and disk(0)`, async () => {
      const p = pic('.....\n.....\n..5..\n.....\n.....');
      const d = await greyMorphology(p.data, 'dilation', 1, { width: 5, height: 5, backend });
      expect(show(d, 5)).toBe(show(pic('.....\n..5..\n.555.\n..5..\n.....').data, 5));
      expect(show(await greyMorphology(d, 'erosion', 1, { width: 5, height: 5, backend }), 5)).toBe(show(p.data, 5));
      expect(show(await greyMorphology(p.data, 'closing', 0, { width: 5, height: 5, backend }), 5)).toBe(show(p.data, 5));
      // Closing fills a one-pixel gap between two equal labels, and the border does not erode.
      const g = pic('33.33\n33.33');
      expect(show(await greyMorphology(g.data, 'closing', 1, { width: 5, height: 2, backend }), 5)).toBe(show(pic('33333\n33333').data, 5));
    });
    it(`${backend}: otsu (skimage 0.19 values)`, async () => {
      // Constant image: its value; two values: the first bin centre after the low one.
      expect(await otsu(new Uint8Array([7, 7, 7]), { divisor: 255, backend })).toBe(7 / 255);
      expect(await otsu(new Float64Array([0, 1]), { backend })).toBe(0.001953125);
      expect(await otsu(new Uint8Array([10, 10, 200, 200, 201]), { backend })).toBe(otsuJs(new Float64Array([10, 10, 200, 200, 201])));
    });
  }
});

// Every primitive on random blobby images: the addon and the twin agree for any thread count.
describe.skipIf(!hasNative)('morphology: native equals the TypeScript twin', () => {
  const shapes: [number, number][] = [[1, 37], [37, 1], [64, 48], [257, 130]];
  it('on random images, several thread counts', async () => {
    let seed = 100;
    for (const [w, h] of shapes) {
      for (const density of [0.2, 0.6]) {
        const m = blobs(seed++, w, h, density, 1);
        const lab = blobs(seed++, w, h, density, 250);
        const l16 = Uint16Array.from(lab, (v) => (v ? v * 257 : 0));
        const l32 = Int32Array.from(lab, (v) => (v ? v * 100000 : 0));
        for (const threads of [1, 3]) {
          const o = { width: w, height: h, threads };
          const both = async <T>(f: (backend: Backend) => Promise<T>): Promise<void> => {
            const a = await f('native'), b = await f('js');
            if (typeof a === 'number') expect(a).toBe(b);
            else expect(sameArray(a as ArrayBufferView, b as ArrayBufferView), String(f)).toBe(true);
          };
          await both((backend) => threshold(lab, 100, { ...o, divisor: 1.5, backend }));
          for (const input of [m, lab, l16, l32] as LabelArray[]) {
            await both((backend) => removeSmallObjects(input, 7, { ...o, backend }));
            await both((backend) => removeSmallObjects(input, 7, { ...o, backend, mode: 'binary', connectivity: 8 }));
            await both((backend) => findBoundaries(input, { ...o, backend }));
            for (const op of ['dilation', 'erosion', 'closing', 'opening'] as GreyOp[]) {
              for (const radius of [0, 1, 2, 6]) await both((backend) => greyMorphology(input, op, radius, { ...o, backend }));
            }
          }
          await both((backend) => removeSmallHoles(m, 9, { ...o, backend }));
          await both((backend) => binaryErosion(m, { ...o, backend, connectivity: 8 }));
          await both((backend) => binaryFillHoles(m, { ...o, backend }));
          await both((backend) => otsu(lab, { divisor: 255, backend }));
          await both((backend) => otsu(l16, { backend }));
          await both((backend) => otsu(Float64Array.from(lab, (v, i) => v / 7 + i * 1e-9), { backend }));
        }
      }
    }
  });
  it('grey morphology of a large uint8 image is identical for 1 and 2 threads', async () => {
    const w = 700, h = 600;
    const lab = blobs(7, w, h, 0.9, 200);
    const a = await greyMorphology(lab, 'closing', 6, { width: w, height: h, threads: 1, backend: 'native' });
    const b = await greyMorphology(lab, 'closing', 6, { width: w, height: h, threads: 2, backend: 'native' });
    const c = await greyMorphology(lab, 'closing', 6, { width: w, height: h, backend: 'js' });
    expect(sameArray(a, b)).toBe(true);
    expect(sameArray(a, c)).toBe(true);
  });
});

describe.skipIf(!skimagePython)('morphology: scikit-image 0.19 / scipy oracles', { timeout: 60_000 }, () => {
  it('every primitive on random images', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cellcam-morph-'));
    try {
      interface Case { file: string; w: number; h: number; dtype: string; op: string; arg: number; input: Uint8Array | Float64Array }
      const cases: Case[] = [];
      let seed = 500;
      const add = (op: string, arg: number, input: Uint8Array | Float64Array, w: number, h: number): void => {
        const file = join(dir, `c${cases.length}.raw`);
        writeFileSync(file, Buffer.from(input.buffer, input.byteOffset, input.byteLength));
        cases.push({ file, w, h, dtype: input instanceof Float64Array ? 'float64' : 'uint8', op, arg, input });
      };
      for (const [w, h] of [[1, 40], [40, 1], [53, 47], [160, 120]] as [number, number][]) {
        for (const density of [0.25, 0.7]) {
          const m = blobs(seed++, w, h, density, 1), lab = blobs(seed++, w, h, density, 250);
          add('rso', 6, m, w, h);
          add('rso_label', 6, lab, w, h);
          add('holes', 8, m, w, h);
          add('erosion', 0, m, w, h);
          add('fill', 0, m, w, h);
          add('bound', 0, lab, w, h);
          for (const r of [1, 2, 6]) {
            add('dilation', r, lab, w, h);
            add('erosion_grey', r, lab, w, h);
            add('closing', r, lab, w, h);
          }
          const noisy = Uint8Array.from(lab, (v) => (v + randInt(rng(seed), 3)) & 255);
          add('otsu255', 0, noisy, w, h);
          add('otsu_f64', 0, Float64Array.from(noisy, (v, i) => Math.sin(v + i) * 3), w, h);
        }
      }
      // Values on (or one rounding away from) numpy's bin edges, and a full uint8 range.
      const onEdges = Float64Array.from({ length: 257 }, (_, k) => 0.1 + (k * 0.6) / 256);
      add('otsu_f64', 0, onEdges, 257, 1);
      add('otsu_f64', 0, new Float64Array([0, 0.25, 0.5, 0.75, 1, 1, 0.25]), 7, 1);
      add('otsu255', 0, Uint8Array.from({ length: 4096 }, (_, i) => (i * 37 + (i >> 5)) & 255), 64, 64);
      const script = `
import json, sys, numpy as np
from scipy import ndimage as ndi
from skimage import morphology as mo, segmentation, filters
cases = json.loads(open(sys.argv[1]).read())
for c in cases:
    a = np.fromfile(c['file'], dtype=c['dtype']).reshape(c['h'], c['w'])
    op, arg = c['op'], c['arg']
    if op == 'rso': out = mo.remove_small_objects(a != 0, arg)
    elif op == 'rso_label': out = mo.remove_small_objects(a, arg)
    elif op == 'holes': out = mo.remove_small_holes(a != 0, arg)
    elif op == 'erosion': out = mo.binary_erosion(a != 0)
    elif op == 'fill': out = ndi.binary_fill_holes(a != 0)
    elif op == 'bound': out = segmentation.find_boundaries(a)
    elif op == 'dilation': out = mo.dilation(a, mo.disk(arg))
    elif op == 'erosion_grey': out = mo.erosion(a, mo.disk(arg))
    elif op == 'closing': out = mo.closing(a, mo.disk(arg))
    elif op == 'otsu255': out = np.array([filters.threshold_otsu(a / 255)])
    elif op == 'otsu_f64': out = np.array([filters.threshold_otsu(a)])
    out.astype('<f8' if op.startswith('otsu') else np.uint8).tofile(c['file'] + '.out')
print('ok')
`;
      const manifest = join(dir, 'cases.json');
      writeFileSync(manifest, JSON.stringify(cases.map(({ input: _i, ...c }) => c)));
      const r = spawnSync(skimagePython!, ['-c', script, manifest], { encoding: 'utf8' });
      expect(r.stdout.trim(), r.stderr).toBe('ok');
      for (const backend of backends) {
        for (const c of cases) {
          const b = readFileSync(c.file + '.out');
          const o = { width: c.w, height: c.h, backend };
          const inp = c.input as Uint8Array;
          const tag = `${backend} ${c.op}(${c.arg}) ${c.w}x${c.h}`;
          if (c.op.startsWith('otsu')) {
            const expected = new Float64Array(b.buffer, b.byteOffset, 1)[0];
            const got = c.op === 'otsu255' ? await otsu(inp, { divisor: 255, backend }) : await otsu(c.input as Float64Array, { backend });
            expect(got, tag).toBe(expected);
            continue;
          }
          const expected = new Uint8Array(b);
          let got: LabelArray;
          switch (c.op) {
            case 'rso': got = await removeSmallObjects(inp, c.arg, o); break;
            case 'rso_label': got = await removeSmallObjects(inp, c.arg, { ...o, mode: 'label' }); break;
            case 'holes': got = await removeSmallHoles(inp, c.arg, o); break;
            case 'erosion': got = await binaryErosion(inp, o); break;
            case 'fill': got = await binaryFillHoles(inp, o); break;
            case 'bound': got = await findBoundaries(inp, o); break;
            case 'dilation': got = await greyMorphology(inp, 'dilation', c.arg, o); break;
            case 'erosion_grey': got = await greyMorphology(inp, 'erosion', c.arg, o); break;
            default: got = await greyMorphology(inp, 'closing', c.arg, o); break;
          }
          expect(sameArray(got, expected), tag).toBe(true);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('morphology: argument errors', () => {
  const o = { width: 2, height: 2 };
  it.each(backends)('%s: core validation', async (backend) => {
    await expect(threshold(new Int32Array(4) as never, 1, { ...o, backend })).rejects.toMatchObject({ name: 'TypeError', code: 'CELLCAM_E_DTYPE', message: 'Expected Uint8Array or Uint16Array or Float32Array or Float64Array for image but received Int32Array of length 4' });
    await expect(threshold(new Uint8Array(5), 1, { ...o, backend })).rejects.toMatchObject({ code: 'CELLCAM_E_SHAPE' });
    await expect(threshold(new Uint8Array(4), 1, { ...o, divisor: 0, backend })).rejects.toMatchObject({ code: 'CELLCAM_E_RANGE' });
    await expect(removeSmallObjects(new Uint8Array(4), -1, { ...o, backend })).rejects.toMatchObject({ code: 'CELLCAM_E_RANGE', message: 'Expected an integer in [0, 2147483647] for minSize but received number -1' });
    await expect(removeSmallObjects(new Int32Array([0, 1, -2, 0]), 1, { ...o, backend })).rejects.toMatchObject({ name: 'RangeError', code: 'CELLCAM_E_RANGE', message: 'Expected a value >= 0 for input[2] but received number -2' });
    await expect(removeSmallObjects(new Uint8Array(4), 1, { ...o, mode: 'x' as never, backend })).rejects.toMatchObject({ code: 'CELLCAM_E_ARG' });
    await expect(greyMorphology(new Uint8Array(4), 'close' as never, 1, { ...o, backend })).rejects.toMatchObject({ code: 'CELLCAM_E_ARG' });
    const buf = new Uint8Array(4);
    await expect(greyMorphology(buf, 'dilation', 1, { ...o, out: buf, backend })).rejects.toMatchObject({ code: 'CELLCAM_E_ARG' });
    await expect(binaryErosion(new Uint16Array(4) as never, { ...o, backend })).rejects.toMatchObject({ code: 'CELLCAM_E_DTYPE' });
    await expect(binaryErosion(buf, { ...o, borderValue: 1 as never, backend })).rejects.toMatchObject({ code: 'CELLCAM_E_DTYPE' });
    await expect(otsu(new Float64Array([1, NaN]), { backend })).rejects.toMatchObject({ code: 'CELLCAM_E_RANGE', message: 'Expected a finite value for image[1] but received number NaN' });
    await expect(otsu(new Float32Array(3) as never, { backend })).rejects.toMatchObject({ code: 'CELLCAM_E_DTYPE' });
    // In-place use where documented.
    const m = new Uint8Array([1, 0, 1, 1]);
    expect(await removeSmallHoles(m, 2, { ...o, out: m, backend })).toBe(m);
    expect(Array.from(m)).toEqual([1, 1, 1, 1]);
  });
  it.skipIf(!hasNative)('addon guards name the argument', async () => {
    const native = nativeOrNull()!;
    expect(() => native.morphology('nope' as never, new Uint8Array(4), new Uint8Array(4), o)).toThrow(/for op but received string 'nope'/);
    expect(() => native.morphology('grey', new Float32Array(4) as never, new Uint8Array(4), { ...o, radius: 1, op: 'dilation' })).toThrow(
      'Expected Uint8Array or Uint16Array or Int32Array for input but received Float32Array of length 4');
    expect(() => native.morphology('grey', new Uint8Array(4), new Uint16Array(4), { ...o, radius: 1, op: 'dilation' })).toThrow(
      'Expected Uint8Array for out but received Uint16Array of length 4');
    expect(() => native.morphology('grey', new Uint8Array(4), new Uint8Array(4), { ...o, radius: -1, op: 'dilation' })).toThrow(/options.radius/);
    expect(() => native.morphology('threshold', new Uint8Array(3), new Uint8Array(4), { ...o, value: 1 })).toThrow(/for input but received Uint8Array of length 3/);
    expect(() => native.morphology('otsu', new Uint8Array(3), new Uint8Array(3), { width: 3, height: 1 })).toThrow('Expected null for out but received Uint8Array of length 3');
    await expect(native.morphology('removeSmallObjects', new Int32Array([0, -1, 0, 0]), new Int32Array(4), { ...o, minSize: 1 })).rejects.toMatchObject({
      code: 'CELLCAM_E_RANGE', message: 'Expected a value >= 0 for input[1] but received number -1' });
  });
});
