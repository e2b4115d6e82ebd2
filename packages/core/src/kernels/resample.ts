/**
 * Area (box) resampling of one plane: the model input of every image (4 channels, e.g. 2048² →
 * 512²). The native kernel runs off the JS thread; `resamplePlane` is its TypeScript twin, and the
 * two give the same bytes (same operations in the same order: float32 weights and intermediate
 * rows, double accumulators).
 */
import { nativeError, rangeError, typeError } from '../errors.js';
import { resolveBackend, type Backend } from '../native.js';
import { checkArray, checkInt, checkSize, overlaps } from '../util/validate.js';

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
 * down — upsampling reduces to nearest). Values are multiplied by `scale`. The TypeScript twin of
 * {@link resample}: synchronous, on the calling thread, no validation.
 *
 * @example
 * ```ts
 * const small = resamplePlane(green, 2048, 2048, 512, 512, 1 / 65535); // Float32Array(512 * 512)
 * ```
 */
export function resamplePlane(
  src: ArrayLike<number>, width: number, height: number, outW: number, outH: number, scale = 1, out: Float32Array = new Float32Array(outW * outH), offset = 0,
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

export interface ResampleOptions {
  width: number;
  height: number;
  outWidth: number;
  outHeight: number;
  /** Every output value is multiplied by it (default 1), e.g. 1 / 65535 for 16-bit input. */
  scale?: number;
  /** Where to write (default: a new Float32Array of outWidth × outHeight). */
  out?: Float32Array;
  /** First element of `out` written (default 0): several planes can share one tensor. */
  offset?: number;
  /** Native worker threads; 0 or undefined = all hardware threads. Output never depends on it. */
  threads?: number;
  backend?: Backend;
}

export type ResampleSource = Uint8Array | Uint16Array | Float32Array | Float64Array;

/**
 * Area (box) resampling of one row-major plane to outWidth × outHeight, times `scale`: each output
 * pixel is the mean of the source area it covers, partial pixels weighted by their overlap
 * (upsampling by an integer factor repeats pixels). The native kernel runs on a libuv thread, in
 * bands of rows; the TypeScript twin ({@link resamplePlane}, `backend: 'js'`) gives the same bytes.
 *
 * @returns `out` (or a new Float32Array) with the plane at `offset`.
 * @example
 * ```ts
 * const img = await readImageSet('data/train', id);          // 2048², 16-bit
 * const green = await resample(img.channels.green, {
 *   width: img.width, height: img.height, outWidth: 512, outHeight: 512, scale: 1 / 65535,
 * });                                                          // Float32Array(512 * 512) in [0, 1]
 * ```
 */
export async function resample(src: ResampleSource, options: ResampleOptions): Promise<Float32Array> {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  const { width, height } = checkSize(options.width, options.height);
  // Not checkSize(…, 'options.out'): that would name options.out.width, and options.out is the output array.
  const outWidth = checkInt('options.outWidth', options.outWidth, 1, 65536);
  const outHeight = checkInt('options.outHeight', options.outHeight, 1, 65536);
  if (outWidth * outHeight > 2 ** 30) throw rangeError('options.outWidth*outHeight', 'at most 2^30 pixels', outWidth * outHeight, 'CELLCAM_E_SHAPE');
  checkArray('src', src, [Uint8Array, Uint16Array, Float32Array, Float64Array], width * height, 'width*height');
  const scale = options.scale ?? 1;
  if (typeof scale !== 'number') throw typeError('options.scale', 'a finite number', scale);
  if (!Number.isFinite(scale)) throw rangeError('options.scale', 'a finite number', scale);
  const offset = options.offset === undefined ? 0 : checkInt('options.offset', options.offset, 0);
  const n = outWidth * outHeight;
  let out = options.out;
  if (out === undefined) {
    if (offset !== 0) throw rangeError('options.offset', '0 when options.out is not given', offset, 'CELLCAM_E_ARG');
    out = new Float32Array(n);
  } else {
    if (!(out instanceof Float32Array)) throw typeError('options.out', 'Float32Array', out);
    if (out.length < offset + n) throw rangeError('options.out', `Float32Array of length >= offset + outWidth*outHeight = ${offset + n}`, out, 'CELLCAM_E_SHAPE');
    if (overlaps(out, src)) {
      throw rangeError('options.out', 'an array that does not share memory with src', out, 'CELLCAM_E_ARG');
    }
  }
  const threads = options.threads === undefined ? 0 : checkInt('options.threads', options.threads, 0, 1024);
  const native = resolveBackend(options.backend);
  if (native === null) return resamplePlane(src, width, height, outWidth, outHeight, scale, out, offset);
  const stack = new Error();
  try {
    await native.resample(src, out, { width, height, outWidth, outHeight, scale, offset, threads });
  } catch (err) {
    throw nativeError(err, stack);
  }
  return out;
}
