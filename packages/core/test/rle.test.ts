// Tests of COCO RLE: pycocotools vectors of a real HPA cell mask, worked examples, round trips,
// native/TS and CUDA/CPU (on a GPU) parity on random label images, device selection, and errors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { cellRle, cellRleJs, rleArea, rleCounts, rleFromString, rleToString, MAX_RLE_CELLS } from '../src/kernels/rle.js';
import { CellcamError } from '../src/errors.js';
import { capabilities, nativeOrNull } from '../src/native.js';
import { hasCuda, hasNative, hasShared, randInt, rejection, rng, sharedDir } from './helpers.js';

const backends = hasNative ? (['js', 'native'] as const) : (['js'] as const);

/** Test-only decoder for 16-bit greyscale, non-interlaced PNGs (sharp is not a dependency yet). */
function decodePng16(file: string): { width: number; height: number; data: Uint16Array } {
  const b = readFileSync(file);
  expect(b.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  let p = 8, width = 0, height = 0;
  const idat: Buffer[] = [];
  while (p < b.length) {
    const len = b.readUInt32BE(p), type = b.toString('latin1', p + 4, p + 8), body = b.subarray(p + 8, p + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      // bit depth 16, colour type 0 (grey), compression 0, filter 0, interlace 0
      expect([...body.subarray(8, 13)]).toEqual([16, 0, 0, 0, 0]);
    } else if (type === 'IDAT') {
      idat.push(body);
    }
    p += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const bpp = 2, stride = width * bpp;
  expect(raw.length).toBe(height * (stride + 1));
  const cur = Buffer.alloc(stride), prev = Buffer.alloc(stride);
  const data = new Uint16Array(width * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? cur[i - bpp] : 0, up = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
      let pred = 0;
      if (filter === 1) pred = a;
      else if (filter === 2) pred = up;
      else if (filter === 3) pred = (a + up) >> 1;
      else if (filter === 4) {
        const pa = Math.abs(up - c), pb = Math.abs(a - c), pc = Math.abs(a + up - 2 * c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? up : c;
      } else if (filter !== 0) throw new Error(`bad PNG filter ${filter}`);
      cur[i] = (line[i] + pred) & 0xff;
    }
    for (let x = 0; x < width; x++) data[y * width + x] = cur.readUInt16BE(x * 2);
    cur.copy(prev);
  }
  return { width, height, data };
}

/** Independent reference: per id, the binary mask's counts (rleCounts) through rleToString. */
function referenceStrings(labels: ArrayLike<number>, width: number, height: number, cells: number): string[] {
  const out: string[] = [];
  const mask = new Uint8Array(width * height);
  for (let id = 1; id <= cells; id++) {
    for (let i = 0; i < mask.length; i++) mask[i] = labels[i] === id ? 1 : 0;
    out.push(rleToString(rleCounts(mask, width, height)));
  }
  return out;
}

describe('rle: counts and strings', { timeout: 60_000 }, () => {
  it.each([
    [[4194304], 'PPPP4'],
    [[2985984], 'PPTk2'],
    [[9437184], 'PPPP9'],
    [[589824], 'PPPb0'],
    [[262144], 'PPP8'],
    [[2, 2], '22'],
    [[1, 1, 2], '112'],
    [[0, 4], '04'],
    [[], ''],
  ])('rleToString(%j) = %s and back', (counts, s) => {
    expect(rleToString(counts)).toBe(s);
    expect(rleFromString(s)).toEqual(counts);
  });

  it.each([
    { name: 'empty', mask: [0, 0, 0, 0, 0, 0], w: 3, h: 2, counts: [6] },
    { name: 'full', mask: [1, 1, 1, 1, 1, 1], w: 3, h: 2, counts: [0, 6] },
    { name: 'first pixel set', mask: [1, 0, 0, 0, 0, 0], w: 3, h: 2, counts: [0, 1, 5] },
    { name: 'last pixel set', mask: [0, 0, 0, 0, 0, 1], w: 3, h: 2, counts: [5, 1] },
    // column-major: x=0 -> (0,0),(0,1); x=1 -> (1,0),(1,1); ...
    { name: 'column-major order', mask: [0, 1, 0, 0, 1, 0], w: 3, h: 2, counts: [2, 2, 2] },
    { name: 'run continues across columns', mask: [0, 0, 1, 0, 1, 0], w: 3, h: 2, counts: [3, 2, 1] },
    { name: 'booleans', mask: [true, false, false, true], w: 2, h: 2, counts: [0, 1, 2, 1] },
    { name: '1×N', mask: [1, 1, 0, 1], w: 4, h: 1, counts: [0, 2, 1, 1] },
    { name: 'N×1', mask: [0, 1, 1, 0], w: 1, h: 4, counts: [1, 2, 1] },
  ])('rleCounts: $name', ({ mask, w, h, counts }) => {
    const c = rleCounts(mask as ArrayLike<number>, w, h);
    expect(c).toEqual(counts);
    expect(c.reduce((a, b) => a + b, 0)).toBe(w * h);
    expect(rleArea(c)).toBe(mask.filter(Boolean).length);
  });

  it('round-trips random counts, including large values and negative deltas', () => {
    const r = rng(11);
    for (let t = 0; t < 2000; t++) {
      const m = randInt(r, 40);
      const counts: number[] = [];
      for (let i = 0; i < m; i++) {
        const k = randInt(r, 4);
        counts.push(k === 0 ? randInt(r, 3) : k === 1 ? randInt(r, 100) : k === 2 ? randInt(r, 2 ** 24) : randInt(r, 2 ** 32));
      }
      const s = rleToString(counts);
      expect(s).toMatch(/^[0-o]*$/);
      expect(rleFromString(s)).toEqual(counts);
    }
  });

  it.each([
    { name: 'character below 0', s: 'PP/P4' },
    { name: 'character above o', s: 'PPpP4' },
    { name: 'space', s: 'PP P4' },
    { name: 'truncated continuation', s: 'PPPP' },
    { name: 'lone continuation char', s: 'P' },
    { name: 'negative count', s: '4O' },
    { name: 'absurdly long count', s: 'PPPPPPPPPPPP4' },
  ])('rleFromString rejects $name with CELLCAM_E_FORMAT', ({ s }) => {
    let err: unknown;
    try {
      rleFromString(s);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CellcamError);
    expect(err).toMatchObject({ code: 'CELLCAM_E_FORMAT' });
  });

  it('helpers reject bad arguments', () => {
    expect(() => rleToString([1, -1])).toThrow(expect.objectContaining({ code: 'CELLCAM_E_RANGE', message: expect.stringContaining('for counts[1]') }));
    expect(() => rleToString([1.5])).toThrow(RangeError);
    expect(() => rleToString(5 as unknown as number[])).toThrow(expect.objectContaining({ code: 'CELLCAM_E_DTYPE' }));
    expect(() => rleFromString(5 as unknown as string)).toThrow(TypeError);
    expect(() => rleCounts([1, 0, 1], 2, 2)).toThrow(expect.objectContaining({ code: 'CELLCAM_E_SHAPE', message: expect.stringContaining('for mask') }));
    expect(() => rleCounts([1], 0, 1)).toThrow(expect.objectContaining({ message: expect.stringContaining('rleCounts.width') }));
  });
});

describe.skipIf(!hasShared)('rle: pycocotools vectors of 1000_A12_2_cellmask.png', { timeout: 60_000 }, () => {
  const dir = join(sharedDir, 'data', 'hpa-samples');
  type Vectors = {
    image: { height: number; width: number; num_cells: number };
    empty_mask_encoded_by_square_size: Record<string, string>;
    cells: { cell_id: number; area: number; num_counts: number; counts_head: number[]; coco_counts_string: string }[];
  };
  const vectors = (): Vectors => JSON.parse(readFileSync(join(dir, 'rle_test_vectors.json'), 'utf8')) as Vectors;

  it('empty-mask strings match the inflated Kaggle constants', () => {
    const v = vectors();
    expect(Object.keys(v.empty_mask_encoded_by_square_size).length).toBe(5);
    for (const [size, enc] of Object.entries(v.empty_mask_encoded_by_square_size)) {
      const s = inflateSync(Buffer.from(enc, 'base64')).toString('latin1');
      expect(rleToString([Number(size) ** 2])).toBe(s);
      expect(rleToString(rleCounts(new Uint8Array(Number(size) ** 2), Number(size), Number(size)))).toBe(s);
    }
  });

  it('every cell string matches byte for byte, from both backends and dtypes', async () => {
    const v = vectors();
    const png = decodePng16(join(dir, '1000_A12_2_cellmask.png'));
    expect([png.width, png.height]).toEqual([v.image.width, v.image.height]);
    const int32 = Int32Array.from(png.data);
    const emptyString = inflateSync(Buffer.from(v.empty_mask_encoded_by_square_size['2048'], 'base64')).toString('latin1');
    const runs: string[][] = [];
    for (const backend of backends) {
      for (const labels of [png.data, int32]) {
        // two extra ids are absent from the image and get the empty mask
        const strings = await cellRle(labels, { width: png.width, height: png.height, cells: v.image.num_cells + 2, backend });
        expect(strings.length).toBe(v.image.num_cells + 2);
        for (const c of v.cells) {
          const s = strings[c.cell_id - 1];
          expect(s, `cell ${c.cell_id}`).toBe(c.coco_counts_string);
          const counts = rleFromString(s);
          expect(counts.length).toBe(c.num_counts);
          expect(counts.slice(0, c.counts_head.length)).toEqual(c.counts_head);
          expect(rleArea(counts)).toBe(c.area);
        }
        expect(strings.slice(v.image.num_cells)).toEqual([emptyString, emptyString]);
        runs.push(strings);
      }
    }
    // default cells = largest id
    expect((await cellRle(png.data, { width: png.width, height: png.height })).length).toBe(v.image.num_cells);
    for (const r of runs) expect(r).toEqual(runs[0]);
  });
});

/** A random label image of irregular blobs plus scattered pixels; ids 1..cells, some left absent. */
function randomLabels(seed: number, w: number, h: number, cells: number, ctor: Uint16ArrayConstructor | Int32ArrayConstructor): Uint16Array | Int32Array {
  const r = rng(seed);
  const a = new ctor(w * h);
  const k = 1 + randInt(r, 6);
  const cx = Array.from({ length: k }, () => r() * w), cy = Array.from({ length: k }, () => r() * h);
  const ids = Array.from({ length: k }, () => 1 + randInt(r, cells));
  const noise = r() * 0.3;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let best = 0, bd = Infinity;
      for (let q = 0; q < k; q++) {
        const d = (x - cx[q]) ** 2 + (y - cy[q]) ** 2;
        if (d < bd) { bd = d; best = q; }
      }
      let v = Math.sin(x * 0.3 + best) + Math.cos(y * 0.2) > -0.6 ? ids[best] : 0;
      if (r() < noise) v = randInt(r, cells + 1);
      a[y * w + x] = v;
    }
  }
  return a;
}

