#!/usr/bin/env node
// A complete, tiny external trainer for `cellcam run` (docs/trainer-protocol.md), in plain Node:
// linear models on per-channel means / features, so it runs in seconds anywhere. Used by the tests.
//
// Usage: node examples/trainer/tiny-trainer.mjs <job.json>      (or with $CELLCAM_JOB set)
//
// What it shows: reading the job and its manifest, printing PROGRESS lines, and writing a valid
// ONNX model with cellcam metadata through a temp file + rename. It imports the ONNX writer and
// PNG reader from this repository's built core (packages/core/dist; `npx turbo run build`); in
// your own project import them from '@cellcam/core' instead.
//
// Models (all "GAP + linear head", so the CAM is exact: mean over the map = the logit):
//   image-classifier: image [N,4,H,W] → GlobalAveragePool → Gemm → logits [N,19];
//                     cam = 1×1 Conv(AveragePool_k(image)) → [N,19,H/k,W/k]
//   cell-crops:       crop [N,4,S,S] → GlobalAveragePool → Gemm → logits [N,C]
//   cell-features:    cell_features [N,K] → Gemm → logits [N,C]
//
// Test hooks (env TINY_TRAINER_FAIL): exit | no-model | garbage | contract | hang.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';

const core = new URL('../../packages/core/dist/', import.meta.url);
const { encodeOnnxModel, onnxAttr } = await import(new URL('model/onnx-writer.js', core).href);
const { readGrey } = await import(new URL('io/png.js', core).href);

const jobPath = process.argv[2] ?? process.env.CELLCAM_JOB;
if (!jobPath) {
  console.error('usage: tiny-trainer.mjs <job.json> (or set CELLCAM_JOB)');
  process.exit(2);
}
if (process.argv.length > 3) {
  console.error(`tiny-trainer: expected one argument (the job file) but received ${process.argv.length - 2}`);
  process.exit(2);
}
const job = JSON.parse(readFileSync(jobPath, 'utf8'));
if (job.version !== 1) {
  console.error(`tiny-trainer: unsupported job version ${job.version}`);
  process.exit(2);
}
const hp = { epochs: 200, lr: 0.5, l2: 1e-4, ...job.hyperParameters };
const fail = process.env.TINY_TRAINER_FAIL ?? '';

// ---------------------------------------------------------------- manifest

/** RFC 4180 CSV → array of objects keyed by the header. */
function readCsv(path) {
  const text = readFileSync(path, 'utf8');
  const rows = [];
  let row = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(field), (field = '');
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field), (field = '');
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
    } else field += ch;
  }
  if (field !== '' || row.length > 0) row.push(field), rows.push(row);
  const [header, ...body] = rows;
  return body.map((r) => Object.fromEntries(header.map((h, k) => [h, r[k] ?? ''])));
}

