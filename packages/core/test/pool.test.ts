// Tests of CAM-to-cell pooling: the upsampling formula against hand/cv2 values, both kernels against
// a naive materialized reference, bit-exact parity native vs TS vs CUDA, and argument errors.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cellStat, poolCells, poolCellsJs, type CellStats, type PoolCellsOptions, type PoolRawOptions } from '../src/kernels/pool.js';
import { capabilities, nativeOrNull } from '../src/native.js';
import { hasCuda, hasNative, randInt, rejection, rng, skimagePython } from './helpers.js';

const native = nativeOrNull();

/** The brief's per-pixel formula, materializing the whole [C, H, W] map (small inputs only). */
function upsampleNaive(map: Float32Array, C: number, h: number, w: number, W: number, H: number): Float64Array {
  const out = new Float64Array(C * H * W);
  const axis = (n: number, N: number, D: number) => {
    let f = (D + 0.5) * (n / N) - 0.5;
    if (f < 0) f = 0;
    const i0 = Math.floor(f);
    return { i0, i1: Math.min(i0 + 1, n - 1), l: f - i0 };
  };
  for (let c = 0; c < C; c++) {
    for (let Y = 0; Y < H; Y++) {
      const { i0: y0, i1: y1, l: ly } = axis(h, H, Y);
      const row = (x: number) => {
        const a = map[(c * h + y0) * w + x], b = map[(c * h + y1) * w + x];
        return y1 === y0 ? a : a * (1 - ly) + b * ly;
      };
      for (let X = 0; X < W; X++) {
        const { i0: x0, i1: x1, l: lx } = axis(w, W, X);
        out[(c * H + Y) * W + X] = x1 === x0 ? row(x0) : row(x0) * (1 - lx) + row(x1) * lx;
      }
    }
  }
  return out;
}

/** An independent align_corners=false resampler: a triangle (tent) kernel over the clamped source coordinate. */
function upsampleTent(map: Float32Array, h: number, w: number, W: number, H: number): Float64Array {
  const out = new Float64Array(H * W);
  const coord = (D: number, n: number, N: number) => Math.min(n - 1, Math.max(0, ((D + 0.5) * n) / N - 0.5));
  for (let Y = 0; Y < H; Y++) {
    const fy = coord(Y, h, H);
    for (let X = 0; X < W; X++) {
      const fx = coord(X, w, W);
      let v = 0;
      for (let y = 0; y < h; y++) {
        const wy = Math.max(0, 1 - Math.abs(fy - y));
        if (wy === 0) continue;
        for (let x = 0; x < w; x++) v += map[y * w + x] * wy * Math.max(0, 1 - Math.abs(fx - x));
      }
      out[Y * W + X] = v;
    }
  }
  return out;
}

/** Per (slot, cell) naive mean/max over the materialized map. */
function poolNaive(up: Float64Array, labels: ArrayLike<number>, regions: Uint8Array | null, R: number, C: number, W: number, H: number, cells: number) {
  const slots = 1 + R, N = W * H;
  const sum = new Float64Array(slots * cells * C), mx = new Float64Array(slots * cells * C).fill(-Infinity);
  const area = new Int32Array(slots * cells);
  for (let i = 0; i < N; i++) {
    const id = labels[i];
    if (id === 0) continue;
    const ss = regions ? [0, 1 + regions[i]] : [0];
    for (const s of ss) {
      area[s * cells + id - 1]++;
      for (let c = 0; c < C; c++) {
        const v = up[c * N + i], k = (s * cells + id - 1) * C + c;
        sum[k] += v;
        if (v > mx[k]) mx[k] = v;
      }
    }
  }
  const mean = new Float64Array(sum.length);
  for (let k = 0; k < sum.length; k++) {
    const a = area[Math.floor(k / C)];
    mean[k] = a === 0 ? NaN : sum[k] / a;
    if (a === 0) mx[k] = NaN;
  }
  return { mean, max: mx, area };
}

interface Scene {
  map: Float32Array;
  labels: Int32Array;
  nuclei: Int32Array;
  C: number; h: number; w: number; W: number; H: number;
  cells: number;
}