interface SpecialCase {
  name: string;
  labels: Uint16Array | Int32Array;
  cells: number;
}

function filled(w: number, h: number, ctor: Uint16ArrayConstructor | Int32ArrayConstructor, fn: (i: number) => number): Uint16Array | Int32Array {
  const a = new ctor(w * h);
  for (let i = 0; i < a.length; i++) a[i] = fn(i);
  return a;
}

/** Hand-made label images that stress the run scan: one cell everywhere, none, a frame, stripes. */
function specialCases(w: number, h: number, ctor: Uint16ArrayConstructor | Int32ArrayConstructor): SpecialCase[] {
  return [
    { name: 'whole image one cell', labels: new ctor(w * h).fill(3), cells: 4 },
    { name: 'empty image', labels: new ctor(w * h), cells: 2 },
    { name: 'cell touching all borders (frame)', labels: filled(w, h, ctor, (i) => (i % w === 0 || i % w === w - 1 || i < w || i >= w * (h - 1) ? 1 : 2)), cells: 2 },
    { name: 'vertical stripes continue across columns', labels: filled(w, h, ctor, (i) => 1 + (((i % w) >> 1) % 2)), cells: 3 },
  ];
}

describe('rle: randomized label images', { timeout: 60_000 }, () => {
  const shapes: [number, number][] = [[1, 1], [1, 23], [29, 1], [7, 5], [33, 47], [130, 64]];

  it('TS twin matches the per-mask reference', () => {
    let seed = 1;
    for (const [w, h] of shapes) {
      for (const ctor of [Uint16Array, Int32Array]) {
        const cases = [...specialCases(w, h, ctor), ...[3, 9].map((cells) => ({ name: `random ${cells}`, labels: randomLabels(seed++, w, h, cells, ctor), cells }))];
        for (const c of cases) {
          expect(cellRleJs(c.labels, w, h, c.cells), `${w}x${h} ${ctor.name} ${c.name}`).toEqual(referenceStrings(c.labels, w, h, c.cells));
        }
      }
    }
  });

  describe.skipIf(!hasNative)('native vs TS', () => {
    it('identical strings for every shape, dtype and thread count', async () => {
      let seed = 500, compared = 0;
      for (const [w, h] of [...shapes, [257, 300] as [number, number]]) {
        for (const ctor of [Uint16Array, Int32Array]) {
          const cases = [...specialCases(w, h, ctor), ...[1, 5, 40].map((cells) => ({ name: `random ${cells}`, labels: randomLabels(seed++, w, h, cells, ctor), cells }))];
          for (const c of cases) {
            const ts = await cellRle(c.labels, { width: w, height: h, cells: c.cells, backend: 'js' });
            for (const threads of [1, 0, 3, 16]) {
              const nat = await cellRle(c.labels, { width: w, height: h, cells: c.cells, backend: 'native', device: 'cpu', threads });
              expect(nat, `${w}x${h} ${ctor.name} ${c.name} threads=${threads}`).toEqual(ts);
              compared++;
            }
          }
        }
      }
      expect(compared).toBe((shapes.length + 1) * 2 * 7 * 4);
    });

    it('agrees on a large field (automatic threading)', async () => {
      const w = 1200, h = 1100;
      const labels = randomLabels(77, w, h, 300, Int32Array);
      const ts = await cellRle(labels, { width: w, height: h, backend: 'js' });
      expect(ts.length).toBeGreaterThan(250);
      expect(await cellRle(labels, { width: w, height: h, backend: 'native', device: 'cpu' })).toEqual(ts);
      expect(await cellRle(labels, { width: w, height: h, backend: 'native', device: 'cpu', threads: 1 })).toEqual(ts);
    });
  });
});

