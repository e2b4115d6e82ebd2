// Tests of the cell-MLP fits in worker threads: the same weights as a fit on the calling thread,
// bit for bit, in job order whatever the worker count; a failing fit rejects with its reason.
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fitMlp, fitMlps, type MlpFitJob } from '../src/train/mlp-fit.js';
import { rng } from './helpers.js';

// The workers run the built copy (a Worker cannot load .ts); `npm test` builds it first.
const workerEntry = fileURLToPath(new URL('../dist/train/mlp-worker.js', import.meta.url));

function job(seed: number, n: number, d: number, mode: 'softmax' | 'sigmoid'): MlpFitJob {
  const r = rng(seed), C = mode === 'softmax' ? 5 : 4;
  const X = Float64Array.from({ length: n * d }, () => r() * 10 - 3);
  const targets = mode === 'softmax' ? Float64Array.from({ length: n }, () => Math.floor(r() * C)) : Float64Array.from({ length: n * C }, () => (r() < 0.3 ? 1 : 0));
  const sampleWeight = Float64Array.from({ length: n }, () => 0.5 + r());
  return { X: { data: X, rows: n, cols: d }, targets, options: { mode, classes: C, hidden: 8, epochs: 5, seed, sampleWeight } };
}

const jobs = [job(1, 120, 6, 'softmax'), job(2, 90, 5, 'sigmoid'), job(3, 1, 3, 'softmax'), job(4, 200, 7, 'sigmoid')];
const inline = jobs.map((j) => fitMlp(j));

describe('fitMlps', () => {
  it('the worker entry is built with the package (npm run build)', () => expect(existsSync(workerEntry)).toBe(true));

  it.each([0, 1, 2, 4])('with %i workers equals fitMlp bit for bit, in job order', async (workers) => {
    const seen: number[] = [];
    const fits = await fitMlps(jobs, { workers, onFit: (i) => seen.push(i) });
    expect(fits).toHaveLength(jobs.length);
    fits.forEach((f, i) => {
      expect(f.mlp.loss).toBe(inline[i].mlp.loss);
      for (const k of ['W1', 'b1', 'W2', 'b2'] as const) expect(Array.from(f.mlp[k]), `job ${i} ${k}`).toEqual(Array.from(inline[i].mlp[k]));
      expect(Array.from(f.st.mean)).toEqual(Array.from(inline[i].st.mean));
      expect(Array.from(f.st.invStd)).toEqual(Array.from(inline[i].st.invStd));
    });
    expect([...seen].sort()).toEqual([0, 1, 2, 3]);
  });

  it('makes lazy jobs when their turn comes, and moves transferable arrays to the worker', async () => {
    const made: number[] = [];
    const given = jobs.map((_, i) => ({ ...job(i + 1, [120, 90, 1, 200][i], [6, 5, 3, 7][i], i % 2 ? 'sigmoid' : 'softmax'), transfer: true }));
    const fits = await fitMlps(given.map((j, i) => () => (made.push(i), j)), { workers: 2 });
    expect([...made].sort()).toEqual([0, 1, 2, 3]);
    fits.forEach((f, i) => expect(Array.from(f.mlp.W1)).toEqual(Array.from(inline[i].mlp.W1)));
    expect(given[0].X.data.length, 'moved, not copied').toBe(0);
    expect(given[0].options.sampleWeight!.length).toBe(0);
  });

  it.each([0, 2])('reports every epoch of every fit, in order per fit (%i workers)', async (workers) => {
    const seen = new Map<number, number[]>();
    await fitMlps(jobs, { workers, onEpoch: (i, e) => seen.set(i, [...(seen.get(i) ?? []), e]) });
    for (let i = 0; i < jobs.length; i++) expect(seen.get(i), `job ${i}`).toEqual([1, 2, 3, 4, 5]);
  });

  it('rejects with the reason of a fit that throws in its worker', async () => {
    const broken = { ...job(6, 10, 3, 'softmax'), X: null } as unknown as MlpFitJob;
    await expect(fitMlps([broken], { workers: 1 })).rejects.toThrow(/^cell MLP fit failed: /);
  });

  it('rejects a bad worker count, naming it', async () => {
    await expect(fitMlps(jobs, { workers: -1 })).rejects.toThrow('Expected an integer in [0, 256] for options.workers but received number -1');
  });
});
