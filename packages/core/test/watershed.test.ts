// Tests of the seeded watershed: hand-checked goldens, native/TS parity, fifo == heap on distinct
// seed values, scikit-image 0.19 as the oracle (tests/oracle/skimage_watershed.py), bad input.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { watershed, watershedJs, type WatershedElevation, type WatershedRawOptions } from '../src/kernels/watershed.js';
import { nativeOrNull } from '../src/native.js';
import { hasNative, randInt, repoRoot, rng, skimagePython } from './helpers.js';

type Dtype = 'uint8' | 'uint16' | 'float32';

interface Case {
  name: string;
  W: number;
  H: number;
  elevation: WatershedElevation;
  markers: Int32Array;
  mask: Uint8Array | null;
  connectivity: 4 | 8;
  watershedLine: boolean;
}

const dtypeOf = (e: WatershedElevation): Dtype => (e instanceof Uint8Array ? 'uint8' : e instanceof Uint16Array ? 'uint16' : 'float32');
const raw = (c: Case, tieBreak: 'fifo' | 'heap'): WatershedRawOptions => ({
  width: c.W, height: c.H, connectivity: c.connectivity, watershedLine: c.watershedLine, tieBreak,
});

function runJs(c: Case, tieBreak: 'fifo' | 'heap'): Int32Array {
  const out = new Int32Array(c.W * c.H);
  watershedJs(c.elevation, c.markers, c.mask, out, raw(c, tieBreak));
  return out;
}

