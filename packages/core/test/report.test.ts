// The report's building blocks: outlines on the cell boundary, HPA colours, heatmap scaling and
// colour map, HTML escaping, PR curves that integrate to the metric's AP, and a partial run that
// still gives a report with a notice of what is missing.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rng } from './helpers.js';
import { averagePrecision, evaluate, evaluateFiles, type ImageTruth } from '../src/metric/evaluate.js';
import { encodeCells } from '../src/submit/encode.js';
import {
  HEAT_MAX_ALPHA, HEAT_STOPS, OUTLINE, borderLabels, camRange, cellGeometry, compositeAt, cropSprite, displaySize, heatColour, heatValue, heatmapLayer, heatmapOverlay,
  hpaComposite, innerOutline, paintOutline, resizeLabels, type RgbImage,
} from '../src/report/overlay.js';
import { esc, html, jsonForScript, raw, urlPath } from '../src/report/html.js';
import { classPrCurves, curvePoints, prCurve } from '../src/report/pr.js';
import { buildReport, segmentationSource } from '../src/report/index.js';
import { vegaLiteSvg, apBarSpec } from '../src/report/charts.js';

/** Two touching rectangles and a one-pixel cell on a 10×8 image. */
function labels(): Uint16Array {
  const W = 10, H = 8, a = new Uint16Array(W * H);
  for (let y = 1; y < 6; y++) for (let x = 1; x < 5; x++) a[y * W + x] = 1;
  for (let y = 1; y < 6; y++) for (let x = 5; x < 9; x++) a[y * W + x] = 2;
  a[7 * W + 9] = 3;
  return a;
}

describe('outlines', () => {
  it('lie on the cell boundary: exactly the cell pixels with a 4-neighbour of another label', async () => {
    const W = 10, H = 8, lab = labels();
    const o = await innerOutline(lab, W, H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const l = lab[y * W + x];
        const nb = [[x - 1, y], [x + 1, y], [x, y - 1], [x, y + 1]].filter(([u, v]) => u >= 0 && v >= 0 && u < W && v < H).map(([u, v]) => lab[v * W + u]);
        const boundary = l !== 0 && nb.some((m) => m !== l);
        expect(o[y * W + x], `pixel ${x},${y}`).toBe(boundary ? 1 : 0);
      }
    }
    // interior pixel of cell 1 not outlined, background never outlined, the shared edge outlined on both sides
    expect(o[3 * W + 2]).toBe(0);
    expect(o[0]).toBe(0);
    expect([o[3 * W + 4], o[3 * W + 5]]).toEqual([1, 1]);
  });

  it('are painted in the cell colour, or the wrong-cell colour for the cells picked', async () => {
    const W = 10, H = 8, lab = labels();
    const img: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3) };
    paintOutline(img, await innerOutline(lab, W, H), lab, OUTLINE.cell, (l) => (l === 2 ? OUTLINE.wrong : OUTLINE.cell));
    const px = (x: number, y: number) => Array.from(img.data.subarray(3 * (y * W + x), 3 * (y * W + x) + 3));
    expect(px(1, 1)).toEqual([...OUTLINE.cell]);
    expect(px(8, 5)).toEqual([...OUTLINE.wrong]);
    expect(px(2, 3)).toEqual([0, 0, 0]);
  });

  it('survive a nearest-neighbour downscale of the labels; geometry and border cells follow the labels', () => {
    const lab = labels();
    const small = resizeLabels(lab, 10, 8, 5, 4);
    // each output pixel takes the source pixel under its centre: (2x + 1, 2y + 1) for a halving
    for (let y = 0; y < 4; y++) for (let x = 0; x < 5; x++) expect(small[y * 5 + x]).toBe(lab[(2 * y + 1) * 10 + 2 * x + 1]);
    const g = cellGeometry(lab, 10, 8, 3);
    expect(g[1]).toMatchObject({ x0: 1, y0: 1, x1: 5, y1: 6, area: 20, cx: 3, cy: 3.5 });
    expect(g[3]).toMatchObject({ area: 1, x0: 9, y0: 7 });
    expect(borderLabels(lab, 10, 8)).toEqual(new Set([3]));
    expect(displaySize(2048, 1024, 768)).toEqual({ width: 768, height: 384 });
    expect(displaySize(300, 200, 768)).toEqual({ width: 300, height: 200 });
  });
});

