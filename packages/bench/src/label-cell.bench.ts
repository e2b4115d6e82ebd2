// Benchmark of the whole HPA post-processing (labelCell): TypeScript twin vs native (1 / all threads,
// exact 'heap' and fast 'fifo' tie-breaking), the reduced-resolution fast path, CUDA ('fifo', on a GPU) and the scikit-image replica.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agreement, capabilities, labelCell, labelCellBatch, type LabelCellOptions } from '@cellcam/core';
import { field, rng } from './data.js';
import { BATCH, comparatorRow, cudaContenders, floorAfter, runCase, runPython, selected, withRatios, type BenchOptions, type Contender, type Row } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const oracleDir = resolve(here, '..', '..', '..', 'tests', 'oracle');

// The replica of hpacellseg.utils.label_cell (tests/oracle/label_cell_replica.py) on the same maps.
const PY_SCRIPT = `
import skimage
sys.path.insert(0, params['oracle'])
import warnings; warnings.filterwarnings('ignore')
from label_cell_replica import label_cell
n, c = inputs['nuclei'], inputs['cells']
mm = lambda v: '.'.join(v.split('.')[:2])
print(json.dumps({'skimage ' + mm(skimage.__version__) + ' replica': median_ms(lambda: label_cell(n, c), min_iters=1, min_time=0)}))
`;

/** Separable box blur of a 0/1 map (radius r), as floats. */
function blur(src: Float32Array, size: number, r: number): Float32Array {
  const tmp = new Float32Array(size * size), out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    let s = 0;
    for (let x = -r; x <= r; x++) s += x >= 0 && x < size ? src[y * size + x] : 0;
    for (let x = 0; x < size; x++) {
      tmp[y * size + x] = s / (2 * r + 1);
      if (x + r + 1 < size) s += src[y * size + x + r + 1];
      if (x - r >= 0) s -= src[y * size + x - r];
    }
  }
  for (let x = 0; x < size; x++) {
    let s = 0;
    for (let y = -r; y <= r; y++) s += y >= 0 && y < size ? tmp[y * size + x] : 0;
    for (let y = 0; y < size; y++) {
      out[y * size + x] = s / (2 * r + 1);
      if (y + r + 1 < size) s += tmp[(y + r + 1) * size + x];
      if (y - r >= 0) s -= tmp[(y - r) * size + x];
    }
  }
  return out;
}

/** U-Net-like prediction maps (H×W×3 uint8) of an HPA-like field: blurred interiors and borders. */
export function predictions(size: number): { nucleiPred: Uint8Array; cellPred: Uint8Array } {
  const f = field(size);
  const n = size * size, r = rng(11);
  const cm = new Float32Array(n), nm = new Float32Array(n), cb = new Float32Array(n), nb = new Float32Array(n);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      cm[i] = f.cells[i] > 0 ? 1 : 0;
      nm[i] = f.nuclei[i] > 0 ? 1 : 0;
      const edge = (a: Int32Array): number =>
        (x > 0 && a[i - 1] !== a[i]) || (x < size - 1 && a[i + 1] !== a[i]) || (y > 0 && a[i - size] !== a[i]) || (y < size - 1 && a[i + size] !== a[i]) ? 1 : 0;
      cb[i] = edge(f.cells);
      nb[i] = edge(f.nuclei);
    }
  }
  const k = Math.max(1, Math.round(size / 512));
  const cmb = blur(cm, size, 2 * k), nmb = blur(nm, size, 2 * k), cbb = blur(cb, size, k), nbb = blur(nb, size, k);
  const q = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));
  const nucleiPred = new Uint8Array(3 * n), cellPred = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    nucleiPred[3 * i + 1] = q(255 * Math.min(1, 2 * nbb[i]) + 8 * r());
    nucleiPred[3 * i + 2] = q(255 * nmb[i] + 10 * (r() - 0.5));
    cellPred[3 * i + 1] = q(255 * Math.min(1, 2 * cbb[i]) + 8 * r());
    cellPred[3 * i + 2] = q(255 * cmb[i] + 10 * (r() - 0.5));
  }
  return { nucleiPred, cellPred };
}

