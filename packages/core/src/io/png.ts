/**
 * Single-channel image files through sharp: 8/16-bit grey PNG (and TIFF) writing and reading with
 * exact values. 16-bit needs the grey16 colourspace both ways, or sharp silently drops to 8 bits.
 */
import sharp, { type Metadata } from 'sharp';
import { CellcamError } from '../errors.js';
import { tempPathFor } from './atomic.js';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

sharp.cache(false);

export interface GreyImage {
  width: number;
  height: number;
  /** Uint8Array for 8-bit files, Uint16Array for 16-bit files (row-major). */
  data: Uint8Array | Uint16Array;
  bitDepth: 8 | 16;
  /** size of the file itself when it was read downscaled (`maxSide`), else width/height */
  sourceWidth?: number;
  sourceHeight?: number;
  /** colour bands of the file, alpha not counted: 1 for grey, 3 for RGB and palette files */
  fileBands?: number;
}

export interface ReadGreyOptions {
  /**
   * Downscale in sharp (libvips, off the JS thread) so that the longer side is at most `maxSide`
   * (aspect kept, rounded, never upscaled); the bit depth is kept. For display, not analysis.
   */
  maxSide?: number;
}

/**
 * Size with the longer side at most `maxSide`, aspect kept, never upscaled.
 *
 * @example
 * ```ts
 * fitSize(2048, 1024, 512); // { width: 512, height: 256 }
 * ```
 */
export function fitSize(width: number, height: number, maxSide: number): { width: number; height: number } {
  const s = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}

/**
 * Encodes a single-channel image as PNG (Uint8Array -> 8-bit, Uint16Array -> 16-bit).
 *
 * @example
 * ```ts
 * const png = await encodeGreyPng(new Uint16Array(512 * 512), 512, 512);
 * ```
 */
export async function encodeGreyPng(data: Uint8Array | Uint16Array, width: number, height: number, compressionLevel = 6): Promise<Buffer> {
  if (data.length !== width * height) {
    throw new RangeError(`Expected data of length width*height = ${width * height} but received ${data.length}`);
  }
  if (data instanceof Uint16Array) {
    // Pass the Uint16Array itself: sharp infers a 16-bit raw input from the TypedArray type
    // (a Buffer view of the same bytes would be read as 8-bit pixels).
    return sharp(data, { raw: { width, height, channels: 1, premultiplied: false } })
      .toColourspace('grey16')
      .png({ compressionLevel })
      .toBuffer();
  }
  return sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels: 1 } }).toColourspace('b-w').png({ compressionLevel }).toBuffer();
}

