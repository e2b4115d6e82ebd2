// Benchmark of connected-component labelling: the binary foreground of an HPA-like field with
// 8-connectivity, TypeScript vs native (1 vs all threads) vs CUDA vs scipy / scikit-image / OpenCV.
import { capabilities, label, type LabelOptions } from '@cellcam/core';
import { field } from './data.js';
import { BATCH, comparatorRow, cudaContenders, runCase, runPython, withRatios, type BenchOptions, type Contender, type Row } from './harness.js';

// Each tool labels the same uint8 0/1 mask with the 3×3 structure; output dtypes are their defaults.
const PY_SCRIPT = `
import scipy, skimage
from scipy import ndimage as ndi
from skimage import measure
b = inputs['binary']
mm = lambda v: '.'.join(v.split('.')[:2])
res = {}
st = np.ones((3, 3), dtype=bool)
res['scipy ' + mm(scipy.__version__)] = median_ms(lambda: ndi.label(b, structure=st))
res['skimage ' + mm(skimage.__version__)] = median_ms(lambda: measure.label(b, connectivity=2))
try:
    import cv2
    res['opencv ' + mm(cv2.__version__)] = median_ms(lambda: cv2.connectedComponents(b, connectivity=8, ltype=cv2.CV_32S))
except ImportError:
    pass
print(json.dumps(res))
`;

const NOTES: Record<string, string> = {
  scipy: 'ndimage.label, 3×3 structure',
  skimage: 'measure.label(connectivity=2)',
  opencv: 'connectedComponents(connectivity=8); label order differs; OpenCV threading defaults',
};

export async function run(opts: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const hasNative = capabilities().native;
  for (const size of opts.sizes) {
    const f = field(size);
    const out = new Int32Array(size * size);
    const base: LabelOptions = { width: size, height: size, connectivity: 8, mode: 'binary', out };
    const contenders: Contender[] = [
      { impl: 'ts', fn: () => label(f.binary, { ...base, backend: 'js' }) },
    ];
    if (hasNative) {
      contenders.push(
        { impl: 'native-1t', fn: () => label(f.binary, { ...base, backend: 'native', device: 'cpu', threads: 1 }) },
        { impl: 'native-Nt', fn: () => label(f.binary, { ...base, backend: 'native', device: 'cpu', threads: 0 }) },
      );
    }
    if (opts.cuda) {
      const outs = Array.from({ length: BATCH }, () => new Int32Array(size * size));
      // The least a device must move: the uint8 image in, the int32 labels out.
      contenders.push(...cudaContenders((device, k) => label(f.binary, { ...base, out: outs[k], backend: 'native', device, threads: 0 }), '8-conn binary', undefined, 5 * size * size));
    }
    const caseRows = await runCase('label', size, contenders, opts);
    if (opts.python && !opts.quick) {
      const py = runPython(opts.python, PY_SCRIPT, { binary: { data: f.binary, dtype: 'uint8', shape: [size, size] } });
      for (const [impl, ms] of Object.entries(py ?? {})) {
        caseRows.push(comparatorRow('label', size, impl, ms, NOTES[impl.split(' ')[0]]));
      }
    }
    rows.push(...withRatios(caseRows));
  }
  return rows;
}
