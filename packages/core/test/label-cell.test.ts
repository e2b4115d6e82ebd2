// Tests of labelCell / labelNuclei (hpacellseg 0.1.8 post-processing): the golden outputs (native and
// TS twin, sha256 too), edge cases against the scikit-image replica (tests/oracle/label_cell_replica.py),
// the reduced-resolution fast path, agreement(), and argument errors from core and the addon.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readGrey } from '../src/io/png.js';
import { nativeOrNull } from '../src/native.js';
import {
  agreement, downscalePred, labelCell, labelCellConstants, labelCellJs, labelNuclei, labelNucleiJs, upscaleLabels,
  type LabelCellScale,
} from '../src/segment/label-cell.js';
import { mulberry32 } from '../src/util/random.js';
import { hasNative, hasShared, repoRoot, sharedDir, skimagePython } from './helpers.js';

const backends = hasNative ? (['js', 'native'] as const) : (['js'] as const);
const goldenDir = join(sharedDir, 'data', 'label-cell-golden');
const REPLICA = join(repoRoot, 'tests', 'oracle', 'label_cell_replica.py');

const same = (a: ArrayBufferView, b: ArrayBufferView): boolean =>
  a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const diffCount = (a: Uint16Array, b: Uint16Array): number => {
  let d = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) d++;
  return d;
};
const maxOf = (a: Uint16Array): number => a.reduce((m, v) => (v > m ? v : m), 0);

// ---------------------------------------------------------------------------------------------
// Synthetic predictions

interface Preds { name: string; width: number; height: number; nucleiPred: Uint8Array; cellPred: Uint8Array }

function boxBlur(src: Float32Array, W: number, H: number, r: number): Float32Array {
  const tmp = new Float32Array(W * H), out = new Float32Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let s = 0, c = 0;
      for (let d = -r; d <= r; d++) if (x + d >= 0 && x + d < W) { s += src[y * W + x + d]; c++; }
      tmp[y * W + x] = s / c;
    }
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let s = 0, c = 0;
      for (let d = -r; d <= r; d++) if (y + d >= 0 && y + d < H) { s += tmp[(y + d) * W + x]; c++; }
      out[y * W + x] = s / c;
    }
  }
  return out;
}

/** U-Net-like maps from label maps: blurred interiors (ch 2), blurred label boundaries (ch 1), noise. */
function predsFromLabels(name: string, W: number, H: number, cells: Int32Array, nuclei: Int32Array, seed: number, noise: number): Preds {
  const r = mulberry32(seed);
  const n = W * H;
  const cm = new Float32Array(n), nm = new Float32Array(n), cb = new Float32Array(n), nb = new Float32Array(n);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      cm[i] = cells[i] > 0 ? 1 : 0;
      nm[i] = nuclei[i] > 0 ? 1 : 0;
      const edge = (a: Int32Array): boolean =>
        (x > 0 && a[i - 1] !== a[i]) || (x < W - 1 && a[i + 1] !== a[i]) || (y > 0 && a[i - W] !== a[i]) || (y < H - 1 && a[i + W] !== a[i]);
      cb[i] = edge(cells) ? 1 : 0;
      nb[i] = edge(nuclei) ? 1 : 0;
    }
  }
  const cmb = boxBlur(cm, W, H, 2), nmb = boxBlur(nm, W, H, 2), cbb = boxBlur(cb, W, H, 1), nbb = boxBlur(nb, W, H, 1);
  const q = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));
  const nucleiPred = new Uint8Array(3 * n), cellPred = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    const z = (): number => (r() - 0.5) * noise;
    nucleiPred[3 * i + 1] = q(255 * nbb[i] * 0.9 + Math.max(0, z()));
    nucleiPred[3 * i + 2] = q(255 * nmb[i] + z());
    cellPred[3 * i + 1] = q(255 * cbb[i] * 0.9 + Math.max(0, z()));
    cellPred[3 * i + 2] = q(255 * cmb[i] + z());
  }
  return { name, width: W, height: H, nucleiPred, cellPred };
}