/** Minimal .npy reader (little-endian C order: <f4, <u2, |u1). */
function readNpy(path) {
  const b = readFileSync(path);
  if (b.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path}: not a .npy file`);
  const hlen = b[6] === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = (b[6] === 1 ? 10 : 12) + hlen;
  const header = b.toString('latin1', start - hlen, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const Ctor = { '<f4': Float32Array, '<u2': Uint16Array, '|u1': Uint8Array }[descr];
  if (!Ctor) throw new Error(`${path}: unsupported dtype ${descr}`);
  const count = shape.reduce((a, c) => a * c, 1);
  const copy = b.subarray(start, start + count * Ctor.BYTES_PER_ELEMENT);
  return { shape, data: new Ctor(new Uint8Array(copy).buffer), scale: Ctor === Float32Array ? 1 : Ctor === Uint16Array ? 65535 : 255 };
}

const manifestDir = dirname(job.manifest);
const at = (p) => (isAbsolute(p) ? p : resolve(manifestDir, p));
const rows = readCsv(job.manifest).filter((r) => (r.split ?? 'train') === 'train');
if (rows.length === 0) {
  console.error(`tiny-trainer: ${job.manifest} has no training rows`);
  process.exit(1);
}
const C = job.classes.length;

/** Target vector of a row: the `targets` column (soft) if present, else one-hot / multi-hot `labels`. */
function target(r) {
  if (r.targets) return r.targets.split('|').map(Number);
  const t = new Array(C).fill(0);
  for (const s of (r.labels ?? '').split('|')) if (s !== '') t[Number(s)] = 1;
  return t;
}

// ---------------------------------------------------------------- features

let X = []; // per-sample feature vectors
let K = 0;
if (job.contract === 'image-classifier') {
  for (const r of rows) {
    const x = [];
    for (const ch of ['red', 'green', 'blue', 'yellow']) {
      const g = await readGrey(at(r[ch]));
      const max = g.bitDepth === 16 ? 65535 : 255;
      let s = 0;
      for (let i = 0; i < g.data.length; i++) s += g.data[i];
      // A channel mean does not change under area resizing, so the toy skips the resize to inputSize.
      x.push(s / g.data.length / max);
    }
    X.push(x);
  }
  K = 4;
} else {
  const files = new Map();
  for (const r of rows) {
    const f = at(r.file);
    if (!files.has(f)) files.set(f, readNpy(f));
    const { shape, data, scale } = files.get(f);
    const i = Number(r.index);
    if (job.contract === 'cell-features') {
      K = shape[1];
      X.push(Array.from(data.subarray(i * K, (i + 1) * K), (v) => v / scale));
    } else {
      const [, ch, s] = shape;
      const plane = s * s;
      const x = [];
      for (let c = 0; c < ch; c++) {
        let sum = 0;
        const o = (i * ch + c) * plane;
        for (let p = 0; p < plane; p++) sum += data[o + p];
        x.push(sum / plane / scale);
      }
      X.push(x);
      K = ch;
      if (job.cropSize && s !== job.cropSize) {
        console.error(`tiny-trainer: crops in ${f} are ${s}px but the job asks for ${job.cropSize}`);
        process.exit(1);
      }
    }
  }
}
const Y = rows.map(target);

// ---------------------------------------------------------------- training

// Standardise the features for gradient descent, then fold the scaling back into the weights.
const mu = Array.from({ length: K }, (_, k) => X.reduce((a, x) => a + x[k], 0) / X.length);
// A (nearly) constant feature keeps scale 1: dividing by rounding noise would blow the weights up.
const sd = Array.from({ length: K }, (_, k) => {
  const s = Math.sqrt(X.reduce((a, x) => a + (x[k] - mu[k]) ** 2, 0) / X.length);
  return s > 1e-6 ? s : 1;
});
const Z = X.map((x) => x.map((v, k) => (v - mu[k]) / sd[k]));
const W = Array.from({ length: K }, () => new Array(C).fill(0));
const b = new Array(C).fill(0);
const sigmoid = (z) => 1 / (1 + Math.exp(-z));

function predict(z) {
  const logit = b.map((bc, c) => z.reduce((a, v, k) => a + v * W[k][c], bc));
  if (job.multiLabel) return logit.map(sigmoid);
  const m = Math.max(...logit);
  const e = logit.map((l) => Math.exp(l - m));
  const s = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / s);
}

if (fail === 'exit') {
  console.log('PROGRESS 0/1 starting');
  console.error('Traceback (most recent call last):');
  for (let i = 1; i <= 30; i++) console.error(`  frame ${i}`);
  console.error('RuntimeError: tiny-trainer failed on purpose');
  process.exit(1);
}
if (fail === 'hang') {
  console.log('PROGRESS 0/1 waiting forever');
  setInterval(() => undefined, 1000);
  await new Promise(() => undefined);
}

const epochs = hp.epochs;
for (let e = 1; e <= epochs; e++) {
  const gW = Array.from({ length: K }, () => new Array(C).fill(0));
  const gb = new Array(C).fill(0);
  let loss = 0;
  for (let n = 0; n < Z.length; n++) {
    const p = predict(Z[n]);
    for (let c = 0; c < C; c++) {
      const d = p[c] - Y[n][c]; // gradient of BCE (sigmoid) and of cross-entropy (softmax) alike
      gb[c] += d;
      for (let k = 0; k < K; k++) gW[k][c] += d * Z[n][k];
      if (job.multiLabel) loss -= Y[n][c] * Math.log(p[c] + 1e-12) + (1 - Y[n][c]) * Math.log(1 - p[c] + 1e-12);
      else loss -= Y[n][c] * Math.log(p[c] + 1e-12);
    }
  }
  for (let c = 0; c < C; c++) {
    b[c] -= (hp.lr * gb[c]) / Z.length;
    for (let k = 0; k < K; k++) W[k][c] -= hp.lr * (gW[k][c] / Z.length + hp.l2 * W[k][c]);
  }
  if (e % Math.max(1, Math.floor(epochs / 10)) === 0 || e === epochs) console.log(`PROGRESS ${e}/${epochs} epoch ${e} loss ${(loss / Z.length).toFixed(4)}`);
}

// ---------------------------------------------------------------- export

// Raw-feature weights: logit = Σ_k x_k·W'[k] + b', W' = W/sd, b' = b − Σ_k μ_k·W[k]/sd_k.
const outC = fail === 'contract' ? 7 : C;
const Wr = new Float32Array(K * outC), br = new Float32Array(outC);
for (let c = 0; c < outC; c++) {
  let bias = b[c % C];
  for (let k = 0; k < K; k++) {
    Wr[k * outC + c] = W[k][c % C] / sd[k];
    bias -= (mu[k] * W[k][c % C]) / sd[k];
  }
  br[c] = bias;
}
const WrT = new Float32Array(outC * K); // [C, K, 1, 1] for the CAM convolution
for (let k = 0; k < K; k++) for (let c = 0; c < outC; c++) WrT[c * K + k] = Wr[k * outC + c];

const head = (input) => [
  { opType: 'Gemm', inputs: [input, 'W', 'b'], outputs: ['logits'] },
];
const inits = [
  { name: 'W', dtype: 'float32', dims: [K, outC], data: Wr },
  { name: 'b', dtype: 'float32', dims: [outC], data: br },
];
const metadata = { [`cellcam.activation`]: job.multiLabel ? 'sigmoid' : 'softmax', 'tiny-trainer.epochs': String(epochs) };
let graph;
if (job.contract === 'image-classifier') {
  const size = job.inputSize ?? 512;
  const k = hp.camStride ?? (size >= 64 ? 8 : 1);
  Object.assign(metadata, { 'cellcam.kind': 'image-classifier', 'cellcam.input_size': String(size) });
  graph = {
    name: 'tiny_image_classifier',
    nodes: [
      { opType: 'GlobalAveragePool', inputs: ['image'], outputs: ['gap'] },
      { opType: 'Flatten', inputs: ['gap'], outputs: ['flat'] },
      ...head('flat'),
      { opType: 'AveragePool', inputs: ['image'], outputs: ['pooled'], attributes: { kernel_shape: onnxAttr.ints([k, k]), strides: onnxAttr.ints([k, k]) } },
      { opType: 'Conv', inputs: ['pooled', 'Wc', 'b'], outputs: ['cam'], attributes: { kernel_shape: onnxAttr.ints([1, 1]) } },
    ],
    inputs: [{ name: 'image', dtype: 'float32', shape: ['N', 4, 'H', 'W'] }],
    // The 'contract' test hook drops the cam output as well as narrowing the logits.
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['N', outC] }, ...(fail === 'contract' ? [] : [{ name: 'cam', dtype: 'float32', shape: ['N', outC, 'h', 'w'] }])],
    initializers: [...inits, { name: 'Wc', dtype: 'float32', dims: [outC, K, 1, 1], data: WrT }],
  };
  if (fail === 'contract') graph.nodes = graph.nodes.slice(0, 3);
} else if (job.contract === 'cell-crops') {
  Object.assign(metadata, { 'cellcam.kind': 'cell-classifier', 'cellcam.cell_input': 'crops', 'cellcam.crop_size': String(job.cropSize ?? 128) });
  graph = {
    name: 'tiny_crop_classifier',
    nodes: [{ opType: 'GlobalAveragePool', inputs: ['crop'], outputs: ['gap'] }, { opType: 'Flatten', inputs: ['gap'], outputs: ['flat'] }, ...head('flat')],
    inputs: [{ name: 'crop', dtype: 'float32', shape: ['N', 4, 'S', 'S'] }],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['N', outC] }],
    initializers: inits,
  };
} else {
  Object.assign(metadata, { 'cellcam.kind': 'cell-classifier', 'cellcam.cell_input': 'features', 'cellcam.feature_count': String(K) });
  graph = {
    name: 'tiny_feature_classifier',
    nodes: head('cell_features'),
    inputs: [{ name: 'cell_features', dtype: 'float32', shape: ['N', K] }],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['N', outC] }],
    initializers: inits,
  };
}

if (fail === 'no-model') process.exit(0);
let bytes = encodeOnnxModel({ graph, metadata, producerName: 'tiny-trainer' });
if (fail === 'garbage') bytes = new Uint8Array(Array.from({ length: 256 }, (_, i) => (i * 151 + 7) & 255));

// Protocol: never leave a half-written model at job.output.
const tmp = `${job.output}.tmp-${process.pid}`;
writeFileSync(tmp, bytes);
renameSync(tmp, job.output);
console.log(`wrote ${job.output} (${bytes.length} bytes)`);
