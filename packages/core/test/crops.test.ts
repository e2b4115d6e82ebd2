// Tests of the cell crop exporter: masking, square/centred geometry, area resizing against a
// supersampling oracle, 8/16-bit scaling, border cells, id subsets, argument errors, .npy files.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellCrops, decodeNpy, encodeNpy, writeCellCrops, type CellCropItem } from '../src/io/crops.js';
import type { ImageSet } from '../src/io/imageset.js';

const W = 24, H = 20;

/** Label image with known cells: 1 = 4×2 rectangle, 2 = 3×6 bar beside it, 3 = 5×5 in the top-left corner, 4 = 10×3 at the bottom edge. */
function labelImage(): Uint16Array {
  const L = new Uint16Array(W * H);
  const fill = (id: number, x0: number, y0: number, w: number, h: number) => {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) L[y * W + x] = id;
  };
  fill(1, 8, 6, 4, 2);
  fill(2, 12, 4, 3, 6);
  fill(3, 0, 0, 5, 5);
  fill(4, 10, 17, 10, 3);
  return L;
}

/** An image whose pixel values encode position and channel (8-bit, or the same values ×257 in 16-bit). */
function image(bitDepth: 8 | 16 = 8): ImageSet {
  const plane = (c: number) => {
    const a = bitDepth === 8 ? new Uint8Array(W * H) : new Uint16Array(W * H);
    for (let i = 0; i < W * H; i++) a[i] = ((i * 7 + c * 31) % 251 + 1) * (bitDepth === 8 ? 1 : 257);
    return a;
  };
  return {
    id: 'img',
    width: W,
    height: H,
    bitDepth,
    channels: { red: plane(0), green: plane(1), blue: plane(2), yellow: plane(3) },
    files: { red: '', green: '', blue: '', yellow: '' },
  };
}

/** Oracle: the unresized L×L window of one channel (cell pixels / max, else 0). */
function windowOf(img: ImageSet, cells: Uint16Array, id: number, c: 'red' | 'green' | 'blue' | 'yellow', x0: number, y0: number, L: number): Float64Array {
  const out = new Float64Array(L * L);
  const max = img.bitDepth === 8 ? 255 : 65535;
  for (let v = 0; v < L; v++) for (let u = 0; u < L; u++) {
    const x = x0 + u, y = y0 + v;
    if (x < 0 || y < 0 || x >= W || y >= H || cells[y * W + x] !== id) continue;
    out[v * L + u] = img.channels[c][y * W + x] / max;
  }
  return out;
}

/** Oracle for an area shrink L → S: replicate every pixel S×S times, then average L×L blocks. */
function areaOracle(win: Float64Array, L: number, S: number): Float64Array {
  const out = new Float64Array(S * S);
  for (let oy = 0; oy < S; oy++) for (let ox = 0; ox < S; ox++) {
    let s = 0;
    for (let y = oy * L; y < (oy + 1) * L; y++) for (let x = ox * L; x < (ox + 1) * L; x++) s += win[Math.floor(y / S) * L + Math.floor(x / S)];
    out[oy * S + ox] = s / (L * L);
  }
  return out;
}

const CH = ['red', 'green', 'blue', 'yellow'] as const;

