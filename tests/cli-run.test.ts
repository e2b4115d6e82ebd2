// `cellcam run` and the stage commands end to end on a small synthetic set: outputs, run.json,
// reuse on rerun, resume after a kill, stopping after a stage, an external trainer, and bad input
// that fails with a clear error while the earlier stages' outputs are kept.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { capabilities, writeGreyPng } from '@cellcam/core';

const root = resolve(__dirname, '..');
const cli = join(root, 'packages', 'cli', 'dist', 'main.js');
const tiny = join(root, 'examples', 'trainer', 'tiny-trainer.mjs');
// ../shared beside the checkout: absent in a user's clone, where the test that reads it skips.
const hpaSamples = join(root, '..', 'shared', 'data', 'hpa-samples');
const dir = mkdtempSync(join(tmpdir(), 'cellcam-cli-run-'));
const data = join(dir, 'syn');
const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
const io = (out: string) => ['--train', join(data, 'train'), '--test', join(data, 'test'), '--out', out, '--quiet'];
const readRun = (out: string) => JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
const caps = capabilities();
const stage = (r: { stages: { stage: string; counts: Record<string, number> }[] }, name: string) => r.stages.find((s) => s.stage === name)!;

describe.skipIf(!existsSync(cli))('cellcam run', () => {
  beforeAll(() => {
    const r = run(['synth', '--out', data, '--images', '20', '--size', '512', '--seed', '5', '--balanced', '--test-fraction', '0.25', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every stage, writes a valid submission and run.json, and scores each cycle', () => {
    const out = join(dir, 'full');
    const r = run(['run', ...io(out)]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    for (const f of ['segment/train', 'segment/test', 'features', 'train-image/model.onnx', 'cam', 'pseudo-label/cycle-1/labels.json',
      'train-cell/cycle-2/model.onnx', 'predict/cycle-2/submission.csv', 'submission.csv', 'evaluate/test-broadcast.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const rec = readRun(out);
    expect(rec.status).toBe('finished');
    expect(rec.split).toEqual({ train: 13, val: 2, test: 5 }); // round(15 × 0.1) validation images
    expect(rec.stages.map((s: { stage: string }) => s.stage)).toEqual([
      'segment (train)', 'segment (test)', 'features', 'train-image', 'cam', 'pseudo-label 1', 'train-cell 1', 'predict 1',
      'pseudo-label 2', 'train-cell 2', 'predict 2', 'evaluate',
    ]);
    expect(rec.versions.cellcam).toMatch(/^\d+\.\d+\.\d+/);
    expect(rec.pseudoLabels).toHaveLength(2);
    expect(rec.pseudoLabels[0].quality.precision).toBeGreaterThan(0.5);
    const test = rec.evaluation.find((e: { split: string }) => e.split === 'test');
    const names = test.rows.map((x: { name: string }) => x.name);
    expect(names).toEqual(['broadcast', 'image-only', 'cycle 1', 'cycle 2', 'oracle']);
    for (const row of test.rows) expect(row.mAP).toBeGreaterThan(0.3);
    expect(r.stdout).toMatch(/\| cycle 2 \| 0\.\d{4} \|/);
    expect(r.stdout).toMatch(/pseudo-labels cycle 1: \d+ of \d+ cells labelled/);
    const v = run(['submit', 'validate', join(out, 'submission.csv'), '--images', join(data, 'test')]);
    expect(v.status, v.stdout + v.stderr).toBe(0);
  }, 300_000);

  it('shows train-cell progress in epochs of all fits (off a terminal: at most about 20 lines), with the same model', () => {
    const out = join(dir, 'full');
    const model = readFileSync(join(out, 'train-cell/cycle-1/model.onnx'));
    rmSync(join(out, 'train-cell/cycle-1/report.json'));
    const r = run(['train-cell', '--cycle', '1', ...io(out).filter((a) => a !== '--quiet')]);
    expect(r.status, r.stderr).toBe(0);
    // 13 training images: 3 folds + the final model, 60 epochs each.
    const ticks = r.stderr.split('\n').filter((l) => l.startsWith('train-cell 1')).map((l) => l.match(/: (\d+)\/(\d+) /)!.slice(1).map(Number));
    expect(ticks.length).toBeGreaterThan(5);
    expect(ticks.length).toBeLessThanOrEqual(22);
    expect(ticks.every(([, total]) => total === 240)).toBe(true);
    expect(ticks.map(([done]) => done)).toEqual([...ticks.map(([done]) => done)].sort((a, b) => a - b));
    expect(ticks.at(-1)).toEqual([240, 240]);
    expect(readFileSync(join(out, 'train-cell/cycle-1/model.onnx')).equals(model)).toBe(true);
  }, 300_000);

  it('reuses every finished output on a rerun, and says once where pooling and RLE run', () => {
    const out = join(dir, 'full');
    const r = run(['run', ...io(out).filter((a) => a !== '--quiet')]);
    expect(r.status, r.stderr).toBe(0);
    const where = caps.cudaDevices > 0 ? `CUDA (${caps.deviceNames[0]})` : `CPU (CUDA not used: ${caps.reason})`;
    expect(r.stderr.split('\n').filter((l) => l.startsWith('pooling and cell RLE:'))).toEqual([`pooling and cell RLE: ${where}`]);
    const rec = readRun(out);
    expect(rec.kernels.device).toBe(caps.cudaDevices > 0 ? 'cuda' : 'cpu');
    expect(stage(rec, 'segment (train)').counts).toMatchObject({ segmented: 0, reused: 15 });
    expect(stage(rec, 'features').counts).toMatchObject({ computed: 0, reused: 20 });
    expect(stage(rec, 'cam').counts).toMatchObject({ computed: 0, reused: 20 });
  }, 300_000);

  it('remeasures the pseudo-labels against a changed --truth without relabelling, and names a truth of another size', () => {
    const out = join(dir, 'full');
    const labelsFile = join(out, 'pseudo-label/cycle-1/labels.json');
    const before = JSON.parse(readFileSync(labelsFile, 'utf8'));
    const lines = readFileSync(join(data, 'truth.csv'), 'utf8').trimEnd().split('\n');
    // every true cell of class 18 only: the pseudo-labels (image labels) are now mostly wrong
    const relabelled = join(dir, 'truth-18.csv');
    writeFileSync(relabelled, [lines[0], ...lines.slice(1).map((l) => {
      const [id, w, h, pred] = l.split(',');
      return [id, w, h, pred.split(' ').map((v, i) => (i % 3 === 0 ? '18' : v)).join(' ')].join(',');
    })].join('\n') + '\n');
    const r = run(['pseudo-label', ...io(out), '--cycles', '1', '--truth', relabelled]);
    expect(r.status, r.stderr).toBe(0);
    const after = JSON.parse(readFileSync(labelsFile, 'utf8'));
    expect(after.labels).toEqual(before.labels);
    expect(after.stats.quality.precision).toBeLessThan(before.stats.quality.precision);
    expect(readRun(out).pseudoLabels[0].quality.precision).toBe(after.stats.quality.precision);
    // back to the dataset's truth: the first measurement again
    expect(run(['pseudo-label', ...io(out), '--cycles', '1']).status).toBe(0);
    expect(JSON.parse(readFileSync(labelsFile, 'utf8')).stats.quality).toEqual(before.stats.quality);
    // a truth whose images are 1024² while the images are 512²: the file, the image and both sizes
    const trainId = Object.keys(before.labels)[0];
    const resized = join(dir, 'truth-1024.csv');
    writeFileSync(resized, [lines[0], ...lines.slice(1).map((l) => {
      const [id, , , pred] = l.split(',');
      return id === trainId ? `${id},1024,1024,` : `${id},512,512,${pred}`;
    })].join('\n') + '\n');
    const bad = run(['pseudo-label', ...io(out), '--cycles', '1', '--truth', resized]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain(`${resized}: image ${trainId}: the cell masks are 512x512 but the truth is 1024x1024`);
  }, 300_000);

  it.skipIf(caps.cudaDevices > 0)('--device cuda without a usable GPU fails at once with the reason, before creating --out', () => {
    const out = join(dir, 'cuda');
    const r = run(['run', ...io(out), '--device', 'cuda']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('CELLCAM_E_CUDA');
    expect(r.stderr).toContain(caps.reason);
    expect(existsSync(out)).toBe(false);
    const bad = run(['run', ...io(out), '--device', 'gpu']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--device.*auto.*cpu.*cuda/);
  });

  it('stops after a stage (cellcam pseudo-label) and continues from there', () => {
    const out = join(dir, 'staged');
    const r = run(['pseudo-label', ...io(out), '--cycles', '1']);
    expect(r.status, r.stderr).toBe(0);
    expect(readRun(out).stoppedAfter).toBe('pseudo-label 1');
    expect(existsSync(join(out, 'pseudo-label/cycle-1/labels.json'))).toBe(true);
    expect(existsSync(join(out, 'train-cell'))).toBe(false);
    const p = run(['predict', ...io(out), '--cycles', '1']);
    expect(p.status, p.stderr).toBe(0);
    const rec = readRun(out);
    expect(stage(rec, 'features').counts.computed).toBe(0);
    expect(existsSync(join(out, 'submission.csv'))).toBe(true);
  }, 300_000);

  it('resumes after a kill, and refuses to silently reuse an unfinished run', async () => {
    const out = join(dir, 'killed');
    const child = spawn(process.execPath, [cli, 'run', ...io(out), '--cycles', '1'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const featuresDir = join(out, 'features');
    let killed = false;
    let busy: ReturnType<typeof run> | null = null;
    const poll = setInterval(() => {
      if (!killed && existsSync(featuresDir) && readdirSync(featuresDir).filter((f) => f.endsWith('.json') && !f.startsWith('.cellcam-tmp')).length >= 3) {
        // While it runs, a second run on the same folder stops at once, naming it.
        busy = run(['run', ...io(out), '--cycles', '1', '--resume']);
        killed = true;
        child.kill('SIGKILL');
      }
    }, 20);
    await exited;
    clearInterval(poll);
    expect(killed, 'the run finished before it could be killed').toBe(true);
    expect(busy!.status).toBe(1);
    expect(busy!.stderr).toMatch(new RegExp(`^cellcam: ${out}: cellcam run \\(pid ${child.pid}, since .*\\) is writing here; wait for it to finish or stop it \\[CELLCAM_E_BUSY\\]$`, 'm'));
    expect(readRun(out).status).toBe('running');
    const refused = run(['run', ...io(out), '--cycles', '1']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/unfinished run .*--resume/);
    const r = run(['run', ...io(out), '--cycles', '1', '--resume']);
    expect(r.status, r.stderr).toBe(0);
    const rec = readRun(out);
    expect(rec.status).toBe('finished');
    const features = stage(rec, 'features').counts;
    expect(features.reused).toBeGreaterThanOrEqual(3);
    expect(features.reused + features.computed).toBe(20);
    // Half-written temp files of the killed process are gone.
    const leftovers = (readdirSync(out, { recursive: true }) as string[]).filter((f) => /(^|\/)\.cellcam-(tmp-|lock)/.test(f));
    expect(leftovers).toEqual([]);
    expect(stage(rec, 'segment (train)').counts.reused).toBe(15);
  }, 300_000);

  it('takes the cells of --masks instead of segmenting: the same masks give the same submission', () => {
    const full = join(dir, 'full'), masks = join(dir, 'masks');
    mkdirSync(masks);
    for (const split of ['train', 'test']) {
      // the training masks under the HPA segmentator's names, the test masks under cellcam's
      const rename = (f: string) => (split === 'train' ? f.replace('_cells.png', '_cellmask.png').replace('_nuclei.png', '_nucleimask.png') : f);
      for (const f of readdirSync(join(full, 'segment', split)).filter((f) => /_(cells|nuclei)\.png$/.test(f))) copyFileSync(join(full, 'segment', split, f), join(masks, rename(f)));
    }
    const out = join(dir, 'masked');
    const r = run(['run', ...io(out), '--masks', masks]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const rec = readRun(out);
    expect(rec.config.segment.masks).toBe(masks);
    expect(stage(rec, 'segment (train)').counts).toMatchObject({ images: 15, segmented: 15, reused: 0 });
    expect(readFileSync(join(out, 'submission.csv')).equals(readFileSync(join(full, 'submission.csv')))).toBe(true);
    // Rerun: every mask reused. A nucleus file gone: that image again, with an empty nucleus, said once.
    const testId = readdirSync(join(full, 'segment', 'test')).find((f) => f.endsWith('_nuclei.png'))!.replace('_nuclei.png', '');
    rmSync(join(masks, `${testId}_nuclei.png`));
    const again = run(['run', ...io(out).filter((a) => a !== '--quiet'), '--masks', masks]);
    expect(again.status, again.stderr).toBe(0);
    expect(stage(readRun(out), 'segment (train)').counts).toMatchObject({ segmented: 0, reused: 15, changed: 0 });
    expect(stage(readRun(out), 'segment (test)').counts).toMatchObject({ segmented: 1, reused: 4, changed: 1 });
    expect(again.stderr.split('\n').filter((l) => l.includes('no nucleus mask'))).toEqual([
      `segment.masks: 1 of 5 test image(s) have no nucleus mask ({ID}_nuclei or {ID}_nucleimask) in ${masks}: their nucleus is empty and the cytoplasm is the whole cell`,
    ]);
  }, 300_000);

  // The real HPA field of ../shared (its green stain standing in for all four) as the test image,
  // with the HPA segmentator's masks: the submission's masks are the reference Kaggle encodings.
  it.skipIf(!existsSync(hpaSamples))('runs on a real 16-bit HPA field with its segmentator masks: the submission has their exact encodings', () => {
    const test = join(dir, 'hpa-test'), masks = join(dir, 'hpa-masks');
    mkdirSync(test);
    mkdirSync(masks);
    for (const c of ['red', 'green', 'blue', 'yellow']) copyFileSync(join(hpaSamples, '1000_A12_2_green.png'), join(test, `1000_A12_2_${c}.png`));
    for (const k of ['cellmask', 'nucleimask']) copyFileSync(join(hpaSamples, `1000_A12_2_${k}.png`), join(masks, `1000_A12_2_${k}.png`));
    const seg = join(dir, 'full', 'segment', 'train');
    for (const f of readdirSync(seg).filter((f) => /_(cells|nuclei)\.png$/.test(f))) copyFileSync(join(seg, f), join(masks, f));
    const out = join(dir, 'hpa-run');
    const r = run(['run', '--train', join(data, 'train'), '--test', test, '--out', out, '--masks', masks, '--cycles', '1', '--quiet']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const row = readFileSync(join(out, 'submission.csv'), 'utf8').split('\n').find((l) => l.startsWith('1000_A12_2,'))!.split(',');
    expect(row.slice(1, 3)).toEqual(['2048', '2048']);
    const triples = row[3].split(' ');
    const got = new Set(triples.filter((_, i) => i % 3 === 2));
    const vectors = JSON.parse(readFileSync(join(hpaSamples, 'rle_test_vectors.json'), 'utf8')).cells as { encoded_mask: string }[];
    expect(got).toEqual(new Set(vectors.map((c) => c.encoded_mask)));
    expect(triples.length).toBe(3 * 19 * 21); // every cell, every class
  }, 300_000);

  it.each([
    // argv beyond --train/--test/--out, and the error
    [['--nuclei-model', 'n.onnx'], 'cellcam: give both --nuclei-model and --cell-model, or neither (the model-free maps) [CELLCAM_E_ARG]'],
    [['--masks', 'm', '--nuclei-model', 'n.onnx', '--cell-model', 'c.onnx'], 'cellcam: --masks replaces the segmentation: give it without --nuclei-model and --cell-model [CELLCAM_E_ARG]'],
    [['--masks', 'no-such-dir'], 'cellcam: no-such-dir: segment.masks folder not found [CELLCAM_E_IO]'],
    [['--nuclei-model', 'n.onnx', '--cell-model', 'c.onnx'], 'cellcam: n.onnx: segment.nucleiModel not found [CELLCAM_E_IO]'],
  ])('segmentation flags %j: %s', (argv, error) => {
    const r = spawnSync(process.execPath, [cli, 'run', ...io(join(dir, `flags-${argv.length}-${argv[0]}`)), ...argv], { encoding: 'utf8', cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr.trimEnd().split('\n').at(-1)).toBe(error);
  });

  it('a --masks folder that lacks an image, or holds one of another size, is named', async () => {
    const masks = join(dir, 'masks-bad');
    mkdirSync(masks);
    const testDir = join(dir, 'full', 'segment', 'test');
    const cells = readdirSync(testDir).filter((f) => f.endsWith('_cells.png')).sort();
    for (const f of cells.slice(1)) copyFileSync(join(testDir, f), join(masks, f));
    for (const f of readdirSync(join(dir, 'full', 'segment', 'train')).filter((f) => f.endsWith('_cells.png'))) copyFileSync(join(dir, 'full', 'segment', 'train', f), join(masks, f));
    const lacking = run(['run', ...io(join(dir, 'masks-lacking')), '--masks', masks]);
    expect(lacking.status).toBe(1);
    expect(lacking.stderr).toContain(`${masks}: segment.masks has no cell mask ({ID}_cells or {ID}_cellmask, .png or .tif) for 1 test image(s): ${cells[0].replace('_cells.png', '')}`);
    await writeGreyPng(join(masks, cells[0]), new Uint16Array(256 * 256), 256, 256);
    const wrong = run(['run', ...io(join(dir, 'masks-wrong')), '--masks', masks]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain(`${join(masks, cells[0])}: 256x256 but the image is 512x512`);
  }, 300_000);

  it('hands both training stages to an external trainer (cell-features contract)', () => {
    const out = join(dir, 'external');
    const r = run(['run', ...io(out), '--cycles', '1', '--trainer', `"${process.execPath}" "${tiny}"`]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const img = JSON.parse(readFileSync(join(out, 'train-image/report.json'), 'utf8'));
    const cell = JSON.parse(readFileSync(join(out, 'train-cell/cycle-1/report.json'), 'utf8'));
    expect([img.source, cell.source]).toEqual(['external', 'external']);
    const job = JSON.parse(readFileSync(join(out, 'train-cell/cycle-1/external/job.json'), 'utf8'));
    expect(job).toMatchObject({ version: 1, stage: 'train-cell', contract: 'cell-features', multiLabel: false });
    expect(job.classes).toHaveLength(20);
    const manifest = readFileSync(job.manifest, 'utf8').split('\n');
    expect(manifest[0]).toBe('ID,cell,file,index,labels,split');
    expect(existsSync(join(out, 'train-image/external/trainer.log'))).toBe(true);
    expect(existsSync(join(out, 'submission.csv'))).toBe(true);
  }, 300_000);

  it('runs on 16-bit images of another size (1024², --bit-depth 16)', () => {
    const d16 = join(dir, 'syn16');
    const s = run(['synth', '--out', d16, '--images', '8', '--size', '1024', '--seed', '9', '--bit-depth', '16', '--test-fraction', '0.25', '--quiet']);
    expect(s.status, s.stderr).toBe(0);
    const out = join(dir, 'run16');
    const r = run(['run', '--train', join(d16, 'train'), '--test', join(d16, 'test'), '--out', out, '--cycles', '1', '--quiet']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const rec = readRun(out);
    expect(rec.split).toEqual({ train: 5, val: 1, test: 2 });
    const test = rec.evaluation.find((e: { split: string }) => e.split === 'test');
    expect(test.rows.find((x: { name: string }) => x.name === 'cycle 1').mAP).toBeGreaterThan(0.3);
    const v = run(['submit', 'validate', join(out, 'submission.csv'), '--images', join(d16, 'test')]);
    expect(v.status, v.stdout + v.stderr).toBe(0);
    // A changed input file: that image (and only it) is segmented again and its features recomputed.
    const testIds = [...new Set(readdirSync(join(d16, 'test')).map((f) => f.replace(/_(red|green|blue|yellow)\.png$/, '')))].sort();
    copyFileSync(join(d16, 'test', `${testIds[1]}_green.png`), join(d16, 'test', `${testIds[0]}_green.png`));
    const again = run(['run', '--train', join(d16, 'train'), '--test', join(d16, 'test'), '--out', out, '--cycles', '1', '--quiet']);
    expect(again.status, again.stderr).toBe(0);
    const rec2 = readRun(out);
    expect(stage(rec2, 'segment (test)').counts).toMatchObject({ changed: 1, segmented: 1, reused: 1 });
    expect(stage(rec2, 'segment (train)').counts).toMatchObject({ changed: 0, segmented: 0 });
    expect(stage(rec2, 'features').counts).toMatchObject({ computed: 1, reused: 7 });
  }, 300_000);

  it.each([
    ['a label file naming an image without an image set', (f: string) => writeFileSync(f, 'ID,Label\nnot-an-image,0\n'), /not-an-image/],
    ['a class id out of range', (f: string) => writeFileSync(f, 'ID,Label\nx,25\n'), /:2: image x: expected class ids 0\.\.18/],
    ['an empty training set', (f: string) => writeFileSync(f, 'ID,Label\n'), /no labelled training images/],
  ])('fails clearly on %s', (_name, make, message) => {
    const labels = join(dir, `labels-${Math.random().toString(36).slice(2)}.csv`);
    make(labels);
    const r = run(['run', ...io(join(dir, 'bad-labels')), '--labels', labels]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain(labels);
  });

  it('rejects an unknown config key, naming the file and the key', () => {
    const cfg = join(dir, 'bad.json');
    writeFileSync(cfg, JSON.stringify({ pseudoLabel: { relativ: 0.5 } }));
    const r = run(['run', ...io(join(dir, 'bad-config')), '--config', cfg]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unknown key 'pseudoLabel\.relativ'.*CELLCAM_E_CONFIG/s);
    expect(r.stderr).toContain(cfg);
  });

  it('fails on an image classifier that breaks the contract and keeps the earlier outputs', () => {
    const out = join(dir, 'full-bad-model');
    // Start from the finished run's segmentation and features.
    spawnSync('cp', ['-r', join(dir, 'full'), out]);
    const model = join(dir, 'not-a-model.onnx');
    writeFileSync(model, 'garbage bytes, not protobuf');
    const cfg = join(dir, 'model.json');
    writeFileSync(cfg, JSON.stringify({ image: { model } }));
    const r = run(['run', ...io(out), '--config', cfg, '--force']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(model);
    expect(r.stderr).toMatch(/CELLCAM_E_MODEL/);
    expect(readRun(out).status).toBe('failed');
    expect(readdirSync(join(out, 'features')).length).toBe(20);
  }, 300_000);

  it('fails when the external trainer exits non-zero, with its stderr, keeping the earlier outputs', () => {
    const out = join(dir, 'trainer-fails');
    spawnSync('cp', ['-r', join(dir, 'full'), out]);
    rmSync(join(out, 'run.json'));
    const r = run(['run', ...io(out), '--cycles', '1', '--trainer', `"${process.execPath}" "${tiny}"`], { TINY_TRAINER_FAIL: 'exit' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/exited with code \d+.*CELLCAM_E_TRAINER/s);
    expect(readdirSync(join(out, 'features')).length).toBe(20);
    expect(existsSync(join(out, 'segment/test'))).toBe(true);
  }, 300_000);

  it('accepts the documented example config (docs/cellcam.example.json)', () => {
    const example = join(root, 'docs', 'cellcam.example.json');
    expect(existsSync(example)).toBe(true);
    const out = join(dir, 'example-config');
    copyFileSync(example, join(dir, 'example.json'));
    const r = run(['train-image', ...io(out), '--config', join(dir, 'example.json')]);
    expect(r.status, r.stderr).toBe(0);
  }, 300_000);
});