describe.skipIf(!hasCuda)('rle: CUDA vs CPU', { timeout: 120_000 }, () => {
  const shapes: [number, number][] = [[1, 1], [1, 23], [29, 1], [7, 5], [33, 47], [130, 64], [257, 300], [64, 65], [3, 200]];
  // The CUDA column scan also gets one-pixel runs in every column.
  const special = (w: number, h: number, ctor: Uint16ArrayConstructor | Int32ArrayConstructor): SpecialCase[] => [
    ...specialCases(w, h, ctor),
    { name: 'checkerboard (one-pixel runs)', labels: filled(w, h, ctor, (i) => 1 + ((i % w) + Math.floor(i / w)) % 2), cells: 2 },
  ];
  const check = async (labels: Uint16Array | Int32Array, w: number, h: number, cells: number | undefined, tag: string): Promise<void> => {
    const cpu = await cellRle(labels, { width: w, height: h, cells, backend: 'native', device: 'cpu' });
    const gpu = await cellRle(labels, { width: w, height: h, cells, backend: 'native', device: 'cuda' });
    expect(cpu.device, tag).toBe('cpu');
    expect(gpu.device, tag).toBe('cuda');
    expect(gpu.timings!.totalMs, tag).toBeGreaterThanOrEqual(gpu.timings!.kernelMs);
    expect(Object.keys(gpu), tag).toEqual(Object.keys(cpu)); // timings stays non-enumerable
    expect(gpu, tag).toEqual(cpu);
  };

  it('identical strings on the randomized parity suite, both dtypes', async () => {
    let seed = 500, compared = 0;
    for (const [w, h] of shapes) {
      for (const ctor of [Uint16Array, Int32Array]) {
        const cases = [...special(w, h, ctor), ...[1, 5, 40].map((cells) => ({ name: `random ${cells}`, labels: randomLabels(seed++, w, h, cells, ctor), cells }))];
        for (const c of cases) {
          await check(c.labels, w, h, c.cells, `${w}x${h} ${ctor.name} ${c.name}`);
          compared++;
        }
      }
    }
    expect(compared).toBe(shapes.length * 2 * 8);
  });

  it('identical on a large field, with absent ids, and what device auto picks', async () => {
    const w = 1200, h = 1100;
    const labels = randomLabels(77, w, h, 300, Int32Array);
    await check(labels, w, h, undefined, 'large');
    await check(Uint16Array.from(labels), w, h, 400, 'large uint16, 100 absent ids');
    const auto = await cellRle(labels, { width: w, height: h, device: 'auto' });
    expect(auto.device).toBe('cuda');
    expect(auto.deviceNote).toBeUndefined();
  });

  it('rejects ids above cells or below 0 with the CPU message', async () => {
    const above = new Uint16Array([0, 9, 1, 7, 0, 0]);
    await expect(cellRle(above, { width: 3, height: 2, cells: 5, device: 'cuda' })).rejects.toMatchObject({
      code: 'CELLCAM_E_RANGE',
      message: 'Expected ids in [0, 5] for labels but received number 7 at (x=0, y=1)',
    });
    const negative = new Int32Array([0, 2, 0, 0, 0, -3]);
    await expect(cellRle(negative, { width: 3, height: 2, cells: 5, device: 'cuda' })).rejects.toMatchObject({
      code: 'CELLCAM_E_RANGE',
      message: 'Expected ids in [0, 5] for labels but received number -3 at (x=2, y=1)',
    });
    // Offenders in many bands and columns: the first in column-major order is named.
    const big = randomLabels(5, 300, 260, 9, Int32Array);
    for (const i of [70_000, 300 * 200 + 17, 300 * 3 + 250]) big[i] = 11;
    const cpuErr = await cellRle(big, { width: 300, height: 260, cells: 9, device: 'cpu' }).catch((e: Error) => e.message);
    const gpuErr = await cellRle(big, { width: 300, height: 260, cells: 9, device: 'cuda' }).catch((e: Error) => e.message);
    expect(cpuErr).toMatch(/received number 11 at/);
    expect(gpuErr).toBe(cpuErr);
  });

  it.skipIf(!hasShared)('pycocotools vectors from the device', async () => {
    const v = JSON.parse(readFileSync(join(sharedDir, 'data', 'hpa-samples', 'rle_test_vectors.json'), 'utf8')) as {
      cells: { cell_id: number; coco_counts_string: string }[];
    };
    const png = decodePng16(join(sharedDir, 'data', 'hpa-samples', '1000_A12_2_cellmask.png'));
    const strings = await cellRle(png.data, { width: png.width, height: png.height, device: 'cuda' });
    for (const c of v.cells) expect(strings[c.cell_id - 1], `cell ${c.cell_id}`).toBe(c.coco_counts_string);
  });
});

