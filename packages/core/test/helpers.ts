/** Test helpers: a seeded PRNG, the location of ../shared test data, and native availability. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { capabilities } from '../src/native.js';
import { mulberry32 } from '../src/util/random.js';

/** Deterministic PRNG (mulberry32) returning floats in [0, 1). */
export const rng = mulberry32;

/** The error a promise (or a call) rejects or throws with; fails the test when it settles fine. */
export async function rejection(p: Promise<unknown> | (() => unknown)): Promise<Error & { code?: string }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

/** Random integer in [0, n). */
export const randInt = (r: () => number, n: number): number => Math.floor(r() * n);

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** ../shared beside the checkout (absent in a user's clone: tests that need it must skip). */
export const sharedDir = resolve(repoRoot, '..', 'shared');
export const hasShared = existsSync(join(sharedDir, 'data'));

const caps = capabilities();
/** True when the native addon loaded. */
export const hasNative = caps.native;
/** True when a CUDA device is usable by the addon. */
export const hasCuda = caps.cudaDevices > 0;

/** A python3 that imports scikit-image 0.19 (Debian's python3-skimage), or null. */
export const skimagePython: string | null = (() => {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import skimage, sys; sys.exit(0 if skimage.__version__.startswith("0.19") else 1)'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
})();
