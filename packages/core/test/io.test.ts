// Image sets on disk: 8/16-bit PNG, RGB JPEG (the stain's own band), TIFF, and errors that name the file.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { listImageSets, readImageSet, CHANNELS } from '../src/io/imageset.js';
import { encodeGreyPng, readGrey, readLabels, writeGreyPng } from '../src/io/png.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { findMasks } from '../src/io/masks.js';
import { hasShared, rng, sharedDir } from './helpers.js';

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

/**
 * A one-strip, uncompressed, little-endian TIFF of one band: the float and signed-integer files
 * sharp cannot write but microscopy tools do.
 */
function rawTiff(width: number, height: number, bits: 16 | 32, sampleFormat: 1 | 2 | 3, pixels: ArrayBufferView): Buffer {
  const entries: Array<[number, number, number]> = [
    // tag, type (3 SHORT, 4 LONG), value
    [256, 4, width],
    [257, 4, height],
    [258, 3, bits],
    [259, 3, 1],
    [262, 3, 1],
    [273, 4, 0], // strip offset, patched below
    [277, 3, 1],
    [278, 4, height],
    [279, 4, pixels.byteLength],
    [339, 3, sampleFormat],
  ];
  const ifdBytes = 2 + entries.length * 12 + 4;
  const out = Buffer.alloc(8 + ifdBytes + pixels.byteLength);
  out.write('II', 0, 'latin1');
  out.writeUInt16LE(42, 2);
  out.writeUInt32LE(8, 4);
  out.writeUInt16LE(entries.length, 8);
  entries.forEach(([tag, type, value], i) => {
    const at = 10 + i * 12;
    out.writeUInt16LE(tag, at);
    out.writeUInt16LE(type, at + 2);
    out.writeUInt32LE(1, at + 4);
    out.writeUInt32LE(tag === 273 ? 8 + ifdBytes : value, at + 8);
  });
  Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength).copy(out, 8 + ifdBytes);
  return out;
}