/** Voronoi field of wobbly cells (touching each other and the border) with nuclei that may touch. */
function field(name: string, W: number, H: number, count: number, seed: number, cellR: number, nucR: number, noise: number): Preds {
  const r = mulberry32(seed);
  const sx: number[] = [], sy: number[] = [], rad: number[] = [], nrad: number[] = [];
  for (let k = 0; k < count; k++) {
    sx.push(r() * W);
    sy.push(r() * H);
    rad.push(cellR * (0.7 + 0.6 * r()));
    nrad.push(nucR * (0.7 + 0.6 * r()));
  }
  const cells = new Int32Array(W * H), nuclei = new Int32Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let b = Infinity, k1 = 0;
      for (let k = 0; k < count; k++) {
        const d = (x - sx[k]) ** 2 + (y - sy[k]) ** 2;
        if (d < b) { b = d; k1 = k; }
      }
      const d = Math.sqrt(b), ang = Math.atan2(y - sy[k1], x - sx[k1]);
      const wob = 1 + 0.15 * Math.sin(3 * ang + k1) + 0.05 * Math.sin(5 * ang + 2 * k1);
      if (d < rad[k1] * wob) {
        cells[y * W + x] = k1 + 1;
        if (d < nrad[k1] * wob) nuclei[y * W + x] = k1 + 1;
      }
    }
  }
  return predsFromLabels(name, W, H, cells, nuclei, seed, noise);
}

/** Rectangles and rings painted straight into the channels (no blur): fragments, holes, border cells. */
function fragments(): Preds {
  const W = 360, H = 300, n = W * H;
  const nucleiPred = new Uint8Array(3 * n), cellPred = new Uint8Array(3 * n);
  const paint = (p: Uint8Array, ch: number, x0: number, y0: number, x1: number, y1: number, v: number, hole?: [number, number, number, number]): void => {
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        if (hole && x >= hole[0] && x < hole[2] && y >= hole[1] && y < hole[3]) continue;
        p[3 * (y * W + x) + ch] = v;
      }
    }
  };
  // A cell on the left border (nucleus with a 20×20 hole that remove_small_holes fills).
  paint(cellPred, 2, 0, 20, 120, 140, 250);
  paint(nucleiPred, 2, 10, 40, 80, 110, 240, [30, 60, 50, 80]);
  // A ring-shaped cell (its 30×30 hole is filled by __fill_holes) around a nucleus.
  paint(cellPred, 2, 150, 10, 260, 120, 230, [215, 70, 245, 100]);
  paint(nucleiPred, 2, 160, 20, 210, 75, 255);
  // Two touching cells with touching nuclei separated by a border line in both maps.
  paint(cellPred, 2, 20, 170, 200, 290, 255);
  paint(cellPred, 1, 109, 170, 111, 290, 200);
  paint(nucleiPred, 2, 60, 200, 160, 260, 255);
  paint(nucleiPred, 1, 109, 200, 111, 260, 255);
  // Fragments: a nucleus too small for the seeds (300 px), one too small as a nucleus (1600 px),
  // a 3-px speck, a cell without a nucleus, a cell too small (4000 px), green lines.
  paint(nucleiPred, 2, 300, 20, 320, 35, 255);
  paint(cellPred, 2, 290, 10, 340, 60, 255);
  paint(nucleiPred, 2, 300, 90, 340, 130, 255);
  paint(cellPred, 2, 285, 80, 355, 160, 255);
  paint(nucleiPred, 2, 270, 200, 273, 201, 255);
  paint(cellPred, 2, 220, 180, 300, 280, 240);
  paint(cellPred, 2, 310, 200, 350, 300, 255);
  paint(nucleiPred, 2, 315, 230, 345, 290, 250);
  paint(cellPred, 1, 0, 150, 360, 152, 180);
  paint(cellPred, 1, 205, 0, 207, 300, 90);
  return { name: 'fragments', width: W, height: H, nucleiPred, cellPred };
}

/**
 * More than 255 nuclei (low resolution, for the scale 0.25 pipeline): a tall cell A (nucleus id 1) on
 * the left and a 17×18 grid of cells. The nucleus ids 256 and 257 wrap in `.astype(np.uint8)`: cell
 * 256 becomes background and cell 257 becomes id 1, merging with A across the gap between them.
 */