describe('rle: device selection', () => {
  const labels = new Uint16Array([0, 0, 2, 0, 0, 0]);
  const opts = { width: 3, height: 2, cells: 2 };

  it.skipIf(!hasNative || hasCuda)("device 'cuda' without a usable GPU rejects with CELLCAM_E_CUDA and the reason (core)", async () => {
    const reason = capabilities().reason;
    expect(reason.length).toBeGreaterThan(0);
    const err = await rejection(cellRle(labels, { ...opts, device: 'cuda' }));
    expect(err.code).toBe('CELLCAM_E_CUDA');
    expect(err.message).toContain(reason);
  });
  it.skipIf(!hasNative || hasCuda)("device 'cuda' without a usable GPU rejects with CELLCAM_E_CUDA and the reason (direct native call)", async () => {
    const err = await rejection(nativeOrNull()!.rle(labels, { ...opts, device: 'cuda' }));
    expect(err.code).toBe('CELLCAM_E_CUDA');
    expect(err.message).toContain(capabilities().reason);
  });
  it.skipIf(!hasNative)("the default device is 'cpu' (one image at a time CUDA is no faster once the copies count): no note", async () => {
    const s = await cellRle(labels, opts);
    expect(s.device).toBe('cpu');
    expect(s.deviceNote).toBeUndefined();
  });
  it.skipIf(!hasNative || hasCuda)("device 'auto' uses the CPU and says why", async () => {
    const s = await cellRle(labels, { ...opts, device: 'auto' });
    expect(s.device).toBe('cpu');
    expect(s.deviceNote).toContain(capabilities().reason);
    expect(s).toEqual(['6', '411']);
  });
  it("backend 'js' reports 'js'; with device 'cuda' it rejects with CELLCAM_E_CUDA", async () => {
    const s = await cellRle(labels, { ...opts, backend: 'js', device: 'cpu' });
    expect(s.device).toBe('js');
    expect(s.deviceNote).toBeUndefined();
    const err = await rejection(cellRle(labels, { ...opts, backend: 'js', device: 'cuda' }));
    expect(err.code).toBe('CELLCAM_E_CUDA');
    expect(err.message).toMatch(/backend is 'js'/);
  });
  it('the device tags are invisible to keys, JSON and spreading', async () => {
    const s = await cellRle(labels, { ...opts, backend: 'js', device: 'auto' });
    expect(Object.keys(s)).toEqual(['0', '1']);
    expect(JSON.stringify(s)).toBe('["6","411"]');
    expect([...s]).toEqual(['6', '411']);
    expect(s.deviceNote).toMatch(/CUDA not used/);
  });
});

