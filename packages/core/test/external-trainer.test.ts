// Tests of the external-trainer runner with examples/trainer/tiny-trainer.mjs: the three contracts
// end to end (job file, progress lines, log, model checks, learned weights), and every failure mode.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSessionWorkerBuilt } from './fixtures/onnx-models.js';
import { repoRoot } from './helpers.js';
import { HPA_CLASS_NAMES } from '../src/classes.js';
import { encodeNpy, writeCellCrops } from '../src/io/crops.js';
import type { ImageSet } from '../src/io/imageset.js';
import { writeGreyPng } from '../src/io/png.js';
import { CELL_CROP_CONTRACT, CELL_FEATURES_CONTRACT, IMAGE_CLASSIFIER_CONTRACT } from '../src/model/contracts.js';
import { decodeOnnxModel, encodeOnnxModel } from '../src/model/onnx-writer.js';
import { OrtPool, type OrtContract } from '../src/model/session.js';
import { parseProgressLine, runExternalTrainer, trainerCommandLine, type TrainerJob } from '../src/train/external.js';

const TINY = `"${process.execPath}" "${join(repoRoot, 'examples/trainer/tiny-trainer.mjs')}"`;
const CELL_CLASSES = [...HPA_CLASS_NAMES, 'unknown'];

let dir = '';
let imageManifest = '';
let featureManifest = '';
let cropManifest = '';

/** Image classifier data: bright green → class 0 (Nucleoplasm), dim green → class 16 (Cytosol). */
async function writeImages(): Promise<string> {
  const root = join(dir, 'images');
  const rows = ['ID,red,green,blue,yellow,labels,split'];
  for (let n = 0; n < 8; n++) {
    const id = `img${n}`;
    const bright = n % 2 === 0;
    const deep = n === 3; // one 16-bit image
    const paths: string[] = [];
    for (const [c, level] of [['red', 60], ['green', bright ? 200 : 40], ['blue', 90], ['yellow', 30]] as const) {
      const v = level + (n % 3) * 5;
      const data = deep ? new Uint16Array(16 * 16).fill(v * 257) : new Uint8Array(16 * 16).fill(v);
      const p = join(root, `${id}_${c}.png`);
      await writeGreyPng(p, data, 16, 16);
      paths.push(p);
    }
    rows.push([id, ...paths, bright ? '0' : '16', n < 6 ? 'train' : 'val'].join(','));
  }
  const manifest = join(root, 'manifest.csv');
  writeFileSync(manifest, rows.join('\n') + '\n');
  return manifest;
}

/** Cell features: two clusters in 3-d, class 2 vs unknown (19); the .npy path is relative. */
function writeFeatures(): string {
  const root = join(dir, 'features');
  const n = 12, K = 3;
  const x = new Float32Array(n * K);
  mkdirSync(root, { recursive: true });
  const rows = ['ID,cell,file,index,labels,split'];
  for (let i = 0; i < n; i++) {
    const a = i % 2 === 0;
    x.set([a ? 1 : -1, a ? 0.5 : 0.2, (i % 3) * 0.1], i * K);
    rows.push(`im${i >> 2},${(i % 4) + 1},feat.npy,${i},${a ? 2 : 19},train`);
  }
  writeFileSync(join(dir, 'features', 'feat.npy'), encodeNpy(x, [n, K]));
  const manifest = join(root, 'manifest.csv');
  writeFileSync(manifest, rows.join('\n') + '\n');
  return manifest;
}

/** Cell crops through writeCellCrops: red-bright cells → class 3, dim → unknown. */
async function writeCrops(): Promise<string> {
  const W = 16;
  const items = [0, 1].map((k) => {
    const cells = new Uint16Array(W * W);
    const red = new Uint8Array(W * W);
    for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) {
      const id = (y < 8 ? 1 : 3) + (x < 8 ? 0 : 1);
      if (x % 8 === 0 || y % 8 === 0) continue; // background lines between 4 cells
      cells[y * W + x] = id;
      red[y * W + x] = id % 2 === 1 ? 220 - 10 * k : 30 + 10 * k;
    }
    const image: ImageSet = {
      id: `crop${k}`,
      width: W,
      height: W,
      bitDepth: 8,
      channels: { red, green: new Uint8Array(W * W).fill(50), blue: new Uint8Array(W * W).fill(50), yellow: new Uint8Array(W * W).fill(50) },
      files: { red: '', green: '', blue: '', yellow: '' },
    };
    return { image, cells, extra: (cell: number) => ({ labels: cell % 2 === 1 ? 3 : 19, split: 'train' }) };
  });
  const res = await writeCellCrops(join(dir, 'crops'), items, { size: 8, columns: ['labels', 'split'] });
  return res.manifest;
}

