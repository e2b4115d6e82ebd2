// Submission encoding (byte-exact with pycocotools + stock zlib), the streaming atomic writer, and
// `submit validate` reporting every problem with its line.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeBinaryMask, decodeCounts, encodeBinaryMask, encodeCells } from '../src/submit/encode.js';
import { SubmissionWriter, formatConfidence } from '../src/submit/writer.js';
import { validateSubmission } from '../src/submit/validate.js';
import { readGrey } from '../src/io/png.js';
import { hasCuda, hasNative, hasShared, rng, sharedDir } from './helpers.js';

const vectorsPath = join(sharedDir, 'data', 'hpa-samples', 'rle_test_vectors.json');

describe('encodeBinaryMask', () => {
  it.each([
    [512, 'eNoLCAiwAAADDAEp'],
    [768, 'eNoLCAhIMgAABLkBgw=='],
    [1728, 'eNoLCAjJNgIABNkBkg=='],
    [2048, 'eNoLCAgIMAEABJkBdQ=='],
    [3072, 'eNoLCAgIsAQABJ4Beg=='],
  ])('empty %i² mask is the competition constant', (s, enc) => {
    expect(encodeBinaryMask(new Uint8Array(s * s), s, s)).toBe(enc);
  });

  it.skipIf(!hasShared)('equals the official encoding of all 21 real HPA cells byte for byte', async () => {
    const vectors = JSON.parse(readFileSync(vectorsPath, 'utf8'));
    const img = await readGrey(join(sharedDir, 'data', 'hpa-samples', '1000_A12_2_cellmask.png'));
    expect(img.bitDepth).toBe(16);
    const { width, height } = img;
    const labels = img.data as Uint16Array;
    const viaCells = await encodeCells(labels, width, height);
    for (const cell of vectors.cells) {
      const mask = new Uint8Array(width * height);
      for (let i = 0; i < mask.length; i++) mask[i] = labels[i] === cell.cell_id ? 1 : 0;
      expect(encodeBinaryMask(mask, width, height)).toBe(cell.encoded_mask);
      expect(viaCells[cell.cell_id - 1]).toBe(cell.encoded_mask);
      const back = decodeBinaryMask(cell.encoded_mask, width, height);
      expect(Buffer.compare(Buffer.from(back), Buffer.from(mask))).toBe(0);
    }
  });

  // The pipeline reports deviceNote (a CUDA fallback under 'auto') from the masks it encodes.
  it("keeps cellRle's non-enumerable device tags on the encoded masks", async () => {
    const labels = Uint16Array.from([0, 1, 1, 2, 0, 2]);
    const masks = await encodeCells(labels, 3, 2, { device: 'auto' });
    expect([...masks]).toEqual([1, 2].map((c) => encodeBinaryMask(Uint8Array.from(labels, (v) => (v === c ? 1 : 0)), 3, 2)));
    expect(masks.device).toBe(hasCuda ? 'cuda' : hasNative ? 'cpu' : 'js');
    expect(masks.deviceNote === undefined).toBe(hasCuda);
    expect(Object.keys(masks)).toEqual(['0', '1']);
  });

  it('round-trips random masks of odd shapes', () => {
    const r = rng(11);
    for (let t = 0; t < 50; t++) {
      const w = 1 + Math.floor(r() * 40), h = 1 + Math.floor(r() * 40);
      const m = new Uint8Array(w * h).map(() => (r() < 0.4 ? 1 : 0));
      expect(Array.from(decodeBinaryMask(encodeBinaryMask(m, w, h), w, h))).toEqual(Array.from(m));
    }
  });

  it.each([
    ['runs that do not sum to W×H', () => decodeBinaryMask(encodeBinaryMask(new Uint8Array(16), 4, 4), 5, 4), /runs sum to 16, expected width\*height = 5\*4 = 20/],
    ['bad base64', () => decodeBinaryMask('not base64!', 4, 4), /not standard base64/],
    ['not zlib', () => decodeBinaryMask('AAAA', 4, 4), /not a zlib stream/],
    ['wrong mask length', () => encodeBinaryMask(new Uint8Array(5), 2, 2), /Expected an array of length width\*height = 4 for mask/],
    ['bad size', () => encodeBinaryMask(new Uint8Array(0), 0, 2), /encodeBinaryMask.width/],
  ])('rejects %s', (_n, fn, msg) => {
    expect(fn).toThrow(msg);
  });
});

