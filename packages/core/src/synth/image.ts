/**
 * One synthetic HPA field in memory: cell/nucleus geometry, weak per-cell labels, the four stains
 * (microtubules, protein, nucleus, ER) with illumination and shot noise, quantised to 8 or 16 bits.
 */
import { rangeError, typeError } from '../errors.js';
import { checkInt } from '../util/validate.js';
import { assignCellLabels, checkClasses, MITOTIC_SPINDLE, NUM_CLASSES } from './classes.js';
import { buildField, cellSpacing, type Field } from './field.js';
import { periodicNoiseTile, ValueNoise } from './noise.js';
import { drawGreenStamped, drawMicrotubules, drawNucleoli, drawSpindle, type Ctx, type Nucleolus } from './patterns.js';
import { Rng } from './random.js';

export interface SynthImageOptions {
  /** Output bit depth (default 8). */
  bitDepth?: 8 | 16;
  /** Number of round mitotic cells (default: 1 when the classes include Mitotic spindle, else 1 with probability 0.15). */
  mitoticCells?: number;
}

export interface SynthImage {
  width: number;
  height: number;
  bitDepth: 8 | 16;
  /** Microtubules. */
  red: Uint8Array | Uint16Array;
  /** Protein of interest (the localisation patterns). */
  green: Uint8Array | Uint16Array;
  /** Nucleus. */
  blue: Uint8Array | Uint16Array;
  /** Endoplasmic reticulum. */
  yellow: Uint8Array | Uint16Array;
  /** Cell label image, ids 1..n (0 = background). */
  cells: Uint16Array;
  /** Nucleus label image; a nucleus has its cell's id and lies inside it. */
  nuclei: Uint16Array;
  /** Ground-truth classes of cell id i+1 (sorted, non-empty). */
  cellLabels: number[][];
  /** Image-level labels: the union of the cell labels (sorted). */
  labels: number[];
  /** Ids of the round mitotic cells. */
  mitotic: number[];
}

/** Smallest and largest supported image side. */
export const SYNTH_MIN_SIZE = 512;
export const SYNTH_MAX_SIZE = 4096;

/**
 * Renders one synthetic HPA-like field with per-cell ground truth. Pure: the output depends only on
 * (id, size, seed, classes, options).
 *
 * @example
 * ```ts
 * const img = synthImage('demo', 1024, 1, [0, 16]);
 * img.cells;        // Uint16Array label image, ids 1..img.cellLabels.length
 * img.cellLabels;   // e.g. [[0], [0, 16], [16], ...]
 * ```
 */
export function synthImage(id: string, size: number, seed: number, classes: number[], options: SynthImageOptions = {}): SynthImage {
  if (typeof id !== 'string') throw typeError('id', 'a string', id);
  checkInt('size', size, SYNTH_MIN_SIZE, SYNTH_MAX_SIZE);
  checkInt('seed', seed, 0, 2 ** 32 - 1);
  const cls = checkClasses('classes', classes);
  const bitDepth = options.bitDepth ?? 8;
  if (bitDepth !== 8 && bitDepth !== 16) throw rangeError('options.bitDepth', '8 or 16', bitDepth);
  const rng = new Rng(seed, `image:${id}`);
  const hasSpindle = cls.includes(MITOTIC_SPINDLE);
  const mitoticCount = options.mitoticCells !== undefined
    ? checkInt('options.mitoticCells', options.mitoticCells, hasSpindle ? 1 : 0, 8)
    : hasSpindle ? (size >= 3072 ? 2 : 1) : rng.chance(0.15) ? 1 : 0;

  const f = buildField(rng, size, mitoticCount);
  const n = f.geom.length;
  const mitotic = new Set(f.geom.filter((g) => g.mitotic).map((g) => g.id));
  const cellLabels = assignCellLabels(rng, cls, n, mitotic);

  const ch = render(rng, f, cellLabels, bitDepth);
  const union = new Set<number>();
  for (const l of cellLabels) for (const c of l) union.add(c);
  return {
    width: size,
    height: size,
    bitDepth,
    red: ch.red,
    green: ch.green,
    blue: ch.blue,
    yellow: ch.yellow,
    cells: f.cells,
    nuclei: f.nuclei,
    cellLabels,
    labels: [...union].sort((a, b) => a - b),
    mitotic: [...mitotic].sort((a, b) => a - b),
  };
}

