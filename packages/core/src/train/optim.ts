/**
 * The training maths of the built-in models, in plain TypeScript: a multi-label logistic head (the
 * image classifier's CAM head) and a one-hidden-layer MLP (the cell classifier), both trained with
 * Adam, L2 regularisation and class weights on standardised inputs. Deterministic for a seed.
 */
import { mulberry32 } from '../util/random.js';

/** Row-major n×d design matrix. */
export interface Matrix {
  data: Float64Array;
  rows: number;
  cols: number;
}

export interface Standardizer {
  mean: Float64Array;
  /** 1 / standard deviation (1 for constant columns) */
  invStd: Float64Array;
}

export function fitStandardizer(X: Matrix, weights?: Float64Array): Standardizer {
  const { rows: n, cols: d, data } = X;
  const mean = new Float64Array(d), invStd = new Float64Array(d);
  let wsum = 0;
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[i] : 1;
    wsum += w;
    for (let j = 0; j < d; j++) mean[j] += w * data[i * d + j];
  }
  for (let j = 0; j < d; j++) mean[j] /= wsum || 1;
  const v = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[i] : 1;
    for (let j = 0; j < d; j++) v[j] += w * (data[i * d + j] - mean[j]) ** 2;
  }
  for (let j = 0; j < d; j++) {
    const sd = Math.sqrt(v[j] / (wsum || 1));
    invStd[j] = sd > 1e-9 ? 1 / sd : 1;
  }
  return { mean, invStd };
}

export function applyStandardizer(X: Matrix, s: Standardizer): Matrix {
  const { rows: n, cols: d } = X;
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) out[i * d + j] = (X.data[i * d + j] - s.mean[j]) * s.invStd[j];
  return { data: out, rows: n, cols: d };
}

/** Adam state over one flat parameter vector. */
class Adam {
  private m: Float64Array;
  private v: Float64Array;
  // b1^t and b2^t as running products, not `b ** t`: Math.pow's last bits differ between V8
  // versions (Node 24 against 20 and 22), and through them every trained weight; products of
  // IEEE multiplications are the same everywhere, so a seed gives the same model on any Node.
  private b1t = 1;
  private b2t = 1;
  constructor(size: number, private lr: number, private b1 = 0.9, private b2 = 0.999, private eps = 1e-8) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }
  step(p: Float64Array, g: Float64Array): void {
    this.b1t *= this.b1;
    this.b2t *= this.b2;
    const c1 = 1 - this.b1t, c2 = 1 - this.b2t;
    for (let i = 0; i < p.length; i++) {
      this.m[i] = this.b1 * this.m[i] + (1 - this.b1) * g[i];
      this.v[i] = this.b2 * this.v[i] + (1 - this.b2) * g[i] * g[i];
      p[i] -= (this.lr * (this.m[i] / c1)) / (Math.sqrt(this.v[i] / c2) + this.eps);
    }
  }
}

/**
 * out[t] = p[b0 + t] + Σ_j p[w0 + t·len + j] · v[v0 + j] for t < rows: the rows of a dense layer
 * stored one after another, then their biases. Four rows at a time, so that four independent sums
 * are in flight instead of one long chain; each sum still adds its terms in j order, so the bits
 * are those of one row at a time (optim.test.ts compares them). Internal: not in the package index.
 */
export function affine(p: Float64Array, w0: number, b0: number, rows: number, len: number, v: Float64Array, v0: number, out: Float64Array): void {
  let t = 0;
  for (; t + 4 <= rows; t += 4) {
    const r0 = w0 + t * len, r1 = r0 + len, r2 = r1 + len, r3 = r2 + len;
    let a0 = p[b0 + t], a1 = p[b0 + t + 1], a2 = p[b0 + t + 2], a3 = p[b0 + t + 3];
    for (let j = 0; j < len; j++) {
      const vj = v[v0 + j];
      a0 += p[r0 + j] * vj;
      a1 += p[r1 + j] * vj;
      a2 += p[r2 + j] * vj;
      a3 += p[r3 + j] * vj;
    }
    out[t] = a0;
    out[t + 1] = a1;
    out[t + 2] = a2;
    out[t + 3] = a3;
  }
  for (; t < rows; t++) {
    const r = w0 + t * len;
    let a = p[b0 + t];
    for (let j = 0; j < len; j++) a += p[r + j] * v[v0 + j];
    out[t] = a;
  }
}

export const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** Numerically stable BCE with logits. */
const bce = (z: number, y: number): number => Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));

export interface LogisticOptions {
  /** L2 penalty on the weights (not the bias), per sample. Default 1e-2. */
  l2?: number;
  epochs?: number;
  lr?: number;
  /** Weight of the positive term per class (rare classes > 1). Default: min(maxPosWeight, sqrt(neg/pos)). */
  posWeight?: Float64Array;
  maxPosWeight?: number;
}