describe('HPA composite', () => {
  it.each([
    ['red stain', 'red', [255, 0, 0]],
    ['green stain', 'green', [0, 255, 0]],
    ['blue stain', 'blue', [0, 0, 255]],
    ['yellow adds half to red and green', 'yellow', [127, 127, 0]],
  ] as const)('%s', (_, ch, rgb) => {
    const W = 6, H = 3, n = W * H;
    const planes = { red: new Uint16Array(n), green: new Uint16Array(n), blue: new Uint16Array(n), yellow: new Uint16Array(n) };
    planes[ch].fill(40000);
    const c = hpaComposite({ width: W, height: H, bitDepth: 16, channels: planes });
    expect([c.width, c.height]).toEqual([W, H]);
    expect(Array.from(c.data.subarray(0, 3))).toEqual(rgb);
  });

  it('downscales non-square composites with sharp', async () => {
    const src: RgbImage = { width: 40, height: 20, data: new Uint8Array(40 * 20 * 3).fill(200) };
    const d = await compositeAt(src, displaySize(40, 20, 16));
    expect([d.width, d.height, d.data.length]).toEqual([16, 8, 16 * 8 * 3]);
    expect(d.data[0]).toBe(200);
    const sprite = cropSprite(src, [{ x0: 0, y0: 0, x1: 10, y1: 10 }, { x0: 30, y0: 10, x1: 40, y1: 20 }], 8);
    expect([sprite.width, sprite.height]).toEqual([16, 8]);
  });
});

describe('heatmap scaling (documented in overlay.ts and docs/report.md)', () => {
  it.each([
    // z, range, evidence
    [0, { lo: 0, hi: 10 }, 0],
    [10, { lo: 0, hi: 10 }, 1],
    [5, { lo: 0, hi: 10 }, 0.5],
    [-50, { lo: -20, hi: 80 }, 0],
    [300, { lo: -20, hi: 80 }, 1],
    [30, { lo: -20, hi: 80 }, 0.5],
  ])('CAM %d in [%o] → evidence %d (linear between the map percentiles, clamped)', (z, r, v) => {
    expect(heatValue(z, r)).toBeCloseTo(v, 12);
  });

  it('takes the range from the 2nd and 98th percentiles of the map', () => {
    const map = Float32Array.from({ length: 101 }, (_, i) => i - 50); // -50 … 50
    expect(camRange(map)).toEqual({ lo: -48, hi: 48 });
    expect(camRange(new Float32Array(10).fill(3))).toEqual({ lo: 3, hi: 4 });
  });

  it('colour map: the stops at 0 and 1, monotone lightness in between', () => {
    expect(heatColour(0)).toEqual([...HEAT_STOPS[0]]);
    expect(heatColour(1)).toEqual([...HEAT_STOPS[HEAT_STOPS.length - 1]]);
    expect(heatColour(-3)).toEqual(heatColour(0));
    expect(heatColour(7)).toEqual(heatColour(1));
    let prev = -1;
    for (let k = 0; k <= 50; k++) {
      const [r, g, b] = heatColour(k / 50);
      const light = 0.299 * r + 0.587 * g + 0.114 * b;
      expect(light).toBeGreaterThanOrEqual(prev);
      prev = light;
    }
  });

  it('blends: no evidence leaves the greyed base, full evidence is HEAT_MAX_ALPHA of the top colour', () => {
    const base: RgbImage = { width: 2, height: 1, data: new Uint8Array([100, 100, 100, 100, 100, 100]) };
    const o = heatmapOverlay(base, new Float32Array([0, 10]), 2, 1, { lo: 0, hi: 10 });
    const grey = 0.45 * 100;
    expect(Array.from(o.data.subarray(0, 3))).toEqual([Math.round(grey), Math.round(grey), Math.round(grey)]);
    const top = HEAT_STOPS[HEAT_STOPS.length - 1];
    expect(Array.from(o.data.subarray(3, 6))).toEqual(top.map((c) => Math.round((1 - HEAT_MAX_ALPHA) * grey + HEAT_MAX_ALPHA * c)));
  });
});