describe('cellCrops geometry and masking', () => {
  const cells = labelImage();
  // [cell, padding, expected x0, y0, L]
  const cases: [number, number, number, number, number][] = [
    [1, 0, 8, 5, 4], // 4×2 box: side 4, centred vertically (floor((4-2)/2) = 1 row above)
    [1, 2, 6, 3, 8],
    [2, 0, 11, 4, 6], // 3×6 box: side 6, floor((6-3)/2) = 1 column left
    [3, 1, -1, -1, 7], // corner cell: window starts outside the image
    [4, 0, 10, 14, 10], // bottom edge: 3 rows tall, window reaches 4 rows below the image
  ];
  it.each(cases)('cell %i, padding %i: window (%i, %i) side %i, contents = masked pixels', (id, padding, x0, y0, L) => {
    const img = image();
    const r = cellCrops(img, cells, { ids: [id], padding, size: L });
    expect(r.ids).toEqual([id]);
    expect(Array.from(r.boxes)).toEqual([x0, y0, L]);
    expect(r.size).toBe(L);
    expect(r.data.length).toBe(4 * L * L);
    CH.forEach((c, k) => {
      const want = Float32Array.from(windowOf(img, cells, id, c, x0, y0, L));
      expect(r.data.subarray(k * L * L, (k + 1) * L * L)).toEqual(want);
    });
  });

  it('zeroes the neighbouring cell inside the window', () => {
    // Cell 2's window (x 11..16, y 4..9) covers cell 1's pixel (11, 6) and background.
    const r = cellCrops(image(), cells, { ids: [2], padding: 0, size: 6 });
    const at = (x: number, y: number) => r.data[(y - 4) * 6 + (x - 11)];
    expect(cells[6 * W + 11]).toBe(1);
    expect(at(11, 6)).toBe(0);
    expect(at(16, 4)).toBe(0); // background
    expect(at(12, 4)).toBeGreaterThan(0); // the cell itself
  });

  it('default padding is round(0.1 × the longer side)', () => {
    // cell 4: 10×3 → side 10, pad 1, L 12
    const r = cellCrops(image(), cells, { ids: [4], size: 12 });
    expect(Array.from(r.boxes)).toEqual([9, 13, 12]);
  });
});

describe('cellCrops resizing', () => {
  const cells = labelImage();
  // [cell, padding, S]: L = 6 (cell 2, pad 0) and 10 (cell 4, pad 0) and 8 (cell 1, pad 2)
  const shrink: [number, number, number][] = [
    [2, 0, 3], // integer factor 2
    [2, 0, 4], // 6 → 4
    [2, 0, 5], // 6 → 5
    [4, 0, 3], // 10 → 3
    [4, 0, 1], // 10 → 1: the window mean
    [1, 2, 5], // 8 → 5
  ];
  it.each(shrink)('cell %i pad %i → S=%i equals the area-average oracle', (id, padding, S) => {
    const img = image();
    const r = cellCrops(img, cells, { ids: [id], padding, size: S });
    const [x0, y0, L] = Array.from(r.boxes);
    expect(L).toBeGreaterThan(S);
    CH.forEach((c, k) => {
      const want = areaOracle(windowOf(img, cells, id, c, x0, y0, L), L, S);
      const got = r.data.subarray(k * S * S, (k + 1) * S * S);
      for (let i = 0; i < S * S; i++) expect(got[i]).toBeCloseTo(want[i], 6);
    });
  });

  it('enlarging by an integer factor replicates pixels', () => {
    const img = image();
    const r = cellCrops(img, cells, { ids: [1], padding: 0, size: 12 }); // L 4 → 12
    const [x0, y0, L] = Array.from(r.boxes);
    const win = windowOf(img, cells, 1, 'green', x0, y0, L);
    const got = r.data.subarray(144, 288);
    for (let y = 0; y < 12; y++) for (let x = 0; x < 12; x++) expect(got[y * 12 + x]).toBe(Math.fround(win[Math.floor(y / 3) * 4 + Math.floor(x / 3)]));
  });

  it('a non-integer enlargement keeps values inside the window range and zero far from the cell', () => {
    const r = cellCrops(image(), cells, { ids: [1], padding: 0, size: 7 }); // 4 → 7
    const max = Math.max(...r.data);
    expect(max).toBeLessThanOrEqual(1);
    expect(r.data[0]).toBe(0); // the top-left corner of the window is background
    expect(max).toBeGreaterThan(0);
  });
});

