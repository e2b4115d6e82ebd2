/**
 * Smooth value noise for the synthetic benchmark (cell borders, textures, illumination): a random
 * lattice interpolated with smoothstep weights — polynomials only, so hot loops stay cheap.
 */
import type { Rng } from './random.js';

/** One octave of value noise in [-1, 1] with features about `scale` pixels apart. */
export class ValueNoise {
  readonly scale: number;
  private readonly inv: number;
  private readonly lw: number;
  private readonly lh: number;
  private readonly lattice: Float32Array;
  /** Per-column lattice index and smoothstep weight, cached for row fills. */
  private colIndex: Int32Array | null = null;
  private colWeight: Float32Array | null = null;

  constructor(rng: Rng, width: number, height: number, scale: number) {
    this.scale = scale;
    this.inv = 1 / scale;
    this.lw = Math.ceil(width / scale) + 3;
    this.lh = Math.ceil(height / scale) + 3;
    this.lattice = new Float32Array(this.lw * this.lh);
    for (let i = 0; i < this.lattice.length; i++) this.lattice[i] = rng.next() * 2 - 1;
  }

  /** Noise at a point (coordinates may be slightly outside the image). */
  at(x: number, y: number): number {
    let fx = x * this.inv + 1;
    let fy = y * this.inv + 1;
    if (fx < 0) fx = 0;
    else if (fx > this.lw - 2.001) fx = this.lw - 2.001;
    if (fy < 0) fy = 0;
    else if (fy > this.lh - 2.001) fy = this.lh - 2.001;
    const ix = fx | 0, iy = fy | 0;
    let tx = fx - ix, ty = fy - iy;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    const L = this.lattice, i = iy * this.lw + ix;
    const a = L[i] + (L[i + 1] - L[i]) * tx;
    const b = L[i + this.lw] + (L[i + this.lw + 1] - L[i + this.lw]) * tx;
    return a + (b - a) * ty;
  }

  /** Fills `out[0..width)` with the noise of row y (the per-column terms are cached). */
  fillRow(y: number, out: Float32Array, add = false, amp = 1): void {
    const width = out.length;
    if (!this.colIndex || this.colIndex.length !== width) {
      this.colIndex = new Int32Array(width);
      this.colWeight = new Float32Array(width);
      for (let x = 0; x < width; x++) {
        const fx = x * this.inv + 1;
        const ix = fx | 0;
        const t = fx - ix;
        this.colIndex[x] = ix;
        this.colWeight[x] = t * t * (3 - 2 * t);
      }
    }
    const fy = y * this.inv + 1;
    const iy = fy | 0;
    let ty = fy - iy;
    ty = ty * ty * (3 - 2 * ty);
    const L = this.lattice, r0 = iy * this.lw, r1 = r0 + this.lw;
    const ci = this.colIndex, cw = this.colWeight!;
    if (add) {
      for (let x = 0; x < width; x++) {
        const ix = ci[x], tx = cw[x];
        const a = L[r0 + ix] + (L[r0 + ix + 1] - L[r0 + ix]) * tx;
        const b = L[r1 + ix] + (L[r1 + ix + 1] - L[r1 + ix]) * tx;
        out[x] += (a + (b - a) * ty) * amp;
      }
    } else {
      for (let x = 0; x < width; x++) {
        const ix = ci[x], tx = cw[x];
        const a = L[r0 + ix] + (L[r0 + ix + 1] - L[r0 + ix]) * tx;
        const b = L[r1 + ix] + (L[r1 + ix + 1] - L[r1 + ix]) * tx;
        out[x] = (a + (b - a) * ty) * amp;
      }
    }
  }
}

/** Sum of octaves (each half the scale and `gain` times the amplitude), normalised to about [-1, 1]. */
export class Fbm {
  private readonly octaves: ValueNoise[];
  private readonly amps: number[];

  constructor(rng: Rng, width: number, height: number, scale: number, octaves: number, gain = 0.5) {
    this.octaves = [];
    this.amps = [];
    let a = 1, total = 0;
    for (let o = 0; o < octaves; o++) {
      this.octaves.push(new ValueNoise(rng, width, height, Math.max(1.5, scale / 2 ** o)));
      this.amps.push(a);
      total += a;
      a *= gain;
    }
    for (let o = 0; o < octaves; o++) this.amps[o] /= total;
  }

