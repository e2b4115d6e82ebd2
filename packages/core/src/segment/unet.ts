/**
 * The HPA CellSegmentator U-Net contract (hpacellseg 0.1.8 `pred_nuclei`/`pred_cells`):
 * preprocessing, ONNX inference through OrtPool, and the uint8 H×W×3 maps `label_cell` reads.
 * See docs/model-contract.md for the contract and how to export the official models.
 */
import { CellcamError, rangeError, typeError } from '../errors.js';
import { checkBool, checkSize } from '../util/validate.js';
import { OrtPool, contractProblems, type OrtContract, type OrtPoolOptions, type OrtTensorData } from '../model/session.js';
import { clipInPlace, floatToUbyte, hpaPadding, imgAsFloat, planesRange, reflectIndex, rescalePlane, rescaledSize, resizeArea } from './resize.js';

/** torch-side normalisation of hpacellseg (`NORMALIZE`), applied in float32 after the float64 rescale. */
export const HPA_NORMALIZE = Object.freeze({ mean: [124 / 255, 117 / 255, 104 / 255] as const, std: 1 / (0.0167 * 255) });

/** What a U-Net ONNX file must provide: float32 `input` [N,3,H,W] → float32 `output` [N,3,H,W] logits. */
export const UNET_CONTRACT: OrtContract = Object.freeze<OrtContract>({
  inputs: [{ name: 'input', dtype: 'float32', rank: 4, dims: [null, 3, null, null] }],
  outputs: [{ name: 'output', dtype: 'float32', rank: 4, dims: [null, 3, null, null] }],
  exactInputs: true,
  hint: "export with torch.onnx.export(model, x, path, input_names=['input'], output_names=['output'], opset_version=17, dynamic_axes=...); see docs/model-contract.md",
});

/** The channels predictMaps reads (any ImageSet from io/imageset.ts fits). */
export interface UnetImage {
  width: number;
  height: number;
  bitDepth: 8 | 16;
  channels: { red: Uint8Array | Uint16Array; blue: Uint8Array | Uint16Array; yellow?: Uint8Array | Uint16Array; green?: Uint8Array | Uint16Array };
}

/** A U-Net given as a ready pool (reused across images) or as a model file/bytes (a pool is made and closed per call). */
export type UnetModel = OrtPool | string | Uint8Array;

export interface PredictMapsOptions {
  nucleiModel: UnetModel;
  cellModel: UnetModel;
  /** hpacellseg `scale_factor`, in (0, 1] (default 0.25). */
  scaleFactor?: number;
  /** hpacellseg `padding`: reflect-pad to a multiple of 32 plus a 32-pixel margin (default true). */
  padding?: boolean;
  /** false for the 2-channel cell model (`dpn_unet_cell_v2`): the ER channel is fed as zeros (default true). */
  multiChannelModel?: boolean;
  /** Options for pools this call creates from paths/bytes (the contract is always UNET_CONTRACT). */
  poolOptions?: Omit<OrtPoolOptions, 'contract'>;
}

/** uint8 probability maps, H×W×3 interleaved: [0 (zeroed), border, object] as hpacellseg returns them. */
export interface UnetMaps {
  width: number;
  height: number;
  nucleiPred: Uint8Array;
  cellPred: Uint8Array;
}

/** Geometry shared by preprocessing and postprocessing. */
export interface UnetGeometry {
  width: number;
  height: number;
  scaledWidth: number;
  scaledHeight: number;
  pad: { top: number; bottom: number; left: number; right: number };
}

/** The two model inputs (float32 [1,3,H',W'], normalised) and the geometry to undo. */
export interface UnetInputs {
  geometry: UnetGeometry;
  nuclei: OrtTensorData;
  cell: OrtTensorData;
}

/**
 * Creates an OrtPool for a U-Net and checks UNET_CONTRACT (CELLCAM_E_MODEL naming the file and
 * the problem otherwise).
 *
 * @example
 * ```ts
 * const nuclei = await createUnetPool('models/dpn_unet_nuclei_v1.onnx');
 * console.log(nuclei.info.executionProvider); // 'cuda' or 'cpu'
 * ```
 */
export function createUnetPool(model: string | Uint8Array, options: Omit<OrtPoolOptions, 'contract'> = {}): Promise<OrtPool> {
  return OrtPool.create(model, { ...options, contract: UNET_CONTRACT });
}

function checkChannel(name: string, a: unknown, bitDepth: 8 | 16, n: number): Uint8Array | Uint16Array {
  const Ctor = bitDepth === 8 ? Uint8Array : Uint16Array;
  if (!(a instanceof Ctor)) throw typeError(name, `${Ctor.name} (bitDepth ${bitDepth})`, a);
  if (a.length !== n) throw rangeError(name, `${Ctor.name} of length width*height = ${n}`, a, 'CELLCAM_E_SHAPE');
  return a;
}

function checkScale(v: unknown): number {
  if (v === undefined) return 0.25;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw typeError('options.scaleFactor', 'a number in (0, 1]', v);
  if (!(v > 0 && v <= 1)) throw rangeError('options.scaleFactor', 'a number in (0, 1]', v);
  return v;
}

