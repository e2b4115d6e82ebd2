/**
 * The built-in feature bank ('bank-v1'): a fixed, documented set of localisation features of the
 * green (protein) stain relative to the reference stains, expressed as ONNX ops so that the
 * built-in image classifier is an ordinary ONNX model. docs/model-contract.md lists every channel.
 */
import { encodeOnnxModel, type OnnxGraph, type OnnxNode, type OnnxTensor } from '../model/onnx-writer.js';
import { DEFAULT_INPUT_SIZE, META } from '../model/contracts.js';
import { GraphBuilder } from './graph.js';

export const FEATURE_LAYOUT = 'bank-v1';

/** Feature channels, in output order. Every channel is ≥ 0. */
export const FEATURE_NAMES = [
  'green', // green level (image-normalised)
  'green_nucleus', // green × soft nucleus mask
  'green_cytoplasm', // green × soft cytoplasm mask
  'green_nuclear_rim', // green × nucleus boundary band
  'green_nucleoli', // green × nucleoli (blue-dark holes inside nuclei)
  'green_perinuclear', // green just outside the nucleus
  'green_periphery', // green far from the nucleus, inside the cell body
  'dots_nucleus', // fine punctate detail (difference of Gaussians) in nuclei
  'dots_cytoplasm', // … in the cytoplasm
  'ridges_nucleus', // line-like (anisotropic Hessian) detail in nuclei
  'ridges_cytoplasm', // … in the cytoplasm
  'blobs_nucleus', // round (isotropic Hessian) detail in nuclei
  'blobs_cytoplasm', // … in the cytoplasm
  'green_x_red', // co-localisation with microtubules
  'green_x_yellow', // co-localisation with the ER
  'ridges_x_red', // filaments that follow the microtubules
  'large_blobs', // blobs at the scale of an aggresome / Golgi (Laplacian of Gaussian, σ = 3 map px)
  'local_contrast', // green above its σ = 6 map-px surroundings
  'texture', // squared fine detail (local variance)
  'green_absolute', // raw green level ×10, not normalised: separates dim (Negative) images
] as const;

export const FEATURE_COUNT = FEATURE_NAMES.length;

/** The feature maps' stride relative to the model input. */
export const FEATURE_STRIDE = 4;