  at(x: number, y: number): number {
    let v = 0;
    for (let o = 0; o < this.octaves.length; o++) v += this.amps[o] * this.octaves[o].at(x, y);
    return v;
  }

  fillRow(y: number, out: Float32Array): void {
    for (let o = 0; o < this.octaves.length; o++) this.octaves[o].fillRow(y, out, o > 0, this.amps[o]);
  }
}

/**
 * Two independent fBm fields sampled together (a 2-D displacement): they share the lattice
 * coordinates and smoothstep weights of each octave, which halves the work of a point sample.
 */
export class Fbm2 {
  private readonly lat: Float32Array[] = [];
  private readonly inv: number[] = [];
  private readonly lw: number[] = [];
  private readonly lh: number[] = [];
  private readonly amps: number[] = [];
  /** Last sample: x and y components. */
  x = 0;
  y = 0;

  constructor(rng: Rng, width: number, height: number, scale: number, octaves: number, gain = 0.5) {
    let a = 1, total = 0;
    for (let o = 0; o < octaves; o++) {
      const sc = Math.max(1.5, scale / 2 ** o);
      const lw = Math.ceil(width / sc) + 3, lh = Math.ceil(height / sc) + 3;
      const lat = new Float32Array(lw * lh * 2);
      for (let i = 0; i < lat.length; i++) lat[i] = rng.next() * 2 - 1;
      this.lat.push(lat);
      this.inv.push(1 / sc);
      this.lw.push(lw);
      this.lh.push(lh);
      this.amps.push(a);
      total += a;
      a *= gain;
    }
    for (let o = 0; o < octaves; o++) this.amps[o] /= total;
  }

  /** Samples both fields at (x, y) into `this.x`, `this.y`. */
  sample(px: number, py: number): void {
    let sx = 0, sy = 0;
    for (let o = 0; o < this.lat.length; o++) {
      const lw = this.lw[o];
      let fx = px * this.inv[o] + 1, fy = py * this.inv[o] + 1;
      if (fx < 0) fx = 0;
      else if (fx > lw - 2.001) fx = lw - 2.001;
      if (fy < 0) fy = 0;
      else if (fy > this.lh[o] - 2.001) fy = this.lh[o] - 2.001;
      const ix = fx | 0, iy = fy | 0;
      let tx = fx - ix, ty = fy - iy;
      tx = tx * tx * (3 - 2 * tx);
      ty = ty * ty * (3 - 2 * ty);
      // Interleaved lattice: [x-field, y-field] per node.
      const L = this.lat[o], i = 2 * (iy * lw + ix), j = i + 2 * lw, amp = this.amps[o];
      const ax = L[i] + (L[i + 2] - L[i]) * tx, bx = L[j] + (L[j + 2] - L[j]) * tx;
      const ay = L[i + 1] + (L[i + 3] - L[i + 1]) * tx, by = L[j + 1] + (L[j + 3] - L[j + 1]) * tx;
      sx += amp * (ax + (bx - ax) * ty);
      sy += amp * (ay + (by - ay) * ty);
    }
    this.x = sx;
    this.y = sy;
  }
}

/**
 * A P x P tile of one value-noise octave that wraps seamlessly (the lattice is periodic), so a
 * texture lookup is one array read. Feature size is about `scale` pixels.
 */
export function periodicNoiseTile(rng: Rng, P: number, scale: number): Float32Array {
  const n = Math.max(2, Math.round(P / scale));
  const lat = new Float32Array(n * n);
  for (let i = 0; i < lat.length; i++) lat[i] = rng.next() * 2 - 1;
  const out = new Float32Array(P * P);
  const k = n / P;
  for (let y = 0; y < P; y++) {
    const fy = y * k, iy = fy | 0;
    let ty = fy - iy;
    ty = ty * ty * (3 - 2 * ty);
    const r0 = (iy % n) * n, r1 = ((iy + 1) % n) * n;
    for (let x = 0; x < P; x++) {
      const fx = x * k, ix = fx | 0;
      let tx = fx - ix;
      tx = tx * tx * (3 - 2 * tx);
      const i0 = ix % n, i1 = (ix + 1) % n;
      const a = lat[r0 + i0] + (lat[r0 + i1] - lat[r0 + i0]) * tx;
      const b = lat[r1 + i0] + (lat[r1 + i1] - lat[r1 + i0]) * tx;
      out[y * P + x] = a + (b - a) * ty;
    }
  }
  return out;
}
