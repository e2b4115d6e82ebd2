// Image sets on disk: 8/16-bit PNG, RGB JPEG (the stain's own band), TIFF, and errors that name the file.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { listImageSets, readImageSet, CHANNELS } from '../src/io/imageset.js';
import { encodeGreyPng, readGrey, writeGreyPng } from '../src/io/png.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { rng } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'cellcam-io-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function randomPlane(n: number, max: number, seed: number): Uint16Array {
  const r = rng(seed);
  return Uint16Array.from({ length: n }, () => Math.floor(r() * (max + 1)));
}

describe('readGrey / writeGreyPng', () => {
  it.each([
    ['8-bit', 8 as const],
    ['16-bit', 16 as const],
  ])('round-trips %s PNG exactly', async (_n, depth) => {
    const w = 37, h = 23;
    const src = randomPlane(w * h, depth === 16 ? 65535 : 255, depth);
    const data = depth === 16 ? src : Uint8Array.from(src);
    const f = join(dir, `rt${depth}.png`);
    await writeGreyPng(f, data, w, h);
    const g = await readGrey(f);
    expect(g).toMatchObject({ width: w, height: h, bitDepth: depth });
    expect(Array.from(g.data)).toEqual(Array.from(data));
  });

  it.each([
    // depth, width, height, maxSide, expected size (longer side ≤ maxSide, aspect kept, never upscaled)
    [8, 64, 32, 16, 16, 8],
    [16, 64, 32, 16, 16, 8],
    [16, 30, 45, 20, 13, 20],
    [8, 20, 10, 64, 20, 10],
  ] as const)('maxSide: %d-bit %d×%d read at ≤ %d px → %d×%d, depth kept, source size reported', async (depth, w, h, maxSide, ew, eh) => {
    const max = depth === 16 ? 65535 : 255, level = depth === 16 ? 40000 : 150;
    const flat = depth === 16 ? new Uint16Array(w * h).fill(level) : new Uint8Array(w * h).fill(level);
    const f = join(dir, `ms-${depth}-${w}x${h}.png`);
    await writeGreyPng(f, flat, w, h);
    const g = await readGrey(f, undefined, { maxSide });
    expect(g).toMatchObject({ width: ew, height: eh, bitDepth: depth, sourceWidth: w, sourceHeight: h });
    expect(g.data).toBeInstanceOf(depth === 16 ? Uint16Array : Uint8Array);
    expect(g.data.length).toBe(ew * eh);
    // a flat image stays flat to within libvips' fixed-point weights (0.5 %), on the file's own scale
    // (16-bit data is not squeezed through 8 bits)
    expect(Math.min(...g.data)).toBeGreaterThanOrEqual(Math.floor(level * 0.995));
    expect(Math.max(...g.data)).toBeLessThanOrEqual(Math.min(max, Math.ceil(level * 1.005)));
  });
});

