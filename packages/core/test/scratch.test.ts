// The native kernels' cache of image-sized temporaries (packages/native/src/scratch.h): reused
// blocks hold the previous call's bytes, so every kernel must overwrite what it reads; the cache
// keeps at most CELLCAM_SCRATCH_MB and reports itself in capabilities().scratch.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { capabilities } from '../src/native.js';
import { label } from '../src/kernels/label.js';
import { watershed, watershedJs } from '../src/kernels/watershed.js';
import { hasNative, randInt, repoRoot, rng } from './helpers.js';

/** A noisy 1024² field with a mask and 20 seed blobs: every scratch user of the flood is >= 1 MiB. */
function field(seed: number) {
  const W = 1024, H = 1024, n = W * H, r = rng(seed);
  const elevation = Uint8Array.from({ length: n }, (_, i) => ((i % W) + (i / W) / 4 + randInt(r, 40)) & 255);
  const mask = Uint8Array.from({ length: n }, () => (r() < 0.97 ? 1 : 0));
  const markers = new Int32Array(n);
  for (let k = 1; k <= 20; k++) {
    const p = randInt(r, n - 2 * W - 2);
    for (const d of [0, 1, W, W + 1]) markers[p + d] = k;
  }
  return { W, H, elevation, mask, markers };
}

/** First index where a and b differ, -1 when equal (toEqual walks 1 M elements far slower). */
const firstDiff = (a: Int32Array, b: Int32Array) => (Buffer.from(a.buffer).equals(Buffer.from(b.buffer)) ? -1 : a.findIndex((v, i) => v !== b[i]));

describe.skipIf(!hasNative)('native scratch cache', () => {
  it.each(['fifo', 'heap'] as const)('the watershed (%s) equals the twin on reused, dirty blocks', async (tieBreak) => {
    const f = field(5);
    const twin = new Int32Array(f.W * f.H);
    watershedJs(f.elevation, f.markers, f.mask, twin, { width: f.W, height: f.H, connectivity: 4, watershedLine: false, tieBreak });
    const run = () => watershed(f.elevation, f.markers, { width: f.W, height: f.H, mask: f.mask, tieBreak, backend: 'native' });
    expect(firstDiff(await run(), twin)).toBe(-1);
    // Other kernels leave their own bytes in the cached blocks; the second run must not see them.
    const g = field(6);
    await watershed(g.elevation, g.markers, { width: g.W, height: g.H, mask: g.mask, watershedLine: true, backend: 'native' });
    await label(g.mask, { width: g.W, height: g.H, connectivity: 8, backend: 'native' });
    expect(firstDiff(await run(), twin)).toBe(-1);
    const { idleBytes, limitBytes } = capabilities().scratch;
    expect(idleBytes).toBeGreaterThan(0);
    expect(idleBytes).toBeLessThanOrEqual(limitBytes);
  });

  // Child processes: the limit is read once, when the addon loads.
  const probe = `
    import { capabilities, watershed } from '@cellcam/core';
    const n = 1024 * 1024, markers = new Int32Array(n); markers[5] = 1; markers[n - 5] = 2;
    await watershed(new Uint8Array(n).map((_, i) => i % 251), markers, { width: 1024, height: 1024, backend: 'native' });
    console.log(JSON.stringify(capabilities().scratch));`;
  it.each([
    { env: '0', limit: 0 },
    { env: '8', limit: 8 * 2 ** 20 },
    { env: 'lots', limit: 512 * 2 ** 20 }, // not a number of MiB: the default
  ])('CELLCAM_SCRATCH_MB=$env keeps at most $limit bytes', ({ env, limit }) => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], {
      cwd: repoRoot, encoding: 'utf8', env: { ...process.env, CELLCAM_SCRATCH_MB: env },
    });
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout.trim()) as { idleBytes: number; limitBytes: number };
    expect(s.limitBytes).toBe(limit);
    expect(s.idleBytes).toBeLessThanOrEqual(limit);
    if (limit > 0) expect(s.idleBytes).toBeGreaterThan(0);
  });
});