describe('heatmap layer (what the report writes: colour + alpha at map resolution)', () => {
  it('alpha is HEAT_MAX_ALPHA × evidence, colour the colour map', () => {
    const l = heatmapLayer(new Float32Array([0, 5, 10, Number.NaN]), 4, 1, { lo: 0, hi: 10 });
    expect([l.width, l.height, l.data.length]).toEqual([4, 1, 16]);
    expect(Array.from(l.data.subarray(0, 4))).toEqual([...heatColour(0), 0]);
    expect(Array.from(l.data.subarray(4, 8))).toEqual([...heatColour(0.5), Math.round(255 * HEAT_MAX_ALPHA * 0.5)]);
    expect(Array.from(l.data.subarray(8, 12))).toEqual([...HEAT_STOPS[HEAT_STOPS.length - 1], Math.round(255 * HEAT_MAX_ALPHA)]);
    expect(l.data[15]).toBe(0); // NaN: no evidence
    expect(() => heatmapLayer(new Float32Array(3), 2, 2)).toThrow(/length camW\*camH = 4 for cam/);
  });

  it('over the greyed base it gives the flattened overlay (up to alpha quantization)', () => {
    const w = 16, h = 8, r = rng(5);
    const cam = Float32Array.from({ length: w * h }, () => r() * 40 - 10);
    const base: RgbImage = { width: w, height: h, data: Uint8Array.from({ length: w * h * 3 }, () => Math.floor(r() * 256)) };
    const range = camRange(cam), layer = heatmapLayer(cam, w, h, range), flat = heatmapOverlay(base, cam, w, h, range);
    for (let p = 0; p < w * h; p++) {
      const b = base.data, grey = 0.45 * (0.299 * b[3 * p] + 0.587 * b[3 * p + 1] + 0.114 * b[3 * p + 2]), a = layer.data[4 * p + 3] / 255;
      for (let ch = 0; ch < 3; ch++) expect(Math.abs((1 - a) * grey + a * layer.data[4 * p + ch] - flat.data[3 * p + ch])).toBeLessThanOrEqual(2);
    }
  });
});

describe('HTML escaping', () => {
  it.each([
    ['<script>alert(1)</script>', '&lt;script&gt;alert(1)&lt;/script&gt;'],
    [`a "b" & 'c'`, 'a &quot;b&quot; &amp; &#39;c&#39;'],
    [42, '42'],
    [null, ''],
  ])('esc(%j)', (v, want) => expect(esc(v)).toBe(want));

  it('html`` escapes values, keeps nested fragments and raw markup', () => {
    const id = `x"><img src=x onerror=alert(1)>`;
    const out = html`<a title="${id}">${[html`<b>${'<i>'}</b>`, 'q&a']}${raw('<svg></svg>')}${null}${false}</a>`.value;
    expect(out).toBe('<a title="x&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"><b>&lt;i&gt;</b>q&amp;a<svg></svg></a>');
  });

  it('JSON inside <script> cannot close the script', () => {
    const s = jsonForScript({ id: '</script><script>alert(1)</script>', t: '\u2028' });
    expect(s).not.toMatch(/<\/script/i);
    expect(JSON.parse(s)).toEqual({ id: '</script><script>alert(1)</script>', t: '\u2028' });
    expect(urlPath('..', 'img', 'a b#?', 'c.webp')).toBe('../img/a%20b%23%3F/c.webp');
  });
});

