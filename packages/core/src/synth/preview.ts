/**
 * HPA-style RGB composite of the four stains (red = microtubules, green = protein, blue = nucleus,
 * yellow added to red and green), optionally with cell (white) and nucleus (cyan) outlines.
 */
import { stretchScale } from '../util/display.js';
import sharp from 'sharp';
import { checkInt } from '../util/validate.js';
import { rangeError } from '../errors.js';

export interface CompositeChannels {
  red: Uint8Array | Uint16Array;
  green: Uint8Array | Uint16Array;
  blue: Uint8Array | Uint16Array;
  yellow: Uint8Array | Uint16Array;
}

export interface CompositeOptions {
  /** Cell label image to outline (white). */
  cells?: Uint16Array;
  /** Nucleus label image to outline (cyan). */
  nuclei?: Uint16Array;
  /** Draw the outlines of `cells`/`nuclei` (default true when they are given). */
  outlines?: boolean;
  /** Downscale so that the longer side is at most this (default: no downscaling). */
  maxSide?: number;
  /** Write a palette (8-bit indexed) PNG: about 3x smaller, for previews and docs (default false). */
  palette?: boolean;
}

const stretch = (a: Uint8Array | Uint16Array): number => stretchScale(a, a instanceof Uint16Array ? 16 : 8);

/**
 * Renders the composite as an RGB PNG.
 *
 * @example
 * ```ts
 * const img = synthImage('demo', 1024, 1, [0]);
 * const png = await renderComposite(img, 1024, { cells: img.cells, nuclei: img.nuclei, maxSide: 768 });
 * ```
 */
export async function renderComposite(ch: CompositeChannels, size: number, opts: CompositeOptions = {}): Promise<Buffer> {
  checkInt('size', size, 1, 65536);
  const N = size * size;
  for (const name of ['red', 'green', 'blue', 'yellow'] as const) {
    const a = ch[name];
    if (!(a instanceof Uint8Array || a instanceof Uint16Array) || a.length !== N) {
      throw rangeError(`ch.${name}`, `a Uint8Array or Uint16Array of length size*size = ${N}`, a, 'CELLCAM_E_SHAPE');
    }
  }
  for (const name of ['cells', 'nuclei'] as const) {
    const a = opts[name];
    if (a !== undefined && (!(a instanceof Uint16Array) || a.length !== N)) {
      throw rangeError(`opts.${name}`, `a Uint16Array of length size*size = ${N}`, a, 'CELLCAM_E_SHAPE');
    }
  }
  const sr = stretch(ch.red), sg = stretch(ch.green), sb = stretch(ch.blue), sy = stretch(ch.yellow);
  const rgb = Buffer.alloc(N * 3);
  for (let p = 0; p < N; p++) {
    const y = ch.yellow[p] * sy * 0.5;
    const r = ch.red[p] * sr + y, g = ch.green[p] * sg + y, b = ch.blue[p] * sb;
    rgb[3 * p] = r >= 1 ? 255 : (r * 255 + 0.5) | 0;
    rgb[3 * p + 1] = g >= 1 ? 255 : (g * 255 + 0.5) | 0;
    rgb[3 * p + 2] = b >= 1 ? 255 : (b * 255 + 0.5) | 0;
  }
  const maxSide = opts.maxSide === undefined ? size : checkInt('opts.maxSide', opts.maxSide, 16, 65536);
  if (opts.outlines !== false) {
    // Thick enough to survive the downscale.
    const t = Math.max(1, Math.round(size / Math.min(size, maxSide)));
    if (opts.cells) drawOutlines(rgb, opts.cells, size, t, [255, 255, 255]);
    if (opts.nuclei) drawOutlines(rgb, opts.nuclei, size, t, [60, 230, 255]);
  }
  let img = sharp(rgb, { raw: { width: size, height: size, channels: 3 } });
  if (maxSide < size) img = img.resize(maxSide, maxSide, { kernel: 'lanczos3', fit: 'inside' });
  return img.png(opts.palette ? { compressionLevel: 9, palette: true, colours: 256, dither: 0.5 } : { compressionLevel: 9 }).toBuffer();
}

/** Paints the inner border pixels of every labelled region (thickness t) in colour c. */
function drawOutlines(rgb: Buffer, lab: Uint16Array, W: number, t: number, c: [number, number, number]): void {
  const H = W;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = y * W + x, l = lab[p];
      if (l === 0) continue;
      const border = (x > 0 && lab[p - 1] !== l) || (x < W - 1 && lab[p + 1] !== l) || (y > 0 && lab[p - W] !== l) || (y < H - 1 && lab[p + W] !== l);
      if (!border) continue;
      for (let dy = 0; dy < t; dy++) {
        for (let dx = 0; dx < t; dx++) {
          const xx = x + dx - (t >> 1), yy = y + dy - (t >> 1);
          if (xx < 0 || yy < 0 || xx >= W || yy >= H || lab[yy * W + xx] !== l) continue;
          const q = 3 * (yy * W + xx);
          rgb[q] = c[0];
          rgb[q + 1] = c[1];
          rgb[q + 2] = c[2];
        }
      }
    }
  }
}
