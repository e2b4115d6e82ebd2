// Tests of connected-component labelling: hand cases, native/TS parity across threads, CUDA/CPU
// parity (on a GPU), device selection, scipy and scikit-image oracles, and argument errors.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { label, labelJs, type LabelInput, type LabelOptions } from '../src/kernels/label.js';
import { capabilities, nativeOrNull } from '../src/native.js';
import { hasCuda, hasNative, randInt, rejection, rng, skimagePython } from './helpers.js';

type Mode = 'binary' | 'label';
type Ctor = Uint8ArrayConstructor | Uint16ArrayConstructor | Int32ArrayConstructor;
const DTYPES: Ctor[] = [Uint8Array, Uint16Array, Int32Array];
const backends = hasNative ? (['js', 'native'] as const) : (['js'] as const);

/** Parses a picture: one row per line, '.' = 0, digits/letters = values (a=10 ...). */
function pic(s: string): { data: Int32Array; width: number; height: number } {
  const rows = s.trim().split('\n').map((r) => r.trim());
  const width = rows[0].length, height = rows.length;
  const data = new Int32Array(width * height);
  rows.forEach((r, y) => [...r].forEach((ch, x) => (data[y * width + x] = ch === '.' ? 0 : parseInt(ch, 36))));
  return { data, width, height };
}

/** Random image: values 1..levels with probability `density`, else 0; optional blob smoothing. */
function randomImage(seed: number, width: number, height: number, density: number, levels: number, ctor: Ctor): LabelInput {
  const r = rng(seed);
  const a = new ctor(width * height);
  const max = ctor === Uint8Array ? 255 : ctor === Uint16Array ? 65535 : 2 ** 31 - 1;
  for (let i = 0; i < a.length; i++) {
    if (r() < density) {
      const v = 1 + randInt(r, levels);
      // Large and (for Int32) negative ids exercise the full value range in label mode.
      a[i] = levels > 2 && r() < 0.1 ? (ctor === Int32Array && r() < 0.5 ? -v : max - v) : v;
    }
  }
  return a;
}