interface Channels {
  red: Uint8Array | Uint16Array;
  green: Uint8Array | Uint16Array;
  blue: Uint8Array | Uint16Array;
  yellow: Uint8Array | Uint16Array;
}

/** Distance-to-outline profiles, indexed by the chamfer distance in thirds of a pixel (clamped). */
const D3_MAX = 255;
const MEMBRANE = new Float32Array(D3_MAX + 1);
const FADE = new Float32Array(D3_MAX + 1);
const FADE_CYTOSOL = new Float32Array(D3_MAX + 1);
/** Perinuclear fall-off 1 / (1 + 2.2 (√q − 1)) for q ≥ 1, indexed by (q − 1) · 64. */
const PN_STEPS = 64, PN_LEN = 4096;
const PERINUCLEAR = new Float32Array(PN_LEN);
for (let i = 0; i < PN_LEN; i++) PERINUCLEAR[i] = 1 / (1 + 2.2 * (Math.sqrt(1 + i / PN_STEPS) - 1));
/** Rim profile 1 / (1 + e²)², indexed by e² · 16 (e = distance from the nucleus outline in ~px/1.8). */
const RIM_LEN = 1024;
const RIM = new Float32Array(RIM_LEN);
for (let i = 0; i < RIM_LEN; i++) RIM[i] = 1 / ((1 + i / 16) * (1 + i / 16));
for (let i = 0; i <= D3_MAX; i++) {
  const d = i / 3, m = d * 0.55;
  MEMBRANE[i] = 1 / ((1 + m * m) * (1 + m * m));
  FADE[i] = d < 5 ? 0.4 + 0.12 * d : 1;
  FADE_CYTOSOL[i] = d < 4 ? 0.6 + 0.1 * d : 1;
}

/** a·w + b·(1 − w) in place in `a` (octaves at a non-integer ratio hide the lattice). */
function mixTiles(a: Float32Array, b: Float32Array, w: number): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] = a[i] * w + b[i] * (1 - w);
  return a;
}

/** ER reticulum texture: two ridged octaves (thin bright lines where the noise crosses zero). */
function ridgedTile(rng: Rng, P: number, scale: number): Float32Array {
  const a = periodicNoiseTile(rng, P, scale), b = periodicNoiseTile(rng, P, scale / 2);
  for (let i = 0; i < a.length; i++) {
    let r1 = 1 - Math.abs(a[i]), r2 = 1 - Math.abs(b[i]);
    r1 *= r1;
    r2 *= r2;
    a[i] = 0.6 * r1 * r1 + 0.4 * r2 * r2;
  }
  return a;
}

/** Expression strength of a labelled class in one cell: heterogeneous, never zero. */
function strength(rng: Rng, imageGain: number): number {
  return imageGain * (0.3 + 0.7 * rng.next());
}

