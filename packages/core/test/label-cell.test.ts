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
  agreement, downscalePred, labelCell, labelCellBatch, labelCellConstants, labelCellJs, labelNuclei, labelNucleiJs, upscaleLabels,
  type LabelCellScale,
} from '../src/segment/label-cell.js';
import { constant, field, fragments, replicate, thresholds, wrapLowRes, type Preds } from './label-cell-preds.js';
import { hasCuda, hasNative, hasShared, rejection, repoRoot, sharedDir, skimagePython } from './helpers.js';

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
    const full: Preds[] = [big, frag, empty, flat, thresholds()];
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

describe('labelCell: every size threshold met exactly (kept) and missed by one pixel (removed)', () => {
  const t = thresholds();
  const area = (a: Uint16Array, id: number): number => a.reduce((s, v) => s + (v === id ? 1 : 0), 0);
  // [what, object: its cell area, nucleus area in the output (null: not a cell)]; see thresholds().
  const table: [string, Record<string, [number, number] | null>][] = [
    ['seed components >= 500 px', { A: [7296, 3600], B: null }],
    ['nuclei >= 2500 px before the cells (step 4)', { C: [7296, 2500], D: null }],
    ['holes < 1000 px filled', { E: [9216, 3900], F: [9216, 4900] }],
    ['cells >= 5500 px after their watershed (step 8)', { G: [7396, 2500], H: null }],
    ['cells >= 5500 px at the end (step 12)', { I: [5500, 2750], J: null }],
    ['nuclei >= 2500 px inside their final cell (step 13)', { K: [7296, 2500], L: [7296, 0] }],
  ];
  const runs = backends.flatMap((backend) => (['heap', 'fifo'] as const).map((tieBreak) => ({ backend, tieBreak })));
  it.each(runs)('$backend, $tieBreak ties', async ({ backend, tieBreak }) => {
    const r = await labelCell(t.nucleiPred, t.cellPred, { width: t.width, height: t.height, backend, tieBreak });
    for (const [what, objects] of table) {
      for (const [name, want] of Object.entries(objects)) {
        const id = r.cells[t.at[name]];
        expect(id === 0 ? null : [area(r.cells, id), area(r.nuclei, id)], `${what}: ${name}`).toEqual(want);
      }
    }
    expect(r.cellCount).toBe(8);
    expect([r.nuclei[t.holeAt.E], r.nuclei[t.holeAt.F]], 'the 1000-px hole stays, the 999-px one is filled').toEqual([0, r.cells[t.holeAt.F]]);
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

  // Above 2^18 pixels per thread the native down/upscale runs in bands of block rows: sizes that
  // are not multiples of the factor put partial blocks at the right and bottom edges.
  it('at reduced scales on a 1027x1029 field, whose resizes run in bands of block rows', async () => {
    const p = field('banded', 1027, 1029, 30, 77, 90, 50, 10);
    for (const scale of [0.5, 0.25] as const) {
      const js = labelCellJs(p.nucleiPred, p.cellPred, { width: p.width, height: p.height, scale, tieBreak: 'fifo' });
      expect(js.cellCount, `scale ${scale}`).toBeGreaterThan(5);
      for (const threads of [1, 4]) {
        const r = await labelCell(p.nucleiPred, p.cellPred, { width: p.width, height: p.height, scale, tieBreak: 'fifo', threads, backend: 'native' });
        const tag = `scale ${scale} threads ${threads}`;
        expect(same(r.cells, js.cells), tag).toBe(true);
        expect(same(r.nuclei, js.nuclei), tag).toBe(true);
      }
    }
  });
});

describe('labelCellBatch: several images of one size in one call', () => {
  const parts = [field('a', 257, 199, 5, 41, 80, 45, 12), field('b', 257, 199, 6, 43, 70, 40, 8), constant('empty', 257, 199, 0, 0, 0, 0)];
  const items = parts.map((p) => ({ nucleiPred: p.nucleiPred, cellPred: p.cellPred }));
  const opts = { width: 257, height: 199 };
  const runs = backends.flatMap((backend) => (['heap', 'fifo'] as const).flatMap((tieBreak) => ([1, 0.5] as const).map((scale) => ({ backend, tieBreak, scale }))));
  it.each(runs)('$backend, $tieBreak ties, scale $scale: each image equals its own labelCell', async ({ backend, tieBreak, scale }) => {
    const batch = await labelCellBatch(items, { ...opts, backend, tieBreak, scale });
    expect(batch.device).toBe(backend === 'js' ? 'js' : 'cpu');
    expect(batch.results).toHaveLength(3);
    for (let k = 0; k < parts.length; k++) {
      const one = await labelCell(parts[k].nucleiPred, parts[k].cellPred, { ...opts, backend, tieBreak, scale });
      expect(same(batch.results[k].cells, one.cells), `${parts[k].name} cells`).toBe(true);
      expect(same(batch.results[k].nuclei, one.nuclei), `${parts[k].name} nuclei`).toBe(true);
      expect(batch.results[k].cellCount).toBe(one.cellCount);
      expect(batch.results[k].cells.buffer, 'its own buffer').not.toBe(batch.results[0 === k ? 1 : 0].cells.buffer);
    }
    expect(batch.results[0].cellCount).toBeGreaterThan(0);
    expect(batch.results.map((r) => r.device)).toEqual(Array(3).fill(batch.device));
  });

  it.each(backends)('%s: a batch of one equals labelCell (no stacking copy)', async (backend) => {
    const batch = await labelCellBatch([items[0]], { ...opts, backend, tieBreak: 'fifo', scale: 0.5 });
    const one = await labelCell(parts[0].nucleiPred, parts[0].cellPred, { ...opts, backend, tieBreak: 'fifo', scale: 0.5 });
    expect(same(batch.results[0].cells, one.cells)).toBe(true);
    expect(same(batch.results[0].nuclei, one.nuclei)).toBe(true);
    expect(batch.results[0].cellCount).toBe(one.cellCount);
    expect(batch.results[0].device).toBe(one.device);
  });

  it.skipIf(!hasNative || hasCuda)("'cuda' without a usable GPU rejects with the reason; 'auto' runs on the CPU and says why", async () => {
    const err = await rejection(labelCellBatch(items, { ...opts, tieBreak: 'fifo', device: 'cuda' }));
    expect(err.code).toBe('CELLCAM_E_CUDA');
    expect(err.message).toMatch(/options\.device is 'cuda' but no CUDA device is usable: .+/);
    const auto = await labelCellBatch(items, { ...opts, tieBreak: 'fifo', device: 'auto' });
    expect(auto.device).toBe('cpu');
    expect(auto.deviceNote).toMatch(/^CUDA not used: /);
  });

  it.each([
    ['no images', [], opts, /^Expected a non-empty array of \{ nucleiPred, cellPred \} for items but received/],
    ['a short map', [items[0], { nucleiPred: items[1].nucleiPred, cellPred: new Uint8Array(10) }], opts,
      /^Expected Uint8Array of length width\*height\*3 = 153429 for items\[1\]\.cellPred but received Uint8Array of length 10$/],
    ['a missing item', [items[0], null], opts, /^Expected an object \{ nucleiPred, cellPred \} for items\[1\] but received null$/],
    ["'cuda' with heap ties", items, { ...opts, device: 'cuda' }, /^Expected 'fifo' for options\.tieBreak with options\.device 'cuda' but received undefined$/],
  ] as const)('rejects %s, naming the argument', async (_name, its, o, msg) => {
    const err = await rejection(labelCellBatch(its as never, o as never));
    expect(err.message).toMatch(msg);
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
    expect(r).toEqual({ nuclei: new Uint16Array(1), cells: new Uint16Array(1), cellCount: 0, device: backend === 'js' ? 'js' : 'cpu' });
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
    expect(() => native.labelCell(np, cp, new Uint16Array(n), new Uint16Array(n), { ...o, images: 0 })).toThrow(
      'Expected an integer in [1, 65536] for options.images but received number 0');
    expect(() => native.labelCell(np, cp, new Uint16Array(n), new Uint16Array(n), { ...o, images: 2 })).toThrow(
      'Expected Uint8Array of length width*height*images*3 = 72 for nucleiPred but received Uint8Array of length 36');
    expect(() => native.labelNuclei(np, new Uint16Array(n), { width: w, height: h, threads: 1, images: 2 } as never)).toThrow(/options.images/);
  });

  // A batch's arguments as one array per image (labelCellBatch's form): named per element.
  const two = { width: w, height: h, scale: 1, threads: 1, images: 2 };
  const outs = () => [new Uint16Array(n), new Uint16Array(n)];
  const aliased = new Uint8Array(3 * n);
  it.skipIf(!hasNative).each([
    ['a short array', () => [[np], [cp, cp], outs(), outs()], 'CELLCAM_E_SHAPE', 'Expected an array of options.images = 2 Uint8Arrays for nucleiPred but received'],
    ['a wrong element type', () => [[np, np], [cp, new Uint16Array(3 * n)], outs(), outs()], 'CELLCAM_E_DTYPE',
      'Expected Uint8Array for cellPred[1] but received Uint16Array of length 36'],
    ['a wrong element length', () => [[np, np], [cp, cp], outs(), [new Uint16Array(n + 1), new Uint16Array(n)]], 'CELLCAM_E_SHAPE',
      'Expected Uint16Array of length width*height = 12 for cells[0] but received Uint16Array of length 13'],
    ['neither form', () => [[np, np], 'x', outs(), outs()], 'CELLCAM_E_DTYPE', "Expected Uint8Array or an array of Uint8Arrays for cellPred but received string 'x'"],
    ['one output twice', () => { const o = new Uint16Array(n); return [[np, np], [cp, cp], [o, new Uint16Array(n)], [new Uint16Array(n), o]]; },
      'CELLCAM_E_ARG', /^Expected output memory not overlapping the predictions or the other outputs/],
    ['an output over an input', () => [[aliased, np], [cp, cp], [new Uint16Array(aliased.buffer, 0, n), new Uint16Array(n)], outs()],
      'CELLCAM_E_ARG', /^Expected output memory not overlapping/],
  ] as const)('addon guards: a batch of per-image arrays with %s', (_name, args, code, msg) => {
    const native = nativeOrNull()!;
    const [a, b, c, d] = args() as never[];
    let err: (Error & { code?: string }) | undefined;
    try {
      void native.labelCell(a, b, c, d, two);
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.message).toMatch(msg);
    expect(err?.code).toBe(code);
    expect(err?.name).toBe(code === 'CELLCAM_E_DTYPE' ? 'TypeError' : 'RangeError');
  });

  it.skipIf(!hasNative)('addon: per-image arrays, stacked arrays and a mix give the same labels; inputs may repeat', async () => {
    const native = nativeOrNull()!;
    const parts = [field('a', 257, 199, 5, 41, 80, 45, 12), field('b', 257, 199, 6, 43, 70, 40, 8)];
    const m = 257 * 199, o = { width: 257, height: 199, scale: 1 as const, threads: 1, tieBreak: 'fifo' as const, images: 3 };
    const order = [0, 1, 0];  // the first image twice: inputs may share memory
    const stack = (k: 'nucleiPred' | 'cellPred') => {
      const all = new Uint8Array(3 * m * 3);
      order.forEach((p, b) => all.set(parts[p][k], 3 * m * b));
      return all;
    };
    const sNu = new Uint16Array(3 * m), sCe = new Uint16Array(3 * m);
    const stacked = await native.labelCell(stack('nucleiPred'), stack('cellPred'), sNu, sCe, o);
    const aNu = [0, 1, 2].map(() => new Uint16Array(m)), aCe = [0, 1, 2].map(() => new Uint16Array(m));
    const arrays = await native.labelCell(order.map((p) => parts[p].nucleiPred), order.map((p) => parts[p].cellPred), aNu, aCe, o);
    const xCe = [0, 1, 2].map(() => new Uint16Array(m));
    const mixed = await native.labelCell(stack('nucleiPred'), order.map((p) => parts[p].cellPred), new Uint16Array(3 * m), xCe, o);
    expect(arrays.cellCounts).toEqual(stacked.cellCounts);
    expect(mixed.cellCounts).toEqual(stacked.cellCounts);
    expect(stacked.cellCounts[0]).toBeGreaterThan(0);
    for (let b = 0; b < 3; b++) {
      expect(same(aCe[b], sCe.subarray(m * b, m * (b + 1))), `cells ${b}`).toBe(true);
      expect(same(aNu[b], sNu.subarray(m * b, m * (b + 1))), `nuclei ${b}`).toBe(true);
      expect(same(xCe[b], sCe.subarray(m * b, m * (b + 1))), `mixed cells ${b}`).toBe(true);
    }
    expect(same(aCe[2], aCe[0])).toBe(true);
  });
});
