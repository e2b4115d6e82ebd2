/**
 * Model input tensors: an image set (or a cell crop) area-resized to the model's square input and
 * scaled to [0, 1] by its bit depth, as the image-classifier contract states (docs/model-contract.md).
 */
import { availableParallelism } from 'node:os';
import type { ImageSet } from '../io/imageset.js';
import { CHANNELS } from '../io/imageset.js';
import { resample, resamplePlane } from '../kernels/resample.js';
import type { Backend } from '../native.js';
import { checkInt } from '../util/validate.js';

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

/**
 * {@link imageTensor} off the JS thread: the four channels are resampled by the native kernel
 * ({@link resample}) at once, so a progress bar or another image's work keeps moving meanwhile.
 * The bytes equal imageTensor's. Without the addon (or with `backend: 'js'`) it runs the
 * TypeScript twin. `threads` is per channel (default: a quarter of the cores, at least 1).
 *
 * @example
 * ```ts
 * const img = await readImageSet('data/train', id);
 * const x = await imageTensorAsync(img, 512); // === imageTensor(img, 512), byte for byte
 * ```
 */
export async function imageTensorAsync(img: ImageSet, size: number, options: { backend?: Backend; threads?: number } = {}): Promise<Float32Array> {
  checkInt('size', size, 16, 8192);
  const out = new Float32Array(4 * size * size);
  const scale = 1 / (img.bitDepth === 16 ? 65535 : 255);
  const plane = size * size;
  const threads = options.threads ?? Math.max(1, Math.ceil(availableParallelism() / 4));
  await Promise.all(
    CHANNELS.map((c, k) =>
      resample(img.channels[c], {
        width: img.width, height: img.height, outWidth: size, outHeight: size, scale, out, offset: k * plane, backend: options.backend, threads,
      }),
    ),
  );
  return out;
}