describe('rle: bad input', () => {
  const ok = () => ({ labels: new Uint16Array(6) as unknown, options: { width: 3, height: 2 } as Record<string, unknown> });
  const cases: { name: string; mutate: (c: { labels: unknown; options: Record<string, unknown> }) => void; ctor: ErrorConstructor; code: string; names: string; backends?: readonly string[] }[] = [
    { name: 'Uint8 labels', mutate: (c) => (c.labels = new Uint8Array(6)), ctor: TypeError, code: 'CELLCAM_E_DTYPE', names: 'labels' },
    { name: 'Float32 labels', mutate: (c) => (c.labels = new Float32Array(6)), ctor: TypeError, code: 'CELLCAM_E_DTYPE', names: 'labels' },
    { name: 'wrong length', mutate: (c) => (c.labels = new Uint16Array(5)), ctor: RangeError, code: 'CELLCAM_E_SHAPE', names: 'labels' },
    { name: 'cells -1', mutate: (c) => (c.options.cells = -1), ctor: RangeError, code: 'CELLCAM_E_RANGE', names: 'options.cells' },
    { name: 'cells 1.5', mutate: (c) => (c.options.cells = 1.5), ctor: TypeError, code: 'CELLCAM_E_DTYPE', names: 'options.cells' },
    { name: 'cells above the limit', mutate: (c) => (c.options.cells = MAX_RLE_CELLS + 1), ctor: RangeError, code: 'CELLCAM_E_RANGE', names: 'options.cells' },
    { name: 'height 0', mutate: (c) => (c.options.height = 0), ctor: RangeError, code: 'CELLCAM_E_RANGE', names: 'options.height' },
    { name: 'threads -1', mutate: (c) => (c.options.threads = -1), ctor: RangeError, code: 'CELLCAM_E_RANGE', names: 'options.threads' },
    { name: "backend 'gpu'", mutate: (c) => (c.options.backend = 'gpu'), ctor: RangeError, code: 'CELLCAM_E_ARG', names: 'options.backend' },
    { name: "device 'gpu'", mutate: (c) => (c.options.device = 'gpu'), ctor: RangeError, code: 'CELLCAM_E_ARG', names: 'options.device' },
    { name: 'default cells with a huge id', mutate: (c) => (c.labels = new Int32Array([0, 0, 2 ** 30, 0, 0, 0])), ctor: RangeError, code: 'CELLCAM_E_RANGE', names: 'labels' },
  ];
  for (const c of cases) {
    it(`core rejects ${c.name}`, async () => {
      const args = ok();
      c.mutate(args);
      const p = cellRle(args.labels as Uint16Array, args.options as never);
      await expect(p).rejects.toThrow(c.ctor);
      await expect(p).rejects.toMatchObject({ code: c.code, message: expect.stringContaining(`for ${c.names} but received`) });
    });
  }

  // Row-major 3×2: the first offending pixel in column-major order is reported, by both backends.
  it.each(backends)('%s rejects ids above cells or below 0 with the same message', async (backend) => {
    const above = new Uint16Array([0, 9, 1, 7, 0, 0]);
    await expect(cellRle(above, { width: 3, height: 2, cells: 5, backend })).rejects.toThrow(RangeError);
    await expect(cellRle(above, { width: 3, height: 2, cells: 5, backend })).rejects.toMatchObject({
      code: 'CELLCAM_E_RANGE',
      message: 'Expected ids in [0, 5] for labels but received number 7 at (x=0, y=1)',
    });
    const negative = new Int32Array([0, 2, 0, 0, 0, -3]);
    await expect(cellRle(negative, { width: 3, height: 2, cells: 5, backend })).rejects.toMatchObject({
      code: 'CELLCAM_E_RANGE',
      message: 'Expected ids in [0, 5] for labels but received number -3 at (x=2, y=1)',
    });
    await expect(cellRle(negative, { width: 3, height: 2, backend })).rejects.toMatchObject({ code: 'CELLCAM_E_RANGE', message: expect.stringContaining('for labels') });
  });

  it.each(backends)('%s: cells 0 gives no strings, ids absent', async (backend) => {
    expect(await cellRle(new Uint16Array(6), { width: 3, height: 2, cells: 0, backend })).toEqual([]);
    expect(await cellRle(new Uint16Array(6), { width: 3, height: 2, backend })).toEqual([]);
  });

  describe.skipIf(!hasNative)('native entry point guards', () => {
    const native = nativeOrNull()!;
    const opts = () => ({ width: 3, height: 2, cells: 2 }) as Record<string, unknown>;
    const nat: { name: string; call: () => unknown; ctor: ErrorConstructor; code: string; names: string }[] = [
      { name: 'Uint8 labels', call: () => native.rle(new Uint8Array(6) as never, opts() as never), ctor: TypeError, code: 'CELLCAM_E_DTYPE', names: 'labels' },
      { name: 'missing labels', call: () => (native.rle as unknown as () => unknown)(), ctor: TypeError, code: 'CELLCAM_E_DTYPE', names: 'labels' },
      { name: 'non-object options', call: () => native.rle(new Uint16Array(6), 'x' as never), ctor: TypeError, code: 'CELLCAM_E_DTYPE', names: 'options' },
      { name: 'width 1.5', call: () => native.rle(new Uint16Array(6), { ...opts(), width: 1.5 } as never), ctor: RangeError, code: 'CELLCAM_E_RANGE', names: 'options.width' },
      { name: 'length', call: () => native.rle(new Int32Array(7), opts() as never), ctor: RangeError, code: 'CELLCAM_E_SHAPE', names: 'labels' },
      { name: 'cells missing', call: () => native.rle(new Uint16Array(6), { width: 3, height: 2 } as never), ctor: RangeError, code: 'CELLCAM_E_RANGE', names: 'options.cells' },
      { name: 'cells -1', call: () => native.rle(new Uint16Array(6), { ...opts(), cells: -1 } as never), ctor: RangeError, code: 'CELLCAM_E_RANGE', names: 'options.cells' },
      { name: 'threads -1', call: () => native.rle(new Uint16Array(6), { ...opts(), threads: -1 } as never), ctor: RangeError, code: 'CELLCAM_E_RANGE', names: 'options.threads' },
      { name: "device 'gpu'", call: () => native.rle(new Uint16Array(6), { ...opts(), device: 'gpu' } as never), ctor: RangeError, code: 'CELLCAM_E_ARG', names: 'options.device' },
    ];
    for (const c of nat) {
      it(`native rejects ${c.name}`, () => {
        let err: unknown;
        try {
          c.call();
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(c.ctor);
        expect(err).toMatchObject({ code: c.code, message: expect.stringContaining(`for ${c.names} but received`) });
      });
    }
    it('native rejects an id above cells asynchronously', async () => {
      await expect(native.rle(new Uint16Array([0, 0, 3, 0, 0, 0]), opts() as never)).rejects.toMatchObject({ code: 'CELLCAM_E_RANGE' });
      expect(await native.rle(new Uint16Array([0, 0, 2, 0, 0, 0]), opts() as never)).toEqual(['6', '411']);
    });
  });
});
