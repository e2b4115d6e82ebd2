// Tests of the built-in training maths: standardisation, class weights, the logistic head and the
// MLP (softmax and sigmoid) on separable and nonlinear toy problems, seeds, weights and activations.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  activate, affine, applyStandardizer, balancedPosWeight, fitStandardizer, mlpLogits, sigmoid, trainLogistic, trainMlp, type Matrix,
} from '../src/train/optim.js';
import { rng } from './helpers.js';

const matrix = (rows: number[][]): Matrix => ({ data: Float64Array.from(rows.flat()), rows: rows.length, cols: rows[0]?.length ?? 0 });

/** n points uniform in [-1, 1]^d from a seeded generator. */
function points(n: number, d: number, seed: number): Matrix {
  const r = rng(seed);
  return { data: Float64Array.from({ length: n * d }, () => 2 * r() - 1), rows: n, cols: d };
}

const row = (X: Matrix, i: number) => Array.from(X.data.subarray(i * X.cols, (i + 1) * X.cols));

function argmaxRows(z: Float64Array, C: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < z.length; r += C) {
    let b = 0;
    for (let c = 1; c < C; c++) if (z[r + c] > z[r + b]) b = c;
    out.push(b);
  }
  return out;
}

describe('fitStandardizer / applyStandardizer', () => {
  it('centres and scales each column; constant columns get invStd 1', () => {
    const X = matrix([[1, 10, 5], [3, 20, 5], [5, 60, 5]]);
    const s = fitStandardizer(X);
    expect(Array.from(s.mean)).toEqual([3, 30, 5]);
    expect(s.invStd[0]).toBeCloseTo(1 / Math.sqrt(8 / 3), 12);
    expect(s.invStd[1]).toBeCloseTo(1 / Math.sqrt(1400 / 3), 12);
    expect(s.invStd[2]).toBe(1);
    const Z = applyStandardizer(X, s);
    expect(Z.rows).toBe(3);
    expect(Z.cols).toBe(3);
    for (let j = 0; j < 3; j++) {
      const col = [0, 1, 2].map((i) => Z.data[i * 3 + j]);
      const m = col.reduce((a, b) => a + b, 0) / 3;
      const v = col.reduce((a, b) => a + (b - m) ** 2, 0) / 3;
      expect(m).toBeCloseTo(0, 12);
      expect(v).toBeCloseTo(j === 2 ? 0 : 1, 12);
    }
    expect(Array.from(X.data)).toEqual([1, 10, 5, 3, 20, 5, 5, 60, 5]); // input untouched
  });

  it.each([
    { weights: [1, 1, 1], mean: 3 },
    { weights: [1, 0, 0], mean: 1 },
    { weights: [0, 1, 3], mean: 4.5 },
    { weights: [2, 2, 2], mean: 3 },
  ])('weights $weights give mean $mean', ({ weights, mean }) => {
    const s = fitStandardizer(matrix([[1], [3], [5]]), Float64Array.from(weights));
    expect(s.mean[0]).toBeCloseTo(mean, 12);
  });

  it('handles an empty matrix', () => {
    const s = fitStandardizer({ data: new Float64Array(0), rows: 0, cols: 2 });
    expect(Array.from(s.mean)).toEqual([0, 0]);
    expect(Array.from(s.invStd)).toEqual([1, 1]);
  });
});

describe('balancedPosWeight', () => {
  it.each([
    { what: '1 positive in 10: sqrt(9)', col: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0], max: 10, w: 3 },
    { what: 'no positives: 1', col: [0, 0, 0, 0], max: 10, w: 1 },
    { what: 'all positive: 1', col: [1, 1, 1], max: 10, w: 1 },
    { what: 'mostly positive: clipped up to 1', col: [1, 1, 1, 1, 1, 1, 1, 1, 1, 0], max: 10, w: 1 },
    { what: 'rare: clipped down to max', col: [1, ...new Array(999).fill(0)], max: 10, w: 10 },
    { what: 'rare with a lower max', col: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0], max: 2, w: 2 },
    { what: 'soft targets count above 0.5', col: [0.6, 0.4, 0.4, 0.4, 0.4], max: 10, w: 2 },
  ])('$what', ({ col, max, w }) => {
    const Y = matrix(col.map((v) => [v, 1 - v]));
    const pw = balancedPosWeight(Y, max);
    expect(pw).toHaveLength(2);
    expect(pw[0]).toBeCloseTo(w, 12);
  });
});