/** Labels as a canonical string for compact equality failures. */
const same = (a: Int32Array, b: Int32Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

describe('label: hand cases', () => {
  const cases: { name: string; picture: string; connectivity: 4 | 8; mode: Mode; expected: string; count: number }[] = [
    { name: 'diagonal pixels are separate with 4-conn', picture: '1.\n.1', connectivity: 4, mode: 'binary', expected: '1.\n.2', count: 2 },
    { name: 'diagonal pixels join with 8-conn', picture: '1.\n.1', connectivity: 8, mode: 'binary', expected: '1.\n.1', count: 1 },
    { name: 'anti-diagonal joins with 8-conn', picture: '.1\n1.', connectivity: 8, mode: 'binary', expected: '.1\n1.', count: 1 },
    { name: 'U shape merges under a later row, raster order kept', picture: '1.1.1\n1.1.1\n111.1', connectivity: 4, mode: 'binary', expected: '1.1.2\n1.1.2\n111.2', count: 2 },
    { name: 'binary: different values touching are one component', picture: '1122\n..33', connectivity: 4, mode: 'binary', expected: '1111\n..11', count: 1 },
    { name: "'label': touching different values split", picture: '1122\n..33', connectivity: 4, mode: 'label', expected: '1122\n..33', count: 3 },
    { name: "'label': equal values join, order by first pixel", picture: '.55\n22.\n2.5', connectivity: 4, mode: 'label', expected: '.11\n22.\n2.3', count: 3 },
    { name: "'label': diagonal equal values join with 8-conn", picture: '7.\n.7', connectivity: 8, mode: 'label', expected: '1.\n.1', count: 1 },
    { name: "'label': diagonal different values stay apart with 8-conn", picture: '7.\n.8', connectivity: 8, mode: 'label', expected: '1.\n.2', count: 2 },
    { name: "'label': same id in two places gives two labels", picture: '3.3', connectivity: 8, mode: 'label', expected: '1.2', count: 2 },
    { name: 'spiral', picture: '11111\n....1\n111.1\n1...1\n11111', connectivity: 4, mode: 'binary', expected: '11111\n....1\n111.1\n1...1\n11111', count: 1 },
    { name: 'empty', picture: '...\n...', connectivity: 8, mode: 'binary', expected: '...\n...', count: 0 },
    { name: 'full', picture: '111\n111', connectivity: 4, mode: 'binary', expected: '111\n111', count: 1 },
    { name: '1×N', picture: '11.1..11', connectivity: 8, mode: 'binary', expected: '11.2..33', count: 3 },
    { name: 'N×1', picture: '1\n1\n.\n1', connectivity: 4, mode: 'binary', expected: '1\n1\n.\n2', count: 2 },
  ];
  for (const backend of backends) {
    for (const c of cases) {
      for (const ctor of DTYPES) {
        it(`${backend} ${ctor.name}: ${c.name}`, async () => {
          const p = pic(c.picture), e = pic(c.expected);
          const input = ctor.from(p.data) as LabelInput;
          const r = await label(input, { width: p.width, height: p.height, connectivity: c.connectivity, mode: c.mode, backend });
          expect(Array.from(r.labels)).toEqual(Array.from(e.data));
          expect(r.count).toBe(c.count);
          const sizes = new Array(c.count + 1).fill(0);
          e.data.forEach((v) => sizes[v]++);
          expect(Array.from(r.sizes)).toEqual(sizes);
        });
      }
    }
  }

  it.each(backends)('%s: defaults are 4-connectivity and binary mode', async (backend) => {
    const p = pic('12\n.3\n4.');
    const r = await label(ctorInt(p.data), { width: 2, height: 3, backend });
    expect(Array.from(r.labels)).toEqual([1, 1, 0, 1, 2, 0]);
  });

  it.each(backends)('%s: Int32 negative values are foreground and their own ids', async (backend) => {
    const input = new Int32Array([-1, -1, 2, 0, -3, 0]);
    const bin = await label(input, { width: 3, height: 2, backend });
    expect(Array.from(bin.labels)).toEqual([1, 1, 1, 0, 1, 0]);
    const lab = await label(input, { width: 3, height: 2, mode: 'label', backend });
    expect(Array.from(lab.labels)).toEqual([1, 1, 2, 0, 3, 0]);
  });

  it.each(backends)('%s: writes into options.out and may label in place', async (backend) => {
    const p = pic('1.1\n1.1\n111');
    const out = new Int32Array(9).fill(-7);
    const r = await label(ctorInt(p.data), { width: 3, height: 3, out, backend });
    expect(r.labels).toBe(out);
    expect(Array.from(out)).toEqual([1, 0, 1, 1, 0, 1, 1, 1, 1]);
    const inPlace = ctorInt(pic('2.2\n..2\n22.').data);
    const r2 = await label(inPlace, { width: 3, height: 3, mode: 'label', out: inPlace, backend });
    expect(r2.labels).toBe(inPlace);
    expect(Array.from(inPlace)).toEqual([1, 0, 2, 0, 0, 2, 3, 3, 0]);
  });
});

function ctorInt(a: Int32Array): Int32Array {
  return Int32Array.from(a);
}

/** Smooth blobs with 5 ids: components that cross every strip seam and touch each other. */
function blobby(w: number, h: number): Uint16Array {
  const r = rng(5);
  const cx = Array.from({ length: 40 }, () => r() * w), cy = Array.from({ length: 40 }, () => r() * h);
  const input = new Uint16Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let best = 0, bd = 1e18;
      for (let k = 0; k < 40; k++) {
        const d = (x - cx[k]) ** 2 + (y - cy[k]) ** 2;
        if (d < bd) { bd = d; best = k; }
      }
      input[y * w + x] = Math.sin(x * 0.05 + best) * Math.cos(y * 0.045) > 0.1 ? 1 + (best % 5) : 0;
    }
  }
  return input;
}

