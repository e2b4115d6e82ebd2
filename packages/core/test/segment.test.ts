// Model-free segmentation on synthetic fields: map format, cell-mask AP against the synthetic
// truth at several sizes and bit depths (small fields use the scaled size constants).
import { describe, expect, it } from 'vitest';
import { synthImage } from '../src/synth/index.js';
import { modelFreeMaps, gaussianBlur, distanceTo } from '../src/segment/model-free.js';
import { segmentImage } from '../src/segment/segment.js';
import { segmentationScore } from '../src/metric/segmentation.js';
import type { ImageSet } from '../src/io/imageset.js';

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

describe('segmentImage (model-free maps + exact labelCell)', () => {
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
  });
});
