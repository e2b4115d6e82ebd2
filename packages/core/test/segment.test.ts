// Model-free segmentation on synthetic fields: map format, cell-mask AP against the synthetic
// truth at several sizes and bit depths (small fields use the scaled size constants); the batcher
// that groups segmentFolder's labelCell calls.
import { describe, expect, it } from 'vitest';
import { synthImage } from '../src/synth/index.js';
import { modelFreeMaps, gaussianBlur, distanceTo } from '../src/segment/model-free.js';
import { resolveTies, segmentImage } from '../src/segment/segment.js';
import { segmentationScore } from '../src/metric/segmentation.js';
import type { ImageSet } from '../src/io/imageset.js';
import { LabelCellBatcher } from '../src/segment/batcher.js';
import { ModelFreePool } from '../src/segment/model-free-pool.js';
import { labelCell } from '../src/segment/label-cell.js';
import { field } from './label-cell-preds.js';
import { hasNative, rejection } from './helpers.js';

const same = (a: Uint16Array, b: Uint16Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function imageSet(size: number, seed: number, bitDepth: 8 | 16): { img: ImageSet; truth: Uint16Array } {
  const s = synthImage(`t${seed}`, size, seed, [0, 16], { bitDepth });
  const channels = { red: s.red, green: s.green, blue: s.blue, yellow: s.yellow };
  return { img: { id: `t${seed}`, width: size, height: size, bitDepth, channels, files: {} as ImageSet['files'] }, truth: s.cells };
}

describe('modelFreeMaps', () => {
  it('writes U-Net-format maps: H×W×3, channel 0 and the border channel empty', () => {
    const { img } = imageSet(512, 1, 8);
    const m = modelFreeMaps(img);
    for (const map of [m.nucleiPred, m.cellPred]) {
      expect(map.length).toBe(512 * 512 * 3);
      let ch0 = 0, ch1 = 0, ch2 = 0;
      for (let i = 0; i < map.length; i += 3) {
        ch0 += map[i];
        ch1 += map[i + 1];
        ch2 += map[i + 2];
      }
      expect(ch0).toBe(0);
      expect(ch1).toBe(0);
      expect(ch2).toBeGreaterThan(0);
    }
  });

  it('blur keeps the mean and distance is 0 on the seed and grows by one per step', () => {
    const a = new Float32Array(64 * 64).map((_, i) => (i % 7) / 7);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    gaussianBlur(a, 64, 64, 3);
    expect(a.reduce((s, v) => s + v, 0) / a.length).toBeCloseTo(mean, 2);
    const seed = new Uint8Array(9 * 9);
    seed[4 * 9 + 4] = 1;
    const d = distanceTo(seed, 9, 9);
    expect(d[4 * 9 + 4]).toBe(0);
    expect(d[4 * 9 + 7]).toBe(3);
  });
});

describe('segmentImage (model-free maps + labelCell)', () => {
  it.each([
    [512, 8 as const, 0.5],
    [1024, 16 as const, 0.8],
  ])('finds the synthetic cells at %i² (%i-bit): AP@0.6 above %f', async (size, depth, minAp) => {
    const { img, truth } = imageSet(size, size + depth, depth);
    const r = await segmentImage(img);
    expect(r.maps).toBe('model-free');
    expect(r.cells.length).toBe(size * size);
    const s = segmentationScore(r.cells, truth);
    expect(s.ap).toBeGreaterThan(minAp);
    // nucleus ids are cell ids
    for (let i = 0; i < r.nuclei.length; i++) if (r.nuclei[i]) expect(r.nuclei[i]).toBe(r.cells[i]);
    // The default (the native maps where the addon loads) and the twin inline give the same labels.
    const inline = await segmentImage(img, {}, undefined, undefined, null);
    expect(same(inline.cells, r.cells) && same(inline.nuclei, r.nuclei)).toBe(true);
  });

  /** The top-left w×h window of a square synthetic set and of its truth. */
  const crop = (src: { img: ImageSet; truth: Uint16Array }, w: number, h: number) => {
    const S = src.img.width;
    const cut = <T extends Uint8Array | Uint16Array>(a: T): T => {
      const out = new (a.constructor as new (n: number) => T)(w * h);
      for (let y = 0; y < h; y++) out.set(a.subarray(y * S, y * S + w), y * w);
      return out;
    };
    const c = src.img.channels;
    const channels = { red: cut(c.red), green: cut(c.green), blue: cut(c.blue), yellow: cut(c.yellow) };
    return { img: { ...src.img, width: w, height: h, channels }, truth: cut(src.truth) };
  };

  it.each([
    // the square fields above score 0.8 (1024², full-size constants) and 0.5 (512², scaled ×4)
    [1024, 640, 0.7],
    [640, 1024, 0.7],
    [600, 400, 0.4],
  ])('segments a non-square %i×%i field as well as a square one (AP@0.6 above %f), native maps equal to the twin', async (w, h, minAp) => {
    const { img, truth } = crop(imageSet(1024, 77, 16), w, h);
    const r = await segmentImage(img);
    expect(r.cells.length).toBe(w * h);
    expect(segmentationScore(r.cells, truth).ap).toBeGreaterThan(minAp);
    const inline = await segmentImage(img, {}, undefined, undefined, null);
    expect(same(inline.cells, r.cells) && same(inline.nuclei, r.nuclei)).toBe(true);
  });
});

describe("ties: 'auto' is hpacellseg's heap order for U-Net maps, raster order for the model-free maps", () => {
  it.each([
    [undefined, false, 'fifo'],
    ['auto', false, 'fifo'],
    [undefined, true, 'heap'],
    ['auto', true, 'heap'],
    ['heap', false, 'heap'],
    ['fifo', true, 'fifo'],
  ] as const)('resolveTies(%j, unet %s) is %s', (ties, unet, want) => {
    expect(resolveTies(ties, unet)).toBe(want);
  });

  it('a bad value is a RangeError naming options.ties', () => {
    expect(() => resolveTies('lifo' as 'auto', false)).toThrow(expect.objectContaining({
      name: 'RangeError', code: 'CELLCAM_E_RANGE', message: "Expected 'heap', 'fifo' or 'auto' for options.ties but received string 'lifo'",
    }));
  });

  it('segmentImage without models runs the fifo chain by default, and the heap chain when asked', async () => {
    const { img } = imageSet(512, 3, 8);
    const calls: string[] = [];
    const spy: typeof labelCell = async (np, cp, o) => {
      calls.push(o.tieBreak ?? 'default');
      return labelCell(np, cp, o);
    };
    const free = await segmentImage(img, {}, undefined, spy);
    await segmentImage(img, { ties: 'heap' }, undefined, spy);
    const fifo = await segmentImage(img, { ties: 'fifo' }, undefined, spy);
    expect(calls).toEqual(['fifo', 'heap', 'fifo']);
    expect(same(free.cells, fifo.cells) && same(free.nuclei, fifo.nuclei)).toBe(true);
    expect(free.cellCount).toBeGreaterThan(0);
  });
});

// Native calls where the addon loads; worker threads with the TypeScript twin otherwise (or with
// backend 'js'). Both must give modelFreeMaps' bytes and the same contract.
const poolModes: { mode: 'native' | 'workers'; backend: 'auto' | 'js' }[] = [...(hasNative ? [{ mode: 'native', backend: 'auto' } as const] : []), { mode: 'workers', backend: 'js' }];

describe.each(poolModes)('ModelFreePool ($mode): the model-free maps off the main thread (segmentFolder)', ({ mode, backend }) => {
  it('gives the bytes of modelFreeMaps for several images at once, and leaves the callers\' channels alone', async () => {
    const pool = ModelFreePool.create(2, { backend });
    expect(pool, 'the worker entry is built with the package (npm run build)').not.toBeNull();
    expect(pool!.mode).toBe(mode);
    try {
      const imgs = [imageSet(512, 5, 8).img, imageSet(512, 6, 16).img, imageSet(512, 7, 8).img];
      const options = [{}, { intensityWeight: 0.4 }, { cellSigma: 3 }];
      const got = await Promise.all(imgs.map((img, k) => pool!.maps(img, options[k])));
      imgs.forEach((img, k) => {
        const want = modelFreeMaps(img, options[k]);
        expect(Buffer.from(got[k].nucleiPred).equals(Buffer.from(want.nucleiPred)), `image ${k} nuclei`).toBe(true);
        expect(Buffer.from(got[k].cellPred).equals(Buffer.from(want.cellPred)), `image ${k} cells`).toBe(true);
        expect(img.channels.blue.length).toBe(img.width * img.height); // copied, not moved
      });
    } finally {
      await pool!.close();
    }
  });

  it('a failing image rejects with its reason and the pool goes on; close() rejects what is queued', async () => {
    const pool = ModelFreePool.create(1, { backend })!;
    const { img } = imageSet(512, 8, 8);
    const broken = { ...img, channels: { ...img.channels, blue: undefined as unknown as Uint8Array } };
    // The native path names the argument (its own code); a worker's error comes back as text.
    await expect(pool.maps(broken)).rejects.toMatchObject(mode === 'native'
      ? { code: 'CELLCAM_E_DTYPE', message: expect.stringMatching(/^model-free maps: Expected Uint8Array for img\.channels\.blue but received undefined/) }
      : { code: 'CELLCAM_E_INTERNAL', message: expect.stringMatching(/^model-free maps: /) });
    expect(Buffer.from((await pool.maps(img)).cellPred).equals(Buffer.from(modelFreeMaps(img).cellPred))).toBe(true);
    const running = pool.maps(img);
    const queued = pool.maps(img);
    const closing = pool.close();
    await expect(queued).rejects.toMatchObject({ code: 'CELLCAM_E_INTERNAL', message: expect.stringMatching(/closed/) });
    await closing;
    await expect(running).rejects.toMatchObject({ code: 'CELLCAM_E_INTERNAL', message: expect.stringMatching(/closed/) });
    await expect(pool.maps(img)).rejects.toMatchObject({ message: expect.stringMatching(/closed/) });
  });
});

describe('LabelCellBatcher: segmentFolder groups labelCell calls into batches', () => {
  const p = field('f', 300, 240, 7, 22, 80, 45, 8);
  const q = field('g', 300, 240, 6, 5, 80, 45, 8);
  const o = { width: 300, height: 240, tieBreak: 'fifo' as const };
  const settled = async <T>(x: Promise<T>): Promise<boolean> => {
    let done = false;
    void x.then(() => (done = true), () => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    return done;
  };

  it('holds a call while another running worker may still join, then runs the group once all wait', async () => {
    const b = new LabelCellBatcher(4, 2);
    const first = b.labelCell(p.nucleiPred, p.cellPred, o);
    expect(await settled(first), 'one of two workers waits: hold').toBe(false);
    const second = b.labelCell(q.nucleiPred, q.cellPred, o);
    const [r1, r2] = await Promise.all([first, second]);
    expect(same(r1.cells, (await labelCell(p.nucleiPred, p.cellPred, o)).cells)).toBe(true);
    expect(same(r2.cells, (await labelCell(q.nucleiPred, q.cellPred, o)).cells)).toBe(true);
    expect(r1.device).toBe('cpu');
  });

  it('runs a full group at once, and a waiting call when the other worker stops', async () => {
    const b = new LabelCellBatcher(2, 3);
    const full = Promise.all([b.labelCell(p.nucleiPred, p.cellPred, o), b.labelCell(q.nucleiPred, q.cellPred, o)]);
    expect(await settled(full), 'two of three wait, but the group is full').toBe(true);
    const alone = b.labelCell(p.nucleiPred, p.cellPred, o);
    expect(await settled(alone)).toBe(false);
    b.workerDone();
    b.workerDone();
    expect((await alone).cellCount).toBe((await labelCell(p.nucleiPred, p.cellPred, o)).cellCount);
  });

  it('keeps sizes apart: calls of different sizes go in different batches', async () => {
    const b = new LabelCellBatcher(4, 2);
    const small = field('s', 200, 160, 4, 9, 70, 40, 8);
    const [r1, r2] = await Promise.all([b.labelCell(p.nucleiPred, p.cellPred, o), b.labelCell(small.nucleiPred, small.cellPred, { ...o, width: 200, height: 160 })]);
    expect(r1.cells.length).toBe(300 * 240);
    expect(same(r2.cells, (await labelCell(small.nucleiPred, small.cellPred, { ...o, width: 200, height: 160 })).cells)).toBe(true);
  });

  it('rejects every call of a failed batch', async () => {
    const b = new LabelCellBatcher(2, 2);
    const bad = { ...o, tieBreak: 'lifo' as never };
    const calls = [b.labelCell(p.nucleiPred, p.cellPred, bad), b.labelCell(q.nucleiPred, q.cellPred, bad)];
    for (const c of calls) expect((await rejection(c)).message).toMatch(/options\.tieBreak/);
  });
});
