/**
 * Pixels of the report: the HPA-colour composite at display size, cell and nucleus outlines, the
 * CAM heatmap colour map and its blending, and per-cell crop thumbnails. Pure functions over RGB
 * buffers; sharp encodes them (report/index.ts).
 */
import { stretchScale } from '../util/display.js';
import sharp from 'sharp';
import { findBoundaries } from '../segment/morphology.js';
import { rangeError } from '../errors.js';
import { checkInt } from '../util/validate.js';

/** An interleaved 8-bit RGB image. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export type Rgb = readonly [number, number, number];

/** Outline colours: cells white, nuclei cyan (as synth/preview.ts), wrong cells red. */
export const OUTLINE = { cell: [255, 255, 255] as Rgb, nucleus: [60, 230, 255] as Rgb, wrong: [255, 40, 40] as Rgb };

/** Display size: the longer side at most `maxSide`, aspect kept, never upscaled. */
export function displaySize(width: number, height: number, maxSide: number): { width: number; height: number } {
  const s = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}

export { stretchScale } from '../util/display.js';

export interface CompositeInput {
  width: number;
  height: number;
  bitDepth: 8 | 16;
  channels: { red: ArrayLike<number>; green: ArrayLike<number>; blue: ArrayLike<number>; yellow: ArrayLike<number> };
}

/**
 * The HPA composite at full resolution: red = microtubules, green = protein, blue = nucleus,
 * yellow added half to red and half to green; each stain stretched so that its 99.8th percentile
 * is white. Downscale it with {@link compositeAt} (sharp) for display.
 *
 * @example
 * ```ts
 * const img = await readImageSet('data/test', id);
 * const rgb = hpaComposite(img);
 * ```
 */
export function hpaComposite(img: CompositeInput): RgbImage {
  const N = img.width * img.height;
  for (const c of ['red', 'green', 'blue', 'yellow'] as const) {
    if (img.channels[c]?.length !== N) throw rangeError(`img.channels.${c}`, `an array of length width*height = ${N}`, img.channels[c], 'CELLCAM_E_SHAPE');
  }
  const { red: R, green: G, blue: B, yellow: Y } = img.channels;
  const sr = stretchScale(R, img.bitDepth) * 255, sg = stretchScale(G, img.bitDepth) * 255, sb = stretchScale(B, img.bitDepth) * 255, sy = stretchScale(Y, img.bitDepth) * 127.5;
  const data = new Uint8Array(N * 3);
  for (let p = 0; p < N; p++) {
    const y = Y[p] * sy;
    // Typed-array stores truncate (and wrap above 255): clamp, and +0.5 rounds.
    const r = R[p] * sr + y + 0.5, g = G[p] * sg + y + 0.5, b = B[p] * sb + 0.5;
    data[3 * p] = r >= 255 ? 255 : r;
    data[3 * p + 1] = g >= 255 ? 255 : g;
    data[3 * p + 2] = b >= 255 ? 255 : b;
  }
  return { width: img.width, height: img.height, data };
}