/** Writes a single-channel PNG atomically (temp file + rename). */
export async function writeGreyPng(path: string, data: Uint8Array | Uint16Array, width: number, height: number, compressionLevel = 6): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    const buf = await encodeGreyPng(data, width, height, compressionLevel);
    await writeFile(tmp, buf);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Reads a single-channel image with its original bit depth (8 or 16). `channel` picks the band of
 * a colour file (e.g. the stain's own colour in public HPA RGB JPEGs); a grey file, with or without
 * alpha, has one band and gives it whatever `channel` says. Alpha is dropped. Pixels other than
 * 8- or 16-bit unsigned integers (float or 32-bit TIFFs, signed 16-bit) are refused with an error
 * that names the file and what it holds, rather than silently rescaled.
 *
 * @example
 * ```ts
 * const { data, width, bitDepth } = await readGrey('cells/abc_cells.png');
 * ```
 */
export async function readGrey(path: string, channel?: number, options: ReadGreyOptions = {}): Promise<GreyImage> {
  let meta: Metadata;
  try {
    meta = await sharp(path).metadata();
  } catch (err) {
    throw new CellcamError('CELLCAM_E_IO', `${path}: cannot read image (${(err as Error).message})`, { cause: err });
  }
  const width = meta.width ?? 0, height = meta.height ?? 0;
  const depth = meta.depth ?? 'uchar';
  if (depth !== 'uchar' && depth !== 'ushort') {
    throw new CellcamError('CELLCAM_E_FORMAT', `${path}: expected 8- or 16-bit unsigned integer pixels but found ${PIXEL_KINDS[depth] ?? depth} pixels; convert the file to 16-bit unsigned (e.g. scale to 0–65535)`);
  }
  const sixteen = depth === 'ushort';
  const channels = meta.channels ?? 1;
  const colourBands = channels - (meta.hasAlpha ? 1 : 0);
  const band = colourBands >= 3 ? ((channel ?? 0) as 0 | 1 | 2 | 3) : 0;
  if (band >= colourBands) {
    throw new CellcamError('CELLCAM_E_FORMAT', `${path}: expected an image with a band ${band} but it has ${colourBands} colour band(s)`);
  }
  const size = options.maxSide === undefined ? { width, height } : fitSize(width, height, options.maxSide);
  const source = { sourceWidth: width, sourceHeight: height, fileBands: colourBands };
  try {
    let img = sharp(path);
    // libvips scales the linear kernel to the reduction (a triangle filter, anti-aliased); lanczos3
    // costs ~60 % more for no visible gain at display size.
    if (size.width !== width || size.height !== height) img = img.resize(size.width, size.height, { fit: 'fill', kernel: 'linear' });
    if (sixteen) {
      // extractChannel after the colourspace: grey16 keeps an alpha band, and rgb16 is needed
      // for sharp to keep 16 bits in a colour file.
      img = (colourBands >= 3 ? img.toColourspace('rgb16') : img.toColourspace('grey16')).extractChannel(band);
      const { data, info } = await img.raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
      const u16 = data.byteOffset % 2 === 0 ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2) : new Uint16Array(new Uint8Array(data).buffer);
      if (info.channels !== 1 || u16.length !== size.width * size.height) throw new Error(`decoded ${info.channels} channels`);
      return { ...size, data: u16, bitDepth: 16, ...source };
    }
    // A one-band file needs no band extraction: 'b-w' keeps it one band (sharp would otherwise
    // expand it to sRGB first, ~40 % slower); values are unchanged.
    img = channels === 1 ? img.toColourspace('b-w') : img.extractChannel(band);
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 1 || data.length !== size.width * size.height) throw new Error(`decoded ${info.channels} channels`);
    return { ...size, data: new Uint8Array(data.buffer, data.byteOffset, data.length), bitDepth: 8, ...source };
  } catch (err) {
    throw new CellcamError('CELLCAM_E_IO', `${path}: cannot decode image (${(err as Error).message}); is the file truncated?`, { cause: err });
  }
}

/**
 * Reads a label image (0 = background, 1..n = objects) as Uint16Array: a grey 8- or 16-bit file,
 * or a colour or palette file whose every pixel is grey (some tools save labels so). Labels in
 * colour (a lookup table) are refused: libvips expands a palette, so the ids are lost, and one
 * band of the colours would give wrong ids without a word.
 *
 * @example
 * ```ts
 * const { data: cells, width, height } = await readLabels('seg/abc_cells.png');
 * ```
 */
export async function readLabels(path: string): Promise<{ width: number; height: number; data: Uint16Array }> {
  const g = await readGrey(path);
  const data = g.data instanceof Uint16Array ? g.data : Uint16Array.from(g.data);
  if (g.fileBands === 1) return { width: g.width, height: g.height, data };
  const n = g.width * g.height;
  const bands = await Promise.all([1, 2].map(async (b) => (await readGrey(path, b)).data));
  for (let i = 0; i < n; i++) {
    if (bands[0][i] !== data[i] || bands[1][i] !== data[i]) {
      const x = i % g.width, y = Math.floor(i / g.width);
      throw new CellcamError('CELLCAM_E_FORMAT', `${path}: expected a label image (one grey value per object) but found colours (pixel ${x},${y} is ${data[i]},${bands[0][i]},${bands[1][i]}); save the labels as 16-bit greyscale`);
    }
  }
  return { width: g.width, height: g.height, data };
}

/** libvips band formats in words, for the error on pixels cellcam does not read. */
const PIXEL_KINDS: Record<string, string> = {
  char: '8-bit signed',
  short: '16-bit signed',
  uint: '32-bit unsigned',
  int: '32-bit signed',
  float: '32-bit float',
  double: '64-bit float',
  complex: 'complex',
  dpcomplex: 'double complex',
};

/**
 * Reads an 8-bit RGB image as interleaved H×W×3 bytes (the U-Net prediction-map format).
 *
 * @example
 * ```ts
 * const { data, width, height } = await readRgb8('nuclei_pred.png');
 * ```
 */
export async function readRgb8(path: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  try {
    const { data, info } = await sharp(path).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded ${info.channels} channels, expected 3`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (err) {
    throw new CellcamError('CELLCAM_E_IO', `${path}: cannot read an RGB image (${(err as Error).message})`, { cause: err });
  }
}
