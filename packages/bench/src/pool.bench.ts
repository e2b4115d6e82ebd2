// Benchmark of CAM-to-cell pooling: a 19-class CAM at 1/16 resolution pooled over ~60 cells per
// 2048², TypeScript vs native (mean only / mean+max, 1 vs all threads) vs CUDA vs OpenCV+numpy.
import { poolCells, type PoolCellsOptions } from '@cellcam/core';
import { field, rng } from './data.js';
import { comparatorRow, cudaContenders, runCase, runPython, withRatios, type BenchOptions, type Contender, type Row } from './harness.js';

// The usual numpy approach: materialize each upsampled channel, then one weighted bincount per channel.
const PY_SCRIPT = `
import cv2
cam, lab = inputs['cam'], inputs['cells'].ravel()
n, H, W = params['cells'], params['size'], params['size']
def run():
    cnt = np.bincount(lab, minlength=n + 1).astype(np.float64)
    out = np.empty((cam.shape[0], n + 1))
    for c in range(cam.shape[0]):
        up = cv2.resize(cam[c], (W, H), interpolation=cv2.INTER_LINEAR)
        out[c] = np.bincount(lab, weights=up.ravel(), minlength=n + 1)
    return out / np.maximum(cnt, 1)
print(json.dumps({'opencv': median_ms(run), 'version': cv2.__version__}))
`;

export async function run(opts: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  for (const size of opts.sizes) {
    const f = field(size);
    const base: PoolCellsOptions = { channels: 19, mapHeight: f.camSize, mapWidth: f.camSize, width: size, height: size, cells: f.cellCount };
    const cpu = { ...base, backend: 'native' as const, device: 'cpu' as const };
    const contenders: Contender[] = [
      { impl: 'ts', fn: () => poolCells(f.cam, f.cells, { ...base, backend: 'js' }), note: 'mean+max' },
      { impl: 'native-1t mean', fn: () => poolCells(f.cam, f.cells, { ...cpu, stats: 'mean', threads: 1 }) },
      { impl: 'native-1t mean+max', fn: () => poolCells(f.cam, f.cells, { ...cpu, threads: 1 }) },
      { impl: 'native-Nt mean+max', fn: () => poolCells(f.cam, f.cells, { ...cpu, threads: 0 }) },
      { impl: 'native-1t mean+max nuclei', fn: () => poolCells(f.cam, f.cells, { ...cpu, nuclei: f.nuclei, threads: 1 }), note: 'cell/nucleus/cytoplasm slots' },
    ];
    if (opts.cuda) {
      // The least a device must move: the map and the labels in, the means, maxima and areas out.
      const bytes = f.cam.byteLength + f.cells.byteLength + f.cellCount * (2 * 19 + 1) * 4;
      contenders.push(...cudaContenders((device) => poolCells(f.cam, f.cells, { ...base, backend: 'native', device, threads: 0 }), 'mean+max', undefined, bytes));
    }
    const caseRows = await runCase('pool', size, contenders, opts);
    if (opts.python && !opts.quick) {
      const py = runPython(opts.python, PY_SCRIPT, {
        cam: { data: f.cam, dtype: 'float32', shape: [19, f.camSize, f.camSize] },
        cells: { data: f.cells, dtype: 'int32', shape: [size, size] },
      }, { cells: f.cellCount, size });
      if (py) {
        caseRows.push(comparatorRow('pool', size, 'opencv resize + bincount', py.opencv, `OpenCV ${String(py.version)}, mean only, materializes each channel`));
      }
    }
    rows.push(...withRatios(caseRows));
  }

  // A K=256 feature map (embedding pooling) at 2048², all threads.
  if (!opts.quick) {
    const size = 2048, K = 256;
    const f = field(size);
    const r = rng(11);
    const feats = new Float32Array(K * f.camSize * f.camSize);
    for (let i = 0; i < feats.length; i++) feats[i] = r() * 2 - 1;
    const o: PoolCellsOptions = { channels: K, mapHeight: f.camSize, mapWidth: f.camSize, width: size, height: size, cells: f.cellCount, backend: 'native' };
    const contenders: Contender[] = [
      { impl: 'native-Nt mean K=256', fn: () => poolCells(feats, f.cells, { ...o, device: 'cpu', stats: 'mean', threads: 0 }), note: `${K} feature channels at 1/16` },
      { impl: 'native-Nt mean+max K=256', fn: () => poolCells(feats, f.cells, { ...o, device: 'cpu', threads: 0 }), note: `${K} feature channels at 1/16` },
    ];
    if (opts.cuda) contenders.push({ impl: 'cuda mean+max K=256', fn: () => poolCells(feats, f.cells, { ...o, device: 'cuda' }), note: `${K} feature channels at 1/16` });
    rows.push(...(await runCase('pool', size, contenders, opts)));
  }
  return rows;
}