/** One serpentine component: full rows joined at alternating ends (a path of w*h/2 pixels). */
function serpentine(w: number, h: number): Uint8Array {
  const a = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    if (y % 2 === 0) a.fill(1, y * w, (y + 1) * w);
    else a[y * w + ((y >> 1) % 2 === 0 ? w - 1 : 0)] = 1;
  }
  return a;
}

// The randomized parity suite (TS invariants, native vs TS, CUDA vs CPU): odd shapes, every
// density from empty to full, binary and label mode, both connectivities.
const PARITY_SIZES: [number, number][] = [[1, 1], [1, 37], [41, 1], [17, 13], [64, 64], [203, 97]];
const PARITY_DENSITIES = [0, 0.1, 0.45, 0.6, 0.9, 1];
const PARITY_CONFIGS: { mode: Mode; connectivity: 4 | 8; levels: number }[] = [
  { mode: 'binary', connectivity: 4, levels: 1 },
  { mode: 'binary', connectivity: 8, levels: 3 },
  { mode: 'label', connectivity: 4, levels: 3 },
  { mode: 'label', connectivity: 8, levels: 2 },
];

describe('label: randomized', { timeout: 60_000 }, () => {

  it('TS twin invariants: raster order, sizes, connectivity of each label', () => {
    let seed = 1;
    for (const [w, h] of PARITY_SIZES) {
      for (const density of PARITY_DENSITIES) {
        for (const cfg of PARITY_CONFIGS) {
          const input = randomImage(seed++, w, h, density, cfg.levels, Int32Array);
          const out = new Int32Array(w * h);
          const { count, sizes: sz } = labelJs(input, out, { width: w, height: h, connectivity: cfg.connectivity, mode: cfg.mode });
          // first appearances are 1, 2, 3, ... and sizes match a histogram
          const tag = `${w}x${h} d=${density} ${cfg.mode}/${cfg.connectivity}`;
          let next = 1, orderOk = true, fgOk = true, joinOk = true;
          const hist = new Int32Array(count + 1);
          for (let i = 0; i < out.length; i++) {
            const l = out[i];
            hist[l]++;
            if (l >= next) {
              if (l !== next) orderOk = false;
              next++;
            }
            if ((l === 0) !== (input[i] === 0)) fgOk = false;
          }
          // neighbours that should join carry the same label
          const offs = cfg.connectivity === 8 ? [[1, 0], [0, 1], [1, 1], [-1, 1]] : [[1, 0], [0, 1]];
          for (let y = 0; y < h; y++) {
            for (let x = 0; x < w; x++) {
              for (const [dx, dy] of offs) {
                const xx = x + dx, yy = y + dy;
                if (xx < 0 || xx >= w || yy >= h) continue;
                const a = input[y * w + x], b = input[yy * w + xx];
                const join = a !== 0 && b !== 0 && (cfg.mode === 'binary' || a === b);
                if (join && out[y * w + x] !== out[yy * w + xx]) joinOk = false;
              }
            }
          }
          expect({ orderOk, fgOk, joinOk, count: next - 1 }, tag).toEqual({ orderOk: true, fgOk: true, joinOk: true, count });
          expect(Array.from(sz), tag).toEqual(Array.from(hist));
        }
      }
    }
  });

  describe.skipIf(!hasNative)('native vs TS', () => {
    it('identical labels, counts and sizes for every dtype, mode, connectivity, density and thread count', async () => {
      let seed = 100;
      let compared = 0;
      for (const [w, h] of PARITY_SIZES) {
        for (const density of PARITY_DENSITIES) {
          for (const cfg of PARITY_CONFIGS) {
            for (const ctor of DTYPES) {
              const input = randomImage(seed++, w, h, density, cfg.levels, ctor);
              const opts: LabelOptions = { width: w, height: h, connectivity: cfg.connectivity, mode: cfg.mode };
              const ts = await label(input, { ...opts, backend: 'js' });
              for (const threads of [1, 0, 3, 16]) {
                const nat = await label(input, { ...opts, backend: 'native', device: 'cpu', threads });
                const tag = `${ctor.name} ${w}x${h} d=${density} ${cfg.mode}/${cfg.connectivity} threads=${threads}`;
                expect(nat.count, tag).toBe(ts.count);
                expect(same(nat.labels, ts.labels), tag).toBe(true);
                expect(Array.from(nat.sizes), tag).toEqual(Array.from(ts.sizes));
                compared++;
              }
            }
          }
        }
      }
      expect(compared).toBe(PARITY_SIZES.length * PARITY_DENSITIES.length * PARITY_CONFIGS.length * DTYPES.length * 4);
    });

    it('thread counts agree on a large blobby image (auto threading path)', async () => {
      const w = 1100, h = 900;
      const input = blobby(w, h);
      for (const mode of ['binary', 'label'] as const) {
        for (const connectivity of [4, 8] as const) {
          const ts = await label(input, { width: w, height: h, connectivity, mode, backend: 'js' });
          expect(ts.count).toBeGreaterThan(20);
          for (const threads of [0, 1, 2, 5, 16]) {
            const nat = await label(input, { width: w, height: h, connectivity, mode, backend: 'native', device: 'cpu', threads });
            expect(nat.count).toBe(ts.count);
            expect(same(nat.labels, ts.labels), `${mode}/${connectivity} threads=${threads}`).toBe(true);
            expect(Array.from(nat.sizes)).toEqual(Array.from(ts.sizes));
          }
        }
      }
    });
  });
});

