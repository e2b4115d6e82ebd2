// `cellcam report` at test-set scale: a finished run's test images are cloned under new ids
// (symlinked pixels and masks, copied records, predictions and truth rows repeated) until the
// clone holds `--report-images` images (default 559, the HPA test set), then buildReport is timed.
// Needs `--run DIR` (a finished run, e.g. `npx cellcam demo --out /tmp/demo` → /tmp/demo/run).
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildReport } from '@cellcam/core';
import type { BenchOptions, Row } from './harness.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Repeats the rows of a submission-format CSV (first column = image id) for every clone of an id. */
function cloneCsv(src: string, dst: string, clones: Map<string, string[]>): void {
  const [head, ...lines] = readFileSync(src, 'utf8').split('\n').filter(Boolean);
  const out = [head];
  for (const line of lines) {
    const comma = line.indexOf(','), id = line.slice(0, comma);
    for (const nid of clones.get(id) ?? []) out.push(nid + line.slice(comma));
  }
  writeFileSync(dst, `${out.join('\n')}\n`);
}

/** Builds the cloned run folder; returns it with the number of images. */
export function cloneRun(run: string, dir: string, images: number): { run: string; images: number; size: number } {
  const record = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8'));
  const testDir: string = record.inputs.test;
  const ids = readdirSync(join(run, 'segment', 'test')).filter((f) => f.endsWith('_cells.png')).map((f) => f.slice(0, -'_cells.png'.length)).sort();
  if (!ids.length) throw new Error(`${run}: no segmented test images`);
  const clones = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (let k = 0; k < images; k++) clones.get(ids[k % ids.length])!.push(`${ids[k % ids.length]}-c${Math.floor(k / ids.length)}`);
  const out = join(dir, 'run'), data = join(dir, 'data');
  for (const p of [join(data, 'test'), join(data, 'train'), join(out, 'segment', 'test'), join(out, 'features'), join(out, 'cam')]) mkdirSync(p, { recursive: true });
  const predict = readdirSync(join(run, 'predict')).filter((c) => /^cycle-\d+$/.test(c)).sort().at(-1)!;
  const probs = JSON.parse(readFileSync(join(run, 'predict', predict, 'probabilities.json'), 'utf8'));
  const clonedProbs: Record<string, unknown> = {};
  for (const [id, list] of clones) {
    const channels = readdirSync(testDir).filter((f) => f.startsWith(`${id}_`));
    for (const nid of list) {
      for (const f of channels) symlinkSync(join(testDir, f), join(data, 'test', nid + f.slice(id.length)));
      for (const k of ['cells', 'nuclei']) symlinkSync(resolve(run, 'segment', 'test', `${id}_${k}.png`), join(out, 'segment', 'test', `${nid}_${k}.png`));
      const feat = JSON.parse(readFileSync(join(run, 'features', `${id}.json`), 'utf8'));
      writeFileSync(join(out, 'features', `${nid}.json`), JSON.stringify({ ...feat, id: nid }));
      const cam = JSON.parse(readFileSync(join(run, 'cam', `${id}.json`), 'utf8'));
      if (cam.maps) {
        symlinkSync(resolve(run, 'cam', cam.maps.file), join(out, 'cam', `${nid}.cam.npy`));
        cam.maps.file = `${nid}.cam.npy`;
      }
      writeFileSync(join(out, 'cam', `${nid}.json`), JSON.stringify({ ...cam, id: nid }));
      clonedProbs[nid] = probs.probs[id];
    }
  }
  mkdirSync(join(out, 'predict', predict), { recursive: true });
  writeFileSync(join(out, 'predict', predict, 'probabilities.json'), JSON.stringify({ ...probs, probs: clonedProbs }));
  cloneCsv(join(run, 'predict', predict, 'submission.csv'), join(out, 'predict', predict, 'submission.csv'), clones);
  if (record.inputs.truth && existsSync(record.inputs.truth)) cloneCsv(record.inputs.truth, join(data, 'truth.csv'), clones);
  writeFileSync(join(data, 'train.csv'), 'ID,Label\n');
  mkdirSync(join(out, 'evaluate'), { recursive: true });
  for (const f of readdirSync(join(run, 'evaluate'))) if (f.endsWith('.json')) copyFileSync(join(run, 'evaluate', f), join(out, 'evaluate', f));
  const inputs = { train: join(data, 'train'), test: join(data, 'test'), labels: join(data, 'train.csv'), truth: existsSync(join(data, 'truth.csv')) ? join(data, 'truth.csv') : null };
  writeFileSync(join(out, 'run.json'), JSON.stringify({ ...record, inputs, split: { train: 0, val: 0, test: images }, pseudoLabels: [] }));
  const size = JSON.parse(readFileSync(join(run, 'features', `${ids[0]}.json`), 'utf8')).width as number;
  return { run: out, images, size };
}

export async function run(opts: BenchOptions): Promise<Row[]> {
  const src = arg('run');
  if (!src) {
    console.log('report: skipped (pass --run DIR, a finished run such as `npx cellcam demo --out /tmp/demo` → /tmp/demo/run)');
    return [];
  }
  const images = Number(arg('report-images') ?? (opts.quick ? 80 : 559));
  const dir = mkdtempSync(join(tmpdir(), 'cellcam-bench-report-'));
  try {
    const clone = cloneRun(resolve(src), dir, images);
    const rows: Row[] = [];
    for (const maxSide of (arg('max-side') ?? '512,768').split(',').map(Number)) {
      const t0 = performance.now(), c0 = process.cpuUsage();
      const r = await buildReport({ run: clone.run, out: join(dir, `report-${maxSide}`), maxSide });
      const ms = performance.now() - t0, cpu = process.cpuUsage(c0);
      rows.push({
        kernel: 'report', size: clone.size, impl: `buildReport, --max-side ${maxSide}`, medianMs: ms, mpixPerS: 0, vsTs: null, iterations: 1,
        note: `${r.images} images, ${r.cells} cells; ${(ms / r.images).toFixed(0)} ms per image; process CPU ${((cpu.user + cpu.system) / 1000 / (ms)).toFixed(2)} cores`,
      });
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