/** Random Voronoi cells with background gaps and round nuclei; `cells` exceeds the ids in use so some cells are empty. */
function scene(seed: number, C: number, h: number, w: number, W: number, H: number, nCells: number): Scene {
  const r = rng(seed);
  const sx: number[] = [], sy: number[] = [], ids: number[] = [];
  for (let k = 0; k < nCells; k++) {
    sx.push(r() * W);
    sy.push(r() * H);
    ids.push(1 + randInt(r, nCells + 2)); // duplicates merge cells, gaps leave empty ids
  }
  const labels = new Int32Array(W * H), nuclei = new Int32Array(W * H);
  const rad = Math.max(1.5, Math.sqrt((W * H) / Math.max(1, nCells)) * 0.45);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let best = Infinity, k1 = 0;
      for (let k = 0; k < nCells; k++) {
        const d = (x - sx[k]) ** 2 + (y - sy[k]) ** 2;
        if (d < best) { best = d; k1 = k; }
      }
      const d = Math.sqrt(best);
      if (d < rad * 1.6 && r() > 0.02) {
        labels[y * W + x] = ids[k1];
        if (d < rad * 0.6) nuclei[y * W + x] = ids[k1];
      }
    }
  }
  const map = new Float32Array(C * h * w);
  for (let i = 0; i < map.length; i++) map[i] = r() * 4 - 2;
  return { map, labels, nuclei, C, h, w, W, H, cells: nCells + 3 };
}

/**
 * A rounding-noise probe: every map row is antisymmetric in x (M[x] = -M[w-1-x]) and every cell and
 * region is mirror-symmetric about the image centre, so each pooled sum is exactly 0 in exact
 * arithmetic and the computed means are pure double rounding noise (~1e-16), which float32 keeps.
 * Any change of operation order in one implementation shows up as different output bits.
 */
function probeScene(seed: number, C: number, h: number, w: number, W: number, H: number): Scene & { regions: Uint8Array } {
  const r = rng(seed);
  const map = new Float32Array(C * h * w);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w >> 1; x++) {
        const v = (r() * 2 - 1) * 10 ** (randInt(r, 5) - 2);
        map[(c * h + y) * w + x] = v;
        map[(c * h + y) * w + w - 1 - x] = -v;
      }
    }
  }
  const labels = new Int32Array(W * H), regions = new Uint8Array(W * H), nuclei = new Int32Array(W * H);
  const half = W / 2;
  for (let y = 0; y < H; y++) {
    const id = 1 + randInt(r, 6);
    const reach = randInt(r, Math.ceil(half) + 1); // symmetric span [W/2 - reach, W/2 + reach)
    const inner = randInt(r, reach + 1);
    for (let x = 0; x < W; x++) {
      const d = Math.abs(x + 0.5 - half); // mirror-symmetric distance from the centre line
      if (d < reach) {
        labels[y * W + x] = id;
        regions[y * W + x] = d < inner ? 0 : 1 + (y % 2);
        if (d < inner) nuclei[y * W + x] = id;
      }
    }
  }
  return { map, labels, nuclei, regions, C, h, w, W, H, cells: 7 };
}
const probeShapes = [[3, 6, 20, 37], [4, 5, 9, 41], [7, 40, 11, 29], [1, 2, 3, 57], [5, 9, 33, 9]];

function expectIdentical(a: ArrayLike<number> | null, b: ArrayLike<number> | null, what: string): void {
  if (a === null || b === null) {
    expect(a === null && b === null, `${what}: one is null`).toBe(true);
    return;
  }
  expect(a.length, `${what} length`).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) expect.fail(`${what}[${i}]: ${a[i]} vs ${b[i]} (not bit-identical)`);
  }
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = 1e-5): void {
  expect(got.length, `${what} length`).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    const g = got[i], e = want[i];
    if (Number.isNaN(e)) {
      if (!Number.isNaN(g)) expect.fail(`${what}[${i}]: expected NaN, got ${g}`);
      continue;
    }
    if (!(Math.abs(g - e) <= tol * Math.max(1, Math.abs(e)))) expect.fail(`${what}[${i}]: ${g} vs reference ${e}`);
  }
}

function statsOf(s: Scene, o: Partial<PoolCellsOptions> = {}): PoolCellsOptions {
  return { channels: s.C, mapHeight: s.h, mapWidth: s.w, width: s.W, height: s.H, cells: s.cells, ...o };
}