async function runNative(c: Case, tieBreak: 'fifo' | 'heap'): Promise<Int32Array> {
  const out = new Int32Array(c.W * c.H);
  await nativeOrNull()!.watershed(c.elevation, c.markers, c.mask, out, raw(c, tieBreak));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Hand-checked goldens. Each expectation was worked out by stepping the queue by hand (see the
// comments); the oracle block below re-checks every 'heap' golden against scikit-image itself.
const u8 = (...v: number[]) => Uint8Array.from(v);
const i32 = (...v: number[]) => Int32Array.from(v);

interface Golden extends Case {
  fifo: number[];
  heap: number[];
}

const goldens: Golden[] = [
  {
    // Plateau, seeds at both ends: x1 is pushed by the first seed (raster order), x3 by the second,
    // x2 by x1 (age 4) before x3 pops.
    name: 'plateau, two seeds, no line', W: 5, H: 1, elevation: u8(0, 0, 0, 0, 0), markers: i32(1, 0, 0, 0, 2),
    mask: null, connectivity: 4, watershedLine: false, fifo: [1, 1, 1, 2, 2], heap: [1, 1, 1, 2, 2],
  },
  {
    // Same with a line: x2 pops with neighbours labelled 1 and 2, is masked and stays 0.
    name: 'plateau, two seeds, watershed line', W: 5, H: 1, elevation: u8(0, 0, 0, 0, 0), markers: i32(1, 0, 0, 0, 2),
    mask: null, connectivity: 4, watershedLine: true, fifo: [1, 1, 0, 2, 2], heap: [1, 1, 0, 2, 2],
  },
  {
    // Even plateau with a line: x2 (pushed by seed 2, age 3) pops after x1 was labelled 1 (x1 popped
    // at age 2), so x2 sees labels 1 and 2 and becomes the line: the split is not symmetric.
    name: 'even plateau, line', W: 4, H: 1, elevation: u8(3, 3, 3, 3), markers: i32(1, 0, 0, 2),
    mask: null, connectivity: 4, watershedLine: true, fifo: [1, 1, 0, 2], heap: [1, 1, 0, 2],
  },
  {
    // Three equal seeds: fifo pops them in raster order (A, B, C) so B claims x3; skimage's heap pops
    // A, then moves C (the last item) to the root where it stays (ties do not swap), so C claims x3.
    name: 'seed tie: raster order vs heap artifact', W: 5, H: 1, elevation: u8(0, 0, 0, 0, 0), markers: i32(1, 0, 2, 0, 3),
    mask: null, connectivity: 4, watershedLine: false, fifo: [1, 1, 2, 2, 3], heap: [1, 1, 2, 3, 3],
  },
  {
    // No clamping (0.19): x1 (level 2) pushes x2 at its own level 0, which pops at once and claims
    // x3 for label 1 before x4 (level 2, pushed earlier) pops. Clamping would give x3 to label 2.
    name: 'lower neighbour pushed below the current level', W: 6, H: 1, elevation: u8(0, 2, 0, 3, 2, 0),
    markers: i32(1, 0, 0, 0, 0, 2), mask: null, connectivity: 4, watershedLine: false,
    fifo: [1, 1, 1, 1, 2, 2], heap: [1, 1, 1, 1, 2, 2],
  },
  {
    // Marker quirk: seed 2 pops between seeds 1 and 3, is masked as a line pixel but keeps its label;
    // it does not propagate, so x4 (below it) is later a line pixel between 1 and 3.
    name: 'masked marker keeps its label (line)', W: 3, H: 2, elevation: u8(0, 0, 0, 0, 0, 0),
    markers: i32(1, 2, 3, 0, 0, 0), mask: null, connectivity: 4, watershedLine: true,
    fifo: [1, 2, 3, 1, 0, 3], heap: [1, 2, 3, 1, 0, 3],
  },
  {
    // The mask splits the row; the marker outside the mask is dropped (markers *= mask).
    name: 'mask blocks the flood and removes markers', W: 5, H: 1, elevation: u8(0, 0, 0, 0, 0), markers: i32(1, 0, 3, 0, 2),
    mask: u8(1, 1, 0, 1, 1), connectivity: 4, watershedLine: false, fifo: [1, 1, 0, 2, 2], heap: [1, 1, 0, 2, 2],
  },
  {
    // 8-connectivity: the seed at (0,0) reaches (1,1) diagonally (age 4) before seed 2 pops.
    name: '8-connected diagonal', W: 3, H: 3, elevation: u8(0, 0, 0, 0, 0, 0, 0, 0, 0), markers: i32(1, 0, 0, 0, 0, 0, 0, 0, 2),
    mask: null, connectivity: 8, watershedLine: false, fifo: [1, 1, 1, 1, 1, 2, 1, 2, 2], heap: [1, 1, 1, 1, 1, 2, 1, 2, 2],
  },
  {
    // No markers: nothing is labelled.
    name: 'no markers', W: 3, H: 1, elevation: u8(1, 2, 3), markers: i32(0, 0, 0),
    mask: null, connectivity: 4, watershedLine: false, fifo: [0, 0, 0], heap: [0, 0, 0],
  },
];

describe('watershed goldens', () => {
  for (const tieBreak of ['fifo', 'heap'] as const) {
    it.each(goldens)(`$name (${tieBreak}, TS twin)`, (g) => {
      expect(Array.from(runJs(g, tieBreak))).toEqual(g[tieBreak]);
    });
    it.each(goldens)(`$name (${tieBreak}, core backend js)`, async (g) => {
      const labels = await watershed(g.elevation, g.markers, {
        width: g.W, height: g.H, mask: g.mask, connectivity: g.connectivity, watershedLine: g.watershedLine, tieBreak, backend: 'js',
      });
      expect(Array.from(labels)).toEqual(g[tieBreak]);
    });
  }
  describe.skipIf(!hasNative)('native', () => {
    for (const tieBreak of ['fifo', 'heap'] as const) {
      it.each(goldens)(`$name (${tieBreak}, native)`, async (g) => {
        expect(Array.from(await runNative(g, tieBreak))).toEqual(g[tieBreak]);
      });
    }
  });

  it('defaults: 4-connectivity, no line, fifo; `out` may be `markers` itself', async () => {
    const markers = i32(1, 0, 0, 0, 2);
    const labels = await watershed(u8(0, 0, 0, 0, 0), markers, { width: 5, height: 1, out: markers, backend: 'js' });
    expect(labels).toBe(markers);
    expect(Array.from(labels)).toEqual([1, 1, 1, 2, 2]);
  });
});

// ---------------------------------------------------------------------------------------------
// Random cases: plateaus (few levels), odd sizes, 1×N and N×1, empty/full/random masks, blobs.
function makeElevation(r: () => number, dtype: Dtype, n: number, levels: number): WatershedElevation {
  if (dtype === 'uint8') return Uint8Array.from({ length: n }, () => randInt(r, levels) * Math.floor(255 / Math.max(1, levels - 1)));
  if (dtype === 'uint16') return Uint16Array.from({ length: n }, () => randInt(r, levels) * Math.floor(65535 / Math.max(1, levels - 1)));
  // floats: few distinct values (ties), -0 vs +0, negatives, or all-distinct noise
  const vals = [-1.5, -0, 0, 0.25, 1e-30, 3.4e38, -3.4e38, 7];
  return Float32Array.from({ length: n }, () => (levels <= 8 ? vals[randInt(r, levels)] : (r() - 0.5) * 1000));
}

function randomCase(seed: number, opts: { distinctSeeds?: boolean; maxSide?: number } = {}): Case {
  const r = rng(seed);
  const maxSide = opts.maxSide ?? 24;
  const shape = randInt(r, 6);
  const W = shape === 0 ? 1 : 1 + randInt(r, maxSide);
  const H = shape === 1 ? 1 : 1 + randInt(r, maxSide);
  const n = W * H;
  const dtype = (['uint8', 'uint16', 'float32'] as const)[randInt(r, 3)];
  const levels = [1, 2, 3, 4, 8, 200][randInt(r, 6)];
  const elevation = makeElevation(r, dtype, n, opts.distinctSeeds ? 2 : levels);
  const markers = new Int32Array(n);
  const labels = 1 + randInt(r, 6);
  const count = randInt(r, Math.max(2, Math.floor(n / 4)));
  for (let k = 0; k < count; k++) {
    const p = randInt(r, n);
    markers[p] = 1 + randInt(r, labels);
    if (r() < 0.3 && p + 1 < n) markers[p + 1] = markers[p]; // small blobs
  }
  if (r() < 0.1) markers[randInt(r, n)] = 2147483647; // the largest label
  const maskKind = randInt(r, 5);
  const mask = maskKind === 0 ? null
    : maskKind === 1 ? new Uint8Array(n) // empty
      : maskKind === 2 ? new Uint8Array(n).fill(255) // full (any nonzero is inside)
        : Uint8Array.from({ length: n }, () => (r() < 0.8 ? 1 + randInt(r, 3) : 0));
  if (opts.distinctSeeds) {
    // every marker pixel gets its own elevation value (at most 250 marker pixels)
    let k = 0;
    for (let p = 0; p < n; p++) {
      if (markers[p] === 0) continue;
      if (k >= 250) { markers[p] = 0; continue; }
      const v = 3 + k++;
      if (elevation instanceof Float32Array) elevation[p] = v + 0.5;
      else elevation[p] = v;
    }
  }
  return { name: `seed ${seed} ${W}x${H} ${dtype}`, W, H, elevation, markers, mask, connectivity: r() < 0.5 ? 4 : 8, watershedLine: r() < 0.5 };
}

// A smooth field with noise and many levels: long floods through the interior fast path.
function blobCase(seed: number, W: number, H: number, dtype: Dtype, watershedLine: boolean, connectivity: 4 | 8): Case {
  const r = rng(seed);
  const n = W * H;
  const cx = Array.from({ length: 12 }, () => r() * W), cy = Array.from({ length: 12 }, () => r() * H);
  const markers = new Int32Array(n), mask = new Uint8Array(n);
  const f = new Float64Array(n);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let d = 1e9;
      for (let k = 0; k < 12; k++) d = Math.min(d, Math.hypot(x - cx[k], y - cy[k]));
      const i = y * W + x;
      f[i] = d / 40 + r() * 0.3;
      mask[i] = d < 35 || r() < 0.05 ? 1 : 0;
    }
  }
  for (let k = 0; k < 12; k++) {
    const x = Math.floor(cx[k]), y = Math.floor(cy[k]);
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
      const xx = x + dx, yy = y + dy;
      if (xx >= 0 && yy >= 0 && xx < W && yy < H) markers[yy * W + xx] = k + 1;
    }
  }
  const elevation = dtype === 'uint8' ? Uint8Array.from(f, (v) => Math.min(255, Math.round(v * 60)))
    : dtype === 'uint16' ? Uint16Array.from(f, (v) => Math.min(65535, Math.round(v * 15000)))
      : Float32Array.from(f);
  return { name: `blobs ${W}x${H} ${dtype} wsl=${watershedLine} conn=${connectivity}`, W, H, elevation, markers, mask, connectivity, watershedLine };
}