export interface LinearModel {
  /** C×d, in the units of the standardised inputs */
  W: Float64Array;
  b: Float64Array;
  classes: number;
  loss: number;
}

/** Per class sqrt(neg/pos), clipped to [1, max]; 1 for classes without positives. */
export function balancedPosWeight(Y: Matrix, max = 10): Float64Array {
  const out = new Float64Array(Y.cols).fill(1);
  for (let c = 0; c < Y.cols; c++) {
    let pos = 0;
    for (let i = 0; i < Y.rows; i++) pos += Y.data[i * Y.cols + c] > 0.5 ? 1 : 0;
    if (pos > 0 && pos < Y.rows) out[c] = Math.min(max, Math.max(1, Math.sqrt((Y.rows - pos) / pos)));
  }
  return out;
}

/**
 * Multi-label logistic regression (independent sigmoids, BCE) by full-batch Adam. X should be
 * standardised. Returns weights in X's units.
 */
export function trainLogistic(X: Matrix, Y: Matrix, options: LogisticOptions = {}): LinearModel {
  const { rows: n, cols: d } = X, C = Y.cols;
  const l2 = options.l2 ?? 1e-2, epochs = options.epochs ?? 400;
  const pw = options.posWeight ?? balancedPosWeight(Y, options.maxPosWeight ?? 10);
  const p = new Float64Array(C * d + C); // W then b
  const g = new Float64Array(p.length);
  const opt = new Adam(p.length, options.lr ?? 0.05);
  const xd = X.data, zs = new Float64Array(C);
  let loss = 0;
  for (let e = 0; e < epochs; e++) {
    g.fill(0);
    loss = 0;
    for (let i = 0; i < n; i++) {
      const x = i * d;
      affine(p, 0, C * d, C, d, xd, x, zs);
      for (let c = 0; c < C; c++) {
        const z = zs[c];
        const y = Y.data[i * C + c];
        const w = y > 0.5 ? pw[c] : 1;
        loss += w * bce(z, y);
        const dz = (w * (sigmoid(z) - y)) / n;
        for (let j = 0; j < d; j++) g[c * d + j] += dz * X.data[x + j];
        g[C * d + c] += dz;
      }
    }
    for (let k = 0; k < C * d; k++) g[k] += l2 * p[k];
    opt.step(p, g);
  }
  return { W: p.slice(0, C * d), b: p.slice(C * d), classes: C, loss: loss / n };
}

export interface MlpOptions {
  hidden?: number;
  /** 'softmax': one class per row (targets are class indices); 'sigmoid': multi-label 0/1 targets */
  mode: 'softmax' | 'sigmoid';
  classes: number;
  epochs?: number;
  batch?: number;
  lr?: number;
  l2?: number;
  seed?: number;
  /** per-sample weights (e.g. inverse class frequency) */
  sampleWeight?: Float64Array;
  /** called after each epoch (1-based) with the epoch's mean training loss; it cannot change the fit */
  onEpoch?: (epoch: number, loss: number) => void;
}

export interface Mlp {
  d: number;
  hidden: number;
  classes: number;
  mode: 'softmax' | 'sigmoid';
  /** hidden×d, hidden, classes×hidden, classes */
  W1: Float64Array;
  b1: Float64Array;
  W2: Float64Array;
  b2: Float64Array;
  loss: number;
}

/**
 * One-hidden-layer ReLU MLP trained by mini-batch Adam. `targets`: for 'softmax' an n-vector of
 * class indices, for 'sigmoid' an n×classes 0/1 matrix (row-major).
 */
