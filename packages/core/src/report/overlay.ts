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
import { fitSize } from '../io/png.js';

/** An interleaved 8-bit RGB image. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export type Rgb = readonly [number, number, number];

/** Outline colours: cells white, nuclei cyan (as synth/preview.ts), wrong cells red. */
export const OUTLINE = { cell: [255, 255, 255] as Rgb, nucleus: [60, 230, 255] as Rgb, wrong: [255, 40, 40] as Rgb };

/** Display size: the longer side at most `maxSide`, aspect kept, never upscaled (what `readGrey`'s `maxSide` reads). */
export const displaySize = fitSize;

export { stretchScale } from '../util/display.js';

export interface CompositeInput {
  width: number;
  height: number;
  bitDepth: 8 | 16;
  channels: { red: ArrayLike<number>; green: ArrayLike<number>; blue: ArrayLike<number>; yellow: ArrayLike<number> };
}

/**
 * The HPA composite at the image set's resolution: red = microtubules, green = protein, blue =
 * nucleus, yellow added half to red and half to green; each stain stretched so that its 99.8th
 * percentile is white. For display, read the set already downscaled (`maxSide`, sharp), so the
 * composite and its percentiles are computed at display size (the report does this).
 *
 * @example
 * ```ts
 * const img = await readImageSet('data/test', id, { maxSide: 512 });
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
  let a = Float32Array.from(cam);
  let finite = 0;
  for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i])) a[finite++] = a[i];
  if (!finite) return { lo: 0, hi: 1 };
  a = a.subarray(0, finite).sort();
  const q = (p: number) => a[Math.min(a.length - 1, Math.max(0, Math.round(p * (a.length - 1))))];
  const lo = q(0.02), hi = q(0.98);
  return hi > lo ? { lo, hi } : { lo, hi: lo + 1 };
}

/** Evidence in [0, 1] of a CAM value under a map's range (see camRange). */
export function heatValue(z: number, range: { lo: number; hi: number }): number {
  const v = (z - range.lo) / (range.hi - range.lo);
  return v >= 1 ? 1 : v > 0 ? v : 0;
}

/** An interleaved 8-bit RGBA image. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * One channel of a CAM ([h, w] logits) as a transparent layer at the map's own resolution:
 * colour `heatColour(v)`, alpha `HEAT_MAX_ALPHA · v`. The report stacks it over the composite,
 * greyed and darkened by CSS, and the browser upsamples it smoothly over the whole image: the
 * same blend as {@link heatmapOverlay} without encoding a full-size image per class.
 *
 * @example
 * ```ts
 * const layer = heatmapLayer(camData.subarray(c * h * w, (c + 1) * h * w), w, h);
 * await sharp(layer.data, { raw: { width: w, height: h, channels: 4 } }).png().toFile('cam.png');
 * ```
 */
export function heatmapLayer(cam: ArrayLike<number>, camW: number, camH: number, range = camRange(cam)): RgbaImage {
  if (cam.length !== camW * camH) throw rangeError('cam', `an array of length camW*camH = ${camW * camH}`, cam, 'CELLCAM_E_SHAPE');
  const data = new Uint8Array(camW * camH * 4);
  for (let i = 0; i < cam.length; i++) {
    const v = heatValue(cam[i], range), c = heatColour(v);
    data[4 * i] = c[0];
    data[4 * i + 1] = c[1];
    data[4 * i + 2] = c[2];
    data[4 * i + 3] = Math.round(255 * HEAT_MAX_ALPHA * v);
  }
  return { width: camW, height: camH, data };
}

