// Benchmark of the model-input resampling: one 16-bit size² plane area-resized to 512² (the
// classifier input; every image does it for 4 channels, twice per run), TypeScript vs native
// (1 vs all threads), and OpenCV's INTER_AREA resize as the reference tool.
import { capabilities, resample, type ResampleOptions } from '@cellcam/core';
import { rng } from './data.js';
import { comparatorRow, runCase, runPython, withRatios, type BenchOptions, type Contender, type Row } from './harness.js';

const OUT = 512;

// cv2.resize INTER_AREA on uint16 gives uint16 (rounded): a float32 copy first, as our output is float.
const PY_SCRIPT = `
res = {}
try:
    import cv2
    src = inputs['plane']
    out = int(params['out'])
    res['opencv'] = median_ms(lambda: cv2.resize(src.astype(np.float32), (out, out), interpolation=cv2.INTER_AREA))
    res['version'] = cv2.__version__
except ImportError:
    pass
print(json.dumps(res))
`;

export async function run(opts: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const hasNative = capabilities().native;
  for (const size of opts.sizes) {
    const r = rng(size);
    const plane = Uint16Array.from({ length: size * size }, () => Math.floor(r() * 65536));
    const out = new Float32Array(OUT * OUT);
    const base: ResampleOptions = { width: size, height: size, outWidth: OUT, outHeight: OUT, scale: 1 / 65535, out };
    const note = `uint16 → ${OUT}² float32`;
    const contenders: Contender[] = [{ impl: 'ts', fn: () => resample(plane, { ...base, backend: 'js' }), note }];
    if (hasNative) {
      contenders.push(
        { impl: 'native-1t', fn: () => resample(plane, { ...base, backend: 'native', threads: 1 }), note },
        { impl: 'native-Nt', fn: () => resample(plane, { ...base, backend: 'native', threads: 0 }), note },
      );
    }
    const caseRows = await runCase('resample', size, contenders, opts);
    if (opts.python && !opts.quick) {
      const py = runPython(opts.python, PY_SCRIPT, { plane: { data: plane, dtype: 'uint16', shape: [size, size] } }, { out: OUT });
      if (py && py.opencv !== undefined) {
        caseRows.push(comparatorRow('resample', size, `opencv ${String(py.version)}`, py.opencv, 'cv2.resize(INTER_AREA) of a float32 copy (the copy included); same box weights, float32 sums'));
      }
    }
    rows.push(...withRatios(caseRows));
  }
  return rows;
}