describe.skipIf(!hasCuda)('label: CUDA vs CPU', { timeout: 120_000 }, () => {
  const check = async (input: LabelInput, opts: LabelOptions, tag: string): Promise<void> => {
    const cpu = await label(input, { ...opts, backend: 'native', device: 'cpu' });
    const gpu = await label(input, { ...opts, backend: 'native', device: 'cuda' });
    expect(cpu.device, tag).toBe('cpu');
    expect(gpu.device, tag).toBe('cuda');
    expect(cpu.timings, tag).toBeUndefined();
    expect(gpu.timings!.totalMs, tag).toBeGreaterThanOrEqual(gpu.timings!.kernelMs);
    expect(gpu.count, tag).toBe(cpu.count);
    expect(same(gpu.labels, cpu.labels), tag).toBe(true);
    expect(Array.from(gpu.sizes), tag).toEqual(Array.from(cpu.sizes));
  };

  it('identical labels, counts and sizes on the randomized parity suite', async () => {
    let seed = 100, compared = 0;
    for (const [w, h] of PARITY_SIZES) {
      for (const density of PARITY_DENSITIES) {
        for (const cfg of PARITY_CONFIGS) {
          for (const ctor of DTYPES) {
            const input = randomImage(seed++, w, h, density, cfg.levels, ctor);
            await check(input, { width: w, height: h, connectivity: cfg.connectivity, mode: cfg.mode }, `${ctor.name} ${w}x${h} d=${density} ${cfg.mode}/${cfg.connectivity}`);
            compared++;
          }
        }
      }
    }
    expect(compared).toBe(PARITY_SIZES.length * PARITY_DENSITIES.length * PARITY_CONFIGS.length * DTYPES.length);
  });

  it('identical on large images: near-percolation noise, blobs and a serpentine (deep union-find trees)', async () => {
    const big: { name: string; input: LabelInput; w: number; h: number }[] = [
      { name: 'noise 0.45', input: randomImage(7, 1024, 1024, 0.45, 1, Uint8Array), w: 1024, h: 1024 },
      { name: 'noise 0.6', input: randomImage(8, 1024, 1024, 0.6, 1, Uint8Array), w: 1024, h: 1024 },
      { name: 'label noise', input: randomImage(9, 777, 1001, 0.9, 2, Int32Array), w: 777, h: 1001 },
      { name: 'blobs', input: blobby(1100, 900), w: 1100, h: 900 },
      { name: 'serpentine', input: serpentine(1031, 517), w: 1031, h: 517 },
    ];
    for (const b of big) {
      for (const mode of ['binary', 'label'] as const) {
        for (const connectivity of [4, 8] as const) {
          await check(b.input, { width: b.w, height: b.h, connectivity, mode }, `${b.name} ${mode}/${connectivity}`);
        }
      }
    }
  });

  it("labels in place and is what device 'auto' picks", async () => {
    const input = randomImage(31, 300, 200, 0.55, 3, Int32Array);
    const cpu = await label(input, { width: 300, height: 200, mode: 'label', connectivity: 8, device: 'cpu' });
    const inPlace = Int32Array.from(input);
    const r = await label(inPlace, { width: 300, height: 200, mode: 'label', connectivity: 8, out: inPlace, device: 'auto' });
    expect(r.device).toBe('cuda');
    expect(r.deviceNote).toBeUndefined();
    expect(r.labels).toBe(inPlace);
    expect(same(inPlace, cpu.labels)).toBe(true);
  });
});

