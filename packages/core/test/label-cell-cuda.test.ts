// The CUDA labelCell chain (packages/native/src/label_cell_parallel.h, 'fifo' ties): run on the
// host executor in three thread orders against the CPU chain with tieBreak 'fifo' (everywhere the
// addon builds), on the device against the CPU (skipped without a GPU), and the `device` option.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it, vi } from 'vitest';
import { nativeOrNull } from '../src/native.js';
import { labelCell, labelCellBatch, type LabelCellScale } from '../src/segment/label-cell.js';
import { hasCuda, hasNative, hasShared, rejection, sharedDir } from './helpers.js';
import { constant, field, fragments, replicate, thresholds, wrapLowRes, type Preds } from './label-cell-preds.js';

const same = (a: ArrayBufferView, b: ArrayBufferView): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const orders = ['forward', 'reverse', 'strided'] as const;

async function golden(name: string): Promise<Preds> {
  const dir = join(sharedDir, 'data', 'label-cell-golden', name);
  const read = async (f: string): Promise<{ data: Uint8Array; width: number; height: number }> => {
    const { data, info } = await sharp(join(dir, f)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  };
  const [np, cp] = await Promise.all([read('nuclei_pred.png'), read('cell_pred.png')]);
  return { name, width: np.width, height: np.height, nucleiPred: np.data, cellPred: cp.data };
}
const goldenDir = join(sharedDir, 'data', 'label-cell-golden');
const haveGoldens = hasShared && existsSync(goldenDir);

/** The built-in cases: border cells, fragments and holes, every size threshold met exactly, the >255-nuclei uint8 wrap, empty and flat inputs, diagonal contacts. */
const builtIn: { preds: Preds; scale: LabelCellScale }[] = [
  { preds: field('field', 300, 240, 7, 22, 80, 45, 8), scale: 1 },
  { preds: fragments(), scale: 1 },
  { preds: replicate(wrapLowRes(), 4), scale: 0.25 },
  { preds: field('odd', 333, 251, 6, 31, 70, 40, 6), scale: 0.5 },
  { preds: constant('empty', 40, 30, 0, 0, 0, 0), scale: 1 },
  { preds: constant('flat', 80, 80, 0, 255, 0, 200), scale: 1 },
  // Fields whose labels change if the chain's labelling loses 8-connectivity (found by mutation).
  { preds: field('diag', 300, 240, 7, 3, 80, 45, 8), scale: 1 },
  { preds: field('dense', 256, 256, 9, 1, 70, 40, 12), scale: 0.5 },
  { preds: thresholds(), scale: 1 },
];

// Batches: one stacked chain for several images of one size; each must equal its own chain.
const batches: { name: string; parts: Preds[]; scale: LabelCellScale }[] = [
  {
    name: 'four 300x240 fields, one empty',
    parts: [builtIn[0].preds, field('diag', 300, 240, 7, 3, 80, 45, 8), constant('empty', 300, 240, 0, 0, 0, 0), field('b', 300, 240, 9, 41, 70, 40, 10)],
    scale: 1,
  },
  { name: 'the same at scale 0.5', parts: [builtIn[0].preds, field('b', 300, 240, 9, 41, 70, 40, 10)], scale: 0.5 },
  // Ids past 255 wrap per image: the second image's nucleus ids must not continue the first's.
  { name: 'two >255-nuclei grids at scale 0.25', parts: [replicate(wrapLowRes(), 4), replicate(wrapLowRes(), 4)], scale: 0.25 },
  { name: 'the thresholds field twice', parts: [thresholds(), thresholds()], scale: 1 },
  // Otsu per image: a bright background puts the first image's cell threshold near 0.34, the
  // second's stays at 0.22–0.25, and the blurred cell edges between the two decide cell pixels.
  { name: 'two fields with different cell thresholds', parts: [brightBackground(field('b', 300, 240, 9, 41, 70, 40, 10), 90), builtIn[0].preds], scale: 1 },
];

/** The same maps with the cell interior channel raised to at least `floor` everywhere. */
function brightBackground(p: Preds, floor: number): Preds {
  const cellPred = p.cellPred.slice();
  for (let i = 2; i < cellPred.length; i += 3) cellPred[i] = Math.max(cellPred[i], floor);
  return { ...p, name: `${p.name} background ${floor}`, cellPred };
}

async function cpuFifo(p: Preds, scale: LabelCellScale): Promise<{ nuclei: Uint16Array; cells: Uint16Array; cellCount: number }> {
  return labelCell(p.nucleiPred, p.cellPred, { width: p.width, height: p.height, scale, tieBreak: 'fifo', device: 'cpu' });
}

describe.skipIf(!hasNative)('CUDA labelCell chain emulated on the host', { timeout: 120_000 }, () => {
  const native = nativeOrNull()!;
  const emulate = (p: Preds, scale: LabelCellScale, order: (typeof orders)[number]) => {
    const nuclei = new Uint16Array(p.width * p.height), cells = new Uint16Array(p.width * p.height);
    const r = native._labelCellEmulated(p.nucleiPred, p.cellPred, nuclei, cells, { width: p.width, height: p.height, scale, order });
    return { nuclei, cells, ...r };
  };

  it.each(builtIn.map((c) => [`${c.preds.name} ${c.preds.width}x${c.preds.height} scale ${c.scale}`, c] as const))(
    'equals the CPU chain (fifo) on %s, threads in every order',
    async (_name, { preds, scale }) => {
      const cpu = await cpuFifo(preds, scale);
      for (const order of orders) {
        const e = emulate(preds, scale, order);
        expect(e.cellCount, order).toBe(cpu.cellCount);
        expect(same(e.cells, cpu.cells), `${order} cells`).toBe(true);
        expect(same(e.nuclei, cpu.nuclei), `${order} nuclei`).toBe(true);
      }
    },
  );

  it('the built-in cases are not trivial: cells survive and the watersheds flood through bursts', () => {
    const e = emulate(builtIn[0].preds, 1, 'forward');
    expect(e.cellCount).toBeGreaterThanOrEqual(2);
    expect(e.watersheds[1].phases).toBeGreaterThan(10);
    expect(e.watersheds[1].burstGenerations + e.watersheds[2].burstGenerations).toBeGreaterThan(0);
    expect(emulate(builtIn[1].preds, 1, 'forward').cellCount).toBeGreaterThanOrEqual(3);
    expect(emulate(builtIn[2].preds, 0.25, 'forward').cellCount).toBeGreaterThan(255 / 16); // the >255-nuclei grid
  });

  it.each(batches.map((b) => [b.name, b] as const))('runs a batch in one stacked chain, each image as if alone: %s', async (_name, b) => {
    const { width, height } = b.parts[0];
    const cpu = await Promise.all(b.parts.map((p) => cpuFifo(p, b.scale)));
    let singles = { launches: 0, reads: 0 };
    for (const p of b.parts) {
      const e = emulate(p, b.scale, 'forward');
      singles = { launches: singles.launches + e.launches, reads: singles.reads + e.reads };
    }
    for (const order of orders) {
      const n = width * height, B = b.parts.length;
      const stack = (a: Uint8Array[]) => { const o = new Uint8Array(3 * n * B); a.forEach((x, k) => o.set(x, 3 * n * k)); return o; };
      const nucleiAll = new Uint16Array(n * B), cellsAll = new Uint16Array(n * B);
      const r = native._labelCellEmulated(stack(b.parts.map((p) => p.nucleiPred)), stack(b.parts.map((p) => p.cellPred)), nucleiAll, cellsAll,
        { width, height, scale: b.scale, order, images: B });
      const nuclei = b.parts.map((_, k) => nucleiAll.subarray(n * k, n * (k + 1))), cells = b.parts.map((_, k) => cellsAll.subarray(n * k, n * (k + 1)));
      expect(r.cellCounts, order).toEqual(cpu.map((c) => c.cellCount));
      b.parts.forEach((p, j) => {
        expect(same(cells[j], cpu[j].cells), `${order} image ${j} (${p.name}) cells`).toBe(true);
        expect(same(nuclei[j], cpu[j].nuclei), `${order} image ${j} (${p.name}) nuclei`).toBe(true);
      });
      // The point of a batch: the images share the launches and host round trips.
      expect(r.launches, order).toBeLessThan(singles.launches);
      expect(r.reads, order).toBeLessThan(singles.reads);
    }
  });

  it.skipIf(!haveGoldens)('equals the CPU chain (fifo) on the golden predictions at every scale', async () => {
    for (const [name, scales, order] of [
      ['case_512_s101', [1, 0.5, 0.25], 'reverse'],
      ['case_1024_s104', [1, 0.25], 'strided'],
      ['case_2048_s103', [0.25], 'forward'],
    ] as const) {
      const p = await golden(name);
      for (const scale of scales) {
        const cpu = await cpuFifo(p, scale);
        const e = emulate(p, scale, order);
        expect(e.cellCount, `${name} scale ${scale}`).toBe(cpu.cellCount);
        expect(same(e.cells, cpu.cells), `${name} scale ${scale} cells`).toBe(true);
        expect(same(e.nuclei, cpu.nuclei), `${name} scale ${scale} nuclei`).toBe(true);
      }
    }
  });
});

describe.skipIf(!hasCuda)('CUDA labelCell on the device', { timeout: 300_000 }, () => {
  it('equals the CPU chain (fifo) on the built-in cases and reports its timings', async () => {
    for (const { preds: p, scale } of builtIn) {
      const cpu = await cpuFifo(p, scale);
      const gpu = await labelCell(p.nucleiPred, p.cellPred, { width: p.width, height: p.height, scale, tieBreak: 'fifo', device: 'cuda' });
      expect(gpu.device).toBe('cuda');
      expect(same(gpu.cells, cpu.cells), `${p.name} cells`).toBe(true);
      expect(same(gpu.nuclei, cpu.nuclei), `${p.name} nuclei`).toBe(true);
      expect(gpu.timings!.kernelMs).toBeGreaterThan(0);
    }
  });

  it.skipIf(!haveGoldens)('equals the CPU chain (fifo) on the golden predictions', async () => {
    for (const name of ['case_512_s101', 'case_1024_s102', 'case_1024_s104', 'case_2048_s103']) {
      const p = await golden(name);
      for (const scale of [1, 0.5, 0.25] as const) {
        const cpu = await cpuFifo(p, scale);
        const gpu = await labelCell(p.nucleiPred, p.cellPred, { width: p.width, height: p.height, scale, tieBreak: 'fifo', device: 'cuda' });
        expect(same(gpu.cells, cpu.cells), `${name} scale ${scale}`).toBe(true);
        expect(same(gpu.nuclei, cpu.nuclei), `${name} scale ${scale}`).toBe(true);
      }
    }
  });
});

describe.skipIf(!hasCuda)('CUDA step profile (CELLCAM_CUDA_PROFILE=1)', { timeout: 120_000 }, () => {
  it('prints where a call spent its time, by labelCell section and by source line, on stderr', () => {
    // The addon prints from C++ when its executor ends, so the call runs in a child process.
    const p = builtIn[0].preds;
    const script = `
      const a = require(${JSON.stringify(nativeOrNull()!.path)});
      const n = ${p.width * p.height};
      const np = new Uint8Array(3 * n), cp = new Uint8Array(3 * n);
      for (let i = 0; i < 3 * n; i++) { np[i] = (i * 7919) % 256; cp[i] = (i * 104729) % 256; }
      a.labelCell(np, cp, new Uint16Array(n), new Uint16Array(n), { width: ${p.width}, height: ${p.height}, tieBreak: 'fifo', device: 'cuda' })
        .then((r) => console.log(JSON.stringify({ launches: r.launches })));`;
    const run = (profile: boolean) => spawnSync(process.execPath, ['-e', script], {
      encoding: 'utf8', env: { ...process.env, CELLCAM_CUDA_PROFILE: profile ? '1' : '0' },
    });
    const on = run(true), off = run(false);
    expect(on.status, on.stderr).toBe(0);
    expect(on.stderr).toMatch(/^cellcam CUDA profile: \d+ steps, [\d.]+ ms wall/m);
    expect(on.stderr).toContain('cells: watershed');
    expect(on.stderr).toMatch(/launch +watershed_levels\.h:\d+/);
    expect(off.stderr).not.toContain('cellcam CUDA profile');
    expect(JSON.parse(on.stdout).launches).toBe(JSON.parse(off.stdout).launches);
  });
});

describe.skipIf(!hasCuda)('CUDA labelCellBatch on the device', { timeout: 300_000 }, () => {
  it('runs each batch of the emulation tests as one stacked chain, equal to the CPU per image', async () => {
    for (const b of batches) {
      const { width, height } = b.parts[0];
      const r = await labelCellBatch(b.parts.map((p) => ({ nucleiPred: p.nucleiPred, cellPred: p.cellPred })), { width, height, scale: b.scale, tieBreak: 'fifo', device: 'cuda' });
      expect(r.device).toBe('cuda');
      for (let j = 0; j < b.parts.length; j++) {
        const cpu = await cpuFifo(b.parts[j], b.scale);
        expect(r.results[j].cellCount, `${b.name} image ${j}`).toBe(cpu.cellCount);
        expect(same(r.results[j].cells, cpu.cells), `${b.name} image ${j} cells`).toBe(true);
        expect(same(r.results[j].nuclei, cpu.nuclei), `${b.name} image ${j} nuclei`).toBe(true);
      }
    }
  });

  it('runs a batch that its memory (CELLCAM_CUDA_MEMORY_MB) does not hold as several stacks, and says so', async () => {
    const b = batches.find((x) => x.parts.length > 2)!;
    const { width, height } = b.parts[0];
    const items = b.parts.map((p) => ({ nucleiPred: p.nucleiPred, cellPred: p.cellPred }));
    const opts = { width, height, scale: b.scale, tieBreak: 'fifo', device: 'cuda' } as const;
    const whole = await labelCellBatch(items, opts);
    expect(whole.stacks).toBe(1);
    expect(whole.memoryNote).toBeUndefined();
    vi.stubEnv('CELLCAM_CUDA_MEMORY_MB', '1');  // room for less than one image: one stack each
    try {
      const r = await labelCellBatch(items, opts);
      expect(r.stacks).toBe(items.length);
      expect(r.memoryNote).toMatch(new RegExp(`^a batch of ${items.length} ran on the GPU as ${items.length} stacks`));
      r.results.forEach((x, j) => {
        expect(same(x.cells, whole.results[j].cells), `${b.name} image ${j} cells`).toBe(true);
        expect(same(x.nuclei, whole.results[j].nuclei), `${b.name} image ${j} nuclei`).toBe(true);
      });
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it.skipIf(!haveGoldens)('equals the CPU chain (fifo) on the four goldens of 1024² and 2048² as two batches', async () => {
    for (const [names, scale] of [[['case_1024_s102', 'case_1024_s104'], 1], [['case_2048_s103', 'case_2048_s103'], 0.5]] as const) {
      const ps = await Promise.all(names.map((nm) => golden(nm)));
      const r = await labelCellBatch(ps.map((p) => ({ nucleiPred: p.nucleiPred, cellPred: p.cellPred })), { width: ps[0].width, height: ps[0].height, scale, tieBreak: 'fifo', device: 'cuda' });
      for (let j = 0; j < ps.length; j++) {
        const cpu = await cpuFifo(ps[j], scale);
        expect(same(r.results[j].cells, cpu.cells), `${names[j]} scale ${scale}`).toBe(true);
        expect(same(r.results[j].nuclei, cpu.nuclei), `${names[j]} scale ${scale}`).toBe(true);
      }
    }
  });
});

describe('labelCell device option', () => {
  const p = builtIn[0].preds;
  const opts = { width: p.width, height: p.height };

  it("rejects tieBreak 'heap' (the default) with device 'cuda' before any work", async () => {
    const err = await rejection(labelCell(p.nucleiPred, p.cellPred, { ...opts, device: 'cuda' }));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.code).toBe('CELLCAM_E_ARG');
    expect(err.message).toBe("Expected 'fifo' for options.tieBreak with options.device 'cuda' but received undefined");
  });

  it('rejects an unknown device', async () => {
    const err = await rejection(labelCell(p.nucleiPred, p.cellPred, { ...opts, device: 'gpu' as never }));
    expect(err.code).toBe('CELLCAM_E_ARG');
    expect(err.message).toMatch(/^Expected 'auto', 'cpu' or 'cuda' for options\.device but received string 'gpu'$/);
  });

  it.skipIf(!hasNative || hasCuda)("device 'cuda' without a usable GPU rejects with CELLCAM_E_CUDA and the reason", async () => {
    const err = await rejection(labelCell(p.nucleiPred, p.cellPred, { ...opts, tieBreak: 'fifo', device: 'cuda' }));
    expect(err.code).toBe('CELLCAM_E_CUDA');
    expect(err.message).toMatch(/options\.device is 'cuda' but no CUDA device is usable: .+/);
  });

  it.skipIf(!hasNative || hasCuda)("device 'auto' runs on the CPU and says why", async () => {
    const r = await labelCell(p.nucleiPred, p.cellPred, { ...opts, tieBreak: 'fifo', device: 'auto' });
    expect(r.device).toBe('cpu');
    expect(r.deviceNote).toMatch(/^CUDA not used: /);
    expect(same(r.cells, (await cpuFifo(p, 1)).cells)).toBe(true);
  });

  it.skipIf(!hasNative)("device 'auto' keeps tieBreak 'heap' on the CPU; the default says nothing", async () => {
    const r = await labelCell(p.nucleiPred, p.cellPred, { ...opts, device: 'auto' });
    expect(r.device).toBe('cpu');
    expect(r.deviceNote).toMatch(/^CUDA not used: /);
    const d = await labelCell(p.nucleiPred, p.cellPred, opts);
    expect(d.device).toBe('cpu');
    expect(d.deviceNote).toBeUndefined();
  });

  it.skipIf(!hasNative)('the native boundary names a bad device and heap ties on CUDA', () => {
    const native = nativeOrNull()!;
    const n = p.width * p.height;
    const o = { width: p.width, height: p.height, scale: 1, threads: 1 };
    expect(() => native.labelCell(p.nucleiPred, p.cellPred, new Uint16Array(n), new Uint16Array(n), { ...o, device: 'gpu' as never }))
      .toThrow("Expected 'cpu' or 'cuda' for options.device but received string 'gpu'");
    expect(() => native.labelCell(p.nucleiPred, p.cellPred, new Uint16Array(n), new Uint16Array(n), { ...o, tieBreak: 'heap', device: 'cuda' }))
      .toThrow("Expected 'fifo' for options.tieBreak with options.device 'cuda' but received string 'heap'");
  });
});