describe('readGrey on the files users have', () => {
  const w = 9, h = 7, n = w * h;
  const grey8 = Uint8Array.from({ length: n }, (_, i) => (i * 37) % 256);
  const grey16 = Uint16Array.from({ length: n }, (_, i) => (i * 1031 + 7) % 65536);
  /** `bands` interleaved bands of one value type with `plane` in band `at` and the rest zero (alpha full) */
  const interleave = <T extends Uint8Array | Uint16Array>(plane: T, bands: number, at: number, alpha: boolean): T => {
    const out = new (plane.constructor as new (n: number) => T)(n * bands);
    const full = plane instanceof Uint16Array ? 65535 : 255;
    for (let i = 0; i < n; i++) {
      out[i * bands + at] = plane[i];
      if (alpha) out[i * bands + bands - 1] = full;
    }
    return out;
  };
  const raw = (data: Uint8Array | Uint16Array, channels: 1 | 2 | 3 | 4) =>
    sharp(data instanceof Uint16Array ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width: w, height: h, channels } });
  type Case = [name: string, file: string, make: () => Promise<Buffer>, channel: number | undefined, expected: Uint8Array | Uint16Array];
  // channel 1 is what readImageSet asks of a _green file: a grey file gives its grey whatever the band.
  const cases: Case[] = [
    ['8-bit grey PNG', 'g8.png', () => raw(grey8, 1).toColourspace('b-w').png().toBuffer(), 1, grey8],
    ['16-bit grey PNG', 'g16.png', () => raw(grey16, 1).toColourspace('grey16').png().toBuffer(), 1, grey16],
    ['16-bit grey + alpha PNG', 'ga16.png', () => raw(interleave(grey16, 2, 0, true), 2).toColourspace('grey16').png().toBuffer(), 1, grey16],
    ['8-bit grey JPEG (a flat field, which JPEG keeps exact)', 'g8.jpg', () => raw(new Uint8Array(n).fill(77), 1).toColourspace('b-w').jpeg({ quality: 100 }).toBuffer(), 1, new Uint8Array(n).fill(77)],
    ['8-bit grey TIFF', 'g8.tif', () => raw(grey8, 1).toColourspace('b-w').tiff({ compression: 'lzw' }).toBuffer(), 1, grey8],
    ['16-bit grey TIFF', 'g16.tif', () => raw(grey16, 1).toColourspace('grey16').tiff({ compression: 'deflate' }).toBuffer(), 1, grey16],
    ['16-bit grey + alpha TIFF', 'ga16.tif', () => raw(interleave(grey16, 2, 0, true), 2).toColourspace('grey16').tiff({ compression: 'lzw' }).toBuffer(), 3, grey16],
    ['8-bit RGB PNG, stain in green', 'rgb8.png', () => raw(interleave(grey8, 3, 1, false), 3).png().toBuffer(), 1, grey8],
    ['8-bit RGBA PNG, stain in blue', 'rgba8.png', () => raw(interleave(grey8, 4, 2, true), 4).png().toBuffer(), 2, grey8],
    ['16-bit RGB PNG, stain in green', 'rgb16.png', () => raw(interleave(grey16, 3, 1, false), 3).toColourspace('rgb16').png().toBuffer(), 1, grey16],
    ['palette PNG, stain in green', 'pal.png', () => raw(interleave(Uint8Array.from(grey8, (v) => v & 0xf0), 3, 1, false), 3).png({ palette: true, colours: 16, dither: 0 }).toBuffer(), 1, Uint8Array.from(grey8, (v) => v & 0xf0)],
  ];
  it.each(cases)('%s: exact values, bit depth kept', async (_name, file, make, channel, expected) => {
    const f = join(dir, 'variants', file);
    await writeFileAtomic(f, await make());
    const g = await readGrey(f, channel);
    expect(g).toMatchObject({ width: w, height: h, bitDepth: expected instanceof Uint16Array ? 16 : 8 });
    expect(Array.from(g.data)).toEqual(Array.from(expected));
  });

  it.each([
    ['32-bit float', 32, 3, new Float32Array(n).fill(0.5)],
    ['16-bit signed', 16, 2, new Int16Array(n).fill(-3)],
    ['32-bit unsigned', 32, 1, new Uint32Array(n).fill(70000)],
  ] as const)('refuses %s TIFF pixels, naming the file and what it holds', async (kind, bits, format, pixels) => {
    const f = join(dir, 'variants', `odd-${bits}-${format}.tif`);
    await writeFileAtomic(f, rawTiff(w, h, bits, format, pixels));
    const err = await readGrey(f, 1).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CELLCAM_E_FORMAT' });
    expect((err as Error).message).toContain(f);
    expect((err as Error).message).toContain(`expected 8- or 16-bit unsigned integer pixels but found ${kind} pixels`);
  });

  it('readImageSet takes a set of mixed grey and colour files, each stain from its band', async () => {
    const sub = join(dir, 'variants-set'), id = 'mixed';
    const flat = new Uint8Array(n).fill(90);
    await writeFileAtomic(join(sub, `${id}_red.jpg`), await raw(flat, 1).toColourspace('b-w').jpeg({ quality: 100 }).toBuffer());
    await writeFileAtomic(join(sub, `${id}_green.png`), await raw(interleave(grey8, 3, 1, false), 3).png().toBuffer());
    await writeFileAtomic(join(sub, `${id}_blue.png`), await raw(interleave(grey16, 2, 0, true), 2).toColourspace('grey16').png().toBuffer());
    await writeFileAtomic(join(sub, `${id}_yellow.tif`), await raw(grey8, 1).toColourspace('b-w').tiff({ compression: 'lzw' }).toBuffer());
    const img = await readImageSet(sub, id);
    // the 16-bit blue widens the set; 8-bit planes are scaled by 257 so full scale stays full scale
    expect(img).toMatchObject({ width: w, height: h, bitDepth: 16 });
    expect(Array.from(img.channels.red)).toEqual(Array.from(flat, (v) => v * 257));
    expect(Array.from(img.channels.green)).toEqual(Array.from(grey8, (v) => v * 257));
    expect(Array.from(img.channels.blue)).toEqual(Array.from(grey16));
    expect(Array.from(img.channels.yellow)).toEqual(Array.from(grey8, (v) => v * 257));
  });

  it.each([
    ['8-bit grey', 'l8.png', () => raw(grey8, 1).toColourspace('b-w').png().toBuffer(), Uint16Array.from(grey8)],
    ['16-bit grey', 'l16.png', () => raw(grey16, 1).toColourspace('grey16').png().toBuffer(), grey16],
    ['16-bit grey TIFF', 'l16.tif', () => raw(grey16, 1).toColourspace('grey16').tiff({ compression: 'lzw' }).toBuffer(), grey16],
    // a palette of greys (what some tools write for ≤ 256 labels): the greys are the ids
    ['grey palette', 'lgpal.png', () => raw(Uint8Array.from({ length: n * 3 }, (_, i) => grey8[Math.floor(i / 3)] & 0xf0), 3).png({ palette: true, colours: 16, dither: 0 }).toBuffer(), Uint16Array.from(grey8, (v) => v & 0xf0)],
    ['16-bit RGB with equal bands', 'lrgb16.png', () => raw(Uint16Array.from({ length: n * 3 }, (_, i) => grey16[Math.floor(i / 3)]), 3).toColourspace('rgb16').png().toBuffer(), grey16],
    ['colour palette (a lookup table)', 'lpal.png', () => raw(interleave(Uint8Array.from(grey8, (v) => v & 0xf0), 3, 0, false), 3).png({ palette: true, colours: 16, dither: 0 }).toBuffer(), /lpal\.png: expected a label image \(one grey value per object\) but found colours \(pixel 1,0 is 32,0,0\); save the labels as 16-bit greyscale$/],
    ['RGB', 'lrgb.png', () => raw(interleave(grey8, 3, 2, false), 3).png().toBuffer(), /lrgb\.png: .* found colours \(pixel 1,0 is 0,0,37\)/],
  ] as const)('readLabels: %s label image', async (_name, file, make, expected) => {
    const f = join(dir, 'variants', file);
    await writeFileAtomic(f, await make());
    if (expected instanceof RegExp) {
      await expect(readLabels(f)).rejects.toMatchObject({ code: 'CELLCAM_E_FORMAT', message: expect.stringMatching(expected) });
    } else {
      const l = await readLabels(f);
      expect(l.data).toBeInstanceOf(Uint16Array);
      expect(Array.from(l.data)).toEqual(Array.from(expected));
    }
  });

  it('a colour file without the asked band is an error naming the band', async () => {
    const f = join(dir, 'variants', 'rgb-band.png');
    await writeFileAtomic(f, await raw(interleave(grey8, 3, 0, false), 3).png().toBuffer());
    await expect(readGrey(f, 3)).rejects.toThrow(/rgb-band\.png: expected an image with a band 3 but it has 3 colour band\(s\)/);
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

  it.each([
    // files of the red stain (the other stains are PNG), the file both listing and reading take
    [['png', 'jpg'], 'png'],
    [['jpg', 'tif'], 'tif'],
    [['jpeg', 'JPG'], 'jpeg'],
    [['Png'], 'Png'],
    [['TIFF', 'Jpg'], 'TIFF'],
  ])('a stain in %j: listing and reading both take .%s', async (exts, chosen) => {
    const sub = join(dir, `ext-${exts.join('-')}`), id = 'e';
    const plane = randomPlane(16, 255, 5);
    for (const c of CHANNELS.slice(1)) await writeGreyPng(join(sub, `${id}_${c}.png`), Uint8Array.from(plane), 4, 4);
    // each candidate file holds a different flat value, so the values show which file was read
    for (const [i, ext] of exts.entries()) {
      const flat = Buffer.alloc(16, 40 * (i + 1));
      const img = sharp(flat, { raw: { width: 4, height: 4, channels: 1 } }).toColourspace('b-w');
      const buf = /^jpe?g$/i.test(ext) ? await img.jpeg({ quality: 100 }).toBuffer() : /^tiff?$/i.test(ext) ? await img.tiff({ compression: 'lzw' }).toBuffer() : await img.png().toBuffer();
      await writeFileAtomic(join(sub, `${id}_red.${ext}`), buf);
    }
    const [listed] = await listImageSets(sub);
    expect(listed).toMatchObject({ id, complete: true });
    expect(listed.files.red).toBe(join(sub, `${id}_red.${chosen}`));
    const img = await readImageSet(sub, id);
    expect(img.files.red).toBe(join(sub, `${id}_red.${chosen}`));
    expect(img.channels.red[0]).toBe(40 * (exts.indexOf(chosen) + 1));
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
    it('non-square image: read, and refused only with requireSquare', async () => {
      await make('rect', { red: [8, 6], green: [8, 6], blue: [8, 6], yellow: [8, 6] });
      expect(await readImageSet(sub, 'rect')).toMatchObject({ width: 8, height: 6 });
      await expect(readImageSet(sub, 'rect', { requireSquare: true })).rejects.toThrow(/rect_red\.png: expected a square image but found 8x6/);
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

describe('findMasks: label images made elsewhere, under cellcam\'s names or the HPA segmentator\'s', () => {
  it.each([
    // files in the folder, the cell mask and nucleus mask found (null: none)
    [['x_cells.png', 'x_nuclei.png'], 'x_cells.png', 'x_nuclei.png'],
    [['x_cellmask.png', 'x_nucleimask.png'], 'x_cellmask.png', 'x_nucleimask.png'],
    [['x_cells.tif', 'x_nucleimask.tiff'], 'x_cells.tif', 'x_nucleimask.tiff'],
    [['x_cellmask.png', 'x_cells.png', 'x_cells.tif'], 'x_cells.png', null],
    [['x_cells.png', 'xy_nuclei.png', 'x_red.png'], 'x_cells.png', null],
    [['x_nuclei.png'], null, 'x_nuclei.png'],
  ])('%j → %s, %s', (files, cells, nuclei) => {
    const d = mkdtempSync(join(dir, 'masks-'));
    for (const f of files) writeFileSync(join(d, f), '');
    expect(findMasks(d, 'x')).toEqual({ cells: cells && join(d, cells), nuclei: nuclei && join(d, nuclei) });
  });

  it.skipIf(!hasShared)("finds and reads the HPA segmentator's masks of the real sample (21 cells, nuclei with the same ids)", async () => {
    const d = join(sharedDir, 'data', 'hpa-samples');
    const m = findMasks(d, '1000_A12_2');
    expect(m).toEqual({ cells: join(d, '1000_A12_2_cellmask.png'), nuclei: join(d, '1000_A12_2_nucleimask.png') });
    const [cells, nuclei] = await Promise.all([readLabels(m.cells!), readLabels(m.nuclei!)]);
    expect([cells.width, cells.height]).toEqual([2048, 2048]);
    expect(Math.max(...new Set(cells.data))).toBe(21);
    let other = 0;
    for (let i = 0; i < nuclei.data.length; i++) if (nuclei.data[i] && nuclei.data[i] !== cells.data[i]) other++;
    expect(other).toBe(0);
  });
});