describe('upsampling formula (align_corners=false)', () => {
  const cases: { name: string; map: number[]; h: number; w: number; H: number; W: number; want: number[] }[] = [
    {
      name: '2x2 -> 4x4 (torch/cv2 values)', map: [0, 1, 2, 3], h: 2, w: 2, H: 4, W: 4,
      want: [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3],
    },
    { name: '1x2 -> 1x5', map: [0, 1], h: 1, w: 2, H: 1, W: 5, want: [0, 0.1, 0.5, 0.9, 1] },
    { name: '1x4 -> 1x2 (downsampling)', map: [0, 1, 2, 3], h: 1, w: 4, H: 1, W: 2, want: [0.5, 2.5] },
    { name: '2x1 -> 3x1', map: [1, 4], h: 2, w: 1, H: 3, W: 1, want: [1, 2.5, 4] },
    { name: '1x1 -> 2x3 (constant)', map: [7], h: 1, w: 1, H: 2, W: 3, want: [7, 7, 7, 7, 7, 7] },
  ];
  it.each(cases)('$name', ({ map, h, w, H, W, want }) => {
    const got = upsampleNaive(Float32Array.from(map), 1, h, w, W, H);
    expectClose(got, want, 'upsampled', 1e-12);
  });

  it.each([
    [3, 5, 7, 11], [5, 3, 2, 9], [8, 8, 8, 8], [2, 7, 19, 4], [1, 6, 5, 13],
  ])('matches an independent tent-kernel resampler: %ix%i -> %ix%i', (h, w, H, W) => {
    const r = rng(h * 100 + w * 10 + H + W);
    const map = Float32Array.from({ length: h * w }, () => r() * 2 - 1);
    expectClose(upsampleNaive(map, 1, h, w, W, H), upsampleTent(map, h, w, W, H), 'naive vs tent', 1e-12);
  });

  const cv2 = skimagePython && spawnSync(skimagePython, ['-c', 'import cv2'], { encoding: 'utf8' }).status === 0 ? skimagePython : null;
  it.skipIf(!cv2)('matches cv2.resize INTER_LINEAR', () => {
    const sizes = [[3, 5, 7, 11], [4, 4, 16, 16], [6, 9, 4, 5], [5, 2, 17, 3], [1, 7, 3, 20]];
    const maps = sizes.map(([h, w, H, W]) => {
      const r = rng(h * w * H * W);
      return Float32Array.from({ length: h * w }, () => r() * 2 - 1);
    });
    const script = `import sys, json, numpy as np, cv2
out = []
for (h, w, H, W), m in json.loads(sys.stdin.read()):
    m = np.array(m, dtype=np.float32).reshape(h, w)
    out.append(cv2.resize(m, (W, H), interpolation=cv2.INTER_LINEAR).astype(float).ravel().tolist())
print(json.dumps(out))`;
    const input = JSON.stringify(sizes.map((sz, i) => [sz, Array.from(maps[i])]));
    const res = spawnSync(cv2!, ['-c', script], { input, encoding: 'utf8' });
    expect(res.status, res.stderr).toBe(0);
    const want = JSON.parse(res.stdout) as number[][];
    sizes.forEach(([h, w, H, W], i) => expectClose(upsampleNaive(maps[i], 1, h, w, W, H), want[i], `cv2 ${h}x${w}->${H}x${W}`, 1e-5));
  });
});

// Shapes: map smaller/larger/equal to the image, odd sizes, 1×N and N×1 maps and images.
const shapes: { C: number; h: number; w: number; H: number; W: number; n: number }[] = [
  { C: 1, h: 4, w: 4, H: 32, W: 32, n: 6 },
  { C: 3, h: 5, w: 7, H: 37, W: 29, n: 9 },
  { C: 19, h: 3, w: 3, H: 48, W: 48, n: 5 },
  { C: 3, h: 40, w: 33, H: 17, W: 21, n: 4 },
  { C: 2, h: 23, w: 31, H: 23, W: 31, n: 7 },
  { C: 3, h: 1, w: 9, H: 13, W: 40, n: 5 },
  { C: 3, h: 9, w: 1, H: 40, W: 13, n: 5 },
  { C: 2, h: 3, w: 4, H: 1, W: 57, n: 3 },
  { C: 2, h: 4, w: 3, H: 57, W: 1, n: 3 },
  { C: 64, h: 2, w: 2, H: 16, W: 16, n: 3 },
];