describe('trainLogistic', () => {
  // Two independent labels: x0 > 0.1 and x0 + x1 < 0 (linearly separable, with an offset).
  const X = points(300, 3, 1);
  const Y = matrix(Array.from({ length: 300 }, (_, i) => {
    const [a, b] = row(X, i);
    return [a > 0.1 ? 1 : 0, a + b < 0 ? 1 : 0];
  }));

  const predict = (m: { W: Float64Array; b: Float64Array }, x: number[], c: number) => {
    let z = m.b[c];
    x.forEach((v, j) => (z += m.W[c * x.length + j] * v));
    return sigmoid(z);
  };

  it('learns separable multi-label problems to high accuracy', () => {
    const m = trainLogistic(X, Y, { l2: 1e-4, epochs: 300, lr: 0.1 });
    expect(m.classes).toBe(2);
    expect(m.W).toHaveLength(6);
    expect(m.b).toHaveLength(2);
    for (let c = 0; c < 2; c++) {
      let ok = 0;
      for (let i = 0; i < X.rows; i++) ok += (predict(m, row(X, i), c) > 0.5 ? 1 : 0) === Y.data[i * 2 + c] ? 1 : 0;
      expect(ok / X.rows).toBeGreaterThan(0.96);
    }
    expect(Math.abs(m.W[2])).toBeLessThan(Math.abs(m.W[0]) / 5); // x2 is noise
  });

  it('lowers the loss with more epochs and is deterministic', () => {
    const short = trainLogistic(X, Y, { epochs: 3 });
    const long = trainLogistic(X, Y, { epochs: 200 });
    expect(long.loss).toBeLessThan(short.loss);
    expect(trainLogistic(X, Y, { epochs: 200 })).toEqual(long);
  });

  it('stronger L2 gives smaller weights', () => {
    const norm = (w: Float64Array) => Math.hypot(...w);
    const weak = trainLogistic(X, Y, { l2: 0, epochs: 200 });
    const strong = trainLogistic(X, Y, { l2: 1, epochs: 200 });
    expect(norm(strong.W)).toBeLessThan(norm(weak.W) / 2);
  });

  it.each([
    { posWeight: 1 },
    { posWeight: 8 },
  ])('a positive weight of $posWeight moves the decision towards the positives', ({ posWeight }) => {
    // Overlapping, imbalanced classes: p(y=1 | x) = 0.25 + 0.2·x0.
    const r = rng(5);
    const Xo = points(400, 1, 4);
    const Yo = matrix(Array.from({ length: 400 }, (_, i) => [r() < 0.25 + 0.2 * Xo.data[i] ? 1 : 0]));
    const base = trainLogistic(Xo, Yo, { epochs: 300, posWeight: Float64Array.of(1) });
    const m = trainLogistic(Xo, Yo, { epochs: 300, posWeight: Float64Array.of(posWeight) });
    const positives = (mm: typeof m) => Array.from({ length: 400 }, (_, i) => predict(mm, [Xo.data[i]], 0)).filter((p) => p > 0.5).length;
    if (posWeight === 1) {
      expect(m).toEqual(base);
      expect(positives(m)).toBeLessThan(40);
    } else {
      expect(m.b[0]).toBeGreaterThan(base.b[0] + 0.5);
      expect(positives(m)).toBeGreaterThan(positives(base) + 100);
    }
  });
});