const randomCases = Array.from({ length: 300 }, (_, k) => randomCase(1000 + k));
const blobCases = (['uint8', 'uint16', 'float32'] as const).flatMap((dt, k) =>
  [false, true].map((wsl) => blobCase(50 + k, 241, 167, dt, wsl, wsl ? 8 : 4)));

describe('watershed invariants (TS twin)', () => {
  it('labels only in-mask pixels, with marker labels, and keeps in-mask markers', () => {
    const bad: string[] = [];
    for (const c of randomCases.slice(0, 150)) {
      for (const tie of ['fifo', 'heap'] as const) {
        const out = runJs(c, tie);
        const labels = new Set([0, ...Array.from(c.markers)]);
        for (let i = 0; i < out.length; i++) {
          const inside = c.mask === null || c.mask[i] !== 0;
          if ((!inside && out[i] !== 0) || (inside && c.markers[i] > 0 && out[i] !== c.markers[i]) || !labels.has(out[i])) {
            bad.push(`${c.name} ${tie} pixel ${i}: ${out[i]}`);
          }
        }
      }
    }
    expect(bad).toEqual([]);
  });
});

describe.skipIf(!hasNative)('watershed parity: native == TS twin', () => {
  for (const tie of ['fifo', 'heap'] as const) {
    it(`${randomCases.length} random cases (${tie})`, async () => {
      for (const c of randomCases) expect(await runNative(c, tie), `${c.name} ${tie}`).toEqual(runJs(c, tie));
    });
    it.each(blobCases)(`$name (${tie})`, async (c) => {
      const js = runJs(c, tie);
      expect(await runNative(c, tie)).toEqual(js);
      expect(js.some((v) => v === 0) && js.some((v) => v > 1)).toBe(true); // non-trivial
    });
  }
  it('more distinct labels than the fast path has id bits (uint16: 2^14): the general flood', async () => {
    const W = 200, H = 100, n = W * H, r = rng(77);
    const c: Case = {
      name: 'many labels', W, H, elevation: Uint16Array.from({ length: n }, () => randInt(r, 5) * 1000),
      markers: Int32Array.from({ length: n }, (_, i) => (r() < 0.85 ? i + 1 : 0)), mask: null, connectivity: 4, watershedLine: false,
    };
    expect(new Set(c.markers).size).toBeGreaterThan(1 << 14);
    expect(await runNative(c, 'fifo')).toEqual(runJs(c, 'fifo'));
  });
  // A seed on the top level stays in the heap while the flood crosses the whole noisy image, so the
  // native heap outgrows its first block (1024 items) and must keep skimage's moves across the copy.
  it.each([false, true])('the heap grows while a seed waits on the top level (line: %s)', async (watershedLine) => {
    const W = 160, H = 150, n = W * H, r = rng(91);
    const elevation = Uint8Array.from({ length: n }, () => randInt(r, 255));
    const markers = new Int32Array(n);
    for (const [p, label] of [[0, 1], [W - 1, 2], [75 * W + 80, 3], [75 * W + 81, 4]]) markers[p] = label;
    elevation[0] = 255;
    elevation[W - 1] = 255;
    const c: Case = { name: 'top-level seeds', W, H, elevation, markers, mask: null, connectivity: 4, watershedLine };
    const js = runJs(c, 'heap');
    expect(await runNative(c, 'heap')).toEqual(js);
    expect(new Set(js).size).toBeGreaterThanOrEqual(watershedLine ? 4 : 3); // the flood is shared out
  });
  it('core dispatch (backend native) equals the twin and writes into options.out', async () => {
    const c = blobCases[1];
    const out = new Int32Array(c.W * c.H).fill(-7);
    const labels = await watershed(c.elevation, c.markers, {
      width: c.W, height: c.H, mask: c.mask, connectivity: c.connectivity, watershedLine: c.watershedLine, backend: 'native', out,
    });
    expect(labels).toBe(out);
    expect(out).toEqual(runJs(c, 'fifo'));
  });
});