// NCHW float32 tensor of three rescaled planes: reflect padding, then (float32(x) − mean)/std.
function toTensor(planes: readonly Float64Array[], g: UnetGeometry): OrtTensorData {
  const w = g.scaledWidth, h = g.scaledHeight;
  const pw = w + g.pad.left + g.pad.right, ph = h + g.pad.top + g.pad.bottom;
  const data = new Float32Array(3 * pw * ph);
  const std = Math.fround(HPA_NORMALIZE.std);
  const xs = new Int32Array(pw);
  for (let x = 0; x < pw; x++) xs[x] = reflectIndex(x - g.pad.left, w);
  for (let c = 0; c < 3; c++) {
    const p = planes[c];
    const mean = Math.fround(HPA_NORMALIZE.mean[c]);
    const base = c * pw * ph;
    for (let y = 0; y < ph; y++) {
      const src = reflectIndex(y - g.pad.top, h) * w;
      const o = base + y * pw;
      for (let x = 0; x < pw; x++) data[o + x] = Math.fround(Math.fround(p[src + xs[x]]) - mean) / std;
    }
  }
  return { dtype: 'float32', dims: [1, 3, ph, pw], data };
}

/**
 * Builds both U-Net inputs the way hpacellseg does: `img_as_float`, skimage 0.19 `rescale`
 * (anti-aliased), optional BORDER_REFLECT padding, float32 normalisation. Nuclei input = blue ×3;
 * cell input = (red, yellow, blue), yellow = zeros for the 2-channel model.
 *
 * @example
 * ```ts
 * const { nuclei, cell, geometry } = prepareUnetInputs(imageSet, { scaleFactor: 0.25, padding: true });
 * nuclei.dims; // [1, 3, 576, 576] for a 2048² image
 * ```
 */
export function prepareUnetInputs(
  image: UnetImage,
  options: { scaleFactor?: number; padding?: boolean; multiChannelModel?: boolean } = {},
): UnetInputs {
  if (image === null || typeof image !== 'object') throw typeError('image', 'an image set {width, height, bitDepth, channels}', image);
  const { width, height } = checkSize(image.width, image.height, 'image');
  if (image.bitDepth !== 8 && image.bitDepth !== 16) throw rangeError('image.bitDepth', '8 or 16', image.bitDepth);
  const scale = checkScale(options.scaleFactor);
  const padding = checkBool('options.padding', options.padding, true);
  const multi = checkBool('options.multiChannelModel', options.multiChannelModel, true);
  const ch = image.channels;
  if (ch === null || typeof ch !== 'object') throw typeError('image.channels', 'an object of channel arrays', ch);
  const n = width * height;
  // Raw planes: rescalePlane/planesRange read them as img_as_float values on the fly.
  const blue = checkChannel('image.channels.blue', ch.blue, image.bitDepth, n);
  const red = checkChannel('image.channels.red', ch.red, image.bitDepth, n);
  const yellow = multi ? checkChannel('image.channels.yellow', ch.yellow, image.bitDepth, n) : new Uint8Array(n);

  const size = scale === 1 ? { width, height } : rescaledSize(width, height, scale);
  const geometry: UnetGeometry = {
    width,
    height,
    scaledWidth: size.width,
    scaledHeight: size.height,
    pad: padding ? hpaPadding(size.width, size.height) : { top: 0, bottom: 0, left: 0, right: 0 },
  };
  // hpacellseg rescales the nuclei stack and the cell stack separately; each is clipped to its
  // own input range, so the unclipped blue plane is shared and clipped twice.
  const resample = (p: Uint8Array | Uint16Array) => (scale === 1 ? imgAsFloat(p) : rescalePlane(p, width, height, size.width, size.height));
  const bRaw = resample(blue);
  const rRaw = resample(red);
  const yRaw = resample(yellow);
  const nucRange = planesRange([blue]);
  const cellRange = planesRange([red, yellow, blue]);
  const bNuc = scale === 1 ? bRaw : clipInPlace(bRaw.slice(), nucRange.min, nucRange.max);
  const cellPlanes = scale === 1 ? [rRaw, yRaw, bRaw] : [rRaw, yRaw, bRaw].map((p) => clipInPlace(p, cellRange.min, cellRange.max));
  return { geometry, nuclei: toTensor([bNuc, bNuc, bNuc], geometry), cell: toTensor(cellPlanes, geometry) };
}

/**
 * Turns U-Net logits [1,3,H',W'] into the uint8 H×W×3 map: softmax over channels, crop the
 * padding, zero channel 0, INTER_AREA back to full size; nuclei are quantised before the resize
 * and cells after it, as in hpacellseg.
 *
 * @example
 * ```ts
 * const out = await pool.run({ input: inputs.nuclei });
 * const nucleiPred = unetOutputToMap(out.output, 'nuclei', inputs.geometry);
 * ```
 */
