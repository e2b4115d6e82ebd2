/**
 * The built-in cell classifier as an ONNX model (CELL_FEATURES_CONTRACT): log-compressed pooled
 * cell features → standardisation → one ReLU hidden layer → logits. Written from an {@link Mlp}
 * trained in TypeScript, so inference goes through onnxruntime like any user model.
 */
import { encodeOnnxModel } from '../model/onnx-writer.js';
import { META } from '../model/contracts.js';
import { FEATURE_LAYOUT } from '../features/bank.js';
import type { Mlp, Standardizer } from './optim.js';

/** Offset inside the log: the pooled bank features are ≥ 0 and span ~1e-4..10. */
export const CELL_LOG_EPS = 1e-3;

/** The cell model's input transform, x → log(max(x, 0) + ε), as the ONNX graph computes it. */
export function cellInputTransform(x: ArrayLike<number>, out = new Float64Array(x.length)): Float64Array {
  for (let i = 0; i < x.length; i++) out[i] = Math.log(Math.max(Number(x[i]) || 0, 0) + CELL_LOG_EPS);
  return out;
}

/**
 * @example
 * ```ts
 * const bytes = cellClassifierModel(mlp, standardizer);
 * await writeFileAtomic('out/train-cell/cycle-1/model.onnx', bytes);
 * ```
 */
export function cellClassifierModel(m: Mlp, s: Standardizer, metadata: Record<string, string> = {}): Uint8Array {
  const f32 = (a: Float64Array) => Float32Array.from(a);
  return encodeOnnxModel({
    graph: {
      name: 'cellcam_cell_classifier',
      nodes: [
        { opType: 'Relu', inputs: ['cell_features'], outputs: ['pos'] },
        { opType: 'Add', inputs: ['pos', 'eps'], outputs: ['shifted'] },
        { opType: 'Log', inputs: ['shifted'], outputs: ['logf'] },
        { opType: 'Sub', inputs: ['logf', 'mean'], outputs: ['centred'] },
        { opType: 'Mul', inputs: ['centred', 'inv_std'], outputs: ['z'] },
        { opType: 'Gemm', inputs: ['z', 'w1', 'b1'], outputs: ['a1'], attributes: { transB: { type: 'int', value: 1 } } },
        { opType: 'Relu', inputs: ['a1'], outputs: ['h1'] },
        { opType: 'Gemm', inputs: ['h1', 'w2', 'b2'], outputs: ['logits'], attributes: { transB: { type: 'int', value: 1 } } },
      ],
      inputs: [{ name: 'cell_features', dtype: 'float32', shape: ['N', m.d] }],
      outputs: [{ name: 'logits', dtype: 'float32', shape: ['N', m.classes] }],
      initializers: [
        { name: 'eps', dtype: 'float32', dims: [], data: Float32Array.of(CELL_LOG_EPS) },
        { name: 'mean', dtype: 'float32', dims: [m.d], data: f32(s.mean) },
        { name: 'inv_std', dtype: 'float32', dims: [m.d], data: f32(s.invStd) },
        { name: 'w1', dtype: 'float32', dims: [m.hidden, m.d], data: f32(m.W1) },
        { name: 'b1', dtype: 'float32', dims: [m.hidden], data: f32(m.b1) },
        { name: 'w2', dtype: 'float32', dims: [m.classes, m.hidden], data: f32(m.W2) },
        { name: 'b2', dtype: 'float32', dims: [m.classes], data: f32(m.b2) },
      ],
    },
    metadata: {
      [META.kind]: 'cell-classifier',
      [META.cellInput]: 'features',
      [META.featureCount]: String(m.d),
      [META.featureLayout]: FEATURE_LAYOUT,
      [META.activation]: m.mode,
      ...metadata,
    },
  });
}