/**
 * One channel of a CAM ([h, w] logits) blended over `base` (greyed) at base size; bilinear
 * upsampling. A flattened image for use outside the report (the report uses {@link heatmapLayer}).
 */
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
  // Per output row: the map row interpolated in y once (camW values), then x per pixel.
  const row = new Float32Array(camW);
  const kr = 0.45 * 0.299, kg = 0.45 * 0.587, kb = 0.45 * 0.114;
  for (let y = 0; y < H; y++) {
    const r0 = ay.i0[y] * camW, r1 = ay.i1[y] * camW, wy = ay.f[y];
    for (let x = 0; x < camW; x++) row[x] = v[r0 + x] * (1 - wy) + v[r1 + x] * wy;
    for (let x = 0, p = 3 * y * W; x < W; x++, p += 3) {
      const wx = ax.f[x];
      const e = row[ax.i0[x]] * (1 - wx) + row[ax.i1[x]] * wx;
      const li = 3 * ((e * LUT + 0.5) | 0), a = HEAT_MAX_ALPHA * e;
      const grey = (1 - a) * (kr * base.data[p] + kg * base.data[p + 1] + kb * base.data[p + 2]);
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
  const n = maxId + 1;
  const x0 = new Int32Array(n).fill(width), x1 = new Int32Array(n), y0 = new Int32Array(n).fill(-1), y1 = new Int32Array(n);
  const area = new Float64Array(n), sx = new Float64Array(n), sy = new Float64Array(n);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const l = labels[row + x];
      if (l === 0 || l > maxId) continue;
      if (y0[l] < 0) y0[l] = y;
      if (x < x0[l]) x0[l] = x;
      if (x >= x1[l]) x1[l] = x + 1;
      y1[l] = y + 1;
      area[l]++;
      sx[l] += x;
      sy[l] += y;
    }
  }
  const g: (CellGeometry | null)[] = new Array(n).fill(null);
  for (let l = 1; l < n; l++) {
    if (area[l] > 0) g[l] = { x0: x0[l], y0: y0[l], x1: x1[l], y1: y1[l], cx: sx[l] / area[l] + 0.5, cy: sy[l] / area[l] + 0.5, area: area[l] };
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
  const sw = src.width, sh = src.height, sd = src.data;
  // Per crop, the column and row sample tables (source index pairs and weights) are built once.
  const cx0 = new Int32Array(size), cx1 = new Int32Array(size), cwx = new Float64Array(size), cin = new Uint8Array(size);
  boxes.forEach((b, k) => {
    const side = Math.max(b.x1 - b.x0, b.y1 - b.y0) * 1.2 + 2;
    const ox = (b.x0 + b.x1) / 2 - side / 2, oy = (b.y0 + b.y1) / 2 - side / 2, s = side / size;
    for (let x = 0; x < size; x++) {
      const fx = ox + (x + 0.5) * s - 0.5;
      cin[x] = fx < -0.5 || fx > sw - 0.5 ? 0 : 1;
      const x0 = Math.max(0, Math.min(sw - 1, Math.floor(fx)));
      cx0[x] = 3 * x0;
      cx1[x] = 3 * Math.min(sw - 1, x0 + 1);
      cwx[x] = Math.min(1, Math.max(0, fx - x0));
    }
    for (let y = 0; y < size; y++) {
      const fy = oy + (y + 0.5) * s - 0.5;
      if (fy < -0.5 || fy > sh - 0.5) continue;
      const y0 = Math.max(0, Math.min(sh - 1, Math.floor(fy)));
      const r0 = 3 * y0 * sw, r1 = 3 * Math.min(sh - 1, y0 + 1) * sw, wy = Math.min(1, Math.max(0, fy - y0));
      for (let x = 0; x < size; x++) {
        if (!cin[x]) continue;
        const q = 3 * (y * W + k * size + x), wx = cwx[x], a0 = r0 + cx0[x], a1 = r0 + cx1[x], b0 = r1 + cx0[x], b1 = r1 + cx1[x];
        for (let ch = 0; ch < 3; ch++) {
          const a = sd[a0 + ch] * (1 - wx) + sd[a1 + ch] * wx;
          const c = sd[b0 + ch] * (1 - wx) + sd[b1 + ch] * wx;
          data[q + ch] = Math.round(a * (1 - wy) + c * wy);
        }
      }
    }
  });
  return { width: W, height: size, data };
}
