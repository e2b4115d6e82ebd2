/**
 * A small ONNX graph builder for the built-in models: names values, collects initializers, and
 * offers the few composite ops the feature bank needs (separable Gaussian, fixed stencils).
 */
import { onnxAttr, type OnnxNode, type OnnxTensor } from '../model/onnx-writer.js';

/** Gaussian taps for σ, truncated at 3σ (radius ≥ 1), normalised to sum 1. */
export function gaussianTaps(sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const t = new Float64Array(2 * r + 1);
  let s = 0;
  for (let i = -r; i <= r; i++) s += t[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  return Float32Array.from(t, (v) => v / s);
}

export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private n = 0;
  private consts = new Map<string, string>();

  fresh(prefix: string): string {
    return `${prefix}_${this.n++}`;
  }

  op(opType: string, inputs: string[], attributes?: OnnxNode['attributes'], name = opType.toLowerCase()): string {
    const out = this.fresh(name);
    this.nodes.push({ opType, inputs, outputs: [out], attributes });
    return out;
  }

  /** A float32 scalar constant (shared by value), broadcastable against any tensor. */
  scalar(v: number): string {
    const key = `s${Math.fround(v)}`;
    let name = this.consts.get(key);
    if (!name) {
      name = this.fresh('c');
      this.initializers.push({ name, dtype: 'float32', dims: [], data: Float32Array.of(v) });
      this.consts.set(key, name);
    }
    return name;
  }

  tensor(prefix: string, dims: number[], data: Float32Array | BigInt64Array, dtype: 'float32' | 'int64' = 'float32'): string {
    const name = this.fresh(prefix);
    this.initializers.push({ name, dtype, dims, data });
    return name;
  }

  add(a: string, b: string): string { return this.op('Add', [a, b]); }
  sub(a: string, b: string): string { return this.op('Sub', [a, b]); }
  mul(a: string, b: string): string { return this.op('Mul', [a, b]); }
  div(a: string, b: string): string { return this.op('Div', [a, b]); }
  relu(a: string): string { return this.op('Relu', [a]); }
  sigmoid(a: string): string { return this.op('Sigmoid', [a]); }
  scale(a: string, k: number): string { return this.mul(a, this.scalar(k)); }
  shift(a: string, k: number): string { return this.add(a, this.scalar(k)); }

  /** Single-channel [N,1,H,W] convolution with a fixed kh×kw kernel and zero-free reflect padding. */
  stencil(x: string, kernel: Float32Array, kh: number, kw: number): string {
    const ph = (kh - 1) >> 1, pw = (kw - 1) >> 1;
    let input = x;
    if (ph || pw) {
      // Reflect padding keeps image borders from reading as dark edges (zero padding would).
      const pads = this.tensor('pads', [8], BigInt64Array.from([0, 0, ph, pw, 0, 0, ph, pw].map(BigInt)), 'int64');
      input = this.op('Pad', [x, pads], { mode: onnxAttr.string('reflect') });
    }
    const w = this.tensor('k', [1, 1, kh, kw], kernel);
    return this.op('Conv', [input, w], { kernel_shape: onnxAttr.ints([kh, kw]) });
  }

  /** Separable Gaussian blur of a [N,1,H,W] tensor (rows then columns). */
  blur(x: string, sigma: number): string {
    const t = gaussianTaps(sigma);
    return this.stencil(this.stencil(x, t, 1, t.length), t, t.length, 1);
  }

  /** k×k average pooling with stride k. */
  avgPool(x: string, k: number): string {
    if (k === 1) return x;
    return this.op('AveragePool', [x], { kernel_shape: onnxAttr.ints([k, k]), strides: onnxAttr.ints([k, k]) });
  }

  /** Per-image, per-channel spatial mean, kept as [N,C,1,1]. */
  spatialMean(x: string): string {
    return this.op('ReduceMean', [x], { axes: onnxAttr.ints([2, 3]), keepdims: onnxAttr.int(1) });
  }
}