describe('cellCrops values and ids', () => {
  const cells = labelImage();

  it('8-bit and the same values in 16-bit (×257) give identical crops', () => {
    for (const size of [4, 7, 16]) {
      const a = cellCrops(image(8), cells, { size });
      const b = cellCrops(image(16), cells, { size });
      expect(b.ids).toEqual(a.ids);
      expect(b.data).toEqual(a.data);
    }
  });

  it('values are channel / (2^bitDepth − 1) within [0, 1]', () => {
    const img = image(16);
    img.channels.red.fill(65535);
    const r = cellCrops(img, cells, { ids: [3], padding: 0, size: 5 });
    expect(Array.from(r.data.subarray(0, 25))).toEqual(new Array(25).fill(1));
  });

  it('default ids are every present label, ascending; a subset keeps the given order and equals the full run', () => {
    const full = cellCrops(image(), cells, { size: 8 });
    expect(full.ids).toEqual([1, 2, 3, 4]);
    const sub = cellCrops(image(), cells, { size: 8, ids: [4, 2] });
    expect(sub.ids).toEqual([4, 2]);
    const per = 4 * 64;
    expect(sub.data.subarray(0, per)).toEqual(full.data.subarray(3 * per, 4 * per));
    expect(sub.data.subarray(per, 2 * per)).toEqual(full.data.subarray(per, 2 * per));
    expect(Array.from(sub.boxes.subarray(0, 3))).toEqual(Array.from(full.boxes.subarray(9, 12)));
  });

  it('Int32Array labels give the same crops; an image without cells gives none', () => {
    const a = cellCrops(image(), cells, { size: 8 });
    const b = cellCrops(image(), Int32Array.from(cells), { size: 8 });
    expect(b.data).toEqual(a.data);
    const none = cellCrops(image(), new Uint16Array(W * H), { size: 8 });
    expect(none.ids).toEqual([]);
    expect(none.data.length).toBe(0);
  });

  it('default size is 128', () => {
    expect(cellCrops(image(), cells, { ids: [1] }).data.length).toBe(4 * 128 * 128);
  });
});

describe('cellCrops argument errors', () => {
  const cells = labelImage();
  const bad16 = image(8);
  (bad16 as { bitDepth: number }).bitDepth = 16;
  const negative = Int32Array.from(cells);
  negative[5] = -2;
  const cases: [string, () => unknown, RegExp, string][] = [
    ['cells dtype', () => cellCrops(image(), new Float32Array(W * H) as never), /Expected Uint16Array or Int32Array for cells but received Float32Array/, 'CELLCAM_E_DTYPE'],
    ['cells length', () => cellCrops(image(), new Uint16Array(10)), /for cells but received Uint16Array of length 10/, 'CELLCAM_E_SHAPE'],
    ['negative label', () => cellCrops(image(), negative), /non-negative label for cells\[5\] but received number -2/, 'CELLCAM_E_RANGE'],
    ['size 0', () => cellCrops(image(), cells, { size: 0 }), /for options.size but received number 0/, 'CELLCAM_E_RANGE'],
    ['size 2.5', () => cellCrops(image(), cells, { size: 2.5 }), /an integer for options.size/, 'CELLCAM_E_DTYPE'],
    ['padding -1', () => cellCrops(image(), cells, { padding: -1 }), /for options.padding but received number -1/, 'CELLCAM_E_RANGE'],
    ['absent id', () => cellCrops(image(), cells, { ids: [1, 9] }), /cell present in cells for options.ids\[1\] but received number 9/, 'CELLCAM_E_RANGE'],
    ['repeated id', () => cellCrops(image(), cells, { ids: [2, 2] }), /without repeats for options.ids\[1\]/, 'CELLCAM_E_RANGE'],
    ['ids not an array', () => cellCrops(image(), cells, { ids: 3 as never }), /an array of cell ids for options.ids/, 'CELLCAM_E_DTYPE'],
    ['bitDepth 12', () => cellCrops({ ...image(), bitDepth: 12 as never }, cells), /8 or 16 for image.bitDepth but received number 12/, 'CELLCAM_E_RANGE'],
    ['plane dtype vs bitDepth', () => cellCrops(bad16, cells), /Expected Uint16Array for image.channels.red but received Uint8Array/, 'CELLCAM_E_DTYPE'],
    ['missing channel', () => cellCrops({ ...image(), channels: { ...image().channels, yellow: undefined as never } }, cells), /image.channels.yellow but received undefined/, 'CELLCAM_E_DTYPE'],
    ['image null', () => cellCrops(null as never, cells), /an ImageSet for image but received null/, 'CELLCAM_E_DTYPE'],
  ];
  it.each(cases)('%s', (_name, fn, message, code) => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(message);
    expect((err as { code?: string }).code).toBe(code);
  });
});

