// Tests of the run configuration (defaults, merging, per-key validation, config files) and of the
// run dataset (train.csv parsing, image-set agreement, the seeded validation split, test ids, truth),
// and the run's kernel device.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, readConfigFile, resolveConfig } from '../src/pipeline/config.js';
import { loadRunDataset, readImageLabels, type DatasetOptions } from '../src/pipeline/dataset.js';
import { writeGreyPng } from '../src/io/png.js';
import { CHANNELS } from '../src/io/imageset.js';
import { runPipeline } from '../src/pipeline/run.js';
import { segmentFolder } from '../src/segment/segment.js';
import { synthImage } from '../src/synth/index.js';
import { tinyUnet } from './fixtures/onnx-models.js';
import { capabilities } from '../src/native.js';
import { hasCuda, hasNative, rejection } from './helpers.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'cellcam-pipeline-config-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** The error `f` throws (fails the test when it returns). */
function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

let dirCount = 0;
/** A fresh folder under the test's tmp dir. */
function freshDir(name: string): string {
  const d = join(tmp, `${name}-${dirCount++}`);
  mkdirSync(d, { recursive: true });
  return d;
}

// ---------------------------------------------------------------------------------------------
// config

describe('resolveConfig', () => {
  it('returns the defaults for {} and undefined, as a copy that does not alias DEFAULT_CONFIG', () => {
    for (const partial of [{}, undefined]) {
      const c = resolveConfig(partial);
      expect(c).toEqual(DEFAULT_CONFIG);
      c.image.l2 = 123;
      c.pseudoLabel.relative = 0.01;
    }
    expect(DEFAULT_CONFIG.image.l2).not.toBe(123);
    expect(DEFAULT_CONFIG.pseudoLabel.relative).not.toBe(0.01);
    expect(resolveConfig({}).image.l2).toBe(DEFAULT_CONFIG.image.l2);
  });

  it.each([
    { partial: { cycles: 3 }, check: { cycles: 3 } },
    { partial: { seed: 0 }, check: { seed: 0 } },
    { partial: { seed: 2 ** 32 - 1 }, check: { seed: 2 ** 32 - 1 } },
    { partial: { valFraction: 0 }, check: { valFraction: 0 } },
    { partial: { segment: { scale: 0.25 } }, check: { segment: { scale: 0.25, ties: 'auto' } } },
    { partial: { segment: { ties: 'fifo' } }, check: { segment: { scale: 1, ties: 'fifo' } } },
    { partial: { segment: { nucleiModel: 'n.onnx', cellModel: 'c.onnx' } }, check: { segment: { ...DEFAULT_CONFIG.segment, nucleiModel: 'n.onnx', cellModel: 'c.onnx' } } },
    { partial: { segment: { masks: 'hpa-masks' } }, check: { segment: { ...DEFAULT_CONFIG.segment, masks: 'hpa-masks' } } },
    { partial: { image: { inputSize: 64, model: 'm.onnx' } }, check: { image: { ...DEFAULT_CONFIG.image, inputSize: 64, model: 'm.onnx' } } },
    { partial: { pseudoLabel: { relative: 0.6 } }, check: { pseudoLabel: { ...DEFAULT_CONFIG.pseudoLabel, relative: 0.6 } } },
    { partial: { pseudoLabel: { mode: 'multi', negative: 'unknown' }, cell: { mode: 'multi' } }, check: { pseudoLabel: { ...DEFAULT_CONFIG.pseudoLabel, mode: 'multi', negative: 'unknown' } } },
    { partial: { cell: { input: 'crops', cropSize: 64, folds: 2 } }, check: { cell: { ...DEFAULT_CONFIG.cell, input: 'crops', cropSize: 64, folds: 2 } } },
    { partial: { predict: { combine: 'geometric' } }, check: { predict: { combine: 'geometric' } } },
    { partial: { trainer: 'python train.py', trainerParams: { lr: 1, nested: { a: [1] } } }, check: { trainer: 'python train.py', trainerParams: { lr: 1, nested: { a: [1] } } } },
    { partial: { image: { model: null }, trainer: null }, check: { trainer: null, image: DEFAULT_CONFIG.image } },
  ])('merges $partial over the defaults', ({ partial, check }) => {
    const c = resolveConfig(partial);
    expect(c).toMatchObject(check);
    // Everything not given keeps its default.
    const untouched = Object.keys(DEFAULT_CONFIG).filter((k) => !(k in partial));
    for (const k of untouched) expect(c[k as keyof typeof c]).toEqual(DEFAULT_CONFIG[k as keyof typeof DEFAULT_CONFIG]);
  });

  it.each([
    ['seed', { seed: -1 }, 'an integer 0..2^32-1'],
    ['seed', { seed: 1.5 }, 'an integer 0..2^32-1'],
    ['seed', { seed: 2 ** 32 }, 'an integer 0..2^32-1'],
    ['cycles', { cycles: 0 }, 'an integer 1..10'],
    ['cycles', { cycles: '2' }, 'an integer 1..10'],
    ['valFraction', { valFraction: 0.6 }, 'a number in [0, 0.5]'],
    ['valFraction', { valFraction: null }, 'a number in [0, 0.5]'],
    ['segment.scale', { segment: { scale: 0.3 } }, '1, 0.5 or 0.25'],
    ['segment.ties', { segment: { ties: 'lifo' } }, "'heap', 'fifo' or 'auto'"],
    ['image.inputSize', { image: { inputSize: 66 } }, 'a multiple of 4 in 64..2048'],
    ['image.inputSize', { image: { inputSize: 60 } }, 'a multiple of 4 in 64..2048'],
    ['image.inputSize', { image: { inputSize: 2052 } }, 'a multiple of 4 in 64..2048'],
    ['image.model', { image: { model: '' } }, 'a model path or null'],
    ['image.model', { image: { model: 3 } }, 'a model path or null'],
    ['image.l2', { image: { l2: -1 } }, 'a number in [0, 10]'],
    ['image.epochs', { image: { epochs: 0 } }, 'an integer 1..100000'],
    ['image.lr', { image: { lr: 0 } }, 'a number in [1e-6, 10]'],
    ['image.lr', { image: { lr: Number.NaN } }, 'a number in [1e-6, 10]'],
    ['pseudoLabel.mode', { pseudoLabel: { mode: 'both' } }, "'single' or 'multi'"],
    ['pseudoLabel.relative', { pseudoLabel: { relative: 1.5 } }, 'a number in [0, 1]'],
    ['pseudoLabel.absolute', { pseudoLabel: { absolute: -0.1 } }, 'a number in [0, 1]'],
    ['pseudoLabel.negative', { pseudoLabel: { negative: 'none' } }, "'all' or 'unknown'"],
    ['pseudoLabel.statistic', { pseudoLabel: { statistic: 'median' } }, "'mean' or 'max'"],
    ['pseudoLabel.fuse', { pseudoLabel: { fuse: 2 } }, 'a number in [0, 1]'],
    ['cell.mode', { cell: { mode: 'softmax' } }, "'single' or 'multi'"],
    ['cell.hidden', { cell: { hidden: 0 } }, 'an integer 1..4096'],
    ['cell.epochs', { cell: { epochs: 2.5 } }, 'an integer 1..100000'],
    ['cell.lr', { cell: { lr: 11 } }, 'a number in [1e-6, 10]'],
    ['cell.l2', { cell: { l2: 'x' } }, 'a number in [0, 10]'],
    ['cell.folds', { cell: { folds: 1 } }, 'an integer 2..20'],
    ['cell.input', { cell: { input: 'pixels' } }, "'features' or 'crops'"],
    ['cell.cropSize', { cell: { cropSize: 8 } }, 'an integer 16..1024'],
    ['predict.combine', { predict: { combine: 'max' } }, "'product', 'cell', 'image', 'mean' or 'geometric'"],
    ['trainer', { trainer: '' }, 'a shell command or null'],
    ['trainer', { trainer: ['python'] }, 'a shell command or null'],
  ])('rejects a bad %s (%j) naming the key and what it expected', (key, partial, what) => {
    expect(thrown(() => resolveConfig(partial, 'my.json'))).toMatchObject({ code: 'CELLCAM_E_CONFIG' });
    expect(() => resolveConfig(partial, 'my.json')).toThrow(`my.json: expected ${what} for '${key}' but found`);
  });

  it.each([
    [{ cycels: 2 }, "unknown key 'cycels'"],
    [{ image: { size: 512 } }, "unknown key 'image.size' (known: image.inputSize, image.model"],
    [{ pseudoLabel: { relatve: 0.5 } }, "unknown key 'pseudoLabel.relatve'"],
    [{ segment: { scale: 1, extra: 1 } }, "unknown key 'segment.extra'"],
  ])('rejects unknown key %j', (partial, message) => {
    expect(thrown(() => resolveConfig(partial, 'cfg'))).toMatchObject({ code: 'CELLCAM_E_CONFIG', message: expect.stringContaining(`cfg: ${message}`) });
  });

  // Keys that exist on every object's prototype must be unknown keys too, not crash the validator.
  it.each([
    ['toString', '{"toString": 1}'],
    ['constructor', '{"constructor": {"name": "x"}}'],
    ['image.hasOwnProperty', '{"image": {"hasOwnProperty": 1}}'],
    ['__proto__', '{"__proto__": {"toString": 1}}'],
  ])('rejects the prototype key %s as an unknown key', (key, json) => {
    const partial = JSON.parse(json);
    expect(thrown(() => resolveConfig(partial, 'cfg'))).toMatchObject({ code: 'CELLCAM_E_CONFIG', message: expect.stringContaining(`unknown key '${key}'`) });
    expect(({} as Record<string, unknown>).toString).toBe(Object.prototype.toString);
  });

  it.each([
    [null, 'the config'],
    [[], 'the config'],
    ['cycles=2', 'the config'],
    [{ image: 5 }, 'image'],
    [{ image: null }, 'image'],
    [{ pseudoLabel: [0.5] }, 'pseudoLabel'],
  ])('rejects a non-object %j where an object belongs', (partial, where) => {
    expect(thrown(() => resolveConfig(partial, 'cfg'))).toMatchObject({ code: 'CELLCAM_E_CONFIG', message: expect.stringContaining(`cfg: expected an object for ${where} but found`) });
  });

  it.each([[null], [[1, 2]], ['x'], [3]])('rejects trainerParams %j', (v) => {
    expect(thrown(() => resolveConfig({ trainerParams: v }))).toMatchObject({ code: 'CELLCAM_E_CONFIG', message: expect.stringContaining("expected an object for 'trainerParams'") });
  });

  it('replaces trainerParams whole (no merging into the default)', () => {
    expect(resolveConfig({ trainerParams: { a: 1 } }).trainerParams).toEqual({ a: 1 });
    expect(resolveConfig({ trainerParams: {} }).trainerParams).toEqual({});
  });

  it.each([
    [{ segment: { nucleiModel: 'n.onnx' } }, 'give both segment.nucleiModel and segment.cellModel, or neither (the model-free maps)'],
    [{ segment: { cellModel: 'c.onnx' } }, 'give both segment.nucleiModel and segment.cellModel, or neither (the model-free maps)'],
    [{ segment: { masks: 'm', nucleiModel: 'n.onnx', cellModel: 'c.onnx' } }, 'segment.masks replaces the segmentation, so it takes no segment.nucleiModel or segment.cellModel'],
    [{ segment: { masks: '' } }, "expected a folder or null for 'segment.masks' but found \"\""],
  ])('the ways to segment: %j is refused', (partial, message) => {
    expect(thrown(() => resolveConfig(partial, 'cfg'))).toMatchObject({ code: 'CELLCAM_E_CONFIG', message: `cfg: ${message}` });
  });

  it.each([
    [{ pseudoLabel: { mode: 'multi' } }, true],
    [{ pseudoLabel: { mode: 'multi' }, cell: { mode: 'single' } }, true],
    [{ pseudoLabel: { mode: 'multi' }, cell: { mode: 'multi' } }, false],
    [{ pseudoLabel: { mode: 'single' }, cell: { mode: 'multi' } }, false],
  ])('multi pseudo-labels with a softmax cell model: %j throws=%s', (partial, throws) => {
    const f = () => resolveConfig(partial, 'cfg');
    if (throws) expect(thrown(f)).toMatchObject({ code: 'CELLCAM_E_CONFIG', message: expect.stringContaining("pseudoLabel.mode 'multi' needs cell.mode 'multi'") });
    else expect(f).not.toThrow();
  });
});

