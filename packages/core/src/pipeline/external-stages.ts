/**
 * The training stages handed to an external trainer (docs/trainer-protocol.md): the manifests and
 * data cellcam prepares for it, and the job it runs. The model that comes back is checked against
 * its contract by runExternalTrainer before the pipeline uses it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HPA_CLASS_NAMES } from '../classes.js';
import { readImageSet, CHANNELS } from '../io/imageset.js';
import { readGrey } from '../io/png.js';
import { writeFileAtomic } from '../io/atomic.js';
import { csvField, encodeNpy, writeCellCrops, type CellCropItem } from '../io/crops.js';
import { runExternalTrainer, type TrainerJob } from '../train/external.js';
import { readJson } from './store.js';
import { dirs, splitOf, CELL_FEATURE_COUNT, type CellRecord, type PseudoLabels, type StageContext } from './stages.js';
import { singleTarget } from '../pseudolabel/pseudolabel.js';
import { resolve } from 'node:path';

async function run(ctx: StageContext, job: TrainerJob, stage: string): Promise<{ ms: number; log: string }> {
  const r = await runExternalTrainer({
    command: ctx.config.trainer!,
    job,
    onProgress: (p) => ctx.onEvent({ stage, done: p.done, total: p.total, message: p.message }),
    onLine: (line) => ctx.onEvent({ stage, done: -1, total: -1, message: line }),
  });
  return { ms: Math.round(r.ms), log: r.log };
}

/** Image classifier by the user's trainer: one manifest row per training and validation image. */
export async function trainImageExternal(ctx: StageContext, modelPath: string): Promise<{ ms: number; log: string }> {
  const { data, config } = ctx;
  const workDir = resolve(join(dirs(ctx.out).trainImage, 'external'));
  await mkdir(workDir, { recursive: true });
  const rows = ['ID,red,green,blue,yellow,labels,split'];
  for (const [split, ids] of [['train', data.train], ['val', data.val]] as const) {
    for (const id of ids) {
      const img = await readImageSet(data.trainDir, id);
      rows.push([id, ...CHANNELS.map((c) => resolve(img.files[c])), data.labels.get(id)!.join('|'), split].map(csvField).join(','));
    }
  }
  const manifest = join(workDir, 'manifest.csv');
  await writeFileAtomic(manifest, rows.join('\n') + '\n');
  const job: TrainerJob = {
    version: 1, stage: 'train-image', contract: 'image-classifier', manifest, classes: [...HPA_CLASS_NAMES], multiLabel: true,
    inputSize: config.image.inputSize, hyperParameters: { seed: config.seed, ...config.trainerParams }, output: resolve(modelPath), workDir,
  };
  return run(ctx, job, 'train-image (external)');
}

/** Cell classifier by the user's trainer, on pooled features or masked crops of the pseudo-labelled cells. */
export async function trainCellExternal(ctx: StageContext, cycle: number, pseudo: PseudoLabels, modelPath: string): Promise<{ ms: number; log: string }> {
  const { data, config, out } = ctx;
  const workDir = resolve(join(dirs(out).trainCell(cycle), 'external'));
  await mkdir(workDir, { recursive: true });
  const single = config.cell.mode === 'single';
  const labelsOf = (l: number[]) => (single ? String(singleTarget(l)) : l.join('|'));
  const classes = single ? [...HPA_CLASS_NAMES, 'unknown'] : [...HPA_CLASS_NAMES];
  let manifest: string;
  if (config.cell.input === 'features') {
    const rows = ['ID,cell,file,index,labels,split'];
    for (const id of data.train) {
      const rec = await readJson<CellRecord>(join(dirs(out).features, `${id}.json`), `features of ${id}`);
      if (!rec.cellIds.length) continue;
      const file = `${id}.npy`;
      await writeFile(join(workDir, file), encodeNpy(Float32Array.from(rec.feats), [rec.cellIds.length, CELL_FEATURE_COUNT]));
      rec.cellIds.forEach((cell, i) => rows.push([id, cell, file, i, labelsOf(pseudo.labels[id][i]), 'train'].map(csvField).join(',')));
    }
    manifest = join(workDir, 'manifest.csv');
    await writeFileAtomic(manifest, rows.join('\n') + '\n');
  } else {
    async function* items(): AsyncGenerator<CellCropItem> {
      for (const id of data.train) {
        const rec = await readJson<CellRecord>(join(dirs(out).features, `${id}.json`), `features of ${id}`);
        const image = await readImageSet(data.trainDir, id);
        const cells = (await readGrey(join(dirs(out).segment(splitOf(data, id)), `${id}_cells.png`))).data;
        const index = new Map(rec.cellIds.map((c, i) => [c, i]));
        yield {
          image, cells: cells instanceof Uint16Array ? cells : Uint16Array.from(cells), ids: rec.cellIds,
          extra: (cell) => ({ labels: labelsOf(pseudo.labels[id][index.get(cell)!]), split: 'train' }),
        };
      }
    }
    const w = await writeCellCrops(join(workDir, 'crops'), items(), { size: config.cell.cropSize, columns: ['labels', 'split'] });
    manifest = w.manifest;
  }
  const job: TrainerJob = {
    version: 1, stage: 'train-cell', contract: config.cell.input === 'features' ? 'cell-features' : 'cell-crops', manifest, classes, multiLabel: !single,
    ...(config.cell.input === 'crops' ? { cropSize: config.cell.cropSize } : {}),
    hyperParameters: { seed: config.seed, cycle, ...config.trainerParams }, output: resolve(modelPath), workDir,
  };
  return run(ctx, job, `train-cell ${cycle} (external)`);
}