export function unetOutputToMap(logits: OrtTensorData, kind: 'nuclei' | 'cell', g: UnetGeometry, model = 'U-Net'): Uint8Array {
  const ph = g.scaledHeight + g.pad.top + g.pad.bottom, pw = g.scaledWidth + g.pad.left + g.pad.right;
  const dims = logits?.dims ?? [];
  if (!(logits?.data instanceof Float32Array) || dims.length !== 4 || dims[0] !== 1 || dims[1] !== 3 || dims[2] !== ph || dims[3] !== pw) {
    throw new CellcamError(
      'CELLCAM_E_MODEL',
      `${model}: output has ${logits?.dtype ?? 'no'} dims [${dims.join(', ')}] but float32 [1, 3, ${ph}, ${pw}] is required (same spatial size as the input)`,
    );
  }
  const x = logits.data;
  const w = g.scaledWidth, h = g.scaledHeight, plane = ph * pw;
  const nuclei = kind === 'nuclei';
  const u8 = nuclei ? new Uint8Array(w * h * 3) : null;
  const f32 = nuclei ? null : new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < w; xx++) {
      const i = (y + g.pad.top) * pw + xx + g.pad.left;
      const a = x[i], b = x[plane + i], c = x[2 * plane + i];
      const m = Math.max(a, b, c);
      const ea = Math.exp(a - m), eb = Math.exp(b - m), ec = Math.exp(c - m);
      const s = ea + eb + ec;
      // torch returns float32 probabilities; channel 0 is zeroed afterwards either way.
      const p1 = Math.fround(eb / s), p2 = Math.fround(ec / s);
      const o = (y * w + xx) * 3;
      if (u8) {
        u8[o + 1] = floatToUbyte(p1);
        u8[o + 2] = floatToUbyte(p2);
      } else {
        f32![o + 1] = p1;
        f32![o + 2] = p2;
      }
    }
  }
  if (u8) return g.width === w && g.height === h ? u8 : resizeArea(u8, w, h, 3, g.width, g.height);
  if (g.width % w === 0 && g.height % h === 0) {
    // Integer enlargement is replication, so quantising first gives the same bytes, 16× cheaper.
    const q = new Uint8Array(f32!.length);
    for (let i = 0; i < q.length; i++) q[i] = floatToUbyte(f32![i]);
    return g.width === w && g.height === h ? q : resizeArea(q, w, h, 3, g.width, g.height);
  }
  const full = resizeArea(f32!, w, h, 3, g.width, g.height);
  const out = new Uint8Array(full.length);
  for (let i = 0; i < full.length; i++) out[i] = floatToUbyte(full[i]);
  return out;
}

async function withPool<T>(model: UnetModel, name: string, options: PredictMapsOptions['poolOptions'], fn: (pool: OrtPool) => Promise<T>): Promise<T> {
  if (model instanceof OrtPool) {
    const problems = contractProblems(model.info, UNET_CONTRACT);
    if (problems.length > 0) {
      throw new CellcamError('CELLCAM_E_MODEL', `${model.info.model}: does not fit the model contract: ${problems.join('; ')} (${UNET_CONTRACT.hint})`);
    }
    return fn(model);
  }
  if (typeof model !== 'string' && !(model instanceof Uint8Array)) throw typeError(name, 'an OrtPool, a model path or model bytes', model);
  const pool = await createUnetPool(model, options);
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

/**
 * Runs the HPA nuclei and cell U-Nets on one image and returns the uint8 maps `label_cell`
 * consumes (H×W×3 each), following hpacellseg `pred_nuclei`/`pred_cells`.
 * Preprocessing runs on the calling thread; inference runs in the pools' worker threads.
 *
 * @example
 * ```ts
 * const nucleiModel = await createUnetPool('models/dpn_unet_nuclei_v1.onnx');
 * const cellModel = await createUnetPool('models/dpn_unet_cell_3ch_v1.onnx');
 * const set = await readImageSet('data/test', id);
 * const { nucleiPred, cellPred } = await predictMaps(set, { nucleiModel, cellModel });
 * ```
 */
export async function predictMaps(image: UnetImage, options: PredictMapsOptions): Promise<UnetMaps> {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object with nucleiModel and cellModel', options);
  if (options.nucleiModel === undefined) throw typeError('options.nucleiModel', 'an OrtPool, a model path or model bytes', undefined);
  if (options.cellModel === undefined) throw typeError('options.cellModel', 'an OrtPool, a model path or model bytes', undefined);
  const inputs = prepareUnetInputs(image, options);
  const g = inputs.geometry;
  const run = (model: UnetModel, name: string, feed: OrtTensorData, kind: 'nuclei' | 'cell') =>
    withPool(model, name, options.poolOptions, async (pool) => {
      const out = await pool.run({ input: feed }, { outputs: ['output'] });
      return unetOutputToMap(out.output, kind, g, pool.info.model);
    });
  const [nucleiPred, cellPred] = await Promise.all([
    run(options.nucleiModel, 'options.nucleiModel', inputs.nuclei, 'nuclei'),
    run(options.cellModel, 'options.cellModel', inputs.cell, 'cell'),
  ]);
  return { width: g.width, height: g.height, nucleiPred, cellPred };
}
