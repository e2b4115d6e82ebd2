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
