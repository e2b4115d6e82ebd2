// `cellcam segment` end to end on synthetic images: label PNGs, segmentation.csv, resume,
// one broken image reported without stopping the others, --eval against the synthetic truth,
// --ties / --device for the post-processing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { field } from '../packages/core/test/label-cell-preds.js';
import { tinyUnet } from '../packages/core/test/fixtures/onnx-models.js';

const cli = resolve(__dirname, '..', 'packages', 'cli', 'dist', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const dir = mkdtempSync(join(tmpdir(), 'cellcam-cli-seg-'));
const data = join(dir, 'syn');
const out = join(dir, 'seg');
// ../shared beside the checkout: absent in a user's clone, where the test that reads it skips.
const hpaSamples = resolve(__dirname, '..', '..', 'shared', 'data', 'hpa-samples');

describe.skipIf(!existsSync(cli))('cellcam segment', () => {
  let ids: string[] = [];
  beforeAll(() => {
    const r = run('synth', '--out', data, '--images', '2', '--size', '1024', '--seed', '4', '--test-fraction', '0', '--quiet');
    expect(r.status, r.stderr).toBe(0);
    ids = [...new Set(readdirSync(join(data, 'train')).map((f) => f.replace(/_(red|green|blue|yellow)\.png$/, '')))].sort();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes 16-bit label PNGs and segmentation.csv, and scores them with --eval', async () => {
    const r = run('segment', join(data, 'train'), '--out', out, '--eval', data, '--quiet');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/segmented 2, skipped 0 \(already done\), failed 0 of 2/);
    const ap = Number(/cell-mask AP@0\.6: ([\d.]+)/.exec(r.stdout)?.[1]);
    expect(r.stdout).toMatch(/; 2 of 2 images\)\n/);
    expect(ap).toBeGreaterThan(0.7);
    for (const id of ids) {
      for (const kind of ['cells', 'nuclei']) {
        const m = await sharp(join(out, `${id}_${kind}.png`)).metadata();
        expect(m).toMatchObject({ width: 1024, height: 1024, depth: 'ushort' });
      }
    }
    const csv = readFileSync(join(out, 'segmentation.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('ID,width,height,cells,ms');
    expect(csv.slice(1).map((l) => l.split(',')[0]).sort()).toEqual(ids);
    for (const l of csv.slice(1)) expect(Number(l.split(',')[3])).toBeGreaterThan(5);
  });

  it('resumes: a rerun skips finished images', () => {
    const r = run('segment', join(data, 'train'), '--out', out, '--quiet');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/segmented 0, skipped 2/);
  });

  it('one truncated channel fails that image only', () => {
    const imgs = join(dir, 'mixed');
    spawnSync('cp', ['-r', join(data, 'train'), imgs]);
    const victim = join(imgs, `${ids[0]}_blue.png`);
    writeFileSync(victim, readFileSync(victim).subarray(0, 100));
    const r = run('segment', imgs, '--out', join(dir, 'seg2'), '--eval', data, '--quiet');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/segmented 1, skipped 0 \(already done\), failed 1 of 2/);
    expect(r.stdout).toContain(`${ids[0]}_blue.png`);
    // The score says which part of the folder it covers.
    expect(r.stdout).toMatch(/cell-mask AP@0\.6: .*; 1 of 2 images, 1 failed and not scored\)/);
    expect(existsSync(join(dir, 'seg2', `${ids[1]}_cells.png`))).toBe(true);
  });

  it("--ties fifo: the post-processing follows --device ('auto': the GPU when usable, else the CPU, said once)", () => {
    const r = run('segment', join(data, 'train'), '--out', join(dir, 'seg-fifo'), '--ties', 'fifo', '--quiet');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/segmented 2, skipped 0 \(already done\), failed 0 of 2/);
    const where = /post-processing \(fifo ties\) on: (cpu|cuda) 2/.exec(r.stdout);
    expect(where, r.stdout).not.toBeNull();
    const notes = r.stdout.split('\n').filter((l) => l.startsWith('note: '));
    if (where![1] === 'cpu') expect(notes).toEqual([expect.stringMatching(/^note: CUDA not used: .+/)]);
    else expect(notes).toEqual([]);
  });

  it('--batch: images post-processed together get the same labels, and a failing image does not stall its batch', () => {
    const one = run('segment', join(data, 'train'), '--out', join(dir, 'seg-b1'), '--ties', 'fifo', '--device', 'cpu', '--quiet');
    const two = run('segment', join(data, 'train'), '--out', join(dir, 'seg-b2'), '--ties', 'fifo', '--device', 'cpu', '--batch', '2', '--jobs', '2', '--quiet');
    expect(one.status, one.stdout + one.stderr).toBe(0);
    expect(two.status, two.stdout + two.stderr).toBe(0);
    expect(two.stdout).not.toMatch(/note: batch/);
    for (const id of ids) {
      for (const kind of ['cells', 'nuclei']) {
        expect(readFileSync(join(dir, 'seg-b2', `${id}_${kind}.png`)).equals(readFileSync(join(dir, 'seg-b1', `${id}_${kind}.png`))), `${id} ${kind}`).toBe(true);
      }
    }
    // A batch larger than the workers cannot fill: said once, and the labels are the same.
    const few = run('segment', join(data, 'train'), '--out', join(dir, 'seg-b4'), '--ties', 'fifo', '--device', 'cpu', '--batch', '2', '--jobs', '1', '--quiet');
    expect(few.status, few.stdout + few.stderr).toBe(0);
    expect(few.stdout.split('\n').filter((l) => l.startsWith('note: batch'))).toEqual([
      "note: batch 2 > jobs 1: a batch holds at most 1 image (each worker waits on its image's batch); give jobs >= batch to fill it",
    ]);
    expect(readFileSync(join(dir, 'seg-b4', `${ids[0]}_cells.png`)).equals(readFileSync(join(dir, 'seg-b1', `${ids[0]}_cells.png`)))).toBe(true);
    // One of the two images cannot be read: the other one's batch must still run, alone.
    const imgs = join(dir, 'mixed-batch');
    spawnSync('cp', ['-r', join(data, 'train'), imgs]);
    writeFileSync(join(imgs, `${ids[0]}_red.png`), 'not a png');
    const mixed = run('segment', imgs, '--out', join(dir, 'seg-b3'), '--ties', 'fifo', '--device', 'cpu', '--batch', '2', '--jobs', '2', '--quiet');
    expect(mixed.status).toBe(1);
    expect(mixed.stdout).toMatch(/segmented 1, skipped 0 \(already done\), failed 1 of 2/);
    expect(readFileSync(join(dir, 'seg-b3', `${ids[1]}_cells.png`)).equals(readFileSync(join(dir, 'seg-b1', `${ids[1]}_cells.png`)))).toBe(true);
  });

  it('--device cuda: heap ties stay on the CPU and say so once; fifo ties fail once, up front, with the reason when no GPU is usable', () => {
    const heap = run('segment', join(data, 'train'), '--out', join(dir, 'seg-heap-cuda'), '--device', 'cuda', '--ties', 'heap', '--quiet');
    expect(heap.status, heap.stdout + heap.stderr).toBe(0);
    expect(heap.stdout).toMatch(/post-processing \(heap ties\) on: cpu 2/);
    expect(heap.stdout.split('\n').filter((l) => l.startsWith('note: '))).toEqual([
      'note: post-processing on the CPU: exact (heap) ties have no CUDA version; --ties fifo runs it on the GPU',
    ]);
    const fifo = run('segment', join(data, 'train'), '--out', join(dir, 'seg-fifo-cuda'), '--device', 'cuda', '--ties', 'fifo', '--quiet');
    if (fifo.status === 0) {
      expect(fifo.stdout).toMatch(/post-processing \(fifo ties\) on: cuda 2/);
    } else {
      // Refused once, before any image: no per-image failures, no outputs.
      expect(fifo.stderr).toMatch(/device is 'cuda' but no CUDA device is usable: .+/);
      expect(fifo.stdout).not.toMatch(/segmented|FAILED/);
      expect(existsSync(join(dir, 'seg-fifo-cuda', 'segmentation.csv'))).toBe(false);
    }
  });

  it('--ties auto (the default): fifo for the model-free maps, heap with U-Net models', () => {
    const free = run('segment', join(data, 'train'), '--out', join(dir, 'seg-auto'), '--device', 'cpu', '--ids', ids[0], '--quiet');
    const fifo = run('segment', join(data, 'train'), '--out', join(dir, 'seg-auto-fifo'), '--device', 'cpu', '--ids', ids[0], '--ties', 'fifo', '--quiet');
    expect(free.status, free.stdout + free.stderr).toBe(0);
    expect(fifo.status, fifo.stdout + fifo.stderr).toBe(0);
    expect(free.stdout).toMatch(/post-processing \(fifo ties\) on: cpu 1/);
    for (const kind of ['cells', 'nuclei']) {
      expect(readFileSync(join(dir, 'seg-auto', `${ids[0]}_${kind}.png`)).equals(readFileSync(join(dir, 'seg-auto-fifo', `${ids[0]}_${kind}.png`))), kind).toBe(true);
    }
    const nm = join(dir, 'nuclei.onnx'), cm = join(dir, 'cell.onnx');
    writeFileSync(nm, tinyUnet());
    writeFileSync(cm, tinyUnet());
    const unet = run('segment', join(data, 'train'), '--out', join(dir, 'seg-auto-unet'), '--device', 'cpu', '--ids', ids[0], '--nuclei-model', nm, '--cell-model', cm, '--quiet');
    expect(unet.status, unet.stdout + unet.stderr).toBe(0);
    expect(unet.stdout).toMatch(/post-processing \(heap ties\) on: cpu 1/);
  });

  it('label-cells: --ties fifo runs where --device says; --device cuda with heap ties is refused', async () => {
    const p = field('f', 300, 240, 7, 22, 80, 45, 8);
    const np = join(dir, 'np.png'), cp = join(dir, 'cp.png');
    await sharp(Buffer.from(p.nucleiPred), { raw: { width: p.width, height: p.height, channels: 3 } }).png().toFile(np);
    await sharp(Buffer.from(p.cellPred), { raw: { width: p.width, height: p.height, channels: 3 } }).png().toFile(cp);
    const ok = run('label-cells', '--nuclei-pred', np, '--cell-pred', cp, '--out', join(dir, 'lc'), '--ties', 'fifo', '--device', 'cpu');
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^\d+ cells in \d+ ms \(cpu\) -> /);
    const bad = run('label-cells', '--nuclei-pred', np, '--cell-pred', cp, '--out', join(dir, 'lc2'), '--device', 'cuda');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr + bad.stdout).toMatch(/--device cuda needs --ties fifo: exact \(heap\) ties have no CUDA version/);
  });

  // The real HPA field of ../shared (its green stain standing in for all four), scored against the
  // segmentator's mask folder itself: the sample's "cell" masks are nucleus-sized (its README), so
  // only the plumbing is checked, not the AP.
  it.skipIf(!existsSync(hpaSamples))("segments a real 16-bit HPA field and scores it against a folder of the segmentator's masks", () => {
    const imgs = join(dir, 'hpa'), masks = join(dir, 'hpa-masks');
    mkdirSync(imgs);
    mkdirSync(masks);
    for (const c of ['red', 'green', 'blue', 'yellow']) copyFileSync(join(hpaSamples, '1000_A12_2_green.png'), join(imgs, `1000_A12_2_${c}.png`));
    copyFileSync(join(hpaSamples, '1000_A12_2_cellmask.png'), join(masks, '1000_A12_2_cellmask.png'));
    const r = run('segment', imgs, '--out', join(dir, 'hpa-seg'), '--eval', masks, '--quiet');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/segmented 1, skipped 0 \(already done\), failed 0 of 1/);
    expect(r.stdout).toMatch(/cell-mask AP@0\.6: [\d.]+ .*\(\d+\/21 GT cells matched, \d+ predicted, .*; 1 of 1 images\)/);
  });

  it('refuses an --out folder another command is writing, and takes one whose writer is gone', () => {
    const busy = join(dir, 'busy');
    mkdirSync(busy);
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(busy, '.cellcam.lock'), JSON.stringify({ pid: holder.pid, host: hostname(), command: 'cellcam run', startedAt: 'then' }));
      const r = run('segment', join(data, 'train'), '--out', busy, '--quiet');
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`cellcam: ${busy}: cellcam run (pid ${holder.pid}, since then) is writing here; wait for it to finish or stop it [CELLCAM_E_BUSY]\n`);
      expect(readdirSync(busy)).toEqual(['.cellcam.lock']);
    } finally {
      holder.kill();
    }
    const gone = Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout);
    writeFileSync(join(busy, '.cellcam.lock'), JSON.stringify({ pid: gone, host: hostname(), command: 'cellcam segment', startedAt: 'then' }));
    const r = run('segment', join(data, 'train'), '--out', busy, '--ids', ids[0], '--quiet');
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(busy).sort()).toEqual([`${ids[0]}_cells.png`, `${ids[0]}_nuclei.png`, 'segmentation.csv']);
  });

  it.each([
    [['segment', 'nowhere', '--out', 'x'], /nowhere: cannot list image folder/],
    [['segment', '.', '--out', 'x', '--ties', 'lifo'], /--ties/],
    [['segment', '.', '--out', 'x', '--batch', '0'], /--batch/],
    [['segment', '.', '--out', 'x', '--scale', '0.3'], /--scale/],
    [['segment', '.', '--out', 'x', '--nuclei-model', 'n.onnx'], /both --nuclei-model and --cell-model/],
    [['label-cells', '--nuclei-pred', 'missing.png', '--cell-pred', 'c.png', '--out', 'x'], /missing\.png: cannot read/],
  ])('bad input %j gets a clear error', (args, msg) => {
    const r = run(...(args as string[]));
    expect(r.status).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(msg);
  });
});