function render(rng: Rng, f: Field, cellLabels: number[][], bitDepth: 8 | 16): Channels {
  const W = f.size, N = W * W, n = f.geom.length;
  const sc = cellSpacing(W) / 390;
  const red = new Float32Array(N), green = new Float32Array(N), blue = new Float32Array(N), yellow = new Float32Array(N);
  const nucleoli = new Float32Array(N);
  const ctx: Ctx = { rng, f, sc, nucleoli };

  // Per-cell stain brightness and per-class expression.
  const S = new Float32Array((n + 1) * NUM_CLASSES);
  const kB = new Float32Array(n + 1), kY = new Float32Array(n + 1), kR = new Float32Array(n + 1);
  const rimScale = new Float32Array(n + 1);
  const isMit = new Uint8Array(n + 1);
  const imageGain = rng.range(0.75, 1.25);
  for (const g of f.geom) {
    kB[g.id] = rng.range(0.45, 0.75) * (g.mitotic ? 2 : 1);
    kY[g.id] = rng.range(0.35, 0.7);
    kR[g.id] = rng.range(0.5, 1.0) * (g.mitotic ? 1.3 : 1);
    rimScale[g.id] = Math.sqrt(g.na * g.nb) / 2;
    isMit[g.id] = g.mitotic ? 1 : 0;
    for (const c of cellLabels[g.id - 1]) S[g.id * NUM_CLASSES + c] = strength(rng, imageGain);
  }

  // Structures drawn cell by cell inside their bounding boxes.
  for (const g of f.geom) {
    const s = (c: number) => S[g.id * NUM_CLASSES + c];
    if (g.mitotic) {
      drawSpindle(ctx, g, red, green, kR[g.id], s(MITOTIC_SPINDLE) * 0.9);
      continue;
    }
    const nl: Nucleolus[] = drawNucleoli(rng, f, g, nucleoli);
    drawMicrotubules(ctx, g, red, s(10) ? green : null, kR[g.id], s(10) * 0.8);
    for (const c of cellLabels[g.id - 1]) drawGreenStamped(ctx, g, c, s(c), green, nl);
  }

  // Diffuse stains and diffuse classes, one fused pass over the field.
  // Fine textures as seamless tiles (one read per pixel); periods differ so repeats do not line up.
  const PC = 509, PE = 499;
  const chromTile = mixTiles(periodicNoiseTile(rng, PC, 4.3 * Math.max(0.6, sc)), periodicNoiseTile(rng, PC, 2.6 * Math.max(0.6, sc)), 0.6);
  const erTile = ridgedTile(rng, PE, 7 * Math.max(0.6, sc));
  const unspecific = rng.range(0.02, 0.05);
  const { cells, q, dist3 } = f;
  const chrom = new Float32Array(W), erRow = new Float32Array(W);
  for (let y = 0; y < W; y++) {
    const cb0 = (y % PC) * PC, eb0 = (y % PE) * PE;
    for (let x = 0, xc = 0, xe = 0; x < W; x++) {
      chrom[x] = chromTile[cb0 + xc];
      erRow[x] = erTile[eb0 + xe];
      if (++xc === PC) xc = 0;
      if (++xe === PE) xe = 0;
    }
    const row = y * W;
    // Runs of one cell along the row: the cell's constants stay in locals for the inner loop.
    let x0 = 0;
    while (x0 < W) {
      const id = cells[row + x0];
      let x1 = x0 + 1;
      while (x1 < W && cells[row + x1] === id) x1++;
      if (id === 0) {
        x0 = x1;
        continue;
      }
      const k = id * NUM_CLASSES;
      const cb = kB[id], cy = kY[id], cr = kR[id], rs = rimScale[id] * 0.55;
      if (isMit[id]) {
        // Nuclear envelope gone: nuclear proteins spread through the rounded cell.
        const nuclear = S[k] + S[k + 1] + S[k + 2] + S[k + 3] + S[k + 4] + S[k + 5];
        const s6 = S[k + 6], s13 = S[k + 13], s16 = S[k + 16];
        for (let x = x0; x < x1; x++) {
          const p = row + x, qq = q[p], di = dist3[p] < D3_MAX ? dist3[p] : D3_MAX;
          // Condensed chromatin has a crisp edge.
          const wN = qq < 0.95 ? 1 : qq > 1.05 ? 0 : (1.05 - qq) * 10;
          const wC = 1 - wN, fade = FADE[di], tex = 0.88 + 0.12 * chrom[x];
          const er = erRow[x];
          blue[p] += cb * wN * (0.6 + 0.4 * chrom[x]);
          yellow[p] += cy * wC * 0.28 * (0.6 + 0.4 * er) * fade;
          red[p] += cr * 0.08 * tex * fade;
          green[p] += unspecific * (0.5 + 0.5 * wC) * tex + nuclear * 0.22 * tex * fade + s6 * 0.3 * (0.5 + 0.5 * er) * fade + s16 * 0.4 * tex * fade + s13 * 0.7 * MEMBRANE[di];
        }
        x0 = x1;
        continue;
      }
      const s0 = S[k] * 0.5, s1 = S[k + 1] * 0.75, s4 = S[k + 4] * 0.1, s6 = S[k + 6], s9 = S[k + 9] * 0.2, s13 = S[k + 13], s16 = S[k + 16] * 0.42;
      for (let x = x0; x < x1; x++) {
        const p = row + x, qq = q[p], di = dist3[p] < D3_MAX ? dist3[p] : D3_MAX;
        const wN = qq < 0.88 ? 1 : qq > 1.1 ? 0 : (1.1 - qq) * 4.5454;
        const wC = 1 - wN;
        const e = (qq - 1) * rs;
        const ei = (e * e * 16) | 0;
        const rim = ei < RIM_LEN ? RIM[ei] : 0;
        const fade = FADE[di];
        const pi = ((qq - 1) * PN_STEPS) | 0;
        const pn = qq <= 1 ? 1 : pi < PN_LEN ? PERINUCLEAR[pi] : PERINUCLEAR[PN_LEN - 1];
        const er = erRow[x];
        const ch = chrom[x], tex = 0.88 + 0.12 * ch, nl = nucleoli[p];
        blue[p] += cb * wN * (0.7 + 0.3 * ch) * (1 - 0.35 * nl);
        yellow[p] += cy * (wC * (0.06 + pn * (0.2 + 0.8 * er)) * fade + 0.4 * rim);
        red[p] += cr * wC * 0.07 * tex * fade;
        let gsum = unspecific * (0.5 + 0.5 * wC) * tex;
        if (s0) gsum += s0 * wN * (0.7 + 0.3 * ch) * (1 - 0.9 * (nl < 0.714 ? nl * 1.4 : 1));
        if (s1) gsum += s1 * rim;
        if (s4) gsum += s4 * wN;
        if (s6) gsum += s6 * (wC * pn * (0.1 + 0.9 * er) * fade * 0.8 + 0.3 * rim);
        if (s9) gsum += s9 * MEMBRANE[di];
        if (s13) gsum += s13 * (0.75 * MEMBRANE[di] + 0.05 * wC);
        if (s16) gsum += s16 * wC * tex * FADE_CYTOSOL[di];
        green[p] += gsum;
      }
      x0 = x1;
    }
  }

  return finish(rng, [red, green, blue, yellow], W, bitDepth);
}