export async function run(opts: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const hasNative = capabilities().native;
  for (const size of opts.sizes) {
    const { nucleiPred, cellPred } = predictions(size);
    const base: LabelCellOptions = { width: size, height: size };
    const contenders: Contender[] = [];
    // The TypeScript twin takes seconds per call beyond 2048².
    if (size <= 2048) contenders.push({ impl: 'ts', fn: () => labelCell(nucleiPred, cellPred, { ...base, backend: 'js' }) });
    let note05 = '', note025 = '', noteFifo = '';
    if (hasNative) {
      const exact = await labelCell(nucleiPred, cellPred, { ...base, backend: 'native', threads: 1 });
      const describe = (r: { cells: Uint16Array }): string => {
        const a = agreement(exact.cells, r.cells);
        return `vs exact: mean IoU ${a.meanIoU.toFixed(3)}, ${(100 * a.matched).toFixed(0)}% matched (${a.cellsB}/${a.cellsA} cells)`;
      };
      note05 = describe(await labelCell(nucleiPred, cellPred, { ...base, scale: 0.5, backend: 'native', threads: 1 }));
      note025 = describe(await labelCell(nucleiPred, cellPred, { ...base, scale: 0.25, backend: 'native', threads: 1 }));
      const fifo = await labelCell(nucleiPred, cellPred, { ...base, tieBreak: 'fifo', backend: 'native', threads: 1 });
      let diff = 0;
      for (let i = 0; i < fifo.cells.length; i++) if (fifo.cells[i] !== exact.cells[i]) diff++;
      noteFifo = `not exact: ${diff} px differ from 'heap'`;
      contenders.push(
        { impl: 'native-1t', fn: () => labelCell(nucleiPred, cellPred, { ...base, backend: 'native', threads: 1 }), note: `exact, ${exact.cellCount} cells` },
        { impl: 'native-Nt', fn: () => labelCell(nucleiPred, cellPred, { ...base, backend: 'native', threads: 0 }), note: 'exact' },
        { impl: 'native-1t fifo', fn: () => labelCell(nucleiPred, cellPred, { ...base, tieBreak: 'fifo', backend: 'native', threads: 1 }), note: noteFifo },
        { impl: 'native-1t scale 0.5', fn: () => labelCell(nucleiPred, cellPred, { ...base, scale: 0.5, backend: 'native', threads: 1 }), note: note05 },
        { impl: 'native-1t scale 0.25', fn: () => labelCell(nucleiPred, cellPred, { ...base, scale: 0.25, backend: 'native', threads: 1 }), note: note025 },
      );
    } else {
      contenders.push({ impl: 'ts scale 0.25', fn: () => labelCell(nucleiPred, cellPred, { ...base, scale: 0.25, backend: 'js' }) });
    }
    if (opts.cuda) {
      // The whole chain on the device ('fifo' ties): same labels as 'native-1t fifo'. The least it
      // must move per image: the two 3-channel uint8 maps in, the two uint16 label images out.
      const bytes = 10 * size * size;
      contenders.push(...cudaContenders(
        (device) => labelCell(nucleiPred, cellPred, { ...base, tieBreak: 'fifo', backend: 'native', threads: 0, device }), 'fifo ties', undefined, bytes,
      ));
      // The same images as one stacked chain: one launch per step for all of them. Stacks of 64
      // are faster per image than 16 (the steps' latency is shared by more), but need about 36 GB
      // of device memory at 2048² (134 bytes per pixel at the peak; a call plans with 160): that
      // row runs only where the device holds it as one stack.
      const stackOf = (B: number) => Array.from({ length: B }, () => ({ nucleiPred, cellPred }));
      const batchOpts = { ...base, tieBreak: 'fifo', backend: 'native', threads: 0, device: 'cuda' } as const;
      const items = stackOf(BATCH);
      contenders.push({
        impl: `cuda labelCellBatch ×${BATCH}`, images: BATCH, note: 'fifo ties; ms per image, one stacked chain, incl. copies', after: floorAfter(bytes),
        fn: () => labelCellBatch(items, batchOpts),
      });
      // Rows that need about 36 GB of device memory at 2048²: each runs only where one call of it
      // runs as one stacked chain per labelCellBatch (tried once, here), and says why not
      // otherwise (a batch that the free memory does not hold runs as several stacks: another row).
      const ifItRuns = async (c: Contender): Promise<void> => {
        if (size > 2048 || !selected(opts, c.impl)) return;
        const ok = await Promise.resolve(c.fn()).then((r) => {
          const split = [r].flat().map((x) => (x as { memoryNote?: string } | undefined)?.memoryNote).find((x) => x !== undefined);
          if (split) console.error(`label-cell ${size}²: no ${c.impl} row (${split})`);
          return split === undefined;
        }, (err: Error) => {
          console.error(`label-cell ${size}²: no ${c.impl} row (${err.message})`);
          return false;
        });
        if (ok) contenders.push(c);
      };
      const big = stackOf(4 * BATCH);
      await ifItRuns({
        impl: `cuda labelCellBatch ×${4 * BATCH}`, images: 4 * BATCH, note: 'fifo ties; ms per image, one stacked chain, incl. copies', after: floorAfter(bytes),
        fn: () => labelCellBatch(big, batchOpts),
      });
      // Four stacked chains of 16 at once, one stream and one host loop each: one chain's copies
      // and round trips can overlap another's kernels (as 16 single calls in flight beat one
      // stacked call of 16 on gpu-check.mjs's maps). The same images and memory as the ×64 row.
      await ifItRuns({
        impl: `cuda 4 × labelCellBatch ×${BATCH} at once`, images: 4 * BATCH, note: 'fifo ties; ms per image, four stacked chains in flight, incl. copies', after: floorAfter(bytes),
        fn: () => Promise.all([0, 1, 2, 3].map(() => labelCellBatch(items, batchOpts))),
      });
    }
    const caseRows = await runCase('label-cell', size, contenders, opts);
    if (opts.python && !opts.quick) {
      const py = runPython(opts.python, PY_SCRIPT, {
        nuclei: { data: nucleiPred, dtype: 'uint8', shape: [size, size, 3] },
        cells: { data: cellPred, dtype: 'uint8', shape: [size, size, 3] },
      }, { oracle: oracleDir });
      // How much faster than the replica: native one thread (issue 4's goal) and the CUDA rows.
      const faster = (ms: number) => caseRows.filter((r) => r.impl === 'native-1t' || r.impl.startsWith('cuda'))
        .map((r) => `${r.impl} is ${(ms / r.medianMs).toFixed(r.impl.startsWith('cuda') ? 0 : 1)}× faster`);
      for (const [impl, ms] of Object.entries(py ?? {})) {
        caseRows.push(comparatorRow('label-cell', size, impl, ms, ['tests/oracle/label_cell_replica.py', ...faster(ms)].join('; ')));
      }
    }
    rows.push(...withRatios(caseRows));
  }
  return rows;
}