describe('label: device selection', () => {
  const input = new Uint8Array([1, 0, 1, 1, 1, 0]);
  const opts: LabelOptions = { width: 3, height: 2, connectivity: 8 };

  it.skipIf(!hasNative || hasCuda)("device 'cuda' without a usable GPU rejects with CELLCAM_E_CUDA and the reason (core)", async () => {
    const reason = capabilities().reason;
    expect(reason.length).toBeGreaterThan(0);
    const err = await rejection(label(input, { ...opts, device: 'cuda' }));
    expect(err.code).toBe('CELLCAM_E_CUDA');
    expect(err.message).toContain(reason);
  });
  it.skipIf(!hasNative || hasCuda)("device 'cuda' without a usable GPU rejects with CELLCAM_E_CUDA and the reason (direct native call)", async () => {
    const err = await rejection(nativeOrNull()!.label(input, new Int32Array(6), { width: 3, height: 2, connectivity: 8, mode: 'binary', device: 'cuda' }));
    expect(err.code).toBe('CELLCAM_E_CUDA');
    expect(err.message).toContain(capabilities().reason);
  });
  it.skipIf(!hasNative)("the default device is 'cpu' (measured faster than CUDA once the copies count): no note", async () => {
    const r = await label(input, opts);
    expect(r.device).toBe('cpu');
    expect(r.deviceNote).toBeUndefined();
  });
  it.skipIf(!hasNative || hasCuda)("device 'auto' uses the CPU and says why", async () => {
    const r = await label(input, { ...opts, device: 'auto' });
    expect(r.device).toBe('cpu');
    expect(r.deviceNote).toContain(capabilities().reason);
    expect(r.count).toBe(1);
  });
  it.skipIf(!hasNative)("device 'cpu' runs on the CPU without a note", async () => {
    const r = await label(input, { ...opts, device: 'cpu' });
    expect(r.device).toBe('cpu');
    expect(r.deviceNote).toBeUndefined();
    expect(Array.from(r.sizes)).toEqual([2, 4]);
  });
  it("backend 'js' reports 'js'; with device 'cuda' it rejects with CELLCAM_E_CUDA", async () => {
    const r = await label(input, { ...opts, backend: 'js', device: 'cpu' });
    expect(r.device).toBe('js');
    const err = await rejection(label(input, { ...opts, backend: 'js', device: 'cuda' }));
    expect(err.code).toBe('CELLCAM_E_CUDA');
    expect(err.message).toMatch(/backend is 'js'/);
  });
});