/** Graph pieces shared by the feature model and the image classifier: input 'image' → value 'features'. */
export function featureGraph(): { nodes: OnnxNode[]; initializers: OnnxTensor[]; output: string } {
  const g = new GraphBuilder();
  const [r, gr, b, y] = ['r', 'g', 'b', 'y'].map((n) => g.fresh(n));
  g.nodes.push({ opType: 'Split', inputs: ['image'], outputs: [r, gr, b, y], attributes: { axis: { type: 'int', value: 1 } } });
  const eps = g.scalar(1e-3);
  // Each stain relative to its own image mean: exposure and expression level cancel out.
  const norm = (x: string) => g.div(x, g.add(g.spatialMean(x), eps));
  const G = norm(gr), R = norm(r), B = norm(b), Y = norm(y);

  // Full-resolution detail, pooled to the map grid.
  const g1 = g.blur(G, 1);
  const dots = g.relu(g.sub(g1, g.blur(G, 3)));
  const fine = g.sub(G, g1);
  const texture = g.mul(fine, fine);
  const h = g.blur(G, 1.5);
  const dxx = g.stencil(h, Float32Array.of(1, -2, 1), 1, 3);
  const dyy = g.stencil(h, Float32Array.of(1, -2, 1), 3, 1);
  const dxy = g.stencil(h, Float32Array.of(0.25, 0, -0.25, 0, 0, 0, -0.25, 0, 0.25), 3, 3);
  const half = g.scale(g.add(dxx, dyy), 0.5);
  const dd = g.scale(g.sub(dxx, dyy), 0.5);
  const disc = g.op('Sqrt', [g.shift(g.add(g.mul(dd, dd), g.mul(dxy, dxy)), 1e-12)]);
  const lam1 = g.sub(half, disc), lam2 = g.add(half, disc); // lam1 <= lam2
  const across = g.relu(g.scale(lam1, -1)), along = g.relu(g.scale(lam2, -1));
  // Bright lines: strongly curved across, flat along; bright blobs: curved both ways.
  const ridges = g.sub(across, along), blobs = along;

  const k = FEATURE_STRIDE;
  const P = (x: string) => g.avgPool(x, k);
  const G4 = P(G), R4 = P(R), B4 = P(B), Y4 = P(Y);
  const dots4 = P(dots), ridges4 = P(ridges), blobs4 = P(blobs), texture4 = P(texture);

  // Soft masks on the map grid (the stains are mean-normalised, so thresholds are multiples of the mean).
  const Bs = g.blur(B4, 1);
  const nuc = g.sigmoid(g.scale(g.shift(Bs, -1.5), 3));
  const body = g.sigmoid(g.scale(g.shift(g.scale(g.add(g.blur(R4, 1), g.blur(Y4, 1)), 0.5), -0.5), 4));
  const notNuc = g.shift(g.scale(nuc, -1), 1);
  const cyto = g.mul(body, notNuc);
  const rim = g.scale(g.mul(nuc, notNuc), 4);
  const nucleoli = g.mul(nuc, g.relu(g.sub(g.scalar(1), g.div(B4, g.add(g.blur(B4, 2), eps)))));
  const near = g.blur(nuc, 4);
  const peri = g.mul(cyto, g.op('Min', [g.scale(near, 3), g.scalar(1)]));
  const periph = g.mul(cyto, g.relu(g.shift(g.scale(near, -3), 1)));
  const lg = g.blur(G4, 3);
  const log = g.relu(g.scale(g.add(g.stencil(lg, Float32Array.of(1, -2, 1), 1, 3), g.stencil(lg, Float32Array.of(1, -2, 1), 3, 1)), -9));
  const contrast = g.relu(g.sub(G4, g.blur(G4, 6)));
  const absolute = g.scale(P(gr), 10);

  const channels: Record<(typeof FEATURE_NAMES)[number], string> = {
    green: G4,
    green_nucleus: g.mul(G4, nuc),
    green_cytoplasm: g.mul(G4, cyto),
    green_nuclear_rim: g.mul(G4, rim),
    green_nucleoli: g.mul(G4, nucleoli),
    green_perinuclear: g.mul(G4, peri),
    green_periphery: g.mul(G4, periph),
    dots_nucleus: g.mul(dots4, nuc),
    dots_cytoplasm: g.mul(dots4, cyto),
    ridges_nucleus: g.mul(ridges4, nuc),
    ridges_cytoplasm: g.mul(ridges4, cyto),
    blobs_nucleus: g.mul(blobs4, nuc),
    blobs_cytoplasm: g.mul(blobs4, cyto),
    green_x_red: g.mul(G4, R4),
    green_x_yellow: g.mul(G4, Y4),
    ridges_x_red: g.mul(ridges4, R4),
    large_blobs: log,
    local_contrast: contrast,
    texture: texture4,
    green_absolute: absolute,
  };
  const output = g.op('Concat', FEATURE_NAMES.map((n) => channels[n]), { axis: { type: 'int', value: 1 } }, 'features');
  return { nodes: g.nodes, initializers: g.initializers, output };
}

/** Input declaration shared by the built-in models. */
export function imageInput(inputSize = DEFAULT_INPUT_SIZE) {
  return { name: 'image', dtype: 'float32' as const, shape: ['N', 4, inputSize, inputSize] };
}

/** The feature extractor alone: `image` [N,4,S,S] → `features` [N,K,S/4,S/4]. */
export function featureModel(inputSize = DEFAULT_INPUT_SIZE): Uint8Array {
  const f = featureGraph();
  const s = inputSize / FEATURE_STRIDE;
  const graph: OnnxGraph = {
    name: 'cellcam_feature_bank',
    nodes: [...f.nodes, { opType: 'Identity', inputs: [f.output], outputs: ['features'] }],
    inputs: [imageInput(inputSize)],
    outputs: [{ name: 'features', dtype: 'float32', shape: ['N', FEATURE_COUNT, s, s] }],
    initializers: f.initializers,
  };
  return encodeOnnxModel({
    graph,
    metadata: { [META.kind]: 'feature-bank', [META.inputSize]: String(inputSize), [META.featureLayout]: FEATURE_LAYOUT, [META.featureCount]: String(FEATURE_COUNT) },
  });
}