describe('SubmissionWriter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cellcam-sub-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const m = encodeBinaryMask(Uint8Array.from([1, 0, 0, 1]), 2, 2);

  it('writes rows atomically, one mask string per class triple', async () => {
    const out = join(dir, 'a.csv');
    const w = await SubmissionWriter.open(out);
    await w.addImage('img1', 2, 2, [{ mask: m, scores: [0.5, NaN, 0.25] }]);
    await w.addImage('img2', 2, 2, []);
    expect(existsSync(out)).toBe(false); // nothing visible before close
    await w.close();
    expect(readFileSync(out, 'utf8')).toBe(`ID,ImageWidth,ImageHeight,PredictionString\nimg1,2,2,0 0.5 ${m} 2 0.25 ${m}\nimg2,2,2,\n`);
    expect(readdirSync(dir).filter((f) => f.includes('cellcam-tmp'))).toEqual([]);
  });

  it('abort leaves no file and no temp file', async () => {
    const out = join(dir, 'b.csv');
    const w = await SubmissionWriter.open(out);
    await w.addImage('x', 2, 2, [{ mask: m, scores: [{ label: 3, confidence: 0.9 }] }]);
    await w.abort();
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('cellcam-tmp'))).toEqual([]);
  });

  it.each([
    ['a duplicate ID', (w: SubmissionWriter) => w.addImage('img', 2, 2, []).then(() => w.addImage('img', 2, 2, [])), /an image ID not written before for id/],
    ['an ID with a comma', (w: SubmissionWriter) => w.addImage('a,b', 2, 2, []), /for id/],
    ['a label out of range', (w: SubmissionWriter) => w.addImage('y', 2, 2, [{ mask: m, scores: [{ label: 19, confidence: 1 }] }]), /cells\[0\].scores.label/],
    ['a mask with spaces', (w: SubmissionWriter) => w.addImage('z', 2, 2, [{ mask: 'a b', scores: [1] }]), /cells\[0\].mask/],
  ])('rejects %s', async (_n, fn, msg) => {
    const w = await SubmissionWriter.open(join(dir, 'c.csv'));
    await expect(fn(w)).rejects.toThrow(msg);
    await w.abort();
  });

  it('streams a test-set-sized file (559 images × 25 cells × 19 classes) in bounded memory', async () => {
    const out = join(dir, 'big.csv');
    const w = await SubmissionWriter.open(out);
    const masks = Array.from({ length: 25 }, (_, i) => encodeBinaryMask(new Uint8Array(64).map((_, j) => ((j + i) % 7 === 0 ? 1 : 0)), 8, 8));
    const scores = Float32Array.from({ length: 19 }, (_, c) => c / 19);
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    let peak = 0;
    for (let i = 0; i < 559; i++) {
      await w.addImage(`id${i}`, 8, 8, masks.map((mask) => ({ mask, scores })));
      if (i % 50 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed - before);
    }
    await w.close();
    expect(w.predictions).toBe(559 * 25 * 19);
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(560);
    // The whole file is ~19 MB; the writer must not hold it (generous bound, GC timing varies).
    expect(peak).toBeLessThan(150 * 1024 * 1024);
  });

  it.each([
    [0.5, '0.5'],
    [1, '1'],
    [0.123456789, '0.12345679'],
    [1e-8, '1e-8'],
  ])('formats confidence %f as %s', (x, s) => {
    expect(formatConfidence(x)).toBe(s);
  });
});

describe('validateSubmission', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cellcam-val-'));
  const m4 = encodeBinaryMask(Uint8Array.from([1, 1, 0, 0]), 2, 2);
  const empty = encodeBinaryMask(new Uint8Array(4), 2, 2);
  const wrongSize = encodeBinaryMask(new Uint8Array(9).fill(1), 3, 3);

  it('reports every problem with its line number and exits not-ok', async () => {
    const sample = join(dir, 'sample.csv');
    writeFileSync(sample, 'ID,ImageWidth,ImageHeight,PredictionString\na,2,2,\nb,2,2,\nc,2,2,\nmissing,2,2,\n');
    const sub = join(dir, 'sub.csv');
    writeFileSync(sub, [
      'ID,ImageWidth,ImageHeight,PredictionString',
      `a,2,2,0 0.9 ${m4} 0 0.8 ${m4}`, // 2: duplicate pair
      `b,3,3,19 x ${m4} 1 0.5`, // 3: size, label, confidence, token count
      `c,2,2,2 0.1 ${empty} 3 0.1 ${wrongSize}`, // 4: empty mask, undecodable for 2x2
      `extra,2,2,`, // 5: unexpected
      `a,2,2,`, // 6: duplicate ID
    ].join('\n') + '\n');
    const r = await validateSubmission(sub, { sample });
    expect(r.ok).toBe(false);
    const text = r.problems.map((p) => `${p.line}: ${p.message}`);
    const expectLine = (line: number, re: RegExp) => expect(text.some((t) => t.startsWith(`${line}: `) && re.test(t)), `${line} ${re}\n${text.join('\n')}`).toBe(true);
    expectLine(2, /duplicate \(cell, class 0\) pair/);
    expectLine(3, /size 3x3 does not match the image \(2x2\)/);
    expectLine(3, /label '19' is not an integer in 0..18/);
    expectLine(3, /confidence 'x' is not a number/);
    expectLine(3, /5 tokens, not a multiple of 3/);
    expectLine(4, /empty mask/);
    expectLine(4, /mask does not decode for 2x2/);
    expectLine(5, /unexpected ID extra/);
    expectLine(6, /duplicate ID a \(first on line 2\)/);
    expectLine(0, /missing ID missing/);
    expect(r.summary).toMatchObject({ images: 4, expectedImages: 4 });
  });

  it('passes a clean file and reports a wrong header', async () => {
    const ok = join(dir, 'ok.csv');
    writeFileSync(ok, `ID,ImageWidth,ImageHeight,PredictionString\na,2,2,0 1 ${m4} 5 0.25 ${m4}\n`);
    const r = await validateSubmission(ok);
    expect(r).toMatchObject({ ok: true, summary: { images: 1, cells: 1, predictions: 2 } });
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'ImageID,Width\n');
    const rb = await validateSubmission(bad);
    expect(rb.problems[0]).toMatchObject({ line: 1 });
    expect(rb.problems[0].message).toMatch(/expected header/);
  });

  it('counts of the decoded mask cover the image', () => {
    expect(decodeCounts(m4, 2, 2).reduce((a, b) => a + b, 0)).toBe(4);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});
