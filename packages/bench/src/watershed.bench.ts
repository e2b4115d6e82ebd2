// Benchmark of the seeded watershed on a realistic field (uint8 elevation, ~60 marker blobs at
// 2048², foreground mask): TS twin, native fifo, native heap, CUDA fifo (on a GPU), and
// scikit-image / OpenCV.
import { capabilities, watershed, type WatershedOptions } from '@cellcam/core';
import { field } from './data.js';
import { BATCH, comparatorRow, cudaContenders, runCase, runPython, withRatios, type BenchOptions, type Contender, type Row } from './harness.js';

// skimage gets the same inputs and options as the 'heap' row (its labels are identical to ours).
// cv2.watershed is a different algorithm (Meyer flooding on the colour gradient of a 3-channel
// uint8 image, no mask, -1 boundary pixels): it is timed on the elevation replicated to 3 channels,
// for scale only; it overwrites the markers, so each call gets a fresh copy (copy time included).
const PY = `
res = {}
mm = lambda v: '.'.join(v.split('.')[:2])
el, mk, ms = inputs['elevation'], inputs['markers'], inputs['mask'].astype(bool)
try:
    import skimage
    from skimage.segmentation import watershed
    res['skimage ' + mm(skimage.__version__)] = median_ms(lambda: watershed(el, mk, mask=ms))
except ImportError:
    pass
try:
    import cv2
    img = np.ascontiguousarray(np.repeat(el[:, :, None], 3, axis=2))
    res['opencv ' + mm(cv2.__version__)] = median_ms(lambda: cv2.watershed(img, mk.copy()))
except ImportError:
    pass
print(json.dumps(res))
`;

const NOTES: Record<string, string> = {
  skimage: 'segmentation.watershed(mask=...): the same labels as native heap',
  opencv: 'cv2.watershed: different algorithm, 3-channel input, no mask; includes a markers copy',
};

export async function run(opts: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const hasNative = capabilities().native;
  for (const size of opts.sizes) {
    const f = field(size);
    const out = new Int32Array(size * size);
    const base: WatershedOptions = { width: size, height: size, mask: f.mask, out };
    const ws = (o: Partial<WatershedOptions>) => () => watershed(f.elevation, f.markers, { ...base, ...o });
    const contenders: Contender[] = [
      { impl: 'ts', fn: ws({ backend: 'js' }), note: 'fifo, uint8, mask, 4-conn' },
    ];
    if (hasNative) {
      contenders.push(
        { impl: 'native-1t', fn: ws({ backend: 'native', threads: 1 }), note: 'fifo (bucket queue)' },
        { impl: 'native-Nt', fn: ws({ backend: 'native', threads: 0 }), note: 'threads ignored: flooding is sequential' },
        { impl: 'native heap', fn: ws({ backend: 'native', tieBreak: 'heap' }), note: "tieBreak 'heap' (exact skimage order)" },
      );
    }
    if (opts.cuda) {
      const outs = Array.from({ length: BATCH }, () => new Int32Array(size * size));
      contenders.push(...cudaContenders(
        (device, k) => watershed(f.elevation, f.markers, { ...base, out: outs[k], backend: 'native', device }), 'fifo, uint8, mask, 4-conn',
        // The least a device must move: elevation, markers and mask in, the int32 labels out.
        undefined, f.elevation.byteLength + f.markers.byteLength + f.mask.byteLength + 4 * size * size,
      ));
    }
    const caseRows = await runCase('watershed', size, contenders, opts);
    if (opts.python && !opts.quick) {
      const py = runPython(opts.python, PY, {
        elevation: { data: f.elevation, dtype: 'uint8', shape: [size, size] },
        markers: { data: f.markers, dtype: 'int32', shape: [size, size] },
        mask: { data: f.mask, dtype: 'uint8', shape: [size, size] },
      });
      for (const [impl, ms] of Object.entries(py ?? {})) {
        caseRows.push(comparatorRow('watershed', size, impl, ms, NOTES[impl.split(' ')[0]]));
      }
    }
    rows.push(...withRatios(caseRows));
  }
  return rows;
}