describe('poolCellsJs equals a naive materialized reference', () => {
  it.each(shapes.map((s, i) => ({ ...s, i })))('C=$C map $h×$w -> $H×$W', ({ C, h, w, H, W, n, i }) => {
    const s = scene(100 + i, C, h, w, W, H, n);
    const up = upsampleNaive(s.map, C, h, w, W, H);
    const regions = new Uint8Array(W * H);
    for (let k = 0; k < regions.length; k++) regions[k] = s.nuclei[k] !== 0 ? 0 : 1;
    // The region map, or the nucleus labels that stand for it (the twin derives the same map).
    for (const mode of ['none', 'regions', 'nuclei'] as const) {
      const withRegions = mode !== 'none';
      const R = withRegions ? 2 : 0;
      const len = (1 + R) * s.cells * C;
      const mean = new Float32Array(len), max = new Float32Array(len), area = new Int32Array((1 + R) * s.cells);
      const given = mode === 'none' ? null : mode === 'regions' ? regions : s.nuclei;
      poolCellsJs(s.map, s.labels, given, mean, max, area, { channels: C, mapHeight: h, mapWidth: w, width: W, height: H, cells: s.cells, regionCount: R });
      const ref = poolNaive(up, s.labels, withRegions ? regions : null, R, C, W, H, s.cells);
      expect(Array.from(area)).toEqual(Array.from(ref.area));
      expect(ref.area.some((a) => a === 0), 'scene has an empty cell').toBe(true);
      expectClose(mean, ref.mean, 'mean');
      expectClose(max, ref.max, 'max');
    }
  });

  it.skipIf(!hasNative)('poolCells (native) equals the reference too', async () => {
    const s = scene(7, 5, 6, 5, 41, 35, 8);
    const up = upsampleNaive(s.map, s.C, s.h, s.w, s.W, s.H);
    const st = await poolCells(s.map, s.labels, statsOf(s, { nuclei: s.nuclei, backend: 'native', device: 'cpu' }));
    const regions = Uint8Array.from(s.nuclei, (v) => (v !== 0 ? 0 : 1));
    const ref = poolNaive(up, s.labels, regions, 2, s.C, s.W, s.H, s.cells);
    expect(st.device).toBe('cpu');
    expect(st.slots).toEqual(['cell', 'nucleus', 'cytoplasm']);
    expectClose(st.mean, ref.mean, 'mean');
    expectClose(st.max!, ref.max, 'max');
  });
});

describe('poolCells API', () => {
  it('slots, cellStat, empty cells and default cells', async () => {
    // 4×4 image, map 2×2 = [[0,1],[2,3]] (upsampled rows as in the formula table above).
    const map = Float32Array.from([0, 1, 2, 3]);
    const labels = Int32Array.from([1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 3, 3, 0, 0, 3, 3]);
    const nuclei = Uint16Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
    const st = await poolCells(map, labels, { channels: 1, mapHeight: 2, mapWidth: 2, width: 4, height: 4, nuclei, backend: 'js' });
    expect(st.cells).toBe(3);
    expect(st.device).toBe('js');
    expect(st.deviceNote).toMatch(/CUDA not used/);
    expect(cellStat(st, 'cell', 1, 0)).toBeCloseTo((0 + 0.25 + 0.5 + 0.75) / 4, 6);
    expect(cellStat(st, 'cell', 1, 0, 'max')).toBeCloseTo(0.75, 6);
    expect(cellStat(st, 'nucleus', 1, 0)).toBe(0);
    expect(cellStat(st, 'cytoplasm', 3, 0, 'max')).toBeCloseTo(2.75, 6);
    expect(cellStat(st, 'nucleus', 3, 0)).toBe(3);
    expect(Number.isNaN(cellStat(st, 'cell', 2, 0))).toBe(true);
    expect(Number.isNaN(cellStat(st, 'cell', 2, 0, 'max'))).toBe(true);
    expect(Array.from(st.area)).toEqual([4, 0, 4, 1, 0, 1, 3, 0, 3]);
    expect(() => cellStat(st, 'membrane', 1, 0)).toThrow(/'cell', 'nucleus', 'cytoplasm'/);
    expect(() => cellStat(st, 'cell', 4, 0)).toThrow(RangeError);
    expect(() => cellStat(st, 'cell', 1, 1)).toThrow(/channel/);
    const meanOnly = await poolCells(map, labels, { channels: 1, mapHeight: 2, mapWidth: 2, width: 4, height: 4, stats: 'mean', backend: 'js' });
    expect(meanOnly.max).toBeNull();
    expect(() => cellStat(meanOnly, 'cell', 1, 0, 'max')).toThrow(/max was not computed/);
  });

  it('custom regions with names', async () => {
    const s = scene(3, 2, 3, 3, 20, 20, 4);
    const map = new Uint8Array(s.W * s.H).map((_, i) => i % 3);
    const st = await poolCells(s.map, s.labels, statsOf(s, { regions: { map, count: 3, names: ['a', 'b', 'c'] }, backend: 'js' }));
    expect(st.slots).toEqual(['cell', 'a', 'b', 'c']);
    expect(st.area.length).toBe(4 * s.cells);
    for (let id = 1; id <= s.cells; id++) {
      const parts = st.area[s.cells + id - 1] + st.area[2 * s.cells + id - 1] + st.area[3 * s.cells + id - 1];
      expect(parts).toBe(st.area[id - 1]);
    }
  });
});