export function trainMlp(X: Matrix, targets: Float64Array, options: MlpOptions): Mlp {
  const { rows: n, cols: d } = X;
  const H = options.hidden ?? 64, C = options.classes;
  const epochs = options.epochs ?? 60, B = options.batch ?? 64, l2 = options.l2 ?? 1e-4;
  const rand = mulberry32(options.seed ?? 1);
  const nP = H * d + H + C * H + C;
  const p = new Float64Array(nP);
  // He initialisation, from the seeded generator.
  const gauss = () => Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());
  for (let k = 0; k < H * d; k++) p[k] = gauss() * Math.sqrt(2 / d);
  const o2 = H * d + H;
  for (let k = 0; k < C * H; k++) p[o2 + k] = gauss() * Math.sqrt(1 / H);
  const g = new Float64Array(nP);
  const opt = new Adam(nP, options.lr ?? 3e-3);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const h = new Float64Array(H), z = new Float64Array(C), dz = new Float64Array(C), dh = new Float64Array(H);
  const sw = options.sampleWeight;
  const xd = X.data, Hd = H * d, o3 = o2 + C * H;
  const active = new Int32Array(H);
  let loss = 0;
  for (let e = 0; e < epochs; e++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    loss = 0;
    for (let s = 0; s < n; s += B) {
      const end = Math.min(n, s + B);
      g.fill(0);
      let wsum = 0;
      for (let q = s; q < end; q++) wsum += sw ? sw[order[q]] : 1;
      for (let q = s; q < end; q++) {
        const i = order[q], x = i * d, w = (sw ? sw[i] : 1) / (wsum || 1);
        affine(p, 0, Hd, H, d, xd, x, h);
        for (let k = 0; k < H; k++) h[k] = h[k] > 0 ? h[k] : 0;
        affine(p, o2, o3, C, H, h, 0, z);
        if (options.mode === 'softmax') {
          let mx = -Infinity;
          for (let c = 0; c < C; c++) mx = Math.max(mx, z[c]);
          let se = 0;
          for (let c = 0; c < C; c++) se += Math.exp(z[c] - mx);
          const y = targets[i];
          loss += (sw ? sw[i] : 1) * -(z[y] - mx - Math.log(se));
          for (let c = 0; c < C; c++) dz[c] = w * (Math.exp(z[c] - mx) / se - (c === y ? 1 : 0));
        } else {
          for (let c = 0; c < C; c++) {
            const y = targets[i * C + c];
            loss += (sw ? sw[i] : 1) * bce(z[c], y);
            dz[c] = w * (sigmoid(z[c]) - y);
          }
        }
        dh.fill(0);
        for (let c = 0; c < C; c++) {
          if (dz[c] === 0) continue;
          for (let k = 0; k < H; k++) {
            g[o2 + c * H + k] += dz[c] * h[k];
            dh[k] += dz[c] * p[o2 + c * H + k];
          }
          g[o2 + C * H + c] += dz[c];
        }
        // The active hidden units two at a time (one read of x for both rows; each weight's
        // gradient still gets one addition per sample, so the bits are as before).
        let na = 0;
        for (let k = 0; k < H; k++) if (h[k] > 0) active[na++] = k;
        let t = 0;
        for (; t + 2 <= na; t += 2) {
          const k0 = active[t], k1 = active[t + 1];
          const d0 = dh[k0], d1 = dh[k1], r0 = k0 * d, r1 = k1 * d;
          for (let j = 0; j < d; j++) {
            const xj = xd[x + j];
            g[r0 + j] += d0 * xj;
            g[r1 + j] += d1 * xj;
          }
          g[Hd + k0] += d0;
          g[Hd + k1] += d1;
        }
        if (t < na) {
          const k = active[t], dk = dh[k], r = k * d;
          for (let j = 0; j < d; j++) g[r + j] += dk * xd[x + j];
          g[Hd + k] += dk;
        }
      }
      for (let k = 0; k < H * d; k++) g[k] += l2 * p[k];
      for (let k = 0; k < C * H; k++) g[o2 + k] += l2 * p[o2 + k];
      opt.step(p, g);
    }
    options.onEpoch?.(e + 1, loss / n);
  }
  return {
    d, hidden: H, classes: C, mode: options.mode,
    W1: p.slice(0, H * d), b1: p.slice(H * d, o2), W2: p.slice(o2, o2 + C * H), b2: p.slice(o2 + C * H),
    loss: loss / n,
  };
}

/** Forward pass of an MLP on standardised rows: logits n×classes. */
export function mlpLogits(m: Mlp, X: Matrix): Float64Array {
  const { rows: n, cols: d } = X, H = m.hidden, C = m.classes;
  const out = new Float64Array(n * C), h = new Float64Array(H);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < H; k++) {
      let a = m.b1[k];
      for (let j = 0; j < d; j++) a += m.W1[k * d + j] * X.data[i * d + j];
      h[k] = a > 0 ? a : 0;
    }
    for (let c = 0; c < C; c++) {
      let a = m.b2[c];
      for (let k = 0; k < H; k++) a += m.W2[c * H + k] * h[k];
      out[i * C + c] = a;
    }
  }
  return out;
}

/** Row-wise softmax or sigmoid of logits n×C, in place. */
export function activate(logits: Float64Array, C: number, mode: 'softmax' | 'sigmoid'): Float64Array {
  if (mode === 'sigmoid') {
    for (let i = 0; i < logits.length; i++) logits[i] = sigmoid(logits[i]);
    return logits;
  }
  for (let r = 0; r < logits.length; r += C) {
    let mx = -Infinity;
    for (let c = 0; c < C; c++) mx = Math.max(mx, logits[r + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += logits[r + c] = Math.exp(logits[r + c] - mx);
    for (let c = 0; c < C; c++) logits[r + c] /= s;
  }
  return logits;
}
