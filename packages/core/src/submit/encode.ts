/**
 * The competition's mask encoding: COCO RLE counts string -> zlib level 9 -> base64, exactly as
 * the official `encode_binary_mask` (pycocotools + stock zlib). pako reproduces stock zlib's
 * deflate bytes; Node's bundled zlib does not, so it only decodes.
 */
import pako from 'pako';
import { inflateSync } from 'node:zlib';
import { CellcamError, rangeError } from '../errors.js';
import { cellRle, rleArea, rleCounts, rleFromString, rleToString, type CellRleOptions, type CellRleStrings } from '../kernels/rle.js';
import { checkSize } from '../util/validate.js';

/** zlib(level 9) + base64 of a COCO counts string. */
export function compressRleString(countsString: string): string {
  const deflated = pako.deflate(Buffer.from(countsString, 'latin1'), { level: 9 });
  return Buffer.from(deflated.buffer, deflated.byteOffset, deflated.byteLength).toString('base64');
}

/** Inverse of {@link compressRleString}; throws CELLCAM_E_FORMAT on bad base64/zlib. */
export function decompressRleString(encoded: string): string {
  if (typeof encoded !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    throw new CellcamError('CELLCAM_E_FORMAT', `mask '${String(encoded).slice(0, 32)}…' is not standard base64`);
  }
  try {
    // Any correct inflater gives the same bytes; Node's zlib is 2–4× faster than pako on these
    // small streams (pako stays for deflate, where only it reproduces stock zlib's output).
    return inflateSync(Buffer.from(encoded, 'base64')).toString('latin1');
  } catch (err) {
    throw new CellcamError('CELLCAM_E_FORMAT', `mask '${encoded.slice(0, 32)}…' is not a zlib stream (${(err as Error).message ?? err})`, { cause: err });
  }
}

/**
 * Encodes a binary mask (row-major, nonzero = inside) like the official `encode_binary_mask`.
 *
 * @example
 * ```ts
 * const mask = new Uint8Array(512 * 512);         // empty 512² mask
 * encodeBinaryMask(mask, 512, 512);                // 'eNoLCAiwAAADDAEp'
 * ```
 */
export function encodeBinaryMask(mask: ArrayLike<number> | ArrayLike<boolean>, width: number, height: number): string {
  checkSize(width, height, 'encodeBinaryMask');
  if (mask == null || typeof (mask as ArrayLike<number>).length !== 'number' || mask.length !== width * height) {
    throw rangeError('mask', `an array of length width*height = ${width * height}`, mask, 'CELLCAM_E_SHAPE');
  }
  return compressRleString(rleToString(rleCounts(mask as ArrayLike<number>, width, height)));
}

/**
 * Decodes an encoded mask to a row-major Uint8Array (1 = inside). Rejects masks whose runs do not
 * sum to width × height.
 *
 * @example
 * ```ts
 * const m = decodeBinaryMask('eNoLCAiwAAADDAEp', 512, 512); // all zeros
 * ```
 */
export function decodeBinaryMask(encoded: string, width: number, height: number): Uint8Array {
  checkSize(width, height, 'decodeBinaryMask');
  const counts = decodeCounts(encoded, width, height);
  const out = new Uint8Array(width * height);
  let pos = 0;
  for (let k = 0; k < counts.length; k++) {
    const n = counts[k];
    if (k & 1) {
      // column-major index j = x*H + y -> row-major y*W + x
      for (let j = pos; j < pos + n; j++) {
        const x = Math.floor(j / height), y = j - x * height;
        out[y * width + x] = 1;
      }
    }
    pos += n;
  }
  return out;
}

/** Decodes an encoded mask to its COCO counts, checking they cover exactly width × height. */
export function decodeCounts(encoded: string, width: number, height: number): number[] {
  const counts = rleFromString(decompressRleString(encoded));
  let total = 0;
  for (const c of counts) {
    if (c < 0) throw new CellcamError('CELLCAM_E_FORMAT', `mask has a negative run length ${c}`);
    total += c;
  }
  if (total !== width * height) {
    throw new CellcamError('CELLCAM_E_FORMAT', `mask runs sum to ${total}, expected width*height = ${width}*${height} = ${width * height}`);
  }
  return counts;
}

/** Area (pixels) of an encoded mask. */
export function encodedMaskArea(encoded: string, width: number, height: number): number {
  return rleArea(decodeCounts(encoded, width, height));
}

/**
 * Encodes every cell 1..n of a label image (native one-pass RLE when available).
 * Returns `masks[i]` for cell i+1, with cellRle's non-enumerable `device` / `deviceNote` tags.
 *
 * @example
 * ```ts
 * const masks = await encodeCells(cellLabels, 2048, 2048);
 * ```
 */
export async function encodeCells(
  labels: Uint16Array | Int32Array,
  width: number,
  height: number,
  options: Omit<CellRleOptions, 'width' | 'height'> = {},
): Promise<CellRleStrings> {
  const strings = await cellRle(labels, { ...options, width, height });
  // In place, so the array keeps cellRle's tags (where it ran, and why not on CUDA).
  for (let i = 0; i < strings.length; i++) strings[i] = compressRleString(strings[i]);
  return strings;
}