describe.skipIf(!hasNative)('native vs TypeScript twin: bit-identical', () => {
  const configs: { name: string; opts: Partial<PoolCellsOptions>; region: 'none' | 'nuclei' | 'regions' }[] = [
    { name: 'mean+max', opts: {}, region: 'none' },
    { name: 'mean only', opts: { stats: 'mean' }, region: 'none' },
    { name: 'nuclei', opts: {}, region: 'nuclei' },
    { name: 'regions (5)', opts: {}, region: 'regions' },
    { name: 'nuclei mean only', opts: { stats: 'mean' }, region: 'nuclei' },
  ];
  const extra = [{ C: 19, h: 8, w: 8, H: 128, W: 128, n: 20 }, { C: 3, h: 13, w: 11, H: 97, W: 131, n: 12 }];
  it.each([...shapes, ...extra].map((s, i) => ({ ...s, i })))('C=$C map $h×$w -> $H×$W, all configs, several seeds', async ({ C, h, w, H, W, n, i }) => {
    for (let seed = 0; seed < 3; seed++) {
      const s = scene(1000 * i + seed, C, h, w, W, H, n);
      for (const cfg of configs) {
        const regionMap = Uint8Array.from(s.labels, (_, k) => (k * 7 + (k >> 3)) % 5);
        const o = statsOf(s, {
          ...cfg.opts,
          nuclei: cfg.region === 'nuclei' ? s.nuclei : undefined,
          regions: cfg.region === 'regions' ? { map: regionMap, count: 5 } : undefined,
        });
        const js = await poolCells(s.map, s.labels, { ...o, backend: 'js' });
        const labels16 = Uint16Array.from(s.labels);
        const runs: CellStats[] = [
          await poolCells(s.map, s.labels, { ...o, backend: 'native', device: 'cpu', threads: 1 }),
          await poolCells(s.map, s.labels, { ...o, backend: 'native', device: 'cpu', threads: 0 }),
          await poolCells(s.map, labels16, { ...o, backend: 'native', device: 'cpu', threads: 7 }),
          // Uint16 nucleus labels, from which the addon derives the regions itself.
          await poolCells(s.map, labels16, { ...o, ...(o.nuclei ? { nuclei: Uint16Array.from(o.nuclei) } : {}), backend: 'native', device: 'cpu', threads: 3 }),
        ];
        for (const [k, nat] of runs.entries()) {
          const what = `seed ${seed} ${cfg.name} run ${k}`;
          expect(nat.device).toBe('cpu');
          expectIdentical(nat.area, js.area, `${what} area`);
          expectIdentical(nat.mean, js.mean, `${what} mean`);
          expectIdentical(nat.max, js.max, `${what} max`);
        }
      }
    }
  });

  it.each(probeShapes)('rounding-noise probe %ix%i -> %ix%i: identical noise bits', async (h, w, H, W) => {
    const s = probeScene(h * 1000 + W, 4, h, w, W, H);
    for (const regions of [undefined, { map: s.regions, count: 3 }]) {
      const o = statsOf(s, { regions });
      const js = await poolCells(s.map, s.labels, { ...o, backend: 'js' });
      const nat = await poolCells(s.map, s.labels, { ...o, backend: 'native', device: 'cpu', threads: 3 });
      // the probe works only if the outputs really are noise: tiny, and not all zero
      const finite = Array.from(js.mean).filter((v) => !Number.isNaN(v));
      expect(finite.every((v) => Math.abs(v) < 1e-12)).toBe(true);
      expect(finite.filter((v) => v !== 0).length).toBeGreaterThan(finite.length / 4);
      expectIdentical(nat.mean, js.mean, 'mean');
      expectIdentical(nat.max, js.max, 'max');
    }
  });

  it('NaN and infinities in the map give identical (NaN-propagating) results', async () => {
    const s = scene(5, 3, 6, 6, 30, 30, 6);
    s.map[4] = NaN;
    s.map[40] = Infinity;
    s.map[80] = -Infinity;
    const o = statsOf(s, { nuclei: s.nuclei });
    const js = await poolCells(s.map, s.labels, { ...o, backend: 'js' });
    const nat = await poolCells(s.map, s.labels, { ...o, backend: 'native', device: 'cpu', threads: 2 });
    expect(Array.from(js.max!).some(Number.isNaN)).toBe(true);
    expectIdentical(nat.mean, js.mean, 'mean');
    expectIdentical(nat.max, js.max, 'max');
  });
});

