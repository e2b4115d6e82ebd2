/**
 * Realistic synthetic inputs shared by the benchmarks: an HPA-like field of touching cells.
 * About 60 cells at 2048² (the count scales with the area), seeds near each cell's centre,
 * a uint8 elevation that is low at the nuclei and rises towards cell borders, a foreground
 * mask with background gaps, the cell/nucleus label images, and a 19-channel CAM at 1/16 size.
 */

import { mulberry32 } from '@cellcam/core';
/** Deterministic 32-bit PRNG (mulberry32). */
export const rng = mulberry32;

export interface Field {
  size: number;
  /** cell ids 1..cells, 0 = background (Int32, row-major) */
  cells: Int32Array;
  cells16: Uint16Array;
  /** nucleus ids equal to the cell id */
  nuclei: Int32Array;
  cellCount: number;
  /** uint8 elevation for the watershed (low at nuclei, high at borders) */
  elevation: Uint8Array;
  elevation16: Uint16Array;
  elevationF32: Float32Array;
  /** one marker blob per cell (radius ~ 6 px at 2048²), ids 1..cells */
  markers: Int32Array;
  /** foreground mask (1 inside cells) */
  mask: Uint8Array;
  /** binary foreground as Uint8 0/1, for labelling */
  binary: Uint8Array;
  /** [19, size/16, size/16] CAM */
  cam: Float32Array;
  camSize: number;
}

const cache = new Map<string, Field>();

/** Builds (and caches) a field of `size`² pixels. */
export function field(size: number, seed = 7): Field {
  const key = `${size}:${seed}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const r = rng(seed);
  const n = Math.max(2, Math.round((60 * size * size) / (2048 * 2048)));
  // Jittered grid seeds: a monolayer of touching cells.
  const g = Math.ceil(Math.sqrt(n));
  const sx: number[] = [], sy: number[] = [], rad: number[] = [];
  for (let i = 0; i < n; i++) {
    const gx = i % g, gy = Math.floor(i / g);
    sx.push(((gx + 0.2 + 0.6 * r()) / g) * size);
    sy.push(((gy + 0.2 + 0.6 * r()) / Math.ceil(n / g)) * size);
    rad.push((0.5 + 0.35 * r()) * (size / g)); // cell radius; beyond it is background
  }
  const N = size * size;
  const cells = new Int32Array(N), nuclei = new Int32Array(N), markers = new Int32Array(N);
  const elevation = new Uint8Array(N), mask = new Uint8Array(N);
  const nucR = (0.28 * size) / g, markR = Math.max(2, size / 340);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // nearest and second-nearest seed (Voronoi with a border ramp)
      let b1 = 1e30, b2 = 1e30, k1 = 0;
      for (let k = 0; k < n; k++) {
        const dx = x - sx[k], dy = y - sy[k];
        const d = dx * dx + dy * dy;
        if (d < b1) { b2 = b1; b1 = d; k1 = k; } else if (d < b2) b2 = d;
      }
      const d1 = Math.sqrt(b1), d2 = Math.sqrt(b2);
      const i = y * size + x;
      // wobbly outline so cells are irregular
      const ang = Math.atan2(y - sy[k1], x - sx[k1]);
      const wob = 1 + 0.12 * Math.sin(3 * ang + k1) + 0.06 * Math.sin(7 * ang + 2 * k1);
      const inside = d1 < rad[k1] * wob;
      if (inside) {
        cells[i] = k1 + 1;
        mask[i] = 1;
        if (d1 < nucR * wob) nuclei[i] = k1 + 1;
        if (d1 < markR) markers[i] = k1 + 1;
      }
      // elevation: distance to own seed relative to the border, plus noise; plateaus at nuclei
      const rel = Math.min(1, d1 / Math.max(1, (d1 + d2) / 2));
      const v = d1 < nucR ? 10 : 10 + 230 * rel;
      elevation[i] = Math.max(0, Math.min(255, Math.round(v + (r() - 0.5) * 12)));
    }
  }
  const elevation16 = new Uint16Array(N), elevationF32 = new Float32Array(N), binary = new Uint8Array(N), cells16 = new Uint16Array(N);
  for (let i = 0; i < N; i++) {
    elevation16[i] = elevation[i] * 257;
    elevationF32[i] = elevation[i] / 255;
    binary[i] = cells[i] > 0 ? 1 : 0;
    cells16[i] = cells[i];
  }
  const camSize = Math.max(1, size >> 4);
  const cam = new Float32Array(19 * camSize * camSize);
  for (let c = 0; c < 19; c++) {
    for (let y = 0; y < camSize; y++) {
      for (let x = 0; x < camSize; x++) {
        cam[(c * camSize + y) * camSize + x] = Math.sin((x + c) * 0.3) * Math.cos((y - c) * 0.2) + r() * 0.1;
      }
    }
  }
  const f: Field = { size, cells, cells16, nuclei, cellCount: n, elevation, elevation16, elevationF32, markers, mask, binary, cam, camSize };
  cache.set(key, f);
  return f;
}