describe('trainMlp', () => {
  // XOR of the signs of x0 and x1 (not linearly separable), with a third noise input.
  const X = points(400, 3, 11);
  const xor = Float64Array.from({ length: 400 }, (_, i) => ((X.data[i * 3] > 0) !== (X.data[i * 3 + 1] > 0) ? 1 : 0));
  // Three rings by radius: a nonlinear 3-class problem.
  const R = points(450, 2, 12);
  const ring = Float64Array.from({ length: 450 }, (_, i) => {
    const rad = Math.hypot(R.data[i * 2], R.data[i * 2 + 1]);
    return rad < 0.45 ? 0 : rad < 0.8 ? 1 : 2;
  });

  it.each([
    { what: 'XOR', X, y: xor, classes: 2, min: 0.95 },
    { what: 'three rings', X: R, y: ring, classes: 3, min: 0.93 },
  ])('softmax learns $what', ({ X: Xs, y, classes, min }) => {
    const m = trainMlp(Xs, y, { mode: 'softmax', classes, hidden: 24, epochs: 150, lr: 0.01, batch: 32, seed: 3 });
    expect(m).toMatchObject({ d: Xs.cols, hidden: 24, classes, mode: 'softmax' });
    expect(m.W1).toHaveLength(24 * Xs.cols);
    expect(m.W2).toHaveLength(classes * 24);
    const pred = argmaxRows(mlpLogits(m, Xs), classes);
    const acc = pred.filter((p, i) => p === y[i]).length / Xs.rows;
    expect(acc).toBeGreaterThan(min);
    expect(Number.isFinite(m.loss)).toBe(true);
  });

  it('sigmoid learns two labels at once (XOR and a half-plane)', () => {
    const Y = new Float64Array(400 * 2);
    for (let i = 0; i < 400; i++) {
      Y[i * 2] = xor[i];
      Y[i * 2 + 1] = X.data[i * 3 + 2] > 0.2 ? 1 : 0;
    }
    const m = trainMlp(X, Y, { mode: 'sigmoid', classes: 2, hidden: 24, epochs: 150, lr: 0.01, batch: 32, seed: 3 });
    const z = mlpLogits(m, X);
    for (let c = 0; c < 2; c++) {
      let ok = 0;
      for (let i = 0; i < 400; i++) ok += (z[i * 2 + c] > 0 ? 1 : 0) === Y[i * 2 + c] ? 1 : 0;
      expect(ok / 400).toBeGreaterThan(0.94);
    }
  });

  it('is deterministic for a seed; different seeds give different models', () => {
    const o = { mode: 'softmax' as const, classes: 2, hidden: 8, epochs: 5, seed: 42 };
    const a = trainMlp(X, xor, o), b = trainMlp(X, xor, o);
    expect(b).toEqual(a);
    const c = trainMlp(X, xor, { ...o, seed: 43 });
    expect(Array.from(c.W1)).not.toEqual(Array.from(a.W1));
    expect(c.loss).not.toBe(a.loss);
  });

  it('loss falls with training', () => {
    const o = { mode: 'softmax' as const, classes: 2, hidden: 16, lr: 0.01, seed: 1 };
    expect(trainMlp(X, xor, { ...o, epochs: 60 }).loss).toBeLessThan(trainMlp(X, xor, { ...o, epochs: 1 }).loss * 0.7);
  });

  it('sample weights shift decisions towards the heavier class', () => {
    // Overlapping classes: y = 1 with probability 0.3 + 0.2·x0, so class 0 wins almost everywhere unweighted.
    const r = rng(9);
    const Xo = points(500, 1, 8);
    const y = Float64Array.from({ length: 500 }, (_, i) => (r() < 0.3 + 0.2 * Xo.data[i] ? 1 : 0));
    const o = { mode: 'softmax' as const, classes: 2, hidden: 8, epochs: 60, lr: 0.01, seed: 2 };
    const count1 = (m: ReturnType<typeof trainMlp>) => argmaxRows(mlpLogits(m, Xo), 2).filter((p) => p === 1).length;
    const plain = trainMlp(Xo, y, o);
    const weighted = trainMlp(Xo, y, { ...o, sampleWeight: Float64Array.from(y, (v) => (v === 1 ? 4 : 1)) });
    const ones = trainMlp(Xo, y, { ...o, sampleWeight: new Float64Array(500).fill(1) });
    expect(ones).toEqual(plain); // uniform weights change nothing
    expect(count1(plain)).toBeLessThan(100);
    expect(count1(weighted)).toBeGreaterThan(count1(plain) + 200);
  });
});

describe('affine: the unrolled dense layer of both trainers', () => {
  // The trainers' outputs depend on every bit of these sums (and so every run's models): the
  // unrolled rows must equal one plain loop per row, bit for bit.
  it.each([
    [1, 1], [3, 7], [4, 80], [5, 9], [19, 64], [20, 64], [64, 80], [65, 3], [13, 1],
  ])('%i rows of length %i', (rows, len) => {
    const r = rng(rows * 1000 + len);
    const w0 = 3, b0 = w0 + rows * len + 2, v0 = 5;
    const p = Float64Array.from({ length: b0 + rows + 1 }, () => (r() - 0.5) * 10 ** Math.floor(r() * 6 - 3));
    const v = Float64Array.from({ length: v0 + len }, () => (r() - 0.5) * 10 ** Math.floor(r() * 6 - 3));
    const out = new Float64Array(rows);
    affine(p, w0, b0, rows, len, v, v0, out);
    for (let t = 0; t < rows; t++) {
      let a = p[b0 + t];
      for (let j = 0; j < len; j++) a += p[w0 + t * len + j] * v[v0 + j];
      expect(Object.is(out[t], a), `row ${t}: ${out[t]} vs ${a}`).toBe(true);
    }
  });
});