/** 65536 standard-normal quantiles: two table lookups per 32-bit draw in the noise loop. */
const NORMAL = (() => {
  // Acklam's rational approximation of the inverse normal CDF (relative error < 1.2e-9).
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const t = new Float32Array(65536);
  for (let i = 0; i < 65536; i++) {
    const p = (i + 0.5) / 65536;
    let x: number;
    if (p < 0.02425 || p > 1 - 0.02425) {
      const qq = Math.sqrt(-2 * Math.log(p < 0.5 ? p : 1 - p));
      x = (((((c[0] * qq + c[1]) * qq + c[2]) * qq + c[3]) * qq + c[4]) * qq + c[5]) / ((((d[0] * qq + d[1]) * qq + d[2]) * qq + d[3]) * qq + 1);
      if (p > 0.5) x = -x;
    } else {
      const qq = p - 0.5, r = qq * qq;
      x = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * qq) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    t[i] = x;
  }
  return t;
})();

/**
 * Uneven illumination, background, shot (Poisson-like) and read noise, then quantisation to the
 * output bit depth. The PRNG is inlined (sfc32 in locals): this loop touches every pixel 4 times.
 */
function finish(rng: Rng, chans: Float32Array[], W: number, bitDepth: 8 | 16): Channels {
  const N = W * W;
  const gain = chans.map(() => rng.range(0.85, 1.15));
  const bg = chans.map(() => rng.range(0.01, 0.03));
  // Photons per unit intensity: lower means noisier.
  const invPhotons = chans.map(() => 1 / rng.range(250, 700));
  const read = 0.004 * 0.004;
  const ox = rng.range(-0.25, 0.25), oy = rng.range(-0.25, 0.25);
  const vx = new Float32Array(W), vy = new Float32Array(W);
  for (let i = 0; i < W; i++) {
    const tx = (i / W - 0.5 - ox) * 2, ty = (i / W - 0.5 - oy) * 2;
    vx[i] = 1 - 0.2 * tx * tx;
    vy[i] = 1 - 0.2 * ty * ty;
  }
  const low = new ValueNoise(rng, W, W, W / 2);
  const il = new Float32Array(W);
  const outs = chans.map(() => (bitDepth === 8 ? new Uint8Array(N) : new Uint16Array(N)));
  const state = new Int32Array([rng.u32() | 0, rng.u32() | 0, rng.u32() | 0, 1]);
  for (let y = 0; y < W; y++) {
    // The illumination is smooth over hundreds of pixels: refresh it every 8 rows.
    if ((y & 7) === 0) {
      low.fillRow(y, il);
      for (let x = 0; x < W; x++) il[x] = vx[x] * vy[y] * (1 + 0.1 * il[x]);
    }
    for (let c = 0; c < 4; c++) {
      const o = outs[c];
      if (o instanceof Uint8Array) noisyRow8(chans[c], o, y * W, W, il, gain[c], bg[c], invPhotons[c], read, state);
      else noisyRow16(chans[c], o, y * W, W, il, gain[c], bg[c], invPhotons[c], read, state);
    }
  }
  return { red: outs[0], green: outs[1], blue: outs[2], yellow: outs[3] };
}