describe.skipIf(!hasCuda)('CUDA vs CPU: bit-identical', () => {
  it.each([...shapes, { C: 256, h: 16, w: 16, H: 256, W: 256, n: 12 }].map((s, i) => ({ ...s, i })))('C=$C map $h×$w -> $H×$W', async ({ C, h, w, H, W, n, i }) => {
    const s = scene(500 + i, C, h, w, W, H, n);
    for (const extra of [{}, { nuclei: s.nuclei }, { stats: 'mean' as const }]) {
      const o = statsOf(s, { ...extra, backend: 'native' });
      const cpu = await poolCells(s.map, s.labels, { ...o, device: 'cpu' });
      const gpu = await poolCells(s.map, s.labels, { ...o, device: 'cuda' });
      const auto = await poolCells(s.map, s.labels, o);
      expect(gpu.device).toBe('cuda');
      expect(auto.device).toBe('cuda');
      expect(gpu.timings!.totalMs).toBeGreaterThanOrEqual(gpu.timings!.kernelMs);
      expect(cpu.timings).toBeUndefined();
      expectIdentical(gpu.area, cpu.area, 'area');
      expectIdentical(gpu.mean, cpu.mean, 'mean');
      expectIdentical(gpu.max, cpu.max, 'max');
      expectIdentical(auto.mean, cpu.mean, 'auto mean');
    }
  });
});

describe.skipIf(!hasCuda)('CUDA vs CPU: rounding-noise probe', () => {
  it.each(probeShapes)('%ix%i -> %ix%i', async (h, w, H, W) => {
    const s = probeScene(h * 1000 + W, 4, h, w, W, H);
    const o = statsOf(s, { regions: { map: s.regions, count: 3 }, backend: 'native' });
    const cpu = await poolCells(s.map, s.labels, { ...o, device: 'cpu' });
    const gpu = await poolCells(s.map, s.labels, { ...o, device: 'cuda' });
    expectIdentical(gpu.mean, cpu.mean, 'mean');
    expectIdentical(gpu.max, cpu.max, 'max');
  });
});

describe('device selection without a CUDA device', () => {
  const s = scene(9, 2, 3, 3, 12, 12, 3);
  it.skipIf(!hasNative || hasCuda)("device 'cuda' rejects with CELLCAM_E_CUDA and the reason (core)", async () => {
    const reason = capabilities().reason;
    expect(reason.length).toBeGreaterThan(0);
    const err = await rejection(poolCells(s.map, s.labels, statsOf(s, { device: 'cuda' })));
    expect(err.code).toBe('CELLCAM_E_CUDA');
    expect(err.message).toContain(reason);
  });
  it.skipIf(!hasNative || hasCuda)("device 'cuda' rejects with CELLCAM_E_CUDA and the reason (direct native call)", async () => {
    const len = s.cells * s.C;
    const err = await rejection(native!.pool(s.map, s.labels, null, new Float32Array(len), null, new Int32Array(s.cells),
      { channels: s.C, mapHeight: s.h, mapWidth: s.w, width: s.W, height: s.H, cells: s.cells, regionCount: 0, threads: 1, device: 'cuda' }));
    expect(err.code).toBe('CELLCAM_E_CUDA');
    expect(err.message).toContain(capabilities().reason);
  });
  it.skipIf(!hasNative || hasCuda)("device 'auto' uses the CPU and says why", async () => {
    const st = await poolCells(s.map, s.labels, statsOf(s));
    expect(st.device).toBe('cpu');
    expect(st.deviceNote).toContain(capabilities().reason);
  });
  it("device 'cuda' with backend 'js' rejects with CELLCAM_E_CUDA", async () => {
    const err = await rejection(poolCells(s.map, s.labels, statsOf(s, { device: 'cuda', backend: 'js' })));
    expect(err.code).toBe('CELLCAM_E_CUDA');
    expect(err.message).toMatch(/backend is 'js'/);
  });
});