describe('the trainers give the same bits on every Node.js', () => {
  // Hashes of trained weights and loss, the same on Node 20.20, 22.23 and 24.21 (2026-11-26): Adam's
  // bias corrections are running products, not Math.pow, whose last bits Node 24's V8 changed.
  // Every run's models depend on these bits; a change here changes every pipeline output.
  const hash = (arrays: Float64Array[]) => {
    const h = createHash('sha256');
    for (const a of arrays) h.update(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    return h.digest('hex').slice(0, 16);
  };
  it.each([
    ['softmax', 30, 7, 5, 13, '58c73fe67cbe3659'],
    ['sigmoid', 41, 9, 6, 19, '4572f65f0d4b24cd'],
    ['softmax', 64, 80, 64, 20, 'ffe8d8e37c25d164'],
  ] as const)('trainMlp %s, %i samples × %i features, hidden %i, %i classes', (mode, n, d, H, C, expected) => {
    const r = rng(n * 100 + d);
    const X: Matrix = { data: Float64Array.from({ length: n * d }, () => 2 * r() - 1), rows: n, cols: d };
    const y = mode === 'softmax' ? Float64Array.from({ length: n }, () => Math.floor(r() * C)) : Float64Array.from({ length: n * C }, () => (r() < 0.3 ? 1 : 0));
    const sampleWeight = Float64Array.from({ length: n }, () => 0.5 + r());
    const m = trainMlp(X, y, { mode, classes: C, hidden: H, epochs: 3, batch: 8, seed: 9, sampleWeight });
    expect(hash([m.W1, m.b1, m.W2, m.b2, Float64Array.of(m.loss)])).toBe(expected);
  });
  it.each([
    [30, 7, 19, 'c7bc6b24508ee3b0'],
    [25, 9, 6, '0a941de7f870d07a'],
  ] as const)('trainLogistic %i images × %i features, %i classes', (n, d, C, expected) => {
    const r = rng(n * 100 + d);
    const X: Matrix = { data: Float64Array.from({ length: n * d }, () => 2 * r() - 1), rows: n, cols: d };
    const Y: Matrix = { data: Float64Array.from({ length: n * C }, () => (r() < 0.3 ? 1 : 0)), rows: n, cols: C };
    const m = trainLogistic(X, Y, { epochs: 20 });
    expect(hash([m.W, m.b, Float64Array.of(m.loss)])).toBe(expected);
  });
});

describe('mlpLogits', () => {
  it('is the ReLU MLP forward pass', () => {
    const m = {
      d: 2, hidden: 2, classes: 3, mode: 'softmax' as const, loss: 0,
      W1: Float64Array.of(1, -1, 2, 0.5), b1: Float64Array.of(0, -1),
      W2: Float64Array.of(1, 0, 0, 1, 1, -1), b2: Float64Array.of(0.5, 0, -0.5),
    };
    // x = (2, 1): h = relu(1, 3.5) = (1, 3.5); x = (-1, 1): h = relu(-2, -2.5) = (0, 0)
    expect(Array.from(mlpLogits(m, matrix([[2, 1], [-1, 1]])))).toEqual([1.5, 3.5, -3, 0.5, 0, -0.5]);
  });
});

describe('activate and sigmoid', () => {
  it.each([
    { logits: [0, 0, 0], C: 3 },
    { logits: [1, 2, 3, -5, 0, 5], C: 3 },
    { logits: [1000, 1001, -1000, 1e-9], C: 2 },
    { logits: [-800, -801, -799], C: 3 },
    { logits: [7], C: 1 },
  ])('softmax rows of $logits sum to 1, keep their order and stay finite', ({ logits, C }) => {
    const z = Float64Array.from(logits);
    const p = activate(z, C, 'softmax');
    expect(p).toBe(z); // in place
    for (let r = 0; r < logits.length; r += C) {
      const rowP = Array.from(p.subarray(r, r + C));
      expect(rowP.every(Number.isFinite)).toBe(true);
      expect(rowP.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      for (let c = 1; c < C; c++) expect(Math.sign(rowP[c] - rowP[c - 1])).toBe(Math.sign(logits[r + c] - logits[r + c - 1]));
    }
  });

  it('softmax matches the textbook formula', () => {
    const p = activate(Float64Array.of(1, 2, 3), 3, 'softmax');
    const e = [1, 2, 3].map(Math.exp), s = e[0] + e[1] + e[2];
    e.forEach((v, c) => expect(p[c]).toBeCloseTo(v / s, 14));
  });

  it('sigmoid is elementwise and stable at the extremes', () => {
    const p = activate(Float64Array.of(0, 2, -2, 800, -800), 5, 'sigmoid');
    expect(p[0]).toBe(0.5);
    expect(p[1]).toBeCloseTo(1 / (1 + Math.exp(-2)), 14);
    expect(p[1] + p[2]).toBeCloseTo(1, 14);
    expect(p[3]).toBe(1);
    expect(p[4]).toBe(0);
    expect([sigmoid(-1000), sigmoid(1000), sigmoid(-40)]).toEqual([0, 1, Math.exp(-40) / (1 + Math.exp(-40))]);
  });
});
