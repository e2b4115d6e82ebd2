// Synthetic HPA benchmark: determinism, label invariants, class statistics, patterns, files, errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { CLASS_WEIGHTS, HPA_CLASSES, planImageLabels, renderComposite, synthImage, synthesize, type SynthImage } from '../src/synth/index.js';
import { readGrey } from '../src/io/png.js';
import { decodeBinaryMask } from '../src/submit/encode.js';

const S = 512;

/** Pixels whose 4-neighbour lies in another cell or background (not the image edge). */
function borderMask(cells: Uint16Array, W: number): Uint8Array {
  const out = new Uint8Array(W * W);
  for (let y = 0; y < W; y++) {
    for (let x = 0; x < W; x++) {
      const p = y * W + x, l = cells[p];
      if ((x > 0 && cells[p - 1] !== l) || (x < W - 1 && cells[p + 1] !== l) || (y > 0 && cells[p - W] !== l) || (y < W - 1 && cells[p + W] !== l)) out[p] = 1;
    }
  }
  return out;
}

/** Dilates a binary mask by r pixels (square). */
function dilate(m: Uint8Array, W: number, r: number): Uint8Array {
  const h = new Uint8Array(W * W), out = new Uint8Array(W * W);
  for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) if (m[y * W + x]) for (let d = Math.max(0, x - r); d <= Math.min(W - 1, x + r); d++) h[y * W + d] = 1;
  for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) if (h[y * W + x]) for (let d = Math.max(0, y - r); d <= Math.min(W - 1, y + r); d++) out[d * W + x] = 1;
  return out;
}

const mean = (a: ArrayLike<number>, sel: (p: number) => boolean) => {
  let s = 0, n = 0;
  for (let p = 0; p < a.length; p++) if (sel(p)) { s += a[p]; n++; }
  return n ? s / n : NaN;
};

describe('classes', () => {
  it('names the 19 competition classes in order with 19 weights', () => {
    expect(HPA_CLASSES).toHaveLength(19);
    expect(HPA_CLASSES[0]).toBe('Nucleoplasm');
    expect(HPA_CLASSES[11]).toBe('Mitotic spindle');
    expect(HPA_CLASSES[16]).toBe('Cytosol');
    expect(HPA_CLASSES[18]).toBe('Negative');
    expect(CLASS_WEIGHTS).toHaveLength(19);
  });

  it('draws image labels with challenge-like frequencies (200 images)', () => {
    const plan = planImageLabels(200, 5);
    const counts = new Array(19).fill(0);
    for (const labels of plan) {
      expect(labels.length).toBeGreaterThanOrEqual(1);
      expect(labels.length).toBeLessThanOrEqual(3);
      expect(new Set(labels).size).toBe(labels.length);
      if (labels.includes(18)) expect(labels).toEqual([18]);
      if (labels.includes(11)) expect(labels.length).toBeGreaterThan(1);
      for (const l of labels) counts[l]++;
    }
    const byCount = [...counts.keys()].sort((a, b) => counts[b] - counts[a]);
    expect(byCount.slice(0, 3)).toEqual(expect.arrayContaining([0, 16]));
    const rarest = byCount.slice(-4);
    expect(rarest).toEqual(expect.arrayContaining([11, 18]));
  });

  it.each([19, 20, 25, 40, 57])('balanced plans put every class in at least two of %i images', (n) => {
    for (const seed of [1, 2, 3]) {
      const plan = planImageLabels(n, seed, true);
      expect(plan).toHaveLength(n);
      const counts = new Array(19).fill(0);
      for (const labels of plan) {
        expect(labels.length).toBeGreaterThanOrEqual(1);
        expect(labels.length).toBeLessThanOrEqual(3);
        if (labels.includes(18)) expect(labels).toEqual([18]);
        if (labels.includes(11)) expect(labels.length).toBeGreaterThan(1);
        for (const l of labels) counts[l]++;
      }
      expect(Math.min(...counts)).toBeGreaterThanOrEqual(2);
    }
  });

  it('refuses a balanced plan with fewer than 19 images, naming the option', () => {
    expect(() => planImageLabels(18, 1, true)).toThrow(RangeError);
    expect(() => planImageLabels(18, 1, true)).toThrow(/--images >= 19.*options\.images/);
  });
});

