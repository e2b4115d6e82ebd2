/**
 * The ONNX contracts of the weakly supervised pipeline (docs/model-contract.md): what an image
 * classifier and a cell classifier must look like to plug into `cellcam run`, built-in or not.
 */
import type { OrtContract } from './session.js';
import { NUM_CLASSES } from '../metric/evaluate.js';

/** Default side of the square image-classifier input (metadata `cellcam.input_size` overrides it). */
export const DEFAULT_INPUT_SIZE = 512;

/** Class index of the extra "unknown" class of a single-label cell classifier (after the 19 HPA classes). */
export const UNKNOWN_CLASS = NUM_CLASSES;

/**
 * Image classifier: `image` float32 [N, 4, H, W] (R, G, B, Y; each channel divided by its bit
 * depth's maximum, 255 or 65535, after area-resizing to H = W = input size) → `logits` [N, 19]
 * (pre-sigmoid) and `cam` [N, 19, h, w] (class activation maps at any resolution, on the logit
 * scale: for GAP+FC, the FC weights applied as a 1×1 convolution to the last feature map).
 */
export const IMAGE_CLASSIFIER_CONTRACT: OrtContract = Object.freeze<OrtContract>({
  inputs: [{ name: 'image', dtype: 'float32', rank: 4, dims: [null, 4, null, null] }],
  outputs: [
    { name: 'logits', dtype: 'float32', rank: 2, dims: [null, NUM_CLASSES] },
    { name: 'cam', dtype: 'float32', rank: 4, dims: [null, NUM_CLASSES, null, null] },
  ],
  hint: "an image classifier needs input 'image' float32 [N,4,H,W] and outputs 'logits' [N,19] and 'cam' [N,19,h,w]; see docs/model-contract.md",
});

/**
 * Cell classifier over pooled cell features: `cell_features` float32 [N, K] (K = metadata
 * `cellcam.feature_count`; the built-in layout is documented in docs/model-contract.md) →
 * `logits` [N, 19] (multi-label, sigmoid) or [N, 20] (single-label softmax, class 19 = unknown).
 */
export const CELL_FEATURES_CONTRACT: OrtContract = Object.freeze<OrtContract>({
  inputs: [{ name: 'cell_features', dtype: 'float32', rank: 2 }],
  outputs: [{ name: 'logits', dtype: 'float32', rank: 2 }],
  hint: "a feature cell classifier needs input 'cell_features' float32 [N,K] and output 'logits' [N,19] or [N,20]; see docs/model-contract.md",
});

/**
 * Cell classifier over crops: `crop` float32 [N, 4, S, S] (the cell's bounding box, padded to a
 * square, every pixel outside the cell zeroed, area-resized to S = metadata `cellcam.crop_size`,
 * channels scaled as for the image classifier) → `logits` [N, 19] or [N, 20].
 */
export const CELL_CROP_CONTRACT: OrtContract = Object.freeze<OrtContract>({
  inputs: [{ name: 'crop', dtype: 'float32', rank: 4, dims: [null, 4, null, null] }],
  outputs: [{ name: 'logits', dtype: 'float32', rank: 2 }],
  hint: "a crop cell classifier needs input 'crop' float32 [N,4,S,S] and output 'logits' [N,19] or [N,20]; see docs/model-contract.md",
});

/** Metadata keys cellcam reads from (and writes to) model files. */
export const META = Object.freeze({
  kind: 'cellcam.kind', // 'image-classifier' | 'cell-classifier'
  inputSize: 'cellcam.input_size', // image classifier: square input side
  cellInput: 'cellcam.cell_input', // 'features' | 'crops'
  featureCount: 'cellcam.feature_count',
  featureLayout: 'cellcam.feature_layout', // built-in feature bank id, e.g. 'bank-v1'
  cropSize: 'cellcam.crop_size',
  activation: 'cellcam.activation', // 'softmax' | 'sigmoid'
});