/** An RGB image resized by sharp (area-like reduction for downscaling) to `size`. */
export async function compositeAt(rgb: RgbImage, size: { width: number; height: number }): Promise<RgbImage> {
  checkInt('size.width', size.width, 1, 65536);
  checkInt('size.height', size.height, 1, 65536);
  if (size.width === rgb.width && size.height === rgb.height) return { ...rgb, data: Uint8Array.from(rgb.data) };
  const buf = await sharp(Buffer.from(rgb.data.buffer, rgb.data.byteOffset, rgb.data.byteLength), { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
    .resize(size.width, size.height, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  return { width: size.width, height: size.height, data: new Uint8Array(buf.buffer, buf.byteOffset, buf.length) };
}

/**
 * Nearest-neighbour resize of a label image (labels must not be blended). Sample centres map to
 * the source pixel that contains them.
 */
export function resizeLabels(src: ArrayLike<number>, width: number, height: number, outW: number, outH: number): Uint16Array {
  if (outW === width && outH === height) return Uint16Array.from(src);
  const out = new Uint16Array(outW * outH);
  const xs = new Int32Array(outW);
  for (let x = 0; x < outW; x++) xs[x] = Math.min(width - 1, Math.floor(((x + 0.5) * width) / outW));
  for (let y = 0; y < outH; y++) {
    const sy = Math.min(height - 1, Math.floor(((y + 0.5) * height) / outH)) * width;
    for (let x = 0; x < outW; x++) out[y * outW + x] = src[sy + xs[x]];
  }
  return out;
}

/**
 * Inner outline of every labelled region: the region's own pixels that have a 4-neighbour with a
 * different label (find_boundaries on the native kernel, restricted to labelled pixels, so an
 * outline never spills onto the background or a neighbouring cell).
 */
export async function innerOutline(labels: Uint16Array, width: number, height: number): Promise<Uint8Array> {
  const b = await findBoundaries(labels, { width, height });
  for (let i = 0; i < b.length; i++) if (labels[i] === 0) b[i] = 0;
  return b;
}

/**
 * Paints the outline pixels of `mask` in `colour`; `pick(label)` may return another colour per
 * region (e.g. wrong cells) or null to skip it.
 */
export function paintOutline(rgb: RgbImage, outline: Uint8Array, labels: Uint16Array, colour: Rgb, pick?: (label: number) => Rgb | null): void {
  const n = rgb.width * rgb.height;
  if (outline.length !== n || labels.length !== n) throw rangeError('outline', `arrays of length ${n}`, outline, 'CELLCAM_E_SHAPE');
  for (let p = 0; p < n; p++) {
    if (!outline[p]) continue;
    const c = pick ? pick(labels[p]) : colour;
    if (!c) continue;
    rgb.data[3 * p] = c[0];
    rgb.data[3 * p + 1] = c[1];
    rgb.data[3 * p + 2] = c[2];
  }
}

// ---------------------------------------------------------------------------------------------
// heatmaps

/**
 * Colour map stops (matplotlib "inferno", 9 samples at 0, 1/8, …, 1): dark purple → red → yellow,
 * monotone in lightness, readable on the darkened composite and for colour-blind readers.
 */
export const HEAT_STOPS: readonly Rgb[] = [
  [0, 0, 4], [31, 12, 72], [85, 15, 109], [136, 34, 106], [186, 54, 85], [227, 89, 51], [249, 140, 10], [249, 201, 50], [252, 255, 164],
];

/** Colour of v in [0, 1] (clamped), linear between the stops. */
export function heatColour(v: number): Rgb {
  const t = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * (HEAT_STOPS.length - 1);
  const i = Math.min(HEAT_STOPS.length - 2, Math.floor(t)), f = t - i;
  const a = HEAT_STOPS[i], b = HEAT_STOPS[i + 1];
  return [Math.round(a[0] + (b[0] - a[0]) * f), Math.round(a[1] + (b[1] - a[1]) * f), Math.round(a[2] + (b[2] - a[2]) * f)];
}

/** Largest heatmap opacity (at evidence 1). */
export const HEAT_MAX_ALPHA = 0.7;

/**
 * Heatmap scaling. Pixel CAM values of a linear head trained on pooled features span hundreds of
 * logits (−80 … 270 on the synthetic set) while their mean, the image logit, stays near 0: a
 * sigmoid would paint every map flat. So each map is scaled on its own, as in the CAM paper:
 * the map's `lo` (2nd percentile) → 0 and `hi` (98th percentile) → 1, linear in the logit and
 * clamped. The map shows *where* the model sees the class; *how strongly* is the image
 * probability printed beside it. Colour = heatColour(v), opacity = HEAT_MAX_ALPHA · v, each pixel
 * `(1 − α)·base + α·colour` over the greyed, darkened composite.
 */
export function camRange(cam: ArrayLike<number>): { lo: number; hi: number } {
  const a = Float32Array.from(cam).filter(Number.isFinite).sort();
  if (!a.length) return { lo: 0, hi: 1 };
  const q = (p: number) => a[Math.min(a.length - 1, Math.max(0, Math.round(p * (a.length - 1))))];
  const lo = q(0.02), hi = q(0.98);
  return hi > lo ? { lo, hi } : { lo, hi: lo + 1 };
}

/** Evidence in [0, 1] of a CAM value under a map's range (see camRange). */
export function heatValue(z: number, range: { lo: number; hi: number }): number {
  const v = (z - range.lo) / (range.hi - range.lo);
  return v >= 1 ? 1 : v > 0 ? v : 0;
}

/** One channel of a CAM ([h, w] logits) blended over `base` (greyed) at base size; bilinear upsampling. */
export function heatmapOverlay(base: RgbImage, cam: ArrayLike<number>, camW: number, camH: number, range = camRange(cam)): RgbImage {
  if (cam.length !== camW * camH) throw rangeError('cam', `an array of length camW*camH = ${camW * camH}`, cam, 'CELLCAM_E_SHAPE');
  const { width: W, height: H } = base;
  const out = new Uint8Array(W * H * 3);
  // Bilinear on the evidence, with map pixel centres at ((i + 0.5)·W/camW): the CAM covers the whole image.
  const v = Float32Array.from(cam, (z) => heatValue(z, range));
  const LUT = 256, lut = new Uint8Array((LUT + 1) * 3);
  for (let k = 0; k <= LUT; k++) lut.set(heatColour(k / LUT), 3 * k);
  const axis = (n: number, m: number) => {
    const i0 = new Int32Array(n), i1 = new Int32Array(n), f = new Float32Array(n);
    for (let x = 0; x < n; x++) {
      const t = Math.min(m - 1, Math.max(0, ((x + 0.5) * m) / n - 0.5));
      i0[x] = Math.floor(t);
      i1[x] = Math.min(m - 1, i0[x] + 1);
      f[x] = t - i0[x];
    }
    return { i0, i1, f };
  };
  const ax = axis(W, camW), ay = axis(H, camH);
  for (let y = 0; y < H; y++) {
    const r0 = ay.i0[y] * camW, r1 = ay.i1[y] * camW, wy = ay.f[y];
    for (let x = 0; x < W; x++) {
      const x0 = ax.i0[x], x1 = ax.i1[x], wx = ax.f[x];
      const e = (v[r0 + x0] * (1 - wx) + v[r0 + x1] * wx) * (1 - wy) + (v[r1 + x0] * (1 - wx) + v[r1 + x1] * wx) * wy;
      const li = 3 * ((e * LUT + 0.5) | 0), a = HEAT_MAX_ALPHA * e, p = 3 * (y * W + x);
      const grey = (1 - a) * 0.45 * (0.299 * base.data[p] + 0.587 * base.data[p + 1] + 0.114 * base.data[p + 2]);
      out[p] = grey + a * lut[li] + 0.5;
      out[p + 1] = grey + a * lut[li + 1] + 0.5;
      out[p + 2] = grey + a * lut[li + 2] + 0.5;
    }
  }
  return { width: W, height: H, data: out };
}

/** A horizontal colour bar (for the legend) of the heatmap scale, evidence 0 on the left. */
export function colourBar(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let x = 0; x < width; x++) {
    const c = heatColour(width > 1 ? x / (width - 1) : 0);
    for (let y = 0; y < height; y++) data.set(c, 3 * (y * width + x));
  }
  return { width, height, data };
}

// ---------------------------------------------------------------------------------------------
// cells: geometry at display size and crop thumbnails

export interface CellGeometry {
  /** bounding box at the given label image's size (x1, y1 exclusive) */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  cx: number;
  cy: number;
  area: number;
}

/** Bounding box, centroid and area of each label 1..maxId (null for absent labels). */
export function cellGeometry(labels: ArrayLike<number>, width: number, height: number, maxId: number): (CellGeometry | null)[] {
  const g: (CellGeometry | null)[] = new Array(maxId + 1).fill(null);
  const sx = new Float64Array(maxId + 1), sy = new Float64Array(maxId + 1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const l = labels[y * width + x];
      if (l === 0 || l > maxId) continue;
      let c = g[l];
      if (!c) c = g[l] = { x0: x, y0: y, x1: x + 1, y1: y + 1, cx: 0, cy: 0, area: 0 };
      if (x < c.x0) c.x0 = x;
      if (x >= c.x1) c.x1 = x + 1;
      c.y1 = y + 1;
      c.area++;
      sx[l] += x;
      sy[l] += y;
    }
  }
  for (let l = 1; l <= maxId; l++) {
    const c = g[l];
    if (c) {
      c.cx = sx[l] / c.area + 0.5;
      c.cy = sy[l] / c.area + 0.5;
    }
  }
  return g;
}

/** Labels that touch the image border (row 0 or H−1, column 0 or W−1). */
export function borderLabels(labels: ArrayLike<number>, width: number, height: number): Set<number> {
  const s = new Set<number>();
  for (let x = 0; x < width; x++) {
    s.add(labels[x]);
    s.add(labels[(height - 1) * width + x]);
  }
  for (let y = 0; y < height; y++) {
    s.add(labels[y * width]);
    s.add(labels[y * width + width - 1]);
  }
  s.delete(0);
  return s;
}

/**
 * A sprite of square crop thumbnails (`size` px each, left to right): each box padded by 10 % to
 * a square around its centre, bilinear-sampled from `src`; outside the image is black.
 */
export function cropSprite(src: RgbImage, boxes: readonly { x0: number; y0: number; x1: number; y1: number }[], size: number): RgbImage {
  const W = Math.max(1, boxes.length) * size;
  const data = new Uint8Array(W * size * 3);
  boxes.forEach((b, k) => {
    const side = Math.max(b.x1 - b.x0, b.y1 - b.y0) * 1.2 + 2;
    const ox = (b.x0 + b.x1) / 2 - side / 2, oy = (b.y0 + b.y1) / 2 - side / 2, s = side / size;
    for (let y = 0; y < size; y++) {
      const fy = oy + (y + 0.5) * s - 0.5;
      for (let x = 0; x < size; x++) {
        const fx = ox + (x + 0.5) * s - 0.5;
        const q = 3 * (y * W + k * size + x);
        if (fx < -0.5 || fy < -0.5 || fx > src.width - 0.5 || fy > src.height - 0.5) continue;
        const x0 = Math.max(0, Math.min(src.width - 1, Math.floor(fx))), y0 = Math.max(0, Math.min(src.height - 1, Math.floor(fy)));
        const x1 = Math.min(src.width - 1, x0 + 1), y1 = Math.min(src.height - 1, y0 + 1);
        const wx = Math.min(1, Math.max(0, fx - x0)), wy = Math.min(1, Math.max(0, fy - y0));
        for (let ch = 0; ch < 3; ch++) {
          const a = src.data[3 * (y0 * src.width + x0) + ch] * (1 - wx) + src.data[3 * (y0 * src.width + x1) + ch] * wx;
          const c = src.data[3 * (y1 * src.width + x0) + ch] * (1 - wx) + src.data[3 * (y1 * src.width + x1) + ch] * wx;
          data[q + ch] = Math.round(a * (1 - wy) + c * wy);
        }
      }
    }
  });
  return { width: W, height: size, data };
}