function job(kind: 'image' | 'features' | 'crops', name: string, extra: Partial<TrainerJob> = {}): TrainerJob {
  const work = join(dir, 'runs', name);
  const base = { version: 1 as const, hyperParameters: { epochs: 60 }, output: join(work, 'out', 'model.onnx'), workDir: work };
  if (kind === 'image') return { ...base, stage: 'train-image', contract: 'image-classifier', manifest: imageManifest, classes: [...HPA_CLASS_NAMES], multiLabel: true, inputSize: 16, ...extra };
  if (kind === 'features') return { ...base, stage: 'train-cell', contract: 'cell-features', manifest: featureManifest, classes: CELL_CLASSES, multiLabel: false, ...extra };
  return { ...base, stage: 'train-cell', contract: 'cell-crops', manifest: cropManifest, classes: CELL_CLASSES, multiLabel: false, cropSize: 8, ...extra };
}

/** crop [N,4,S,S] → GAP → Gemm → logits [N, width]; `broken` reshapes GAP's output to the crop's shape, which fails at run time. */
function cropModel(width: number, metadata: Record<string, string>, broken = false): Uint8Array {
  return encodeOnnxModel({
    graph: {
      nodes: [
        { opType: 'GlobalAveragePool', inputs: ['crop'], outputs: ['gap'] },
        ...(broken
          ? [
              { opType: 'Shape', inputs: ['crop'], outputs: ['shape'] },
              { opType: 'Reshape', inputs: ['gap', 'shape'], outputs: ['reshaped'] },
              { opType: 'Flatten', inputs: ['reshaped'], outputs: ['flat'] },
            ]
          : [{ opType: 'Flatten', inputs: ['gap'], outputs: ['flat'] }]),
        { opType: 'Gemm', inputs: ['flat', 'W', 'b'], outputs: ['logits'] },
      ],
      inputs: [{ name: 'crop', dtype: 'float32', shape: ['N', 4, 'S', 'S'] }],
      outputs: [{ name: 'logits', dtype: 'float32', shape: ['N', width] }],
      initializers: [
        { name: 'W', dtype: 'float32', dims: [4, width], data: new Float32Array(4 * width) },
        { name: 'b', dtype: 'float32', dims: [width], data: new Float32Array(width) },
      ],
    },
    metadata,
  });
}

/** cell_features [N,K] → logits = the input itself: a width ORT cannot know before running (K from the metadata). */
function featureModel(K: number): Uint8Array {
  return encodeOnnxModel({
    graph: {
      nodes: [{ opType: 'Identity', inputs: ['cell_features'], outputs: ['logits'] }],
      inputs: [{ name: 'cell_features', dtype: 'float32', shape: ['N', 'K'] }],
      outputs: [{ name: 'logits', dtype: 'float32', shape: ['N', 'C'] }],
    },
    metadata: { 'cellcam.feature_count': String(K) },
  });
}