describe('PR curves', () => {
  it('integrate to averagePrecision (VOC all-point, stable ties)', () => {
    const r = rng(7);
    for (const [n, gt] of [[0, 3], [1, 1], [5, 2], [40, 12], [200, 60]]) {
      let tps = 0; // a true cell is matched at most once: never more hits than positives
      const scored = Array.from({ length: n }, () => ({ score: Math.round(r() * 10) / 10, tp: r() < 0.4 && tps++ < gt }));
      const c = prCurve(scored, gt);
      expect(c.ap).toBeCloseTo(averagePrecision(scored, gt), 12);
      for (let i = 1; i < c.recall.length; i++) {
        expect(c.recall[i]).toBeGreaterThan(c.recall[i - 1]);
        expect(c.precision[i]).toBeLessThanOrEqual(c.precision[i - 1]);
      }
    }
    expect(prCurve([{ score: 0.9, tp: true }, { score: 0.5, tp: false }, { score: 0.4, tp: true }], 2)).toMatchObject({ recall: [0, 0.5, 1], ap: 0.5 + 0.5 * (2 / 3) });
  });

  it("match the metric's per-class AP on a scored image", async () => {
    const W = 10, H = 8, lab = labels();
    const masks = await encodeCells(lab, W, H);
    const truth = new Map<string, ImageTruth>([['a', { id: 'a', width: W, height: H, cells: [{ mask: masks[0], labels: [1] }, { mask: masks[1], labels: [1, 2] }] }]]);
    const res = evaluate(truth, [{ id: 'a', width: W, height: H, predictions: [
      { label: 1, confidence: 0.3, mask: masks[0] }, { label: 1, confidence: 0.9, mask: masks[2] }, { label: 1, confidence: 0.6, mask: masks[1] },
    ] }]);
    const c = prCurve([{ score: 0.9, tp: false }, { score: 0.6, tp: true }, { score: 0.3, tp: true }], 2);
    expect(c.ap).toBeCloseTo(res.classes[1].ap!, 12);
  });

  it('evaluateFiles({ curves }) stores, per class with truth, the curve the report would compute', async () => {
    const W = 10, H = 8, lab = labels(), masks = await encodeCells(lab, W, H);
    const dir = mkdtempSync(join(tmpdir(), 'cellcam-curves-'));
    try {
      const truth = join(dir, 'truth.csv'), sub = join(dir, 'sub.csv');
      writeFileSync(truth, `ID,ImageWidth,ImageHeight,PredictionString\na,${W},${H},1 1 ${masks[0]} 1 1 ${masks[1]} 2 1 ${masks[1]}\n`);
      writeFileSync(sub, `ID,ImageWidth,ImageHeight,PredictionString\na,${W},${H},1 0.3 ${masks[0]} 1 0.9 ${masks[2]} 1 0.6 ${masks[1]} 2 0.2 ${masks[0]} 2 0.7 ${masks[1]}\n`);
      const res = await evaluateFiles(truth, sub, { curves: true });
      const fresh = await classPrCurves(truth, sub);
      expect(res.curves!.map((c) => c.label)).toEqual([1, 2]);
      for (const c of res.curves!) {
        const f = fresh.find((x) => x.label === c.label)!;
        expect(c.ap).toBeCloseTo(res.classes[c.label].ap!, 12);
        expect(c.points).toEqual(curvePoints(f));
      }
      expect((await evaluateFiles(truth, sub)).curves).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('charts', () => {
  it('render to SVG without a browser', async () => {
    const svg = await vegaLiteSvg(apBarSpec([{ className: 'Golgi <apparatus>', submission: 'broadcast', ap: 0.5 }, { className: 'Golgi <apparatus>', submission: 'cycle 1', ap: 0.7 }], ['broadcast', 'cycle 1'], ['Golgi <apparatus>']));
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('Golgi &lt;apparatus&gt;');
  });
});

describe('partial runs', () => {
  it('a run folder with only run.json (failed early) gives a report with a notice of what is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cellcam-report-'));
    try {
      const run = join(dir, 'run');
      mkdirSync(join(run, 'segment', 'test'), { recursive: true });
      writeFileSync(join(run, 'run.json'), JSON.stringify({
        tool: 'cellcam', version: '0.0.1', status: 'failed', error: 'segmentation failed <for> 1 image', startedAt: 'then',
        inputs: { train: join(dir, 'gone', 'train'), test: join(dir, 'gone', 'test'), labels: join(dir, 'gone', 'train.csv'), truth: null },
        split: { train: 0, val: 0, test: 0 }, stages: [{ stage: 'segment (train)', ms: 1200, counts: { images: 3 } }], pseudoLabels: [],
        validation: { imageMAP: null, imageF1: null }, evaluation: null, submission: null,
      }));
      const r = await buildReport({ run, jobs: 1 });
      const index = readFileSync(r.index, 'utf8');
      expect(r.images).toBe(0);
      expect(index).toContain('The run failed: segmentation failed &lt;for&gt; 1 image');
      expect(index).toContain('written by cellcam 0.0.1');
      expect(index).toMatch(/Missing from this run folder: .*train-image \(no image classifier: no CAM heatmaps\)/);
      expect(index).toContain('segment (train)');
      for (const f of ['gallery.html', 'cells.html', 'data/cells.js', 'assets/report.css', 'assets/cells.js']) expect(existsSync(join(r.out, f)), f).toBe(true);
      // Rebuilding over an earlier report replaces it.
      const again = await buildReport({ run, jobs: 1 });
      expect(again.index).toBe(r.index);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('draws the stored PR curves of every cycle: the latest open, earlier ones folded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cellcam-report-'));
    try {
      const run = join(dir, 'run'), W = 10, H = 8, masks = await encodeCells(labels(), W, H);
      mkdirSync(join(run, 'segment', 'test'), { recursive: true });
      mkdirSync(join(run, 'predict', 'cycle-2'), { recursive: true });
      mkdirSync(join(run, 'evaluate'), { recursive: true });
      writeFileSync(join(dir, 'truth.csv'), `ID,ImageWidth,ImageHeight,PredictionString\na,${W},${H},1 1 ${masks[0]}\n`);
      writeFileSync(join(run, 'predict', 'cycle-2', 'probabilities.json'), JSON.stringify({ cycle: 2, probs: {} }));
      writeFileSync(join(run, 'predict', 'cycle-2', 'submission.csv'), 'ID,ImageWidth,ImageHeight,PredictionString\n');
      const result = (ap: number) => ({
        mAP: ap, requireAll: false, iou: 0.6, mode: 'mask', classes: [{ label: 1, ap, numGt: 1, numDetections: 1, tp: 1, fp: 0 }],
        images: { truth: 1, submission: 1, evaluated: 1, missing: [], extra: [] }, detections: { total: 1, evaluated: 1, ignoredClass: 0, emptyMask: 0, lowScore: 0 },
        curves: [{ label: 1, numGt: 1, ap, points: [{ recall: 0, precision: 1 }, { recall: 1, precision: ap }] }],
      });
      writeFileSync(join(run, 'evaluate', 'test-cycle 1.json'), JSON.stringify(result(0.25)));
      writeFileSync(join(run, 'evaluate', 'test-cycle 2.json'), JSON.stringify(result(0.75)));
      writeFileSync(join(run, 'run.json'), JSON.stringify({
        tool: 'cellcam', status: 'done', inputs: { train: join(dir, 'gone'), test: join(dir, 'gone'), labels: null, truth: join(dir, 'truth.csv') },
        split: { train: 0, val: 0, test: 1 }, stages: [], pseudoLabels: [], validation: { imageMAP: null, imageF1: null }, submission: null,
        evaluation: [{ split: 'test', rows: [{ name: 'cycle 1', mAP: 0.25 }, { name: 'cycle 2', mAP: 0.75 }] }],
      }));
      const index = readFileSync((await buildReport({ run, jobs: 1 })).index, 'utf8');
      const latest = index.indexOf('Precision–recall curves'), folded = index.indexOf('<details class="cycle-pr"><summary>Cycle 1 (earlier)</summary>');
      expect(latest).toBeGreaterThan(0);
      expect(folded).toBeGreaterThan(latest);
      expect(index).toContain('AP 0.75');
      expect(index.slice(folded)).toContain('AP 0.25');
      expect(index).not.toContain('could not be computed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a folder that is not a run is an error; bad options are argument errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cellcam-report-'));
    try {
      await expect(buildReport({ run: dir })).rejects.toMatchObject({ code: 'CELLCAM_E_IO', message: expect.stringContaining('not a cellcam run folder') });
      await expect(buildReport({ run: join(dir, 'nope') })).rejects.toMatchObject({ code: 'CELLCAM_E_IO' });
      await expect(buildReport({ run: dir, images: -1 })).rejects.toBeInstanceOf(RangeError);
      await expect(buildReport({ run: 7 as unknown as string })).rejects.toBeInstanceOf(TypeError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('segmentationSource: where the cells came from, on the summary page', () => {
  it.each([
    [{ scale: 1, ties: 'auto', nucleiModel: null, cellModel: null, masks: null }, 'model-free maps, the HPA post-processing (fifo ties)'],
    [{ scale: 0.5, ties: 'heap' }, 'model-free maps, the HPA post-processing (heap ties, scale 0.5)'],
    [{ scale: 1 }, 'model-free maps, the HPA post-processing (heap ties)'], // a run from before ties could be chosen
    [{ scale: 1, ties: 'auto', nucleiModel: 'n.onnx', cellModel: 'c.onnx', masks: null }, 'U-Nets n.onnx and c.onnx, the HPA post-processing (heap ties)'],
    [{ scale: 1, ties: 'auto', nucleiModel: null, cellModel: null, masks: '/data/hpa-masks' }, 'masks from /data/hpa-masks'],
  ] as const)('%j → %s', (seg, words) => {
    expect(segmentationSource(seg)).toBe(words);
  });
});