describe('synthImage', () => {
  it('is deterministic: same inputs give identical arrays, another seed or id does not', () => {
    const a = synthImage('x', S, 3, [0, 16]);
    const b = synthImage('x', S, 3, [0, 16]);
    for (const k of ['red', 'green', 'blue', 'yellow', 'cells', 'nuclei'] as const) expect(Buffer.compare(Buffer.from(a[k].buffer), Buffer.from(b[k].buffer))).toBe(0);
    expect(a.cellLabels).toEqual(b.cellLabels);
    const c = synthImage('x', S, 4, [0, 16]);
    const d = synthImage('y', S, 3, [0, 16]);
    expect(Buffer.compare(Buffer.from(a.cells.buffer), Buffer.from(c.cells.buffer))).not.toBe(0);
    expect(Buffer.compare(Buffer.from(a.green.buffer), Buffer.from(d.green.buffer))).not.toBe(0);
  });

  const cases: [string, number, number[]][] = [
    ['one class', S, [16]],
    ['two classes', S, [0, 13]],
    ['mitotic spindle', S, [11, 14]],
    ['negative', S, [18]],
    ['three classes, 1024 px', 1024, [2, 7, 17]],
  ];
  it.each(cases)('keeps the label invariants (%s)', (_name, size, classes) => {
    const img = synthImage('inv', size, 11, classes);
    const { cells, nuclei, cellLabels } = img;
    const n = cellLabels.length;
    const area = new Int32Array(n + 1), nucArea = new Int32Array(n + 1);
    let maxId = 0, outside = 0;
    for (let p = 0; p < cells.length; p++) {
      const c = cells[p];
      if (c > maxId) maxId = c;
      area[c]++;
      if (nuclei[p]) {
        if (nuclei[p] !== c) outside++; // nucleus id == cell id, and inside it
        nucArea[c]++;
      }
    }
    expect(outside).toBe(0);
    expect(maxId).toBe(n);
    for (let id = 1; id <= n; id++) {
      expect(area[id]).toBeGreaterThan(0);
      expect(nucArea[id]).toBeGreaterThan(0);
    }
    // Border cells exist; enough whole cells; cell count grows with area.
    const touching = new Set<number>();
    for (let i = 0; i < size; i++) for (const p of [i, (size - 1) * size + i, i * size, i * size + size - 1]) if (cells[p]) touching.add(cells[p]);
    expect(touching.size).toBeGreaterThan(0);
    expect(n - touching.size).toBeGreaterThanOrEqual(3);
    if (size === S) expect(n).toBeLessThanOrEqual(30);
    if (size === 1024) expect(n).toBeGreaterThanOrEqual(15);
    // Nearly the whole field is covered by cells, with some gaps.
    const covered = area.slice(1).reduce((s, v) => s + v, 0) / cells.length;
    expect(covered).toBeGreaterThan(0.7);
    expect(covered).toBeLessThan(1);
    // Labels: non-empty per cell, union == image classes; spindle only in mitotic cells.
    const union = new Set<number>();
    cellLabels.forEach((l, i) => {
      expect(l.length).toBeGreaterThan(0);
      for (const c of l) {
        expect(classes).toContain(c);
        union.add(c);
        if (c === 11) expect(img.mitotic).toContain(i + 1);
      }
    });
    expect([...union].sort((a, b) => a - b)).toEqual([...classes].sort((a, b) => a - b));
    expect(img.labels).toEqual([...classes].sort((a, b) => a - b));
    if (classes.includes(11)) expect(img.mitotic.length).toBeGreaterThanOrEqual(1);
  });

  it('gives 16-bit channels with the same geometry', () => {
    const a = synthImage('bd', S, 2, [0]);
    const b = synthImage('bd', S, 2, [0], { bitDepth: 16 });
    expect(b.green).toBeInstanceOf(Uint16Array);
    expect(a.green).toBeInstanceOf(Uint8Array);
    expect(b.cells).toEqual(a.cells);
    let max = 0;
    for (let p = 0; p < b.blue.length; p++) if (b.blue[p] > max) max = b.blue[p];
    expect(max).toBeGreaterThan(255);
  });

  // Where the green mass sits for single-class images (whole-image statistics).
  const region = (img: SynthImage) => {
    const W = img.width;
    const border = dilate(borderMask(img.cells, W), W, 2);
    const nucNear = dilate(img.nuclei.map((v) => (v ? 1 : 0)) as unknown as Uint8Array, W, 5);
    return {
      nucleus: (p: number) => img.nuclei[p] > 0 && !border[p],
      cytoplasm: (p: number) => img.cells[p] > 0 && !nucNear[p] && !border[p],
      membrane: (p: number) => img.cells[p] > 0 && border[p] === 1,
      interior: (p: number) => img.cells[p] > 0 && !border[p],
    };
  };
  it.each([
    ['nucleoplasm: nucleus >> cytoplasm', [0], 'nucleus', 'cytoplasm', 3],
    ['nuclear speckles: nucleus >> cytoplasm', [4], 'nucleus', 'cytoplasm', 2],
    ['cytosol: cytoplasm >> nucleus', [16], 'cytoplasm', 'nucleus', 2],
    ['plasma membrane: outline >> interior', [13], 'membrane', 'interior', 2.5],
    ['vesicles: cytoplasm > nucleus', [17], 'cytoplasm', 'nucleus', 1.3],
  ] as const)('puts the green where the class lives (%s)', (_n, classes, hi, lo, ratio) => {
    const img = synthImage('pat', S, 21, [...classes]);
    const r = region(img);
    expect(mean(img.green, r[hi])).toBeGreaterThan(ratio * mean(img.green, r[lo]));
  });

  it('keeps Negative images dim and unspecific', () => {
    const neg = synthImage('neg', S, 5, [18]);
    const cyt = synthImage('neg', S, 5, [16]);
    const inCell = (img: SynthImage) => (p: number) => img.cells[p] > 0;
    expect(mean(neg.green, inCell(neg))).toBeLessThan(0.35 * mean(cyt.green, inCell(cyt)));
  });

  it('draws mitotic cells as round cells with condensed chromatin', () => {
    const img = synthImage('mit', S, 9, [11, 0]);
    expect(img.mitotic).toHaveLength(1);
    const id = img.mitotic[0];
    const isNuc = (p: number) => img.nuclei[p] > 0;
    expect(mean(img.blue, (p) => img.nuclei[p] === id)).toBeGreaterThan(1.25 * mean(img.blue, (p) => isNuc(p) && img.nuclei[p] !== id));
    // Round: area close to that of the disc through its extent.
    let x0 = S, x1 = 0, area = 0;
    for (let p = 0; p < img.cells.length; p++) if (img.cells[p] === id) { area++; x0 = Math.min(x0, p % S); x1 = Math.max(x1, p % S); }
    const r = (x1 - x0 + 1) / 2;
    expect(area / (Math.PI * r * r)).toBeGreaterThan(0.85);
  });

  it.each([
    ['size below the minimum', () => synthImage('a', 63, 1, [0]), RangeError, /size/],
    ['size above the maximum', () => synthImage('a', 4097, 1, [0]), RangeError, /size/],
    ['no classes', () => synthImage('a', S, 1, []), RangeError, /classes/],
    ['unknown class', () => synthImage('a', S, 1, [19]), RangeError, /classes/],
    ['duplicate class', () => synthImage('a', S, 1, [3, 3]), RangeError, /distinct/],
    ['negative with another class', () => synthImage('a', S, 1, [18, 0]), RangeError, /Negative/],
    ['mitotic spindle alone', () => synthImage('a', S, 1, [11]), RangeError, /Mitotic spindle/],
    ['bit depth 12', () => synthImage('a', S, 1, [0], { bitDepth: 12 as 8 }), RangeError, /bitDepth/],
  ] as const)('rejects bad arguments (%s)', (_n, fn, ctor, msg) => {
    expect(fn).toThrow(ctor);
    expect(fn).toThrow(msg);
  });
});