async function failure(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  ensureSessionWorkerBuilt();
  dir = mkdtempSync(join(tmpdir(), 'cellcam-trainer-'));
  imageManifest = await writeImages();
  featureManifest = writeFeatures();
  cropManifest = await writeCrops();
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('progress lines and command lines', () => {
  const lines: [string, ReturnType<typeof parseProgressLine>][] = [
    ['PROGRESS 3/10', { done: 3, total: 10 }],
    ['PROGRESS 3/10 epoch 3 loss 0.41', { done: 3, total: 10, message: 'epoch 3 loss 0.41' }],
    ['PROGRESS  2.5 / 4   half  ', { done: 2.5, total: 4, message: 'half' }],
    ['progress 3/10', null],
    ['  PROGRESS 3/10', null],
    ['PROGRESS 3 of 10', null],
    ['PROGRESS -1/10', null],
    ['PROGRESS3/10', null],
  ];
  it.each(lines)('%j', (line, want) => {
    expect(parseProgressLine(line)).toEqual(want);
  });

  const commands: [string, string, string][] = [
    ['python train.py', '/w/job.json', "python train.py '/w/job.json'"],
    ['python train.py --job {job} --x', '/w/job.json', "python train.py --job '/w/job.json' --x"],
    ['run {job} {job}', "/a b/it's.json", `run '/a b/it'\\''s.json' '/a b/it'\\''s.json'`],
  ];
  it.skipIf(process.platform === 'win32').each(commands)('%s', (command, path, want) => {
    expect(trainerCommandLine(command, path)).toBe(want);
  });
});

describe('runExternalTrainer with tiny-trainer.mjs', () => {
  // [kind, command, contract, logits width]
  const cases: [('image' | 'features' | 'crops'), string, OrtContract, number][] = [
    ['image', TINY, IMAGE_CLASSIFIER_CONTRACT, 19], // job path appended
    ['features', `${TINY} {job}`, CELL_FEATURES_CONTRACT, 20], // placeholder
    ['crops', `${TINY} # {job}`, CELL_CROP_CONTRACT, 20], // $CELLCAM_JOB only (the placeholder sits in a shell comment)
  ];
  it.each(cases)('%s: trains, reports progress, writes a model that fits the contract', async (kind, command, contract, width) => {
    const j = job(kind, `ok-${kind}`);
    const progress: { done: number; total: number; message?: string }[] = [];
    const lines: string[] = [];
    const res = await runExternalTrainer({ command, job: j, onProgress: (p) => progress.push(p), onLine: (l) => lines.push(l) });
    expect(res.model).toBe(j.output);
    expect(res.log).toBe(join(j.workDir, 'trainer.log'));
    expect(res.ms).toBeGreaterThan(0);

    expect(JSON.parse(readFileSync(join(j.workDir, 'job.json'), 'utf8'))).toEqual(j);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toMatchObject({ done: 60, total: 60 });
    expect(progress.at(-1)!.message).toMatch(/^epoch 60 loss \d/);
    expect(lines.at(-1)).toBe(`wrote ${j.output} (${statSync(j.output).size} bytes)`);
    const log = readFileSync(res.log, 'utf8');
    expect(log).toMatch(/^# cellcam .* train-(image|cell) \(/);
    expect(log).toContain('PROGRESS 60/60 epoch 60');

    const meta = Object.fromEntries((decodeOnnxModel(readFileSync(j.output)).metadataProps as { key: string; value: string }[]).map((e) => [e.key, e.value]));
    expect(meta['cellcam.activation']).toBe(kind === 'image' ? 'sigmoid' : 'softmax');

    const pool = await OrtPool.create(j.output, { contract, executionProviders: ['cpu'] });
    try {
      const logits = pool.info.outputs.find((o) => o.name === 'logits')!;
      expect(logits.shape[1]).toBe(width);
      // What was learned: the class of each synthetic group wins on a typical input of that group.
      if (kind === 'image') {
        const input = (green: number) => {
          const d = new Float32Array(4 * 16 * 16);
          [60, green, 90, 30].forEach((v, c) => d.fill(v / 255, c * 256, (c + 1) * 256));
          return { image: { dtype: 'float32' as const, dims: [1, 4, 16, 16], data: d } };
        };
        const hi = (await pool.run(input(205))) as Record<string, { data: Float32Array; dims: readonly number[] }>;
        const lo = (await pool.run(input(45))) as Record<string, { data: Float32Array; dims: readonly number[] }>;
        expect(hi.cam.dims).toEqual([1, 19, 16, 16]);
        expect(hi.logits.data[0]).toBeGreaterThan(lo.logits.data[0]);
        expect(lo.logits.data[16]).toBeGreaterThan(hi.logits.data[16]);
        expect(hi.logits.data[0]).toBeGreaterThan(0);
        expect(lo.logits.data[16]).toBeGreaterThan(0);
      } else if (kind === 'features') {
        const x = Float32Array.from([1, 0.5, 0.1, -1, 0.2, 0.1]);
        const out = await pool.run({ cell_features: { dtype: 'float32', dims: [2, 3], data: x } });
        const l = out.logits.data as Float32Array;
        const argmax = (r: number) => l.subarray(r * 20, r * 20 + 20).reduce((b, v, i, a) => (v > a[b] ? i : b), 0);
        expect([argmax(0), argmax(1)]).toEqual([2, 19]);
      } else {
        const crop = (red: number) => {
          const d = new Float32Array(4 * 64);
          [red, 50, 50, 50].forEach((v, c) => d.fill(v / 255, c * 64, (c + 1) * 64));
          return d;
        };
        const data = new Float32Array(2 * 4 * 64);
        data.set(crop(200), 0);
        data.set(crop(40), 256);
        const out = await pool.run({ crop: { dtype: 'float32', dims: [2, 4, 8, 8], data } });
        const l = out.logits.data as Float32Array;
        expect(l[3]).toBeGreaterThan(l[19]);
        expect(l[20 + 19]).toBeGreaterThan(l[20 + 3]);
      }
    } finally {
      await pool.close();
    }
  });
});

describe('runExternalTrainer failures', () => {
  // [name, job kind, TINY_TRAINER_FAIL, expected message parts]
  const cases: [string, 'image' | 'features', string, RegExp[]][] = [
    ['exit 1 with a traceback', 'features', 'exit', [/exited with code 1; last stderr lines:\n/, /RuntimeError: tiny-trainer failed on purpose$/, /frame 12\n/]],
    ['exit 0 without a model', 'features', 'no-model', [/exited 0 but wrote no model at \/.*model\.onnx$/]],
    ['garbage bytes', 'features', 'garbage', [/wrote \/.*model\.onnx but it is not a valid model: /]],
    ['cell model with 7 logits', 'features', 'contract', [/not a valid model: output 'logits' has 7 classes but the job has 20 \(single-label: 19 \+ 'unknown'\)/]],
    ['image model without cam', 'image', 'contract', [/not a valid model: does not fit the model contract: /, /missing output 'cam'/, /output 'logits' has size 7 on axis 1/]],
  ];
  it.each(cases)('%s', async (name, kind, mode, parts) => {
    const j = job(kind, `fail-${mode}-${kind}`);
    const err = await failure(runExternalTrainer({ command: TINY, job: j, env: { TINY_TRAINER_FAIL: mode } }));
    expect(err.code).toBe('CELLCAM_E_TRAINER');
    expect(err.message).toContain(TINY);
    for (const p of parts) expect(err.message).toMatch(p);
    if (mode === 'exit') {
      expect(err.message).not.toMatch(/frame 11\n/); // only the last 20 stderr lines
      expect(readFileSync(join(j.workDir, 'trainer.log'), 'utf8')).toContain('[stderr] RuntimeError: tiny-trainer failed on purpose');
    }
    void name;
  });

  it('a command that does not exist', async () => {
    const err = await failure(runExternalTrainer({ command: 'cellcam-no-such-trainer-7q --fast', job: job('features', 'notfound') }));
    expect(err.code).toBe('CELLCAM_E_TRAINER');
    expect(err.message).toMatch(/^the trainer command was not found: `cellcam-no-such-trainer-7q --fast` \(the shell exited with code 127\); last stderr lines:\n.*cellcam-no-such-trainer-7q.*not found/s);
  });

  const killed: [string, string, RegExp][] = [
    ['a child killed by SIGKILL (exit 137)', `sh -c 'echo out of memory >&2; kill -9 $$'`, /exited with code 137 \(128 \+ SIGKILL, e\.g\. the out-of-memory killer\); last stderr lines:\nout of memory/],
    ['the trainer itself killed by a signal', `echo bye; kill -TERM $$`, /was killed by SIGTERM; last stdout lines:\nbye$/],
  ];
  it.skipIf(process.platform === 'win32').each(killed)('%s', async (_n, command, message) => {
    const err = await failure(runExternalTrainer({ command, job: job('features', 'killed') }));
    expect(err.code).toBe('CELLCAM_E_TRAINER');
    expect(err.message).toMatch(message);
  });

  // A "trainer" that copies a prepared model, to reach the checks tiny-trainer never trips.
  const prepared: [string, 'features' | 'crops', () => Uint8Array, RegExp][] = [
    [
      'metadata that contradicts the job',
      'crops',
      () => cropModel(20, { 'cellcam.crop_size': '64', 'cellcam.activation': 'sigmoid' }),
      /not a valid model: metadata cellcam.activation is 'sigmoid' but the job needs 'softmax'; metadata cellcam.crop_size is '64' but the job needs '8'$/,
    ],
    ['an undeclared logits width that is wrong', 'features', () => featureModel(3), /not a valid model: output 'logits' is \[1, 3\] for a zero input \[1, 3\] but \[1, 20\] is required$/],
    ['a model that fails on its first run', 'crops', () => cropModel(20, {}, true), /not a valid model: inference on a zero input \[1, 4, 8, 8\] failed: /],
  ];
  it.skipIf(process.platform === 'win32').each(prepared)('%s', async (name, kind, model, message) => {
    const src = join(dir, `prepared-${name.replace(/\W+/g, '-')}.onnx`);
    writeFileSync(src, model());
    const j = job(kind, `prepared-${name.replace(/\W+/g, '-')}`);
    const err = await failure(runExternalTrainer({ command: `cp '${src}' '${j.output}' # {job}`, job: j }));
    expect(err.code).toBe('CELLCAM_E_TRAINER');
    expect(err.message).toMatch(message);
  });

  it('a model left from an earlier run is neither accepted nor deleted', async () => {
    const j = job('features', 'stale');
    await runExternalTrainer({ command: TINY, job: j });
    const before = statSync(j.output);
    const err = await failure(runExternalTrainer({ command: TINY, job: j, env: { TINY_TRAINER_FAIL: 'no-model' } }));
    expect(err.message).toMatch(/exited 0 but wrote no model at .*model\.onnx \(the file there is unchanged since before the run\)/);
    expect(statSync(j.output).mtimeMs).toBe(before.mtimeMs);
    // The log keeps both runs.
    expect(readFileSync(join(j.workDir, 'trainer.log'), 'utf8').match(/^# cellcam /gm)).toHaveLength(2);
  });

  it('abort stops the trainer and rejects', async () => {
    const ac = new AbortController();
    const j = job('features', 'abort');
    const err = await failure(
      runExternalTrainer({ command: `true && ${TINY}`, job: j, env: { TINY_TRAINER_FAIL: 'hang' }, signal: ac.signal, onProgress: () => ac.abort(new Error('user stop')) }),
    );
    expect(err.code).toBe('CELLCAM_E_TRAINER');
    expect(err.message).toMatch(/was cancelled; last stdout lines:\nPROGRESS 0\/1 waiting forever/);
    expect(existsSync(j.output)).toBe(false);
  });

  it('a throwing callback stops the trainer and is rethrown', async () => {
    const err = await failure(
      runExternalTrainer({ command: `true && ${TINY}`, job: job('features', 'cb'), env: { TINY_TRAINER_FAIL: 'hang' }, onLine: () => { throw new Error('display broke'); } }),
    );
    expect(err.message).toBe('display broke');
  });

  const bad: [string, () => Promise<unknown>, RegExp, string][] = [
    ['empty command', () => runExternalTrainer({ command: ' ', job: job('features', 'b1') }), /a non-empty command line for options.command/, 'CELLCAM_E_DTYPE'],
    ['relative output', () => runExternalTrainer({ command: TINY, job: { ...job('features', 'b2'), output: 'model.onnx' } }), /an absolute path for job.output/, 'CELLCAM_E_DTYPE'],
    ['stage/contract mismatch', () => runExternalTrainer({ command: TINY, job: { ...job('features', 'b3'), stage: 'train-image' } }), /'image-classifier' for stage 'train-image' for job.contract/, 'CELLCAM_E_RANGE'],
    ['19 classes for a single-label cell job', () => runExternalTrainer({ command: TINY, job: { ...job('features', 'b4'), classes: [...HPA_CLASS_NAMES] } }), /20 names .* for job.classes but received Array of length 19/, 'CELLCAM_E_RANGE'],
    ['version 2', () => runExternalTrainer({ command: TINY, job: { ...job('features', 'b5'), version: 2 as never } }), /Expected 1 for job.version/, 'CELLCAM_E_RANGE'],
    ['missing manifest', () => runExternalTrainer({ command: TINY, job: { ...job('features', 'b6'), manifest: join(dir, 'nope.csv') } }), /nope.csv: training manifest not found/, 'CELLCAM_E_IO'],
  ];
  it.each(bad)('%s', async (_n, fn, message, code) => {
    const err = await failure(fn());
    expect(err.message).toMatch(message);
    expect(err.code).toBe(code);
  });
});