describe('readConfigFile', () => {
  it('reads, merges and names the file in errors', () => {
    const dir = freshDir('cfg');
    const good = join(dir, 'cellcam.json');
    writeFileSync(good, JSON.stringify({ cycles: 4, cell: { hidden: 8 } }));
    const c = readConfigFile(good);
    expect(c.cycles).toBe(4);
    expect(c.cell.hidden).toBe(8);
    expect(c.cell.epochs).toBe(DEFAULT_CONFIG.cell.epochs);

    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ cycles: 40 }));
    expect(thrown(() => readConfigFile(bad))).toMatchObject({ code: 'CELLCAM_E_CONFIG', message: expect.stringContaining(`${bad}: expected an integer 1..10 for 'cycles' but found 40`) });
  });

  it.each([
    ['missing', null, 'CELLCAM_E_IO', 'config file not found'],
    ['not JSON', '{ cycles: 2 }', 'CELLCAM_E_CONFIG', 'not valid JSON'],
    ['empty', '', 'CELLCAM_E_CONFIG', 'not valid JSON'],
    ['an array', '[1]', 'CELLCAM_E_CONFIG', 'expected an object for the config'],
  ])('rejects a file that is %s', (_what, text, code, message) => {
    const path = join(freshDir('cfgbad'), 'cellcam.json');
    if (text !== null) writeFileSync(path, text);
    expect(thrown(() => readConfigFile(path))).toMatchObject({ code, message: expect.stringContaining(`${path}: ${message}`) });
  });
});