describe('bad input names the argument', () => {
  const s = scene(11, 2, 3, 4, 10, 8, 3);
  const bigId = Int32Array.from(s.labels);
  bigId[13] = s.cells + 1;
  const negId = Int32Array.from(s.labels);
  negId[5] = -2;
  type Case = { name: string; map?: unknown; labels?: unknown; opts?: Record<string, unknown>; ctor: ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor; code: string; msg: RegExp };
  const cases: Case[] = [
    { name: 'map dtype', map: new Float64Array(s.map.length), ctor: TypeError, code: 'CELLCAM_E_DTYPE', msg: /Float32Array for map/ },
    { name: 'map length', map: new Float32Array(s.map.length - 1), ctor: RangeError, code: 'CELLCAM_E_SHAPE', msg: /channels\*mapHeight\*mapWidth = 24 for map/ },
    { name: 'labels dtype', labels: new Uint8Array(s.labels.length), ctor: TypeError, code: 'CELLCAM_E_DTYPE', msg: /for labels/ },
    { name: 'labels length', labels: new Int32Array(s.labels.length + 1), ctor: RangeError, code: 'CELLCAM_E_SHAPE', msg: /width\*height = 80 for labels/ },
    { name: 'nuclei dtype', opts: { nuclei: new Float32Array(80) }, ctor: TypeError, code: 'CELLCAM_E_DTYPE', msg: /options\.nuclei/ },
    { name: 'nuclei length', opts: { nuclei: new Int32Array(79) }, ctor: RangeError, code: 'CELLCAM_E_SHAPE', msg: /options\.nuclei/ },
    { name: 'id > cells', labels: bigId, ctor: RangeError, code: 'CELLCAM_E_RANGE', msg: /for labels but received \d+ at x=3, y=1/ },
    { name: 'negative id', labels: negId, ctor: RangeError, code: 'CELLCAM_E_RANGE', msg: /for labels but received -2 at x=5, y=0/ },
    { name: 'channels 0', opts: { channels: 0 }, ctor: RangeError, code: 'CELLCAM_E_RANGE', msg: /options\.channels/ },
    { name: 'channels 4097', opts: { channels: 4097 }, ctor: RangeError, code: 'CELLCAM_E_RANGE', msg: /options\.channels/ },
    { name: 'mapHeight 1.5', opts: { mapHeight: 1.5 }, ctor: TypeError, code: 'CELLCAM_E_DTYPE', msg: /options\.mapHeight/ },
    { name: 'width missing', opts: { width: undefined }, ctor: TypeError, code: 'CELLCAM_E_DTYPE', msg: /options\.width/ },
    { name: 'cells -1', opts: { cells: -1 }, ctor: RangeError, code: 'CELLCAM_E_RANGE', msg: /options\.cells/ },
    { name: 'region value >= count', opts: { regions: { map: new Uint8Array(80).fill(2), count: 2 } }, ctor: RangeError, code: 'CELLCAM_E_RANGE', msg: /for regions but received 2 at x=0, y=0/ },
    { name: 'regions map dtype', opts: { regions: { map: new Int32Array(80), count: 2 } }, ctor: TypeError, code: 'CELLCAM_E_DTYPE', msg: /options\.regions\.map/ },
    { name: 'regions names', opts: { regions: { map: new Uint8Array(80), count: 2, names: ['x'] } }, ctor: TypeError, code: 'CELLCAM_E_DTYPE', msg: /options\.regions\.names/ },
    { name: 'regions and nuclei', opts: { regions: { map: new Uint8Array(80), count: 1 }, nuclei: s.nuclei }, ctor: RangeError, code: 'CELLCAM_E_ARG', msg: /not both/ },
    { name: 'stats', opts: { stats: 'median' }, ctor: RangeError, code: 'CELLCAM_E_ARG', msg: /options\.stats/ },
    { name: 'threads', opts: { threads: -1 }, ctor: RangeError, code: 'CELLCAM_E_RANGE', msg: /options\.threads/ },
    { name: 'device', opts: { device: 'gpu' }, ctor: RangeError, code: 'CELLCAM_E_ARG', msg: /options\.device/ },
    { name: 'backend', opts: { backend: 'wasm' }, ctor: RangeError, code: 'CELLCAM_E_ARG', msg: /options\.backend/ },
  ];
  const backends = hasNative ? (['js', 'native'] as const) : (['js'] as const);
  for (const backend of backends) {
    it.each(cases)(`core ($name, backend ${backend})`, async ({ map, labels, opts, ctor, code, msg }) => {
      const o = { ...statsOf(s), device: 'cpu', backend, ...(opts ?? {}) } as PoolCellsOptions;
      const err = await rejection(poolCells((map ?? s.map) as Float32Array, (labels ?? s.labels) as Int32Array, o));
      expect(err).toBeInstanceOf(ctor);
      expect(err.code).toBe(code);
      expect(err.message).toMatch(msg);
    });
  }
  it('options must be an object', async () => {
    const err = await rejection(poolCells(s.map, s.labels, null as unknown as PoolCellsOptions));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(/for options/);
  });

  const raw = (o: Partial<PoolRawOptions & { threads: number; device: string }> = {}) =>
    ({ channels: s.C, mapHeight: s.h, mapWidth: s.w, width: s.W, height: s.H, cells: s.cells, regionCount: 0, threads: 1, device: 'cpu', ...o }) as Parameters<NonNullable<typeof native>['pool']>[6];
  const n = s.cells * s.C;
  type NativeCase = { name: string; args: unknown[]; ctor: ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor; code: string; msg: RegExp };
  const nativeCases: NativeCase[] = [
    { name: 'map dtype', args: [new Int32Array(24), s.labels, null, new Float32Array(n), null, new Int32Array(s.cells), raw()], ctor: TypeError, code: 'CELLCAM_E_DTYPE', msg: /Expected Float32Array for map but received Int32Array/ },
    { name: 'map length', args: [new Float32Array(23), s.labels, null, new Float32Array(n), null, new Int32Array(s.cells), raw()], ctor: RangeError, code: 'CELLCAM_E_SHAPE', msg: /channels\*mapHeight\*mapWidth = 24 for map/ },
    { name: 'labels dtype', args: [s.map, new Float32Array(80), null, new Float32Array(n), null, new Int32Array(s.cells), raw()], ctor: TypeError, code: 'CELLCAM_E_DTYPE', msg: /Uint16Array or Int32Array for labels but received Float32Array/ },
    { name: 'labels length', args: [s.map, new Int32Array(81), null, new Float32Array(n), null, new Int32Array(s.cells), raw()], ctor: RangeError, code: 'CELLCAM_E_SHAPE', msg: /for labels/ },
    { name: 'regions dtype', args: [s.map, s.labels, new Float32Array(80), new Float32Array(n), null, new Int32Array(s.cells), raw()], ctor: TypeError, code: 'CELLCAM_E_DTYPE', msg: /Uint8Array \(a region map\), Uint16Array or Int32Array \(nucleus labels\) or null for regions but received Float32Array/ },
    { name: 'nucleus labels with 3 regions', args: [s.map, s.labels, new Int32Array(80), new Float32Array(4 * s.cells * s.C), null, new Int32Array(4 * s.cells), raw({ regionCount: 3 })], ctor: RangeError, code: 'CELLCAM_E_RANGE', msg: /\[2, 2\] for options\.regionCount but received number 3/ },
    { name: 'nucleus labels length', args: [s.map, s.labels, new Uint16Array(81), new Float32Array(3 * s.cells * s.C), null, new Int32Array(3 * s.cells), raw({ regionCount: 2 })], ctor: RangeError, code: 'CELLCAM_E_SHAPE', msg: /an array of length width\*height = 80 for regions/ },
    { name: 'regions without regionCount', args: [s.map, s.labels, new Uint8Array(80), new Float32Array(n), null, new Int32Array(s.cells), raw()], ctor: RangeError, code: 'CELLCAM_E_RANGE', msg: /options\.regionCount/ },
    { name: 'mean length', args: [s.map, s.labels, null, new Float32Array(n + 1), null, new Int32Array(s.cells), raw()], ctor: RangeError, code: 'CELLCAM_E_SHAPE', msg: /for mean/ },
    { name: 'max dtype', args: [s.map, s.labels, null, new Float32Array(n), new Float64Array(n), new Int32Array(s.cells), raw()], ctor: TypeError, code: 'CELLCAM_E_DTYPE', msg: /for max/ },
    { name: 'area dtype', args: [s.map, s.labels, null, new Float32Array(n), null, new Float32Array(s.cells), raw()], ctor: TypeError, code: 'CELLCAM_E_DTYPE', msg: /Int32Array for area/ },
    { name: 'options', args: [s.map, s.labels, null, new Float32Array(n), null, new Int32Array(s.cells), 3], ctor: TypeError, code: 'CELLCAM_E_DTYPE', msg: /for options/ },
    { name: 'channels 0', args: [s.map, s.labels, null, new Float32Array(n), null, new Int32Array(s.cells), raw({ channels: 0 })], ctor: RangeError, code: 'CELLCAM_E_RANGE', msg: /options\.channels/ },
    { name: 'device', args: [s.map, s.labels, null, new Float32Array(n), null, new Int32Array(s.cells), raw({ device: 'gpu' })], ctor: RangeError, code: 'CELLCAM_E_ARG', msg: /options\.device/ },
    { name: 'id > cells (rejects)', args: [s.map, bigId, null, new Float32Array(n), null, new Int32Array(s.cells), raw()], ctor: RangeError, code: 'CELLCAM_E_RANGE', msg: /for labels but received \d+ at x=3, y=1/ },
    { name: 'region value (rejects)', args: [s.map, s.labels, new Uint8Array(80).fill(3), new Float32Array(3 * n), null, new Int32Array(3 * s.cells), raw({ regionCount: 2 })], ctor: RangeError, code: 'CELLCAM_E_RANGE', msg: /for regions but received 3 at x=0, y=0/ },
  ];
  it.skipIf(!hasNative).each(nativeCases)('direct native call: $name', async ({ args, ctor, code, msg }) => {
    const err = await rejection(() => (native!.pool as (...a: unknown[]) => Promise<unknown>)(...args));
    expect(err).toBeInstanceOf(ctor);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(msg);
  });
});
