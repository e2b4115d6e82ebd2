// What the CUDA labelCell chain asks of a GPU, counted by the host emulation on the bench's own
// 1024² maps: kernel launches, host round trips and threads launched. No GPU is needed, and
// these are counts, not times: a change that brings back a per-level sweep of the whole image or
// a round trip per step shows up here before a GPU session can time it (docs/benchmarks-h100.md).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { predictions } from '../packages/bench/src/label-cell.bench.js';
import { nativeOrNull } from '../packages/core/src/native.js';

const root = resolve(__dirname, '..');
const native = existsSync(join(root, 'packages', 'native', 'build', 'Release', 'cellcam_native.node')) ? nativeOrNull() : null;

describe.skipIf(!native)('CUDA labelCell cost, emulated', () => {
  it('launches, host round trips and threads per pixel stay within their bounds at 1024²', () => {
    const size = 1024, n = size * size;
    const { nucleiPred, cellPred } = predictions(size);
    const cells = new Uint16Array(n);
    const r = native!._labelCellEmulated(nucleiPred, cellPred, new Uint16Array(n), cells, { width: size, height: size, scale: 1, order: 'forward' });
    // The maps must make the watersheds burst on many levels, or the bounds below test nothing.
    expect(r.watersheds[1].burstGenerations + r.watersheds[2].burstGenerations).toBeGreaterThan(50);
    // 2026-11-26: 3 749 launches (4 481 while floods without a line wrote the pop order in a
    // launch of its own; 6 480 before counters were reset inside other launches and a
    // level's bucket slice was copied by its key gather), 934 reads (1 017 while each burst read
    // its claim count), 112.9 threads per pixel (155.7 + 14 while the free pixels below each
    // bursting level were found by sweeping the image; the bounded settle after a burst adds 14).
    // 2026-11-27: 2 920 launches, the search for the next level at the end of each settle's
    // launch (ForThen) instead of a launch of its own, then 2 366 with small placed generations
    // in one launch of one block (InBlock), 1 496 with the small sorted ones too; 87.6 threads per pixel, the settles and
    // the burst's border claims striding up to their count (ForUpTo) instead of a grid of their
    // bound. (The emulator counts the indices that run; a GPU launches at most 2 048 threads per
    // SM for those.)
    // 2026-11-27 (session 13): 875 reads, the count of the free pixels below a bursting level
    // read along with its settle's counters instead of on its own; then 858 launches and 237
    // reads, the small generations after a one-block generation in the same launch, up to the
    // first that bursts (LevelRun: 1 496 launches and 875 reads without); then 869 launches and
    // 165 reads, the generation after a burst starting such a run before the host reads the
    // burst's counters (a launch more where it does not qualify, a round trip fewer where it does).
    expect(r.launches).toBeLessThan(1000);
    expect(r.reads).toBeLessThan(200);
    expect(r.items / n).toBeLessThan(100);
    // Per source line (what CELLCAM_CUDA_PROFILE=1 times on a GPU): the sites add up to the totals,
    // and no single line launches more than 40 threads per pixel (the bounded settle, 2026-11-26:
    // 29 per pixel at 2048², the largest).
    expect(r.sites.reduce((s, x) => s + x.launches, 0)).toBe(r.launches);
    expect(r.sites.reduce((s, x) => s + x.items, 0)).toBe(r.items);
    expect(r.sites.reduce((s, x) => s + x.reads, 0)).toBe(r.reads);
    for (const s of r.sites) expect(s.site).toMatch(/^(watershed_levels|label_cell_parallel)\.h:\d+$/);
    expect(r.sites[0].items / n).toBeLessThan(40);

    // The older paths, one switch at a time: the same labels for more launches. With both on, a
    // small generation is one launch (the emulator counts no scan or sort as a launch, so its
    // saving here is two per small generation; on a GPU the scan or sort makes it three), and the
    // larger ones' settles carry the search (2026-11-27, 1024²: 2 366 launches; 2 920 without one-block
    // generations, 2 918 without the fused search; then 1 496 with a level's first generation
    // in one block too, against 2 920 and 1 613).
    // The chain with some settings, in a thread order: its counts, and its cells equal the default's.
    const withEnv = (env: Record<string, string>, order: 'forward' | 'reverse' | 'strided') => {
      for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
      try {
        const other = new Uint16Array(n);
        const res = native!._labelCellEmulated(nucleiPred, cellPred, new Uint16Array(n), other, { width: size, height: size, scale: 1, order });
        expect(Buffer.from(other.buffer).equals(Buffer.from(cells.buffer)), JSON.stringify(env)).toBe(true);
        return res;
      } finally {
        vi.unstubAllEnvs();
      }
    };
    for (const [name, atLeast, readsAtLeast] of [
      ['CELLCAM_CUDA_FUSED_SEARCH', 50, 0],
      ['CELLCAM_CUDA_ONE_BLOCK', 1000, 500],
      ['CELLCAM_CUDA_LEVEL_RUN', 500, 500],
    ] as const) {
      const apart = withEnv({ [name]: '0' }, 'forward');
      expect(apart.launches - r.launches, name).toBeGreaterThan(atLeast);
      expect(apart.reads - r.reads, name).toBeGreaterThanOrEqual(readsAtLeast);
    }
    // Generations of up to 2 048 pops in one block, as before the sort phase's tile grew to 4 096:
    // more launches (2026-11-27, 1024²: 869 launches and 165 reads, then 860 and 162; a stacked
    // batch of 16: 2 405 and 693, then 1 559 and 419).
    const small = withEnv({ CELLCAM_CUDA_RUN_SORTED_POPS: '2048', CELLCAM_CUDA_RUN_POPS: '2048' }, 'strided');
    expect(small.launches).toBeGreaterThan(r.launches);
    expect(small.watersheds[1].oneBlockGenerations).toBeLessThan(r.watersheds[1].oneBlockGenerations);
    // A run may take placed generations of any size (CELLCAM_CUDA_RUN_POPS, for a GPU to tune; the
    // random floods are too small to have any above the default): fewer launches.
    const all = withEnv({ CELLCAM_CUDA_RUN_POPS: String(n) }, 'reverse');
    expect(all.launches).toBeLessThan(r.launches);
    expect(all.watersheds[1].oneBlockGenerations).toBeGreaterThan(r.watersheds[1].oneBlockGenerations);
  });
});