describe('readImageSet', () => {
  it.each([
    ['png8', 8],
    ['png16', 16],
    ['tif16', 16],
  ])('reads a %s set planar, with its bit depth', async (kind, depth) => {
    const size = 24, id = `set-${kind}`;
    const sub = join(dir, kind);
    const planes: Record<string, Uint16Array> = {};
    for (const [i, c] of CHANNELS.entries()) {
      planes[c] = randomPlane(size * size, depth === 16 ? 65535 : 255, 100 + i);
      const data = depth === 16 ? planes[c] : Uint8Array.from(planes[c]);
      if (kind === 'tif16') {
        const buf = await sharp(data, { raw: { width: size, height: size, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'lzw' }).toBuffer();
        await writeFileAtomic(join(sub, `${id}_${c}.tif`), buf);
      } else await writeGreyPng(join(sub, `${id}_${c}.png`), data, size, size);
    }
    const img = await readImageSet(sub, id);
    expect(img).toMatchObject({ id, width: size, height: size, bitDepth: depth, sourceWidth: size, sourceHeight: size });
    for (const c of CHANNELS) expect(Array.from(img.channels[c])).toEqual(Array.from(planes[c]));
    // downscaled for display: every channel at the same reduced size, depth kept
    const small = await readImageSet(sub, id, { maxSide: 10 });
    expect(small).toMatchObject({ width: 10, height: 10, bitDepth: depth, sourceWidth: size, sourceHeight: size });
    for (const c of CHANNELS) expect(small.channels[c].length).toBe(100);
  });

  it('takes each stain from its own colour band in public HPA RGB JPEGs', async () => {
    const sub = join(dir, 'jpg'), id = 'hpa';
    const size = 16;
    const bands = { red: [200, 0, 0], green: [0, 150, 0], blue: [0, 0, 90], yellow: [120, 120, 0] } as const;
    for (const c of CHANNELS) {
      const rgb = new Uint8Array(size * size * 3);
      for (let i = 0; i < size * size; i++) rgb.set(bands[c], i * 3);
      await writeFileAtomic(join(sub, `${id}_${c}.jpg`), await sharp(Buffer.from(rgb), { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 100 }).toBuffer());
    }
    const img = await readImageSet(sub, id);
    const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;
    expect(img.bitDepth).toBe(8);
    expect(mean(img.channels.red)).toBeGreaterThan(190);
    expect(mean(img.channels.green)).toBeGreaterThan(140);
    expect(mean(img.channels.blue)).toBeGreaterThan(80);
    expect(mean(img.channels.yellow)).toBeGreaterThan(110);
  });

  it('lists complete and incomplete sets', async () => {
    const sub = join(dir, 'list');
    for (const c of CHANNELS) await writeGreyPng(join(sub, `a_${c}.png`), new Uint8Array(4), 2, 2);
    await writeGreyPng(join(sub, 'b_red.png'), new Uint8Array(4), 2, 2);
    writeFileSync(join(sub, 'notes.txt'), 'x');
    const sets = await listImageSets(sub);
    expect(sets.map((s) => [s.id, s.complete, s.missing])).toEqual([
      ['a', true, []],
      ['b', false, ['green', 'blue', 'yellow']],
    ]);
  });

  describe('errors name the file', () => {
    const sub = join(dir, 'bad');
    const make = async (id: string, sizes: Partial<Record<string, [number, number]>> = {}, skip: string[] = []) => {
      for (const c of CHANNELS) {
        if (skip.includes(c)) continue;
        const [w, h] = sizes[c] ?? [8, 8];
        await writeGreyPng(join(sub, `${id}_${c}.png`), new Uint8Array(w * h), w, h);
      }
    };
    it('missing channel', async () => {
      await make('miss', {}, ['yellow']);
      await expect(readImageSet(sub, 'miss')).rejects.toThrow(/miss_yellow\.png/);
    });
    it('channels of different sizes', async () => {
      await make('sizes', { green: [8, 9] });
      await expect(readImageSet(sub, 'sizes')).rejects.toThrow(/sizes_green\.png: 8x9 but .*sizes_red\.png is 8x8/);
    });
    it('non-square image', async () => {
      await make('rect', { red: [8, 6], green: [8, 6], blue: [8, 6], yellow: [8, 6] });
      await expect(readImageSet(sub, 'rect')).rejects.toThrow(/rect_red\.png: expected a square image but found 8x6/);
    });
    it('truncated file', async () => {
      await make('trunc');
      const f = join(sub, 'trunc_blue.png');
      const full = await encodeGreyPng(randomPlane(64 * 64, 255, 3).map((v) => v) as unknown as Uint16Array, 64, 64);
      writeFileSync(f, full.subarray(0, Math.floor(full.length / 2)));
      await expect(readImageSet(sub, 'trunc')).rejects.toThrow(/trunc_blue\.png: cannot (read|decode)/);
      expect(readFileSync(f).length).toBeGreaterThan(0);
    });
  });
});

describe('removeStaleTempFiles', () => {
  it('removes temp files of dead writers only, down to the given depth', async () => {
    const { removeStaleTempFiles } = await import('../src/io/atomic.js');
    const { mkdirSync, existsSync } = await import('node:fs');
    const root = mkdtempSync(join(tmpdir(), 'cellcam-stale-'));
    try {
      mkdirSync(join(root, 'a', 'b'), { recursive: true });
      const dead = 2 ** 22 + 12345; // above Linux's default pid_max: no such process
      const files = {
        deadTop: join(root, `.cellcam-tmp-${dead}-abc123-run.json`),
        deadDeep: join(root, 'a', 'b', `.cellcam-tmp-${dead}-def456-x.json`),
        mine: join(root, 'a', `.cellcam-tmp-${process.pid}-ghi789-y.json`),
        other: join(root, 'a', 'keep.json'),
      };
      for (const f of Object.values(files)) writeFileSync(f, '{}');
      const removed = await removeStaleTempFiles(root, 1);
      expect(removed).toEqual([files.deadTop]);
      expect(await removeStaleTempFiles(root, 3)).toEqual([files.deadDeep]);
      expect(existsSync(files.mine)).toBe(true);
      expect(existsSync(files.other)).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
