// Benchmark of cell RLE: COCO counts strings of every cell of an HPA-like 16-bit label image,
// TypeScript vs native (1 vs all threads) vs CUDA, and a rough numpy comparator (pycocotools is absent).
import { capabilities, cellRle, type CellRleOptions } from '@cellcam/core';
import { field } from './data.js';
import { comparatorRow, cudaContenders, runCase, runPython, withRatios, type BenchOptions, type Contender, type Row } from './harness.js';

// Not pycocotools: a column-major copy, per-cell run boundaries with numpy, then cocoapi's
// rleToString in pure Python. Only a rough reference for what a numpy user would write.
const PY_SCRIPT = `
lab = inputs['cells']
cells = params['cells']
def to_string(cnts):
    out = []
    for i, x in enumerate(cnts):
        x = int(x)
        if i > 2: x -= int(cnts[i - 2])
        more = True
        while more:
            c = x & 0x1f; x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more: c |= 0x20
            out.append(c + 48)
    return bytes(out)
def run():
    f = lab.ravel(order='F')
    n = f.size
    res = []
    for i in range(1, cells + 1):
        edges = np.flatnonzero(np.diff(np.concatenate(([False], f == i, [False]))))
        cnts = np.diff(np.concatenate(([0], edges, [n])))
        if len(cnts) > 1 and cnts[-1] == 0: cnts = cnts[:-1]
        res.append(to_string(cnts))
    return res
print(json.dumps({'numpy': median_ms(run), 'version': np.__version__}))
`;

export async function run(opts: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const hasNative = capabilities().native;
  for (const size of opts.sizes) {
    const f = field(size);
    const base: CellRleOptions = { width: size, height: size, cells: f.cellCount };
    const note = `${f.cellCount} cells, uint16`;
    const contenders: Contender[] = [
      { impl: 'ts', fn: () => cellRle(f.cells16, { ...base, backend: 'js' }), note },
    ];
    if (hasNative) {
      contenders.push(
        { impl: 'native-1t', fn: () => cellRle(f.cells16, { ...base, backend: 'native', device: 'cpu', threads: 1 }), note },
        { impl: 'native-Nt', fn: () => cellRle(f.cells16, { ...base, backend: 'native', device: 'cpu', threads: 0 }), note },
      );
    }
    if (opts.cuda) {
      // The least a device must move: the labels in (the runs out are a few kB).
      contenders.push(...cudaContenders((device) => cellRle(f.cells16, { ...base, backend: 'native', device, threads: 0 }), note, 'runs on the GPU, strings on the CPU', f.cells16.byteLength));
    }
    const caseRows = await runCase('rle', size, contenders, opts);
    if (opts.python && !opts.quick) {
      const py = runPython(opts.python, PY_SCRIPT, { cells: { data: f.cells16, dtype: 'uint16', shape: [size, size] } }, { cells: f.cellCount });
      if (py) {
        caseRows.push(comparatorRow('rle', size, 'numpy scan (rough)', py.numpy, `numpy ${String(py.version)} F-order copy + per-cell np.diff + Python rleToString; not pycocotools`));
      }
    }
    rows.push(...withRatios(caseRows));
  }
  return rows;
}