// ---------------------------------------------------------------------------------------------
// dataset

/** Writes the four 4×4 8-bit channel PNGs of one image set (or only `channels`). */
async function writeSet(dir: string, id: string, channels: readonly string[] = CHANNELS): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await Promise.all(channels.map((c, k) => writeGreyPng(join(dir, `${id}_${c}.png`), Uint8Array.from({ length: 16 }, (_, i) => (i * 13 + k * 7) % 256), 4, 4)));
}

interface TreeSpec {
  /** complete labelled training images with their label cell ("0|16") */
  train: Record<string, string>;
  /** extra complete training sets that train.csv does not list */
  unlabelled?: string[];
  /** training sets missing their yellow channel (not in train.csv unless listed in `train`) */
  incomplete?: string[];
  test: string[];
  /** written verbatim as train.csv when given (else built from `train`) */
  csv?: string;
  sample?: string[];
  truth?: boolean;
}

/** Builds ROOT/{train,test}/ image sets, ROOT/train.csv and optionally sample_submission.csv and truth.csv. */
async function makeTree(spec: TreeSpec): Promise<{ root: string; opts: DatasetOptions }> {
  const root = freshDir('tree');
  const trainDir = join(root, 'train'), testDir = join(root, 'test');
  mkdirSync(trainDir);
  mkdirSync(testDir);
  const complete = Object.keys(spec.train).filter((id) => !(spec.incomplete ?? []).includes(id));
  await Promise.all([
    ...[...complete, ...(spec.unlabelled ?? [])].map((id) => writeSet(trainDir, id)),
    ...(spec.incomplete ?? []).map((id) => writeSet(trainDir, id, ['red', 'green', 'blue'])),
    ...spec.test.map((id) => writeSet(testDir, id)),
  ]);
  writeFileSync(join(root, 'train.csv'), spec.csv ?? `ID,Label\n${Object.entries(spec.train).map(([id, l]) => `${id},${l}`).join('\n')}\n`);
  if (spec.sample) writeFileSync(join(root, 'sample_submission.csv'), `ID,ImageWidth,ImageHeight,PredictionString\n${spec.sample.map((id) => `${id},4,4,0 1 eNoLCAgIMAEABJkBdQ==`).join('\n')}\n`);
  if (spec.truth) writeFileSync(join(root, 'truth.csv'), 'ID,ImageWidth,ImageHeight,Cells\n');
  return { root, opts: { trainDir, testDir } };
}