function wrapLowRes(): Preds & { cellA: number; cell256: number; cell257: number } {
  const W = 384, H = 384, n = W * H;
  const nucleiPred = new Uint8Array(3 * n), cellPred = new Uint8Array(3 * n);
  const rect = (p: Uint8Array, ch: number, x0: number, y0: number, x1: number, y1: number, v: number): void => {
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) p[3 * (y * W + x) + ch] = v;
  };
  rect(cellPred, 1, 0, 0, W, H, 255); // gaps between the cells are border
  rect(cellPred, 2, 0, 0, 20, H, 255);
  rect(cellPred, 1, 0, 0, 20, H, 0);
  rect(nucleiPred, 2, 3, 2, 16, 15, 255);
  for (let r = 0; r < 18; r++) {
    for (let c = 0; c < 17; c++) {
      const x = 21 + 21 * c, y = 21 * r;
      rect(cellPred, 2, x, y, x + 20, y + 20, 255);
      rect(cellPred, 1, x, y, x + 20, y + 20, 0);
      rect(nucleiPred, 2, x + 3, y + 4, x + 16, y + 17, 255);
    }
  }
  const at = (x: number, y: number): number => y * W + x;
  return {
    name: 'wrap', width: W, height: H, nucleiPred, cellPred,
    cellA: at(10, 200), cell256: at(21 + 21 * 16 + 10, 21 * 14 + 10), cell257: at(21 + 10, 21 * 15 + 10),
  };
}

/** Replicates low-resolution predictions f×f (a block mean of them gives them back exactly). */
function replicate(p: Preds, f: number): Preds {
  const W = p.width * f, H = p.height * f;
  const up = (a: Uint8Array): Uint8Array => {
    const o = new Uint8Array(3 * W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const s = 3 * (((y / f) | 0) * p.width + ((x / f) | 0)), d = 3 * (y * W + x);
        o[d] = a[s]; o[d + 1] = a[s + 1]; o[d + 2] = a[s + 2];
      }
    }
    return o;
  };
  return { name: `${p.name}×${f}`, width: W, height: H, nucleiPred: up(p.nucleiPred), cellPred: up(p.cellPred) };
}

function constant(name: string, W: number, H: number, n1: number, n2: number, c1: number, c2: number): Preds {
  const nucleiPred = new Uint8Array(3 * W * H), cellPred = new Uint8Array(3 * W * H);
  for (let i = 0; i < W * H; i++) {
    nucleiPred[3 * i + 1] = n1; nucleiPred[3 * i + 2] = n2;
    cellPred[3 * i + 1] = c1; cellPred[3 * i + 2] = c2;
  }
  return { name, width: W, height: H, nucleiPred, cellPred };
}

// ---------------------------------------------------------------------------------------------
// Replica runner

interface ReplicaCase { preds: Preds; op: 'label_cell' | 'label_nuclei'; scale?: number }