// ---------------------------------------------------------------- files

const numpy = (() => {
  const r = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
  return r.status === 0 ? 'python3' : null;
})();

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cellcam-crops-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npy encoding', () => {
  const cases: [string, Float32Array | Uint16Array | Uint8Array | Int32Array | Float64Array, number[], string][] = [
    ['float32 4-d', Float32Array.from({ length: 2 * 4 * 3 * 3 }, (_, i) => i / 7), [2, 4, 3, 3], '<f4'],
    ['uint16 2-d', Uint16Array.from({ length: 6 }, (_, i) => i * 10000), [2, 3], '<u2'],
    ['uint8 1-d', Uint8Array.from([1, 2, 255]), [3], '|u1'],
    ['int32 empty', new Int32Array(0), [0, 4, 2, 2], '<i4'],
    ['float64', Float64Array.from([Math.PI, -1e300]), [2], '<f8'],
  ];
  it.each(cases)('%s round-trips, header aligned to 64 bytes', (_n, data, shape, descr) => {
    const bytes = encodeNpy(data, shape);
    const hlen = bytes[8] | (bytes[9] << 8);
    expect((10 + hlen) % 64).toBe(0);
    expect(new TextDecoder().decode(bytes.subarray(10, 10 + hlen))).toContain(`'descr': '${descr}'`);
    const back = decodeNpy(bytes);
    expect(back.shape).toEqual(shape);
    expect(back.data).toEqual(data);
  });

  it.skipIf(!numpy)('numpy loads what encodeNpy writes', async () => {
    const { writeFileAtomic } = await import('../src/io/atomic.js');
    const f = join(dir, 'check.npy');
    await writeFileAtomic(f, encodeNpy(Float32Array.from([0.5, 1.5, 2.5, 3.5, 4.5, 5.5]), [1, 2, 3]));
    const r = spawnSync(numpy!, ['-c', `import numpy as np; a = np.load(${JSON.stringify(f)}); print(a.dtype, a.shape, float(a.sum()))`], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('float32 (1, 2, 3) 18.0');
  });

  it('rejects bad input with named errors', () => {
    expect(() => encodeNpy(new Float32Array(5), [2, 3])).toThrow(/Expected length 6 \(shape \[2, 3\]\) for data/);
    expect(() => encodeNpy([1, 2] as never, [2])).toThrow(/for data but received Array/);
    expect(() => decodeNpy(new Uint8Array([1, 2, 3]), 'x.npy')).toThrow(/x.npy: not a readable .npy file/);
    const f16 = encodeNpy(new Uint16Array(2), [2]);
    f16.set(new TextEncoder().encode('<f2'), f16.indexOf(0x3c)); // descr '<u2' → '<f2'
    expect(() => decodeNpy(f16, 'half.npy')).toThrow(/half.npy: .*dtype <f2/);
  });
});