const ids = (n: number, prefix = 't') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(2, '0')}`);
const labelled = (list: string[]) => Object.fromEntries(list.map((id, i) => [id, String(i % 19)]));

describe('readImageLabels', () => {
  const write = (text: string) => {
    const p = join(freshDir('labels'), 'train.csv');
    writeFileSync(p, text);
    return p;
  };

  it.each([
    ['one label each', 'ID,Label\na,0\nb,18\n', { a: [0], b: [18] }],
    ['multi-labels, sorted and de-duplicated', 'ID,Label\na,16|0\nb,3|3|1\n', { a: [0, 16], b: [1, 3] }],
    ['CRLF, blank lines and spaces', 'ID, Label\r\na, 5 | 2\r\n\r\nb,7\r\n', { a: [2, 5], b: [7] }],
    ['a BOM before the header', '\uFEFFID,Label\na,1\n', { a: [1] }],
    ['no rows', 'ID,Label\n', {}],
  ])('reads %s', async (_what, text, expected) => {
    const m = await readImageLabels(write(text));
    expect(Object.fromEntries(m)).toEqual(expected);
  });

  it.each([
    ['a wrong header', 'Id,Label\na,1\n', ":1: expected the header 'ID,Label' but found 'Id,Label'"],
    ['swapped header columns', 'Label,ID\n1,a\n', ':1: expected the header'],
    ['an empty file', '', ':1: expected the header'],
    ['class 19', 'ID,Label\na,1\nb,19\n', ":3: image b: expected class ids 0..18 separated by '|' but found '19'"],
    ['a negative class', 'ID,Label\na,-1\n', ':2: image a: expected class ids 0..18'],
    ['a non-integer class', 'ID,Label\na,1.5\n', ':2: image a: expected class ids 0..18'],
    ['a word', 'ID,Label\na,Nucleoplasm\n', ':2: image a: expected class ids 0..18'],
    ['an empty label', 'ID,Label\na,\n', ':2: image a: expected class ids 0..18'],
    ['an empty part', 'ID,Label\na,1||2\n', ':2: image a: expected class ids 0..18'],
    ['a missing label column', 'ID,Label\na\n', ":2: expected 'ID,Label' but found 'a'"],
    ['an extra column', 'ID,Label\na,1,2\n', ":2: expected 'ID,Label' but found 'a,1,2'"],
    ['an empty id', 'ID,Label\n,1\n', ":2: expected 'ID,Label'"],
    ['a duplicate id', 'ID,Label\na,1\nb,2\na,1\n', ':4: image a is listed twice'],
  ])('rejects %s with the file and line', async (_what, text, message) => {
    const p = write(text);
    await expect(readImageLabels(p)).rejects.toMatchObject({ code: 'CELLCAM_E_FORMAT', message: expect.stringContaining(`${p}${message}`) });
  });

  it('reports a missing file as CELLCAM_E_IO', async () => {
    const p = join(tmp, 'absent.csv');
    await expect(readImageLabels(p)).rejects.toMatchObject({ code: 'CELLCAM_E_IO', message: expect.stringContaining(`${p}: label file not found`) });
  });
});

describe('loadRunDataset', () => {
  it('splits the labelled complete sets, lists unlabelled ones and reads the test folder', async () => {
    const train = ids(10);
    const { root, opts } = await makeTree({ train: labelled(train), unlabelled: ['u0'], test: ['x1', 'x0'] });
    await writeSet(opts.trainDir, 'inc', ['red', 'green']); // incomplete, unlisted: ignored
    const ds = await loadRunDataset(opts);
    expect(ds.labelsPath).toBe(join(root, 'train.csv'));
    expect(ds.truthPath).toBeNull();
    expect(ds.val).toHaveLength(1); // round(10 × 0.1)
    expect([...ds.train, ...ds.val].sort()).toEqual(train);
    expect(ds.train).toEqual([...ds.train].sort());
    expect(ds.val).toEqual([...ds.val].sort());
    expect(ds.test).toEqual(['x0', 'x1']);
    expect(ds.unlabelled).toEqual(['u0']);
    expect(ds.labels.get('t03')).toEqual([3]);
    expect(ds.labels.size).toBe(10);
  });

  it('is deterministic for a seed, and the seed changes the split', async () => {
    const { opts } = await makeTree({ train: labelled(ids(20)), test: ['x'] });
    const valOf = async (seed: number) => (await loadRunDataset({ ...opts, seed, valFraction: 0.25 })).val;
    const a = await valOf(7);
    expect(a).toHaveLength(5);
    expect(await valOf(7)).toEqual(a);
    const others = await Promise.all([1, 2, 3, 4].map(valOf));
    expect(others.some((v) => v.join() !== a.join())).toBe(true);
  });

  it.each([
    { n: 10, valFraction: 0.1, nVal: 1 },
    { n: 10, valFraction: 0.3, nVal: 3 },
    { n: 10, valFraction: 0.5, nVal: 5 },
    { n: 10, valFraction: 0.01, nVal: 1 }, // at least one when asked for any
    { n: 10, valFraction: 0, nVal: 0 },
    { n: 12, valFraction: 0.25, nVal: 3 },
    { n: 5, valFraction: 0.1, nVal: 1 },
    { n: 4, valFraction: 0.5, nVal: 0 }, // too few images to hold any out
    { n: 6, valFraction: 0.95, nVal: 5 }, // never the whole training set
  ])('holds out $nVal of $n images for valFraction $valFraction', async ({ n, valFraction, nVal }) => {
    const { opts } = await makeTree({ train: labelled(ids(n)), test: ['x'] });
    const ds = await loadRunDataset({ ...opts, valFraction });
    expect(ds.val).toHaveLength(nVal);
    expect(ds.train).toHaveLength(n - nVal);
  });

  it.each([[1], [-0.1], [Number.NaN]])('rejects valFraction %s', async (valFraction) => {
    const { opts } = await makeTree({ train: labelled(ids(5)), test: ['x'] });
    await expect(loadRunDataset({ ...opts, valFraction })).rejects.toThrow(RangeError);
  });

  it('rejects train.csv ids without a complete image set, naming them', async () => {
    const { root, opts } = await makeTree({ train: { a: '1', b: '2', c: '3' }, incomplete: ['b'], test: ['x'], csv: 'ID,Label\na,1\nb,2\nc,3\nghost,4\n' });
    await expect(loadRunDataset(opts)).rejects.toMatchObject({
      code: 'CELLCAM_E_FORMAT',
      message: `${join(root, 'train.csv')}: 2 image id(s) have no complete image set in ${opts.trainDir}: b, ghost`,
    });
  });

  it('rejects an empty training set', async () => {
    const { opts } = await makeTree({ train: {}, unlabelled: ['u0'], test: ['x'] });
    await expect(loadRunDataset(opts)).rejects.toMatchObject({ code: 'CELLCAM_E_ARG', message: expect.stringContaining('no labelled training images') });
  });

  it('takes --labels from anywhere', async () => {
    const { opts } = await makeTree({ train: labelled(ids(3)), test: ['x'], csv: 'not a label file' });
    const other = join(freshDir('labels-elsewhere'), 'mine.csv');
    writeFileSync(other, 'ID,Label\nt00,4\nt01,5\n');
    const ds = await loadRunDataset({ ...opts, labels: other });
    expect(ds.labelsPath).toBe(other);
    expect(ds.train).toEqual(['t00', 't01']);
    expect(ds.unlabelled).toEqual(['t02']);
    await expect(loadRunDataset(opts)).rejects.toMatchObject({ code: 'CELLCAM_E_FORMAT' });
  });

  it('lets sample_submission.csv select the test ids, in its order', async () => {
    const { opts } = await makeTree({ train: labelled(ids(3)), test: ['x0', 'x1', 'x2', 'x3'], sample: ['x3', 'x1', 'x3'] });
    expect((await loadRunDataset(opts)).test).toEqual(['x3', 'x1']);
  });

  it('rejects sample_submission.csv ids without a complete test set', async () => {
    const { root, opts } = await makeTree({ train: labelled(ids(3)), test: ['x0'], sample: ['x0', 'gone'] });
    await writeSet(opts.testDir, 'half', ['red']);
    writeFileSync(join(root, 'sample_submission.csv'), 'ID,ImageWidth,ImageHeight,PredictionString\nx0,4,4,\ngone,4,4,\nhalf,4,4,\n');
    await expect(loadRunDataset(opts)).rejects.toMatchObject({
      code: 'CELLCAM_E_FORMAT',
      message: `${join(root, 'sample_submission.csv')}: 2 id(s) have no complete image set in ${opts.testDir}: gone, half`,
    });
  });

  it.each([
    // sample rows (id,ImageWidth,ImageHeight) over 4×4 test images, and what loading says
    ['sizes that match', 'x0,4,4,\nx1,4,4,\n', null],
    ['no size columns (ID only)', null, null],
    ['a resized image', 'x0,4,4,\nx1,8,8,\n', /sample_submission\.csv: 1 test image\(s\) are not the size the sample gives, and Kaggle scores masks at the sample's size; use the original images\. line 3: x1 is 8x8 there but .*x1_red\.png is 4x4$/],
    ['every image resized, first lines first', 'x0,2048,2048,\nx1,3072,3072,\n', /2 test image\(s\) .* line 2: x0 is 2048x2048 there .*; line 3: x1 is 3072x3072 there/],
    ['a size that is not a number', 'x0,4,4,\nx1,wide,4,\n', /sample_submission\.csv line 3: expected a positive integer ImageWidth but found 'wide'/],
  ])('checks the test images against the sizes in sample_submission.csv: %s', async (_name, rows, error) => {
    const { root, opts } = await makeTree({ train: labelled(ids(3)), test: ['x0', 'x1'] });
    writeFileSync(join(root, 'sample_submission.csv'), rows === null ? 'ID\nx1\nx0\n' : `ID,ImageWidth,ImageHeight,PredictionString\n${rows}`);
    if (error === null) expect((await loadRunDataset(opts)).test).toEqual(rows === null ? ['x1', 'x0'] : ['x0', 'x1']);
    else await expect(loadRunDataset(opts)).rejects.toMatchObject({ code: 'CELLCAM_E_FORMAT', message: expect.stringMatching(error) });
  });

  it('rejects a test folder without complete sets', async () => {
    const { opts } = await makeTree({ train: labelled(ids(3)), test: [] });
    await writeSet(opts.testDir, 'half', ['red', 'green']);
    await expect(loadRunDataset(opts)).rejects.toMatchObject({ code: 'CELLCAM_E_IO', message: expect.stringContaining('no complete test image sets') });
  });

  it.each(['trainDir', 'testDir'] as const)('rejects a missing %s', async (key) => {
    const { opts } = await makeTree({ train: labelled(ids(3)), test: ['x'] });
    const gone = join(tmp, 'no-such-folder');
    await expect(loadRunDataset({ ...opts, [key]: gone })).rejects.toMatchObject({ code: 'CELLCAM_E_IO', message: expect.stringContaining(`${gone}: --${key === 'trainDir' ? 'train' : 'test'} folder not found`) });
  });

  it('finds truth.csv beside the test folder, or takes --truth', async () => {
    const { root, opts } = await makeTree({ train: labelled(ids(3)), test: ['x'], truth: true });
    expect((await loadRunDataset(opts)).truthPath).toBe(join(root, 'truth.csv'));
    const other = join(freshDir('truth'), 't.csv');
    writeFileSync(other, 'ID,ImageWidth,ImageHeight,Cells\n');
    expect((await loadRunDataset({ ...opts, truth: other })).truthPath).toBe(other);
  });

  it('rejects a --truth file that does not exist (even when truth.csv does)', async () => {
    const { opts } = await makeTree({ train: labelled(ids(3)), test: ['x'], truth: true });
    const gone = join(tmp, 'gone-truth.csv');
    await expect(loadRunDataset({ ...opts, truth: gone })).rejects.toMatchObject({ code: 'CELLCAM_E_IO', message: `${gone}: --truth file not found` });
  });
});

describe("runPipeline's device (where pooling and cell RLE run)", () => {
  const io = () => ({ train: join(tmp, 'no-train'), test: join(tmp, 'no-test'), out: join(tmp, `device-out-${dirCount++}`) });
  it.skipIf(hasCuda)("'cuda' without a usable GPU rejects with CELLCAM_E_CUDA and the reason before any work", async () => {
    const o = io();
    const err = await rejection(runPipeline({ ...o, device: 'cuda' }));
    expect(err.code).toBe('CELLCAM_E_CUDA');
    expect(err.message).toMatch(/^device is 'cuda' but /);
    expect(err.message).toContain(hasNative ? capabilities().reason : 'native addon');
    expect(existsSync(o.out)).toBe(false); // checked before the dataset and the run folder
  });
  it('an unknown device is a RangeError naming the argument', async () => {
    const err = await rejection(runPipeline({ ...io(), device: 'gpu' as never }));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.code).toBe('CELLCAM_E_ARG');
    expect(err.message).toBe("Expected 'auto', 'cpu' or 'cuda' for device but received string 'gpu'");
  });
});

describe('runPipeline segments with the U-Nets of segment.nucleiModel / cellModel', () => {
  it("gives segmentFolder's labels with those models (hpacellseg's heap ties), and says which models in the config", async () => {
    const root = freshDir('unet-run');
    const trainDir = join(root, 'train'), testDir = join(root, 'test');
    const sets: [string, string][] = [['a', trainDir], ['b', trainDir], ['c', trainDir], ['t', testDir]];
    for (const [k, [id, d]] of sets.entries()) {
      const img = synthImage(id, 512, 40 + k, [k % 19]);
      for (const c of CHANNELS) await writeGreyPng(join(d, `${id}_${c}.png`), img[c], 512, 512);
    }
    writeFileSync(join(root, 'train.csv'), 'ID,Label\na,0\nb,1\nc,2\n');
    const nm = join(root, 'nuclei.onnx'), cm = join(root, 'cell.onnx');
    writeFileSync(nm, tinyUnet());
    writeFileSync(cm, tinyUnet());
    const out = join(root, 'out');
    const rec = await runPipeline({ train: trainDir, test: testDir, out, config: { segment: { nucleiModel: nm, cellModel: cm } }, until: 'segment', device: 'cpu' });
    expect(rec.config.segment).toMatchObject({ nucleiModel: nm, cellModel: cm, masks: null });
    const ref = join(root, 'ref');
    const s = await segmentFolder({ imageDir: trainDir, outDir: ref, nucleiModel: nm, cellModel: cm, ties: 'heap', device: 'cpu' });
    expect(s.failed).toEqual([]);
    for (const id of ['a', 'b', 'c']) {
      for (const k of ['cells', 'nuclei']) {
        expect(readFileSync(join(out, 'segment', 'train', `${id}_${k}.png`)).equals(readFileSync(join(ref, `${id}_${k}.png`))), `${id} ${k}`).toBe(true);
      }
    }
    // the model-free maps give other labels on the same images: the models were used
    const free = await segmentFolder({ imageDir: trainDir, outDir: join(root, 'free'), ids: ['a'], ties: 'heap' });
    expect(free.failed).toEqual([]);
    expect(readFileSync(join(root, 'free', 'a_cells.png')).equals(readFileSync(join(ref, 'a_cells.png')))).toBe(false);
  }, 120_000);
});
