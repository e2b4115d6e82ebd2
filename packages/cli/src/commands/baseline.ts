/** `cellcam baseline`: broadcast / random / oracle submissions from ground-truth cell masks. */
import type { Command } from 'commander';
import { writeBaseline, type BaselineKind } from '@cellcam/core';
import { parseChoice, parseIntOption } from '../options.js';

export function registerBaseline(program: Command): void {
  program
    .command('baseline')
    .description('write a reference submission from the dataset\'s cell masks (broadcast, random or oracle)')
    .requiredOption('--dataset <dir>', 'dataset folder in the cellcam synth layout (test/, cells/, truth.csv)')
    .requiredOption('--kind <kind>', 'broadcast | random | oracle', parseChoice('--kind', ['broadcast', 'random', 'oracle']))
    .requiredOption('--out <file>', 'submission file to write')
    .option('--cells <dir>', 'use the cell masks of this folder instead of DIR/cells: {ID}_cells.png (cellcam segment) or {ID}_cellmask.png (the HPA segmentator)')
    .option('--seed <k>', 'seed for --kind random', parseIntOption('--seed', 0), 1)
    .action(async (opts: { dataset: string; kind: BaselineKind; out: string; cells?: string; seed: number }) => {
      const r = await writeBaseline({ ...opts });
      process.stdout.write(`wrote ${r.out}: ${r.images} images, ${r.cells} cells (${opts.kind})\n`);
    });
}