describe('writeCellCrops', () => {
  const cells = labelImage();
  const items = (): CellCropItem[] => [
    { image: { ...image(), id: 'a' }, cells, extra: (cell) => ({ labels: cell === 1 ? '3|5' : '0', split: cell === 4 ? 'val' : 'train', note: 'x,"y"' }) },
    { image: { ...image(16), id: 'b' }, cells, ids: [2] },
    { image: { ...image(), id: 'empty' }, cells: new Uint16Array(W * H) },
  ];

  it('writes one .npy per image with cells, a manifest and crops.json; uint16 = round(value × 65535)', async () => {
    const out = join(dir, 'u16');
    const progress: string[] = [];
    const res = await writeCellCrops(out, items(), { size: 8, columns: ['labels', 'split', 'note'], onProgress: (p) => progress.push(`${p.id}:${p.cells}`) });
    expect(res).toMatchObject({ images: 3, cells: 5, size: 8, dtype: 'uint16' });
    expect(progress).toEqual(['a:4', 'b:1', 'empty:0']);
    expect(readdirSync(out).sort()).toEqual(['a.npy', 'b.npy', 'crops.json', 'manifest.csv']);
    const lines = readFileSync(res.manifest, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('ID,cell,file,index,x0,y0,side,labels,split,note');
    expect(lines[1]).toBe(`a,1,a.npy,0,8,5,4,3|5,train,"x,""y"""`);
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 4).join(','))).toEqual(['a,1,a.npy,0', 'a,2,a.npy,1', 'a,3,a.npy,2', 'a,4,a.npy,3', 'b,2,b.npy,0']);
    expect(lines[5]).toBe('b,2,b.npy,0,10,3,8,,,'); // no extra(): empty values

    const a = decodeNpy(readFileSync(join(out, 'a.npy')));
    expect(a.shape).toEqual([4, 4, 8, 8]);
    expect(a.data).toBeInstanceOf(Uint16Array);
    const ref = cellCrops(image(), cells, { size: 8 });
    expect(Array.from(a.data)).toEqual(Array.from(ref.data, (v) => Math.round(v * 65535)));
    const info = JSON.parse(readFileSync(join(out, 'crops.json'), 'utf8'));
    expect(info).toMatchObject({ version: 1, size: 8, dtype: 'uint16', images: 3, cells: 5 });
  });

  it('float32 stores the contract values; async iterables work; padding applies', async () => {
    const out = join(dir, 'f32');
    async function* gen() {
      yield* items().slice(0, 2);
    }
    const res = await writeCellCrops(out, gen(), { size: 8, dtype: 'float32', padding: 0 });
    expect(res.files).toEqual([join(out, 'a.npy'), join(out, 'b.npy')]);
    const b = decodeNpy(readFileSync(join(out, 'b.npy')));
    expect(b.data).toEqual(cellCrops(image(16), cells, { size: 8, ids: [2], padding: 0 }).data);
  });

  it.skipIf(!numpy)('numpy reads the folder as documented', async () => {
    const out = join(dir, 'np');
    await writeCellCrops(out, items(), { size: 8, columns: ['labels'] });
    const py = [
      'import csv, numpy as np, os, sys',
      `d = ${JSON.stringify(out)}`,
      'rows = list(csv.DictReader(open(os.path.join(d, "manifest.csv"))))',
      'x = np.stack([np.load(os.path.join(d, r["file"]))[int(r["index"])] for r in rows]).astype(np.float32) / 65535',
      'print(x.shape, x.dtype, rows[0]["labels"], round(float(x.max()), 4))',
    ].join('\n');
    const r = spawnSync(numpy!, ['-c', py], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(/^\(5, 4, 8, 8\) float32 3\|5 (0|1)\.\d+$/);
  });

  const errors: [string, () => Promise<unknown>, RegExp][] = [
    ['duplicate ID', () => writeCellCrops(join(dir, 'e1'), [items()[0], items()[0]]), /an ID not written before for items\[1\].image.id/],
    ['ID with a slash', () => writeCellCrops(join(dir, 'e2'), [{ ...items()[0], image: { ...image(), id: '../x' } }]), /usable as a file name .* for items\[0\].image.id/],
    ['bad dtype', () => writeCellCrops(join(dir, 'e3'), items(), { dtype: 'float16' as never }), /'uint16' or 'float32' for options.dtype/],
    ['column clash', () => writeCellCrops(join(dir, 'e4'), items(), { columns: ['cell'] }), /not used before for options.columns\[0\]/],
    ['items not iterable', () => writeCellCrops(join(dir, 'e5'), 5 as never), /iterable .* for items but received number 5/],
    ['bad cells in an item', () => writeCellCrops(join(dir, 'e6'), [{ image: image(), cells: new Uint16Array(3) }]), /for cells but received Uint16Array of length 3/],
  ];
  it.each(errors)('%s is a named error and leaves no manifest', async (_n, fn, message) => {
    await expect(fn()).rejects.toThrow(message);
    for (const d of ['e1', 'e2', 'e3', 'e4', 'e5', 'e6']) {
      let names: string[] = [];
      try {
        names = readdirSync(join(dir, d));
      } catch {
        /* never created */
      }
      expect(names).not.toContain('manifest.csv');
    }
  });
});
