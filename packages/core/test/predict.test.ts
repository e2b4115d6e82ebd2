// Final confidence rules (predict/combine.ts) and cell-model probabilities (softmax with unknown vs sigmoid).
import { describe, expect, it } from 'vitest';
import { combine } from '../src/predict/combine.js';
import { cellProbabilities } from '../src/pipeline/stages.js';

describe('combine', () => {
  it.each([
    ['product', 0.9, 0.5, 0.45],
    ['cell', 0.9, 0.5, 0.5],
    ['image', 0.9, 0.5, 0.9],
    ['mean', 0.9, 0.5, 0.7],
    ['geometric', 0.9, 0.4, 0.6],
    ['product', 0, 1, 0],
  ] as const)('%s(%f, %f) = %f', (rule, pi, pc, want) => {
    expect(combine(rule, pi, pc)).toBeCloseTo(want, 12);
  });
});

describe('cellProbabilities', () => {
  it('softmax over 20 columns keeps the 19 classes and drops the unknown mass', () => {
    const logits = new Float32Array(20).fill(0);
    logits[19] = Math.log(19); // unknown takes half of the mass
    const p = cellProbabilities(logits, 20);
    expect(p.length).toBe(19);
    for (const v of p) expect(v).toBeCloseTo(1 / 38, 6);
  });
  it('19 columns are independent sigmoids', () => {
    const logits = Float32Array.from({ length: 38 }, (_, i) => (i % 19) - 9);
    const p = cellProbabilities(logits, 19);
    expect(p.length).toBe(38);
    expect(p[9]).toBeCloseTo(0.5, 6);
    expect(p[19 + 18]).toBeCloseTo(1 / (1 + Math.exp(-9)), 6);
  });
});

describe('stored CAM maps (quantizeMaps / openCamMaps)', () => {
  it('round-trip within half a quantisation step per class, constant classes exactly', async () => {
    const { quantizeMaps, openCamMaps } = await import('../src/pipeline/stages.js');
    const { encodeNpy } = await import('../src/io/crops.js');
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const C = 3, h = 4, w = 5, hw = h * w;
    const data = Float32Array.from({ length: C * hw }, (_, i) => (i < hw ? Math.sin(i) * 80 : i < 2 * hw ? 7 : i * 3 - 200));
    const { q, lo, hi } = quantizeMaps(data, C, hw);
    expect(lo[1]).toBe(7);
    expect(hi[1]).toBe(7);
    const dir = mkdtempSync(join(tmpdir(), 'cellcam-cam-'));
    try {
      writeFileSync(join(dir, 'x.cam.npy'), encodeNpy(q, [C, h, w]));
      const rec = { id: 'x', key: '', logits: [], mean: [], max: [], nucleusMean: [], cytoplasmMean: [], maps: { file: 'x.cam.npy', classes: C, h, w, lo, hi } };
      const back = (await openCamMaps(dir, rec))!;
      expect([back.classes, back.h, back.w]).toEqual([C, h, w]);
      for (let c = 0; c < C; c++) {
        const step = (hi[c] - lo[c]) / 255, map = back.channel(c);
        for (let i = c * hw; i < (c + 1) * hw; i++) expect(Math.abs(map[i - c * hw] - data[i])).toBeLessThanOrEqual(step / 2 + 1e-4);
      }
      expect(await openCamMaps(dir, { ...rec, maps: undefined })).toBeNull();
      expect(await openCamMaps(dir, { ...rec, maps: { ...rec.maps, file: 'missing.npy' } })).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cellEvidence', () => {
  const rec = { id: 'x', key: '', logits: [], mean: [0, 0], max: [2, 2], nucleusMean: [4, -4], cytoplasmMean: [-4, 4] };
  it.each([
    ['mean', 'cell', [0.5, 0.5]],
    ['max', 'cell', [1 / (1 + Math.exp(-2)), 1 / (1 + Math.exp(-2))]],
    ['mean', 'nucleus', [1 / (1 + Math.exp(-4)), 1 / (1 + Math.exp(4))]],
    ['mean', 'cytoplasm', [1 / (1 + Math.exp(4)), 1 / (1 + Math.exp(-4))]],
  ] as const)('%s over the %s', async (statistic, region, want) => {
    const { cellEvidence } = await import('../src/pipeline/stages.js');
    const e = cellEvidence(rec, statistic, null, 0.5, region);
    want.forEach((w, i) => expect(e[i]).toBeCloseTo(w, 12));
  });
  it('fuses the previous cycle with weight fuse', async () => {
    const { cellEvidence } = await import('../src/pipeline/stages.js');
    const e = cellEvidence(rec, 'mean', [1, 0], 0.25, 'cell');
    expect(Array.from(e)).toEqual([0.25 + 0.75 * 0.5, 0.75 * 0.5]);
  });
});

describe('config: pseudoLabel.region', () => {
  it('accepts the three regions and rejects max over a region', async () => {
    const { resolveConfig } = await import('../src/pipeline/config.js');
    for (const region of ['cell', 'nucleus', 'cytoplasm']) expect(resolveConfig({ pseudoLabel: { region } }).pseudoLabel.region).toBe(region);
    expect(() => resolveConfig({ pseudoLabel: { region: 'nuclei' } }, 'c.json')).toThrow(/c\.json: expected 'cell', 'nucleus' or 'cytoplasm' for 'pseudoLabel\.region'/);
    expect(() => resolveConfig({ pseudoLabel: { statistic: 'max', region: 'nucleus' } })).toThrow(/statistic 'max' is taken over the whole cell/);
  });
});
