/**
 * The built-in image classifier as an ONNX model: the fixed feature bank, a trained 1×1
 * convolution head (the CAM) and global average pooling (the logits). It satisfies
 * IMAGE_CLASSIFIER_CONTRACT and also outputs the feature maps it pooled.
 */
import { encodeOnnxModel } from '../model/onnx-writer.js';
import { DEFAULT_INPUT_SIZE, META } from '../model/contracts.js';
import { NUM_CLASSES } from '../metric/evaluate.js';
import { FEATURE_COUNT, FEATURE_LAYOUT, FEATURE_STRIDE, featureGraph, imageInput } from '../features/bank.js';
import { rangeError } from '../errors.js';

/** A linear head over the feature channels: logit_c = Σ_k weights[c·K + k] · f_k + bias[c]. */
export interface LinearHead {
  weights: Float32Array;
  bias: Float32Array;
}

/**
 * Writes the built-in image classifier: `image` [N,4,S,S] → `logits` [N,19], `cam` [N,19,S/4,S/4]
 * (logit scale: logits = spatial mean of cam, since the head is linear) and `features` [N,K,S/4,S/4].
 *
 * @example
 * ```ts
 * const bytes = imageClassifierModel({ weights, bias });
 * await writeFileAtomic('out/train-image/model.onnx', bytes);
 * ```
 */
export function imageClassifierModel(head: LinearHead, inputSize = DEFAULT_INPUT_SIZE, metadata: Record<string, string> = {}): Uint8Array {
  if (head.weights.length !== NUM_CLASSES * FEATURE_COUNT) throw rangeError('head.weights', `length ${NUM_CLASSES * FEATURE_COUNT}`, head.weights.length, 'CELLCAM_E_SHAPE');
  if (head.bias.length !== NUM_CLASSES) throw rangeError('head.bias', `length ${NUM_CLASSES}`, head.bias.length, 'CELLCAM_E_SHAPE');
  const f = featureGraph();
  const s = inputSize / FEATURE_STRIDE;
  return encodeOnnxModel({
    graph: {
      name: 'cellcam_image_classifier',
      nodes: [
        ...f.nodes,
        { opType: 'Identity', inputs: [f.output], outputs: ['features'] },
        { opType: 'Conv', inputs: [f.output, 'head_w', 'head_b'], outputs: ['cam'], attributes: { kernel_shape: { type: 'ints', value: [1, 1] } } },
        { opType: 'ReduceMean', inputs: ['cam'], outputs: ['logits'], attributes: { axes: { type: 'ints', value: [2, 3] }, keepdims: { type: 'int', value: 0 } } },
      ],
      inputs: [imageInput(inputSize)],
      outputs: [
        { name: 'logits', dtype: 'float32', shape: ['N', NUM_CLASSES] },
        { name: 'cam', dtype: 'float32', shape: ['N', NUM_CLASSES, s, s] },
        { name: 'features', dtype: 'float32', shape: ['N', FEATURE_COUNT, s, s] },
      ],
      initializers: [
        ...f.initializers,
        { name: 'head_w', dtype: 'float32', dims: [NUM_CLASSES, FEATURE_COUNT, 1, 1], data: head.weights },
        { name: 'head_b', dtype: 'float32', dims: [NUM_CLASSES], data: head.bias },
      ],
    },
    metadata: {
      [META.kind]: 'image-classifier',
      [META.inputSize]: String(inputSize),
      [META.featureLayout]: FEATURE_LAYOUT,
      [META.featureCount]: String(FEATURE_COUNT),
      ...metadata,
    },
  });
}