/*
 * One row of one channel: illumination, background, shot + read noise, quantisation. The sfc32
 * state lives in `st` between rows and in locals inside; each draw gives two normal deviates.
 * Two copies (8/16 bit) keep the stores monomorphic.
 */
function noisyRow8(a: Float32Array, o: Uint8Array, row: number, W: number, il: Float32Array, g: number, b0: number, ip: number, read: number, st: Int32Array): void {
  let sa = st[0], sb = st[1], sc = st[2], sd = st[3];
  const T = NORMAL;
  for (let x = 0; x < W; x += 2) {
    const t = (((sa + sb) | 0) + sd) | 0;
    sd = (sd + 1) | 0;
    sa = sb ^ (sb >>> 9);
    sb = (sc + (sc << 3)) | 0;
    sc = (sc << 21) | (sc >>> 11);
    sc = (sc + t) | 0;
    const p = row + x;
    let v = b0 + il[x] * g * a[p];
    v += Math.sqrt(v * ip + read) * T[t & 0xffff];
    o[p] = v <= 0 ? 0 : v >= 1 ? 255 : (v * 255 + 0.5) | 0;
    if (x + 1 < W) {
      let v2 = b0 + il[x + 1] * g * a[p + 1];
      v2 += Math.sqrt(v2 * ip + read) * T[t >>> 16];
      o[p + 1] = v2 <= 0 ? 0 : v2 >= 1 ? 255 : (v2 * 255 + 0.5) | 0;
    }
  }
  st[0] = sa; st[1] = sb; st[2] = sc; st[3] = sd;
}

function noisyRow16(a: Float32Array, o: Uint16Array, row: number, W: number, il: Float32Array, g: number, b0: number, ip: number, read: number, st: Int32Array): void {
  let sa = st[0], sb = st[1], sc = st[2], sd = st[3];
  const T = NORMAL;
  for (let x = 0; x < W; x += 2) {
    const t = (((sa + sb) | 0) + sd) | 0;
    sd = (sd + 1) | 0;
    sa = sb ^ (sb >>> 9);
    sb = (sc + (sc << 3)) | 0;
    sc = (sc << 21) | (sc >>> 11);
    sc = (sc + t) | 0;
    const p = row + x;
    let v = b0 + il[x] * g * a[p];
    v += Math.sqrt(v * ip + read) * T[t & 0xffff];
    o[p] = v <= 0 ? 0 : v >= 1 ? 65535 : (v * 65535 + 0.5) | 0;
    if (x + 1 < W) {
      let v2 = b0 + il[x + 1] * g * a[p + 1];
      v2 += Math.sqrt(v2 * ip + read) * T[t >>> 16];
      o[p + 1] = v2 <= 0 ? 0 : v2 >= 1 ? 65535 : (v2 * 65535 + 0.5) | 0;
    }
  }
  st[0] = sa; st[1] = sb; st[2] = sc; st[3] = sd;
}
