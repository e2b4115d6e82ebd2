// The native model-free maps (native/src/model_free.cc) against their TypeScript twin
// (segment/model-free.ts): the same bytes on random and synthetic stains, 8- and 16-bit, odd sizes,
// edge cases of the histogram and the blur, every option, any thread count; the fixed exp both use;
// and the errors that name the argument.
import { describe, expect, it } from 'vitest';
import { expFixed, modelFreeMaps, modelFreeMapsAsync, type ModelFreeChannels, type ModelFreeOptions } from '../src/segment/model-free.js';
import { synthImage } from '../src/synth/index.js';
import { mulberry32 } from '../src/util/random.js';
import { hasNative } from './helpers.js';

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/** Stains of `kind`: uniform noise, blobs on a dark background, one constant value, or a synthetic HPA field. */
function stains(kind: 'noise' | 'blobs' | 'constant' | 'synth', W: number, H: number, bitDepth: 8 | 16, seed: number): ModelFreeChannels {
  if (kind === 'synth') {
    const s = synthImage(`m${seed}`, W, seed, [0, 3, 14], { bitDepth });
    return { width: W, height: H, bitDepth, channels: { red: s.red, blue: s.blue, yellow: s.yellow } };
  }
  const rnd = mulberry32(seed), top = bitDepth === 16 ? 65535 : 255;
  const make = () => {
    const a = bitDepth === 16 ? new Uint16Array(W * H) : new Uint8Array(W * H);
    const cx = Array.from({ length: 6 }, () => [rnd() * W, rnd() * H, 2 + rnd() * Math.max(W, H) / 6]);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let v = 0;
        if (kind === 'noise') v = rnd() * top;
        else if (kind === 'constant') v = top / 3;
        else for (const [bx, by, r] of cx) if ((x - bx) ** 2 + (y - by) ** 2 < r * r) v = top * (0.4 + 0.6 * rnd());
        a[y * W + x] = Math.round(v);
      }
    }
    return a;
  };
  return { width: W, height: H, bitDepth, channels: { red: make(), blue: make(), yellow: make() } };
}

describe('expFixed', () => {
  it('is e^x to 2e-13 relative (the reduction rounds more with larger x), and saturates outside', () => {
    const rnd = mulberry32(7);
    for (let k = 0; k < 20000; k++) {
      const x = (rnd() - 0.5) * 1400;
      const want = Math.exp(x), got = expFixed(x);
      if (x < -708) expect(got).toBe(0);
      else expect(Math.abs(got - want) / want).toBeLessThan(2e-13);
    }
    expect(expFixed(0)).toBe(1);
    expect(expFixed(710)).toBe(Infinity);
    expect(expFixed(-709)).toBe(0);
  });
});

describe.skipIf(!hasNative)('modelFreeMapsAsync: the native kernel equals the twin byte for byte', () => {
  const cases: { kind: 'noise' | 'blobs' | 'constant' | 'synth'; W: number; H: number; bitDepth: 8 | 16; options?: ModelFreeOptions }[] = [
    { kind: 'noise', W: 1, H: 1, bitDepth: 8 },
    { kind: 'noise', W: 7, H: 3, bitDepth: 16 },
    { kind: 'blobs', W: 37, H: 53, bitDepth: 8 },
    { kind: 'constant', W: 64, H: 48, bitDepth: 16 },
    { kind: 'noise', W: 300, H: 240, bitDepth: 16 },
    { kind: 'blobs', W: 256, H: 199, bitDepth: 16, options: { intensityWeight: 0.5, decay: 40 } },
    { kind: 'blobs', W: 200, H: 200, bitDepth: 8, options: { lengthScale: 0.01 } }, // sigmas below one box: radius 0
    { kind: 'blobs', W: 160, H: 96, bitDepth: 8, options: { nucleusSigma: 0, cellSigma: 20, lengthScale: 1 } },
    { kind: 'synth', W: 512, H: 512, bitDepth: 8 },
    { kind: 'synth', W: 768, H: 768, bitDepth: 16, options: { intensityWeight: 0.3 } },
  ];
  it.each(cases.map((c, i) => ({ ...c, i, name: `${c.kind} ${c.W}×${c.H} ${c.bitDepth}-bit ${JSON.stringify(c.options ?? {})}` })))(
    '$name', async ({ kind, W, H, bitDepth, options, i }) => {
      const img = stains(kind, W, H, bitDepth, 100 + i);
      const twin = modelFreeMaps(img, options);
      for (const threads of [1, 3, 0]) {
        const nat = await modelFreeMapsAsync(img, { ...options, threads, backend: 'native' });
        expect(same(nat.nucleiPred, twin.nucleiPred), `threads ${threads} nuclei`).toBe(true);
        expect(same(nat.cellPred, twin.cellPred), `threads ${threads} cells`).toBe(true);
      }
      // Not trivially equal: the larger fields have nuclei and cells in them.
      if (W * H >= 512 * 512) expect(twin.nucleiPred.some((v) => v > 200) && twin.cellPred.some((v) => v > 100)).toBe(true);
    },
  );

  it.each([
    { name: 'a stain of the wrong depth', img: (m: ModelFreeChannels) => ({ ...m, channels: { ...m.channels, red: new Uint8Array(m.width * m.height) } }), msg: /Uint16Array for img\.channels\.red but received Uint8Array/ },
    { name: 'a short stain', img: (m: ModelFreeChannels) => ({ ...m, channels: { ...m.channels, yellow: new Uint16Array(5) } }), msg: /img\.channels\.yellow/ },
    { name: 'a bit depth of 12', img: (m: ModelFreeChannels) => ({ ...m, bitDepth: 12 as 8 }), msg: /8 or 16 for img\.bitDepth/ },
    { name: 'a negative decay', img: (m: ModelFreeChannels) => m, options: { decay: -1 }, msg: /options\.decay/ },
    { name: 'an intensity weight above 1', img: (m: ModelFreeChannels) => m, options: { intensityWeight: 2 }, msg: /options\.intensityWeight/ },
  ])('rejects $name and names it', async ({ img, options, msg }) => {
    const base = stains('noise', 16, 16, 16, 1);
    await expect(modelFreeMapsAsync(img(base), { ...options, backend: 'native' })).rejects.toThrow(msg);
  });
});