describe('renderComposite', () => {
  it('renders an RGB PNG downscaled to maxSide', async () => {
    const img = synthImage('c', S, 1, [0]);
    const png = await renderComposite(img, S, { cells: img.cells, nuclei: img.nuclei, maxSide: 256 });
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', 256, 256, 3]);
  });
});

describe('synthesize', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cellcam-synth-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the layout, CSVs and label images; truth masks equal the cell labels', async () => {
    const out = join(dir, 'a');
    const progress: string[] = [];
    const s = await synthesize({ out, images: 3, size: S, seed: 7, testFraction: 0.34, preview: join(out, 'preview.png'), onProgress: (d, t, id) => progress.push(`${d}/${t} ${id}`) });
    expect(s.train).toHaveLength(2);
    expect(s.test).toHaveLength(1);
    expect(progress).toHaveLength(3);
    expect(progress[2]).toMatch(/^3\/3 /);
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    for (const id of [...s.train, ...s.test]) expect(id).toMatch(uuid);
    const trainFiles = (await readdir(join(out, 'train'))).sort();
    expect(trainFiles).toEqual(s.train.flatMap((id) => ['blue', 'green', 'red', 'yellow'].map((c) => `${id}_${c}.png`)).sort());
    expect(await readdir(join(out, 'test'))).toHaveLength(4);
    expect(await readdir(join(out, 'cells'))).toHaveLength(6);

    const train = (await readFile(join(out, 'train.csv'), 'utf8')).trim().split('\n');
    expect(train[0]).toBe('ID,Label');
    expect(train.slice(1).map((l) => l.split(',')[0])).toEqual(s.train);
    const truth = (await readFile(join(out, 'truth.csv'), 'utf8')).trim().split('\n');
    expect(truth[0]).toBe('ID,ImageWidth,ImageHeight,PredictionString');
    expect(truth).toHaveLength(4);
    let cells = 0;
    const labelCounts = new Array(19).fill(0);
    for (const row of truth.slice(1)) {
      const [id, w, h, pred] = row.split(',');
      expect([w, h]).toEqual([String(S), String(S)]);
      const lab = await readGrey(join(out, 'cells', `${id}_cells.png`));
      expect(lab.bitDepth).toBe(16);
      const nuc = await readGrey(join(out, 'cells', `${id}_nuclei.png`));
      expect(nuc.bitDepth).toBe(16);
      const green = await readGrey(join(out, s.test.includes(id) ? 'test' : 'train', `${id}_green.png`));
      expect([green.bitDepth, green.width, green.height]).toEqual([8, S, S]);
      const tok = pred.split(' ');
      expect(tok.length % 3).toBe(0);
      const byMask = new Map<string, number[]>();
      for (let k = 0; k < tok.length; k += 3) {
        expect(tok[1 + k]).toBe('1');
        byMask.set(tok[k + 2], [...(byMask.get(tok[k + 2]) ?? []), Number(tok[k])]);
      }
      // One distinct mask per cell; decoded masks tile the label image exactly.
      const n = (lab.data as Uint16Array).reduce((m, v) => (v > m ? v : m), 0);
      expect(byMask.size).toBe(n);
      cells += n;
      const rebuilt = new Uint16Array(S * S);
      let idx = 0;
      const union = new Set<number>();
      for (const [mask, labels] of byMask) {
        const m = decodeBinaryMask(mask, S, S);
        let cellId = 0;
        for (let p = 0; p < m.length; p++) if (m[p]) { cellId = lab.data[p]; rebuilt[p] = cellId; }
        expect(cellId).toBeGreaterThan(0);
        labels.forEach((l) => union.add(l));
        idx++;
      }
      expect(idx).toBe(n);
      expect(Buffer.compare(Buffer.from(rebuilt.buffer), Buffer.from((lab.data as Uint16Array).buffer, lab.data.byteOffset, lab.data.byteLength))).toBe(0);
      for (const l of union) labelCounts[l]++;
      const trainRow = train.find((l) => l.startsWith(id + ','));
      if (trainRow) expect(trainRow.split(',')[1].split('|').map(Number)).toEqual([...union].sort((a, b) => a - b));
    }
    expect(s.cells).toBe(cells);
    expect(s.labelCounts).toEqual(labelCounts);
    const meta = JSON.parse(await readFile(join(out, 'synth.json'), 'utf8'));
    expect(meta.options).toEqual({ images: 3, size: S, seed: 7, bitDepth: 8, testFraction: 0.34, balanced: false });
    expect(meta.summary).toEqual(s);
    const prev = await sharp(join(out, 'preview.png')).metadata();
    expect([prev.width, prev.channels]).toEqual([S, 3]);
  });

  it('writes byte-identical files for the same seed, 16-bit stains when asked', async () => {
    const a = join(dir, 'b1'), b = join(dir, 'b2');
    await synthesize({ out: a, images: 2, size: S, seed: 3, bitDepth: 16 });
    await synthesize({ out: b, images: 2, size: S, seed: 3, bitDepth: 16 });
    const list = async (d: string) => (await readdir(d, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(d.length)).sort();
    const files = await list(a);
    expect(files).toEqual(await list(b));
    expect(files.length).toBe(2 * 6 + 3);
    for (const f of files) expect(Buffer.compare(await readFile(a + f), await readFile(b + f))).toBe(0);
    const png = files.find((f) => f.endsWith('_red.png'))!;
    expect((await readGrey(a + png)).bitDepth).toBe(16);
  });

  it('gives 30–50 % of cells a missing image label over a 20-image set', async () => {
    const s = await synthesize({ out: join(dir, 'c'), images: 20, size: S, seed: 1 });
    expect(s.train.length + s.test.length).toBe(20);
    expect(s.test).toHaveLength(4);
    expect(s.fractionCellsMissingALabel).toBeGreaterThanOrEqual(0.3);
    expect(s.fractionCellsMissingALabel).toBeLessThanOrEqual(0.5);
    expect(s.cellLabelCounts.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(s.cells);
  });

  it('balanced: every class in at least two images', async () => {
    const s = await synthesize({ out: join(dir, 'd'), images: 19, size: S, seed: 2, balanced: true, testFraction: 0 });
    expect(Math.min(...s.labelCounts)).toBeGreaterThanOrEqual(2);
    expect(s.test).toHaveLength(0);
  });

  it.each([
    ['size 63', { size: 63 }, RangeError, /options\.size/],
    ['size 4097', { size: 4097 }, RangeError, /options\.size/],
    ['fractional size', { size: 1000.5 }, TypeError, /options\.size/],
    ['images 0', { images: 0 }, RangeError, /options\.images/],
    ['bit depth 12', { bitDepth: 12 }, RangeError, /options\.bitDepth/],
    ['test fraction 1', { testFraction: 1 }, RangeError, /options\.testFraction/],
    ['test fraction -0.1', { testFraction: -0.1 }, RangeError, /options\.testFraction/],
    ['negative seed', { seed: -1 }, RangeError, /options\.seed/],
    ['balanced with 5 images', { balanced: true, images: 5 }, RangeError, /options\.images/],
    ['empty out', { out: '' }, TypeError, /options\.out/],
  ] as const)('rejects bad options (%s)', async (_n, extra, ctor, msg) => {
    const p = synthesize({ out: join(dir, 'bad'), images: 1, size: S, ...(extra as object) });
    await expect(p).rejects.toThrow(ctor);
    await expect(p).rejects.toThrow(msg);
    await expect(p).rejects.toHaveProperty('code');
  });

  it('rejects an unwritable output directory, naming options.out', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    const p = synthesize({ out: join(file, 'sub'), images: 1, size: S });
    await expect(p).rejects.toThrow(/options\.out/);
    await expect(p).rejects.toHaveProperty('code', 'CELLCAM_E_IO');
  });
});