describe.skipIf(!skimagePython)('label: scipy.ndimage.label and skimage.measure.label oracles', { timeout: 60_000 }, () => {
  it('matches both on random and blobby images of every dtype', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cellcam-label-'));
    try {
      const cases: { file: string; w: number; h: number; dtype: string; mode: Mode; connectivity: 4 | 8; input: LabelInput }[] = [];
      const shapes: [number, number][] = [[1, 50], [50, 1], [31, 29], [120, 77]];
      let seed = 900;
      for (const [w, h] of shapes) {
        for (const density of [0.3, 0.55, 0.8]) {
          for (const ctor of DTYPES) {
            for (const mode of ['binary', 'label'] as const) {
              for (const connectivity of [4, 8] as const) {
                const input = randomImage(seed++, w, h, density, mode === 'label' ? 3 : 1, ctor);
                const dtype = ctor === Uint8Array ? 'uint8' : ctor === Uint16Array ? 'uint16' : 'int32';
                const file = join(dir, `c${cases.length}.raw`);
                writeFileSync(file, Buffer.from(input.buffer, input.byteOffset, input.byteLength));
                cases.push({ file, w, h, dtype, mode, connectivity, input });
              }
            }
          }
        }
      }
      const script = `
import json, sys, numpy as np
from scipy import ndimage as ndi
from skimage import measure
cases = json.loads(open(sys.argv[1]).read())
for c in cases:
    a = np.fromfile(c['file'], dtype=c['dtype']).reshape(c['h'], c['w'])
    if c['mode'] == 'binary':
        st = ndi.generate_binary_structure(2, 1 if c['connectivity'] == 4 else 2)
        lab, n = ndi.label(a != 0, structure=st)
    else:
        lab = measure.label(a, background=0, connectivity=1 if c['connectivity'] == 4 else 2)
    lab.astype('<i4').tofile(c['file'] + '.out')
print('ok')
`;
      const manifest = join(dir, 'cases.json');
      writeFileSync(manifest, JSON.stringify(cases.map(({ input: _i, ...c }) => c)));
      const r = spawnSync(skimagePython!, ['-c', script, manifest], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('ok');
      for (const backend of backends) {
        for (const c of cases) {
          const b = readFileSync(c.file + '.out');
          const expected = new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
          const got = await label(c.input, { width: c.w, height: c.h, mode: c.mode, connectivity: c.connectivity, backend });
          expect(same(got.labels, expected), `${backend} ${c.dtype} ${c.w}x${c.h} ${c.mode}/${c.connectivity}`).toBe(true);
          expect(got.count).toBe(expected.reduce((m, v) => Math.max(m, v), 0));
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('label: bad input', () => {
  const good = () => ({ input: new Uint8Array(6) as unknown, options: { width: 3, height: 2 } as Record<string, unknown> });
  const cases: { name: string; mutate: (c: { input: unknown; options: Record<string, unknown> }) => void; ctor: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor; code: string; names: string }[] = [
    { name: 'Float32 input', mutate: (c) => (c.input = new Float32Array(6)), ctor: TypeError, code: 'CELLCAM_E_DTYPE', names: 'input' },
    { name: 'Int8 input', mutate: (c) => (c.input = new Int8Array(6)), ctor: TypeError, code: 'CELLCAM_E_DTYPE', names: 'input' },
    { name: 'plain array input', mutate: (c) => (c.input = [0, 0, 0, 0, 0, 0]), ctor: TypeError, code: 'CELLCAM_E_DTYPE', names: 'input' },
    { name: 'wrong length', mutate: (c) => (c.input = new Uint8Array(7)), ctor: RangeError, code: 'CELLCAM_E_SHAPE', names: 'input' },
    { name: 'connectivity 6', mutate: (c) => (c.options.connectivity = 6), ctor: RangeError, code: 'CELLCAM_E_RANGE', names: 'options.connectivity' },
    { name: "mode 'x'", mutate: (c) => (c.options.mode = 'x'), ctor: RangeError, code: 'CELLCAM_E_ARG', names: 'options.mode' },
    { name: 'width 0', mutate: (c) => (c.options.width = 0), ctor: RangeError, code: 'CELLCAM_E_RANGE', names: 'options.width' },
    { name: 'height 2.5', mutate: (c) => (c.options.height = 2.5), ctor: TypeError, code: 'CELLCAM_E_DTYPE', names: 'options.height' },
    { name: 'threads -1', mutate: (c) => (c.options.threads = -1), ctor: RangeError, code: 'CELLCAM_E_RANGE', names: 'options.threads' },
    { name: 'out Uint32', mutate: (c) => (c.options.out = new Uint32Array(6)), ctor: TypeError, code: 'CELLCAM_E_DTYPE', names: 'options.out' },
    { name: 'out too short', mutate: (c) => (c.options.out = new Int32Array(5)), ctor: RangeError, code: 'CELLCAM_E_SHAPE', names: 'options.out' },
    { name: "backend 'gpu'", mutate: (c) => (c.options.backend = 'gpu'), ctor: RangeError, code: 'CELLCAM_E_ARG', names: 'options.backend' },
    { name: "device 'gpu'", mutate: (c) => (c.options.device = 'gpu'), ctor: RangeError, code: 'CELLCAM_E_ARG', names: 'options.device' },
  ];
  for (const c of cases) {
    it(`core rejects ${c.name}`, async () => {
      const args = good();
      c.mutate(args);
      const p = label(args.input as LabelInput, args.options as unknown as LabelOptions);
      await expect(p).rejects.toThrow(c.ctor);
      await expect(p).rejects.toMatchObject({ code: c.code, message: expect.stringContaining(`for ${c.names} but received`) });
    });
  }
  it('core rejects a missing options object', async () => {
    await expect(label(new Uint8Array(1), null as unknown as LabelOptions)).rejects.toMatchObject({ code: 'CELLCAM_E_DTYPE', message: expect.stringContaining('for options') });
  });

  describe.skipIf(!hasNative)('native entry point guards', () => {
    const native = nativeOrNull()!;
    const opts = () => ({ width: 3, height: 2, connectivity: 4, mode: 'binary' }) as Record<string, unknown>;
    const nat: { name: string; call: () => unknown; ctor: ErrorConstructor; code: string; names: string }[] = [
      { name: 'Float32 input', call: () => native.label(new Float32Array(6) as never, new Int32Array(6), opts() as never), ctor: TypeError, code: 'CELLCAM_E_DTYPE', names: 'input' },
      { name: 'missing input', call: () => (native.label as unknown as () => unknown)(), ctor: TypeError, code: 'CELLCAM_E_DTYPE', names: 'input' },
      { name: 'Uint8 out', call: () => native.label(new Uint8Array(6), new Uint8Array(6) as never, opts() as never), ctor: TypeError, code: 'CELLCAM_E_DTYPE', names: 'out' },
      { name: 'non-object options', call: () => native.label(new Uint8Array(6), new Int32Array(6), 5 as never), ctor: TypeError, code: 'CELLCAM_E_DTYPE', names: 'options' },
      { name: 'input length', call: () => native.label(new Uint8Array(5), new Int32Array(6), opts() as never), ctor: RangeError, code: 'CELLCAM_E_SHAPE', names: 'input' },
      { name: 'out length', call: () => native.label(new Uint8Array(6), new Int32Array(7), opts() as never), ctor: RangeError, code: 'CELLCAM_E_SHAPE', names: 'out' },
      { name: 'width missing', call: () => native.label(new Uint8Array(6), new Int32Array(6), { ...opts(), width: undefined } as never), ctor: RangeError, code: 'CELLCAM_E_RANGE', names: 'options.width' },
      { name: 'connectivity 6', call: () => native.label(new Uint8Array(6), new Int32Array(6), { ...opts(), connectivity: 6 } as never), ctor: RangeError, code: 'CELLCAM_E_RANGE', names: 'options.connectivity' },
      { name: "mode 'x'", call: () => native.label(new Uint8Array(6), new Int32Array(6), { ...opts(), mode: 'x' } as never), ctor: RangeError, code: 'CELLCAM_E_ARG', names: 'options.mode' },
      { name: 'threads -2', call: () => native.label(new Uint8Array(6), new Int32Array(6), { ...opts(), threads: -2 } as never), ctor: RangeError, code: 'CELLCAM_E_RANGE', names: 'options.threads' },
      { name: "device 'gpu'", call: () => native.label(new Uint8Array(6), new Int32Array(6), { ...opts(), device: 'gpu' } as never), ctor: RangeError, code: 'CELLCAM_E_ARG', names: 'options.device' },
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
    it('native accepts a well-formed call', async () => {
      const r = await native.label(new Uint8Array([1, 0, 1, 1, 1, 0]), new Int32Array(6), { ...opts(), connectivity: 8 } as never);
      expect(r.count).toBe(1);
      expect(Array.from(r.sizes)).toEqual([2, 4]);
    });
  });
});
