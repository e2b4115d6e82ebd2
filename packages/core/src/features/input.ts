/**
 * Model input tensors: an image set (or a cell crop) area-resized to the model's square input and
 * scaled to [0, 1] by its bit depth, as the image-classifier contract states (docs/model-contract.md).
 */
import type { ImageSet } from '../io/imageset.js';
import { CHANNELS } from '../io/imageset.js';
import { checkInt } from '../util/validate.js';

/** Source spans and weights of an exact area (box) resampling of one axis from n to m samples. */
function areaAxis(n: number, m: number): { start: Int32Array; len: Int32Array; w: Float32Array; stride: number } {
  const s = n / m;
  const stride = Math.ceil(s) + 1;
  const start = new Int32Array(m), len = new Int32Array(m), w = new Float32Array(m * stride);
  for (let d = 0; d < m; d++) {
    const a = d * s, b = (d + 1) * s;
    const i0 = Math.floor(a), i1 = Math.min(n, Math.ceil(b));
    start[d] = i0;
    len[d] = i1 - i0;
    for (let i = i0; i < i1; i++) {
      // Overlap of source pixel [i, i+1) with [a, b), normalised by the span.
      w[d * stride + i - i0] = (Math.min(i + 1, b) - Math.max(i, a)) / s;
    }
  }
  return { start, len, w, stride };
}

/**
 * Area-resamples one plane to outW×outH (box filter with fractional overlaps; any factor, up or
 * down — upsampling reduces to nearest). Values are multiplied by `scale`.
 */
export function resamplePlane(
  src: ArrayLike<number>, width: number, height: number, outW: number, outH: number, scale = 1, out = new Float32Array(outW * outH), offset = 0,
): Float32Array {
  const ax = areaAxis(width, outW), ay = areaAxis(height, outH);
  const tmp = new Float32Array(outW * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < outW; x++) {
      let acc = 0;
      const s0 = ax.start[x], L = ax.len[x], wo = x * ax.stride;
      for (let k = 0; k < L; k++) acc += src[row + s0 + k] * ax.w[wo + k];
      tmp[y * outW + x] = acc;
    }
  }
  for (let y = 0; y < outH; y++) {
    const s0 = ay.start[y], L = ay.len[y], wo = y * ay.stride;
    for (let x = 0; x < outW; x++) {
      let acc = 0;
      for (let k = 0; k < L; k++) acc += tmp[(s0 + k) * outW + x] * ay.w[wo + k];
      out[offset + y * outW + x] = acc * scale;
    }
  }
  return out;
}

/**
 * The image-classifier input of one image set: Float32 [4, S, S] (R, G, B, Y), each channel
 * area-resized to S×S and divided by 255 (8-bit) or 65535 (16-bit).
 *
 * @example
 * ```ts
 * const img = await readImageSet('data/train', id);
 * const x = imageTensor(img, 512); // feed as { image: { dtype: 'float32', dims: [1, 4, 512, 512], data: x } }
 * ```
 */
export function imageTensor(img: ImageSet, size: number): Float32Array {
  checkInt('size', size, 16, 8192);
  const out = new Float32Array(4 * size * size);
  const scale = 1 / (img.bitDepth === 16 ? 65535 : 255);
  CHANNELS.forEach((c, k) => resamplePlane(img.channels[c], img.width, img.height, size, size, scale, out, k * size * size));
  return out;
}