describe('fifo == heap when no two marker pixels share a value', () => {
  const distinct = Array.from({ length: 150 }, (_, k) => randomCase(5000 + k, { distinctSeeds: true }));
  it('TS twin', () => {
    for (const c of distinct) expect(runJs(c, 'fifo'), c.name).toEqual(runJs(c, 'heap'));
  });
  it.skipIf(!hasNative)('native', async () => {
    for (const c of distinct) expect(await runNative(c, 'fifo'), c.name).toEqual(await runNative(c, 'heap'));
  });
  it('and they do differ on some seed ties (the test can fail)', () => {
    const differs = randomCases.filter((c) => {
      const heap = runJs(c, 'heap');
      return runJs(c, 'fifo').some((v, i) => v !== heap[i]);
    });
    expect(differs.length).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------
describe.skipIf(!skimagePython)('scikit-image 0.19 oracle', () => {
  const oracleCases: Case[] = [
    ...goldens,
    ...Array.from({ length: 100 }, (_, k) => randomCase(9000 + k)),
    ...Array.from({ length: 30 }, (_, k) => randomCase(9500 + k, { distinctSeeds: true })),
    blobCases[0], blobCases[3], blobCases[5],
  ];
  let expected: Int32Array[] = [];

  function runOracle(cases: Case[]): Int32Array[] {
    const dir = mkdtempSync(join(tmpdir(), 'cellcam-ws-oracle-'));
    try {
      const manifest = cases.map((c, k) => {
        const file = (name: string, a: ArrayBufferView) => {
          const f = join(dir, `${k}-${name}.raw`);
          writeFileSync(f, Buffer.from(a.buffer, a.byteOffset, a.byteLength));
          return f;
        };
        return {
          width: c.W, height: c.H, dtype: dtypeOf(c.elevation), elevation: file('elevation', c.elevation),
          markers: file('markers', c.markers), mask: c.mask ? file('mask', c.mask) : null,
          connectivity: c.connectivity, watershedLine: c.watershedLine, out: join(dir, `${k}-out.raw`),
        };
      });
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
      const script = join(repoRoot, 'tests', 'oracle', 'skimage_watershed.py');
      const r = spawnSync(skimagePython!, [script, join(dir, 'manifest.json')], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`oracle failed: ${r.stderr}`);
      expect(r.stdout).toMatch(/^ok \d+ skimage 0\.19/);
      return manifest.map((m) => {
        const b = readFileSync(m.out);
        return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('runs', () => {
    expected = runOracle(oracleCases);
    expect(expected.length).toBe(oracleCases.length);
  });
  it('the hand-checked heap goldens are skimage\'s answers', () => {
    goldens.forEach((g, k) => expect(Array.from(expected[k]), g.name).toEqual(g.heap));
  });
  it("TS twin 'heap' == skimage", () => {
    oracleCases.forEach((c, k) => expect(runJs(c, 'heap'), c.name).toEqual(expected[k]));
  });
  it.skipIf(!hasNative)("native 'heap' == skimage", async () => {
    for (let k = 0; k < oracleCases.length; k++) expect(await runNative(oracleCases[k], 'heap'), oracleCases[k].name).toEqual(expected[k]);
  });
  it("'fifo' == skimage when marker values are distinct (TS and native)", async () => {
    const first = goldens.length + 100;
    for (let k = first; k < first + 30; k++) {
      const c = oracleCases[k];
      expect(runJs(c, 'fifo'), c.name).toEqual(expected[k]);
      if (hasNative) expect(await runNative(c, 'fifo'), c.name).toEqual(expected[k]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('bad input', () => {
  const W = 4, H = 3, n = W * H;
  const ok = () => ({ elevation: new Uint8Array(n) as WatershedElevation, markers: new Int32Array(n), mask: null as Uint8Array | null });
  const withNeg = () => { const m = new Int32Array(n); m[5] = 1; m[7] = -3; m[9] = -1; return m; };
  const withNaN = () => { const e = new Float32Array(n); e[6] = NaN; return e; };
  const withInf = () => { const e = new Float32Array(n); e[2] = -Infinity; return e; };

  interface Bad {
    name: string;
    elevation?: unknown;
    markers?: unknown;
    options?: Record<string, unknown>;
    error: typeof TypeError | typeof RangeError;
    code: string;
    message: string;
  }
  const bad: Bad[] = [
    { name: 'elevation dtype', elevation: new Int32Array(n), error: TypeError, code: 'CELLCAM_E_DTYPE',
      message: 'Expected Uint8Array or Uint16Array or Float32Array for elevation but received Int32Array of length 12' },
    { name: 'elevation length', elevation: new Uint16Array(n - 1), error: RangeError, code: 'CELLCAM_E_SHAPE',
      message: 'for elevation but received Uint16Array of length 11' },
    { name: 'markers dtype', markers: new Uint32Array(n), error: TypeError, code: 'CELLCAM_E_DTYPE',
      message: 'Expected Int32Array for markers but received Uint32Array of length 12' },
    { name: 'markers length', markers: new Int32Array(n + 1), error: RangeError, code: 'CELLCAM_E_SHAPE',
      message: 'Expected Int32Array of length width*height = 12 for markers but received Int32Array of length 13' },
    { name: 'mask dtype', options: { mask: new Int8Array(n) }, error: TypeError, code: 'CELLCAM_E_DTYPE',
      message: 'for options.mask but received Int8Array of length 12' },
    { name: 'mask length', options: { mask: new Uint8Array(3) }, error: RangeError, code: 'CELLCAM_E_SHAPE',
      message: 'Expected Uint8Array of length width*height = 12 for options.mask but received Uint8Array of length 3' },
    { name: 'out dtype', options: { out: new Float32Array(n) }, error: TypeError, code: 'CELLCAM_E_DTYPE',
      message: 'Expected Int32Array for options.out but received Float32Array of length 12' },
    { name: 'out length', options: { out: new Int32Array(2) }, error: RangeError, code: 'CELLCAM_E_SHAPE',
      message: 'for options.out but received Int32Array of length 2' },
    { name: 'negative marker', markers: withNeg(), error: RangeError, code: 'CELLCAM_E_RANGE',
      message: 'Expected a value >= 0 for markers[7] but received number -3' },
    { name: 'connectivity 6', options: { connectivity: 6 }, error: RangeError, code: 'CELLCAM_E_RANGE',
      message: 'Expected 4 or 8 for options.connectivity but received number 6' },
    { name: 'tieBreak', options: { tieBreak: 'lifo' }, error: RangeError, code: 'CELLCAM_E_ARG',
      message: "Expected 'fifo' or 'heap' for options.tieBreak but received string 'lifo'" },
    { name: 'watershedLine', options: { watershedLine: 1 }, error: TypeError, code: 'CELLCAM_E_DTYPE',
      message: 'Expected a boolean for options.watershedLine but received number 1' },
    { name: 'NaN elevation', elevation: withNaN(), error: RangeError, code: 'CELLCAM_E_RANGE',
      message: 'Expected a finite value for elevation[6] but received number NaN' },
    { name: 'NaN elevation and a negative marker: elevation first', elevation: withNaN(), markers: withNeg(), error: RangeError,
      code: 'CELLCAM_E_RANGE', message: 'Expected a finite value for elevation[6] but received number NaN' },
    { name: '-Infinity elevation', elevation: withInf(), error: RangeError, code: 'CELLCAM_E_RANGE',
      message: 'Expected a finite value for elevation[2] but received number -Infinity' },
    { name: 'width', options: { width: 0 }, error: RangeError, code: 'CELLCAM_E_RANGE',
      message: 'for options.width but received number 0' },
  ];
  const backends = ['js', ...(hasNative ? ['native'] : [])] as const;
  for (const backend of backends) {
    it.each(bad)(`core (${backend}): $name`, async (b) => {
      const base = ok();
      const call = watershed((b.elevation ?? base.elevation) as WatershedElevation, (b.markers ?? base.markers) as Int32Array, {
        width: W, height: H, backend, ...(b.options ?? {}),
      } as never);
      await expect(call).rejects.toThrow(b.error);
      await expect(call).rejects.toMatchObject({ code: b.code });
      await expect(call).rejects.toThrow(b.message);
    });
  }
  it('core: out overlapping elevation', async () => {
    const buf = new ArrayBuffer(n * 4);
    const call = watershed(new Float32Array(buf), new Int32Array(n), { width: W, height: H, out: new Int32Array(buf), backend: 'js' });
    await expect(call).rejects.toMatchObject({ code: 'CELLCAM_E_ARG' });
    await expect(call).rejects.toThrow('for options.out');
  });
  it('core: bad backend / options', async () => {
    await expect(watershed(new Uint8Array(n), new Int32Array(n), { width: W, height: H, backend: 'gpu' as never })).rejects.toThrow('options.backend');
    await expect(watershed(new Uint8Array(n), new Int32Array(n), null as never)).rejects.toThrow('Expected an object for options but received null');
  });

  // Direct addon calls: the N-API guards name the argument.
  describe.skipIf(!hasNative)('native guards', () => {
    const opts = { width: W, height: H, connectivity: 4, watershedLine: false, tieBreak: 'fifo' };
    const nativeBad: { name: string; args: () => unknown[]; error: typeof TypeError | typeof RangeError; code: string; message: string }[] = [
      { name: 'elevation dtype', args: () => [new Float64Array(n), new Int32Array(n), null, new Int32Array(n), opts], error: TypeError, code: 'CELLCAM_E_DTYPE',
        message: 'Expected Uint8Array or Uint16Array or Float32Array for elevation but received Float64Array of length 12' },
      { name: 'elevation length', args: () => [new Float32Array(5), new Int32Array(n), null, new Int32Array(n), opts], error: RangeError, code: 'CELLCAM_E_SHAPE',
        message: 'Expected Float32Array of length width*height = 12 for elevation but received Float32Array of length 5' },
      { name: 'markers dtype', args: () => [new Uint8Array(n), [1, 2], null, new Int32Array(n), opts], error: TypeError, code: 'CELLCAM_E_DTYPE',
        message: 'Expected Int32Array for markers but received Array of length 2' },
      { name: 'markers length', args: () => [new Uint8Array(n), new Int32Array(3), null, new Int32Array(n), opts], error: RangeError, code: 'CELLCAM_E_SHAPE',
        message: 'Expected Int32Array of length width*height = 12 for markers but received Int32Array of length 3' },
      { name: 'mask dtype', args: () => [new Uint8Array(n), new Int32Array(n), new Uint16Array(n), new Int32Array(n), opts], error: TypeError, code: 'CELLCAM_E_DTYPE',
        message: 'Expected Uint8Array or null for mask but received Uint16Array of length 12' },
      { name: 'mask length', args: () => [new Uint8Array(n), new Int32Array(n), new Uint8Array(1), new Int32Array(n), opts], error: RangeError, code: 'CELLCAM_E_SHAPE',
        message: 'Expected Uint8Array of length width*height = 12 for mask but received Uint8Array of length 1' },
      { name: 'out dtype', args: () => [new Uint8Array(n), new Int32Array(n), null, new Uint32Array(n), opts], error: TypeError, code: 'CELLCAM_E_DTYPE',
        message: 'Expected Int32Array for out but received Uint32Array of length 12' },
      { name: 'out length', args: () => [new Uint8Array(n), new Int32Array(n), null, new Int32Array(1), opts], error: RangeError, code: 'CELLCAM_E_SHAPE',
        message: 'Expected Int32Array of length width*height = 12 for out but received Int32Array of length 1' },
      { name: 'out overlaps elevation', args: () => { const b = new ArrayBuffer(n * 4); return [new Float32Array(b), new Int32Array(n), null, new Int32Array(b), opts]; },
        error: RangeError, code: 'CELLCAM_E_ARG', message: 'for out but received Int32Array of length 12' },
      { name: 'options', args: () => [new Uint8Array(n), new Int32Array(n), null, new Int32Array(n)], error: TypeError, code: 'CELLCAM_E_DTYPE',
        message: 'Expected an object for options but received undefined' },
      { name: 'width', args: () => [new Uint8Array(n), new Int32Array(n), null, new Int32Array(n), { ...opts, width: 2.5 }], error: RangeError, code: 'CELLCAM_E_RANGE',
        message: 'Expected an integer in [1, 65536] for options.width but received number 2.5' },
      { name: 'connectivity 6', args: () => [new Uint8Array(n), new Int32Array(n), null, new Int32Array(n), { ...opts, connectivity: 6 }], error: RangeError, code: 'CELLCAM_E_RANGE',
        message: 'Expected 4 or 8 for options.connectivity but received number 6' },
      { name: 'watershedLine', args: () => [new Uint8Array(n), new Int32Array(n), null, new Int32Array(n), { ...opts, watershedLine: 'yes' }], error: TypeError, code: 'CELLCAM_E_DTYPE',
        message: "Expected a boolean for options.watershedLine but received string 'yes'" },
      { name: 'tieBreak', args: () => [new Uint8Array(n), new Int32Array(n), null, new Int32Array(n), { ...opts, tieBreak: 'lifo' }], error: RangeError, code: 'CELLCAM_E_ARG',
        message: "Expected 'fifo' or 'heap' for options.tieBreak but received string 'lifo'" },
      { name: 'negative marker (found in Run)', args: () => [new Uint8Array(n), withNeg(), null, new Int32Array(n), opts], error: RangeError, code: 'CELLCAM_E_RANGE',
        message: 'Expected a value >= 0 for markers[7] but received number -3' },
      { name: 'NaN elevation (found in Run)', args: () => [withNaN(), new Int32Array(n), null, new Int32Array(n), { ...opts, tieBreak: 'heap' }], error: RangeError, code: 'CELLCAM_E_RANGE',
        message: 'Expected a finite value for elevation[6] but received number NaN' },
    ];
    it.each(nativeBad)('$name', async (b) => {
      const fn = nativeOrNull()!.watershed as unknown as (...a: unknown[]) => Promise<void>;
      let caught: unknown = null;
      try {
        await fn(...b.args());
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(b.error);
      expect(caught).toMatchObject({ code: b.code });
      expect((caught as Error).message).toContain(b.message);
    });
  });
});