/** Runs the replica on every case in one Python process; returns [nuclei, cells|null] per case. */
function runReplica(cases: ReplicaCase[]): [Uint16Array, Uint16Array | null][] {
  const dir = mkdtempSync(join(tmpdir(), 'cellcam-labelcell-'));
  try {
    const manifest = cases.map((c, k) => {
      const np = join(dir, `${k}_n.raw`), cp = join(dir, `${k}_c.raw`);
      writeFileSync(np, c.preds.nucleiPred);
      writeFileSync(cp, c.preds.cellPred);
      return {
        width: c.preds.width, height: c.preds.height, op: c.op, scale: c.scale ?? 1,
        nucleiPred: np, cellPred: cp, nuclei: join(dir, `${k}_on.raw`), cells: join(dir, `${k}_oc.raw`),
      };
    });
    writeFileSync(join(dir, 'm.json'), JSON.stringify(manifest));
    const r = spawnSync(skimagePython!, [REPLICA, join(dir, 'm.json')], { encoding: 'utf8' });
    expect(r.stdout.trim(), r.stderr).toMatch(/^ok \d+ skimage 0\.19/);
    const read = (f: string): Uint16Array => {
      const b = readFileSync(f);
      return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2).slice();
    };
    return manifest.map((m) => [read(m.nuclei), existsSync(m.cells) ? read(m.cells) : null]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The replica at reduced resolution, upsampled like labelCell's fast path. */
function replicaScaled(out: [Uint16Array, Uint16Array | null], low: { width: number; height: number }, p: Preds, f: number): { nuclei: Uint16Array; cells: Uint16Array } {
  return {
    nuclei: upscaleLabels(out[0], low.width, low.height, p.width, p.height, f),
    cells: upscaleLabels(out[1]!, low.width, low.height, p.width, p.height, f),
  };
}

// ---------------------------------------------------------------------------------------------

async function readRgb(path: string): Promise<Uint8Array> {
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

const goldenCases = hasShared && existsSync(goldenDir) ? ['case_512_s101', 'case_1024_s102', 'case_1024_s104', 'case_2048_s103'] : [];

describe.skipIf(goldenCases.length === 0)('labelCell: golden outputs of hpacellseg 0.1.8', { timeout: 120_000 }, () => {
  for (const name of goldenCases) {
    for (const backend of backends) {
      it(`${backend}: ${name} pixel-identical, ids and sha256 included`, async () => {
        const dir = join(goldenDir, name);
        const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { size: number; cells: number; sha256_cells_u16: string; sha256_nuclei_u16: string };
        const [np, cp] = await Promise.all([readRgb(join(dir, 'nuclei_pred.png')), readRgb(join(dir, 'cell_pred.png'))]);
        const cells = await readGrey(join(dir, 'cells.png')), nuclei = await readGrey(join(dir, 'nuclei.png'));
        expect(cells.bitDepth).toBe(16);
        const size = meta.size;
        const r = await labelCell(np, cp, { width: size, height: size, backend, threads: name.includes('1024') ? 2 : 1 });
        expect(diffCount(r.cells, cells.data as Uint16Array), 'cell pixels differing').toBe(0);
        expect(diffCount(r.nuclei, nuclei.data as Uint16Array), 'nucleus pixels differing').toBe(0);
        expect(r.cellCount).toBe(meta.cells);
        const sha = (a: Uint16Array): string => createHash('sha256').update(Buffer.from(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
        expect(sha(r.cells)).toBe(meta.sha256_cells_u16);
        expect(sha(r.nuclei)).toBe(meta.sha256_nuclei_u16);
      });
    }
  }

  it.skipIf(!skimagePython)('the scikit-image replica reproduces the goldens (512, 1024)', async () => {
    const names = ['case_512_s101', 'case_1024_s104'];
    const preds: Preds[] = [];
    for (const name of names) {
      const dir = join(goldenDir, name);
      const [np, cp] = await Promise.all([readRgb(join(dir, 'nuclei_pred.png')), readRgb(join(dir, 'cell_pred.png'))]);
      const size = Math.sqrt(np.length / 3);
      preds.push({ name, width: size, height: size, nucleiPred: np, cellPred: cp });
    }
    const out = runReplica(preds.map((p) => ({ preds: p, op: 'label_cell' })));
    for (let k = 0; k < names.length; k++) {
      const dir = join(goldenDir, names[k]);
      expect(same(out[k][1]!, (await readGrey(join(dir, 'cells.png'))).data), names[k]).toBe(true);
      expect(same(out[k][0], (await readGrey(join(dir, 'nuclei.png'))).data), names[k]).toBe(true);
    }
  });

  it('scale 0.5 / 0.25 agree with full resolution on the 2048 case (reported)', async () => {
    const dir = join(goldenDir, 'case_2048_s103');
    const [np, cp] = await Promise.all([readRgb(join(dir, 'nuclei_pred.png')), readRgb(join(dir, 'cell_pred.png'))]);
    const full = (await readGrey(join(dir, 'cells.png'))).data as Uint16Array;
    const backend = backends[backends.length - 1];
    for (const scale of [0.5, 0.25] as const) {
      const r = await labelCell(np, cp, { width: 2048, height: 2048, scale, backend });
      const a = agreement(full, r.cells);
      console.log(`label-cell agreement 2048, scale ${scale}: mean best IoU ${a.meanIoU.toFixed(4)}, matched@0.6 ${(100 * a.matched).toFixed(1)}% (${a.cellsB} vs ${a.cellsA} cells)`);
      expect(a.meanIoU).toBeGreaterThan(0.5);
      expect(a.matched).toBeGreaterThan(0.5);
    }
  });
});

describe.skipIf(!skimagePython)('labelCell / labelNuclei: edge cases against the scikit-image replica', { timeout: 120_000 }, () => {
  it('border cells, fragments, holes, touching nuclei, >255 nuclei, empty and constant inputs, reduced scales', async () => {
    const big = field('field', 700, 600, 16, 22, 160, 95, 0);
    const frag = fragments();
    const wrap = wrapLowRes();
    const odd = field('odd', 333, 251, 6, 31, 70, 40, 6);
    const empty = constant('empty', 40, 30, 0, 0, 0, 0);
    const flat = constant('flat', 80, 80, 0, 255, 0, 200);
    const full: Preds[] = [big, frag, empty, flat];
    // Reduced scales: the replica runs on labelCell's own downscaled predictions with scaled constants.
    const scaled: { preds: Preds; f: number; scale: LabelCellScale }[] = [
      { preds: replicate(wrap, 4), f: 4, scale: 0.25 },
      { preds: odd, f: 2, scale: 0.5 },
      { preds: odd, f: 4, scale: 0.25 },
    ];
    const lows = scaled.map((s) => {
      const n = downscalePred(s.preds.nucleiPred, s.preds.width, s.preds.height, s.f), c = downscalePred(s.preds.cellPred, s.preds.width, s.preds.height, s.f);
      return { name: s.preds.name, width: n.width, height: n.height, nucleiPred: n.data, cellPred: c.data };
    });
    const out = runReplica([
      ...full.map((p) => ({ preds: p, op: 'label_cell' as const })),
      ...lows.map((p, k) => ({ preds: p, op: 'label_cell' as const, scale: scaled[k].scale })),
      { preds: big, op: 'label_nuclei' }, { preds: frag, op: 'label_nuclei' },
    ]);
    // The cases are not trivial: cells survive, and the wrap case has > 255 nuclei.
    expect(maxOf(out[0][1]!)).toBeGreaterThanOrEqual(3);
    expect(maxOf(out[1][1]!)).toBeGreaterThanOrEqual(3);
    expect(maxOf(out[2][1]!)).toBe(0);

    for (const backend of backends) {
      for (let k = 0; k < full.length; k++) {
        const p = full[k];
        const r = await labelCell(p.nucleiPred, p.cellPred, { width: p.width, height: p.height, backend });
        expect(diffCount(r.cells, out[k][1]!), `${backend} ${p.name} cells`).toBe(0);
        expect(diffCount(r.nuclei, out[k][0]), `${backend} ${p.name} nuclei`).toBe(0);
        expect(r.cellCount).toBe(maxOf(out[k][1]!));
      }
      for (let k = 0; k < scaled.length; k++) {
        const s = scaled[k];
        const expected = replicaScaled(out[full.length + k], lows[k], s.preds, s.f);
        const r = await labelCell(s.preds.nucleiPred, s.preds.cellPred, { width: s.preds.width, height: s.preds.height, scale: s.scale, backend });
        expect(diffCount(r.cells, expected.cells), `${backend} ${s.preds.name} scale ${s.scale} cells`).toBe(0);
        expect(diffCount(r.nuclei, expected.nuclei), `${backend} ${s.preds.name} scale ${s.scale} nuclei`).toBe(0);
      }
      const nb = out.length - 2;
      for (const [k, p] of [[nb, big], [nb + 1, frag]] as const) {
        const r = await labelNuclei(p.nucleiPred, { width: p.width, height: p.height, backend });
        expect(diffCount(r, out[k][0]), `${backend} ${p.name} labelNuclei`).toBe(0);
      }
    }

    // The uint8 wrap really happened: cell 256 vanished and cell 257 merged with cell A (id 1).
    const wrapLow = out[full.length][1]!;
    expect(wrapLow[wrap.cell256]).toBe(0);
    expect(wrapLow[wrap.cellA]).toBeGreaterThan(0);
    expect(wrapLow[wrap.cell257]).toBe(wrapLow[wrap.cellA]);
    // And the skimage heap order matters: raster-order ties ('fifo') miss the replica on the plateau field.
    const fifo = labelCellJs(big.nucleiPred, big.cellPred, { width: big.width, height: big.height, tieBreak: ['heap', 'fifo', 'heap'] });
    expect(diffCount(fifo.cells, out[0][1]!)).toBeGreaterThan(0);
  });
});

describe.skipIf(!hasNative)('labelCell: native equals the TypeScript twin', () => {
  it('for every scale, tie-break and thread count (odd sizes too)', async () => {
    const cases = [field('a', 257, 199, 5, 41, 80, 45, 12), fragments()];
    for (const p of cases) {
      for (const scale of [1, 0.5, 0.25] as const) {
        for (const tieBreak of ['heap', 'fifo'] as const) {
          const js = labelCellJs(p.nucleiPred, p.cellPred, { width: p.width, height: p.height, scale, tieBreak });
          for (const threads of [1, 3]) {
            const r = await labelCell(p.nucleiPred, p.cellPred, { width: p.width, height: p.height, scale, tieBreak, threads, backend: 'native' });
            const tag = `${p.name} scale ${scale} ${tieBreak} threads ${threads}`;
            expect(same(r.cells, js.cells), tag).toBe(true);
            expect(same(r.nuclei, js.nuclei), tag).toBe(true);
            expect(r.cellCount).toBe(js.cellCount);
          }
        }
      }
      const jn = labelNucleiJs(p.nucleiPred, { width: p.width, height: p.height });
      expect(same(await labelNuclei(p.nucleiPred, { width: p.width, height: p.height, backend: 'native' }), jn)).toBe(true);
    }
  });
});

describe('labelCell: fast-path helpers and agreement', () => {
  it('constants: areas × s², radius round(6 s), numpy rounding', () => {
    expect(labelCellConstants(1)).toEqual({ seedMinSize: 500, holeArea: 1000, maskMinSize: 8, nucleusMinSize: 2500, cellMinSize: 5500, closingRadius: 6 });
    expect(labelCellConstants(0.5)).toEqual({ seedMinSize: 125, holeArea: 250, maskMinSize: 2, nucleusMinSize: 625, cellMinSize: 1375, closingRadius: 3 });
    expect(labelCellConstants(0.25)).toEqual({ seedMinSize: 31, holeArea: 62, maskMinSize: 0, nucleusMinSize: 156, cellMinSize: 344, closingRadius: 2 });
  });
  it('downscalePred: block means rounded half to even, partial edge blocks', () => {
    // 3×2 pixels, f = 2: blocks [0,2)×[0,2) and the partial column [2,3)×[0,2).
    const p = new Uint8Array(3 * 6);
    const put = (x: number, y: number, c1: number, c2: number): void => { p[3 * (y * 3 + x) + 1] = c1; p[3 * (y * 3 + x) + 2] = c2; };
    put(0, 0, 1, 0); put(1, 0, 1, 0); put(0, 1, 0, 3); put(1, 1, 0, 3); // means 0.5 -> 0, 1.5 -> 2
    put(2, 0, 3, 255); put(2, 1, 4, 254); // means 3.5 -> 4, 254.5 -> 254
    const d = downscalePred(p, 3, 2, 2);
    expect([d.width, d.height]).toEqual([2, 1]);
    expect(Array.from(d.data)).toEqual([0, 0, 2, 0, 4, 254]);
  });
  it('upscaleLabels replicates pixels and crops partial blocks', () => {
    const u = upscaleLabels(new Uint16Array([1, 2, 3, 4]), 2, 2, 3, 3, 2);
    expect(Array.from(u)).toEqual([1, 1, 2, 1, 1, 2, 3, 3, 4]);
  });
  it('agreement: identical, disjoint, partial', () => {
    const a = new Uint16Array([1, 1, 0, 2, 2, 2]);
    expect(agreement(a, a)).toEqual({ meanIoU: 1, matched: 1, cellsA: 2, cellsB: 2 });
    expect(agreement(a, new Uint16Array(6))).toEqual({ meanIoU: 0, matched: 0, cellsA: 2, cellsB: 0 });
    // cell 1: IoU 1/2 with 7; cell 2: IoU 2/3 with 9.
    const r = agreement(a, new Uint16Array([7, 0, 0, 9, 9, 0]));
    expect(r.meanIoU).toBeCloseTo((0.5 + 2 / 3) / 2, 12);
    expect(r.matched).toBe(0.5);
    expect(() => agreement(a, new Uint16Array(5))).toThrow(/CELLCAM|length 6/);
    expect(() => agreement(a, new Int32Array(6) as never)).toThrow(TypeError);
  });
});

describe('labelCell: argument errors', () => {
  const w = 4, h = 3, n = w * h;
  const np = new Uint8Array(3 * n), cp = new Uint8Array(3 * n);
  it.each(backends)('%s: core validation', async (backend) => {
    await expect(labelCell(new Uint16Array(3 * n) as never, cp, { width: w, height: h, backend })).rejects.toMatchObject({
      name: 'TypeError', code: 'CELLCAM_E_DTYPE', message: 'Expected Uint8Array for nucleiPred but received Uint16Array of length 36' });
    await expect(labelCell(np, new Uint8Array(n), { width: w, height: h, backend })).rejects.toMatchObject({
      code: 'CELLCAM_E_SHAPE', message: 'Expected Uint8Array of length width*height*3 = 36 for cellPred but received Uint8Array of length 12' });
    await expect(labelCell(np, cp, { width: w, height: h, scale: 0.3 as never, backend })).rejects.toMatchObject({
      code: 'CELLCAM_E_RANGE', message: 'Expected 1, 0.5 or 0.25 for options.scale but received number 0.3' });
    await expect(labelCell(np, cp, { width: w, height: h, tieBreak: 'lifo' as never, backend })).rejects.toMatchObject({ code: 'CELLCAM_E_ARG' });
    await expect(labelCell(np, cp, { width: 0, height: h, backend })).rejects.toMatchObject({ code: 'CELLCAM_E_RANGE' });
    await expect(labelCell(np, cp, { width: w, height: h, threads: -1, backend })).rejects.toMatchObject({ code: 'CELLCAM_E_RANGE' });
    await expect(labelCell(np, cp, null as never)).rejects.toMatchObject({ code: 'CELLCAM_E_DTYPE' });
    await expect(labelNuclei(np, { width: w + 1, height: h, backend })).rejects.toMatchObject({ code: 'CELLCAM_E_SHAPE' });
    // Tiny and empty inputs are fine.
    const r = await labelCell(new Uint8Array(3), new Uint8Array(3), { width: 1, height: 1, backend });
    expect(r).toEqual({ nuclei: new Uint16Array(1), cells: new Uint16Array(1), cellCount: 0 });
  });
  it.skipIf(!hasNative)('addon guards name the argument', async () => {
    const native = nativeOrNull()!;
    const o = { width: w, height: h, scale: 1, threads: 1 };
    expect(() => native.labelCell(np, cp, new Uint16Array(n), new Int32Array(n) as never, o)).toThrow('Expected Uint16Array for cells but received Int32Array of length 12');
    expect(() => native.labelCell(np, cp, new Uint16Array(n + 1), new Uint16Array(n), o)).toThrow(
      'Expected Uint16Array of length width*height = 12 for nuclei but received Uint16Array of length 13');
    expect(() => native.labelCell(np, cp, new Uint16Array(n), new Uint16Array(n), { ...o, scale: 2 })).toThrow(/options.scale/);
    expect(() => native.labelCell(np, cp, new Uint16Array(n), new Uint16Array(n), { ...o, tieBreak: 'x' as never })).toThrow(/options.tieBreak/);
    const shared = new Uint16Array(n);
    expect(() => native.labelCell(np, cp, shared, shared, o)).toThrow(/not overlapping/);
    expect(() => native.labelNuclei(cp, new Uint16Array(n), { width: w, height: 0, threads: 1 })).toThrow(/options.height/);
  });
});
