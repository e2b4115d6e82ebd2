/**
 * Drawing primitives for the synthetic benchmark (Gaussian stamps, bilinear filament splats clipped
 * to one cell) and the punctate/filamentous green localisation patterns built from them.
 */
import type { CellGeom, Field } from './field.js';
import type { Rng } from './random.js';

/** A precomputed normalised Gaussian patch (peak 1) of radius r. */
export interface Kernel {
  r: number;
  side: number;
  w: Float32Array;
}

const kernelCache = new Map<number, Kernel>();

/** Gaussian patch with standard deviation `sigma` (quantised to 0.25 px so the cache stays small). */
export function gaussKernel(sigma: number): Kernel {
  const key = Math.max(0.5, Math.round(sigma * 4) / 4);
  let k = kernelCache.get(key);
  if (k) return k;
  const r = Math.max(1, Math.ceil(key * 2.6));
  const side = 2 * r + 1;
  const w = new Float32Array(side * side);
  const inv = 1 / (2 * key * key);
  for (let y = -r; y <= r; y++) for (let x = -r; x <= r; x++) w[(y + r) * side + x + r] = Math.exp(-(x * x + y * y) * inv);
  k = { r, side, w };
  kernelCache.set(key, k);
  return k;
}

/** Adds `amp * kernel` centred at (x, y) to the pixels of cell `id` (and, with qMax, only where q < qMax). */
export function stamp(acc: Float32Array, f: Field, id: number, x: number, y: number, k: Kernel, amp: number, qMax = Infinity): void {
  const W = f.size, H = f.size;
  const xi = Math.round(x), yi = Math.round(y), r = k.r;
  const xa = Math.max(0, xi - r), xb = Math.min(W - 1, xi + r);
  const ya = Math.max(0, yi - r), yb = Math.min(H - 1, yi + r);
  const cells = f.cells, q = f.q, w = k.w, side = k.side;
  for (let yy = ya; yy <= yb; yy++) {
    const row = yy * W, krow = (yy - yi + r) * side - xi + r;
    for (let xx = xa; xx <= xb; xx++) {
      const p = row + xx;
      if (cells[p] === id && q[p] < qMax) acc[p] += amp * w[krow + xx];
    }
  }
}

/**
 * Splat of one point with sub-pixel position: bilinear weights convolved with a [1 2 1]/4 PSF,
 * i.e. a 4x4 footprint, clipped to cell `id` (filaments are chains of these).
 */
function splat(acc: Float32Array, f: Field, id: number, x: number, y: number, amp: number): void {
  const W = f.size;
  const xi = Math.floor(x), yi = Math.floor(y);
  if (xi < 1 || yi < 1 || xi >= W - 2 || yi >= W - 2) return;
  const tx = x - xi, ty = y - yi, sx = 1 - tx, sy = 1 - ty;
  const wx0 = sx * 0.25, wx1 = sx * 0.5 + tx * 0.25, wx2 = sx * 0.25 + tx * 0.5, wx3 = tx * 0.25;
  const c = f.cells;
  let p = (yi - 1) * W + xi - 1;
  for (let j = 0; j < 4; j++, p += W) {
    const a = amp * (j === 0 ? sy * 0.25 : j === 1 ? sy * 0.5 + ty * 0.25 : j === 2 ? sy * 0.25 + ty * 0.5 : ty * 0.25);
    if (c[p] === id) acc[p] += a * wx0;
    if (c[p + 1] === id) acc[p + 1] += a * wx1;
    if (c[p + 2] === id) acc[p + 2] += a * wx2;
    if (c[p + 3] === id) acc[p + 3] += a * wx3;
  }
}

export interface PathStyle {
  /** Step between splats (px). */
  step: number;
  /** Maximum length (px). */
  length: number;
  /** Mean turn per px (rad) and its per-step jitter (rad). */
  curvature: number;
  wobble: number;
  /** Intensity per unit length in each target (0 skips that target). */
  ampA: number;
  ampB: number;
  /** Attenuation over the nucleus (filaments run above/below it). */
  overNucleus: number;
  /** Keep going for this many steps outside the cell before giving up (lets a path hug the outline). */
  patience: number;
}

/**
 * Traces a curved filament from (x, y) in direction (dx, dy), splatting into `a` (and `b`), clipped
 * to cell `id`; stops at the cell outline (after `patience` steps outside) or at its length.
 */
export function tracePath(rng: Rng, f: Field, id: number, a: Float32Array, b: Float32Array | null, x: number, y: number, dx: number, dy: number, st: PathStyle): void {
  const W = f.size;
  const n = Math.ceil(st.length / st.step);
  let outside = 0;
  let curv = st.curvature * st.step;
  let flip = 100 + (rng.u32() & 255);
  for (let i = 0; i < n; i++) {
    const xi = Math.round(x), yi = Math.round(y);
    const inImage = xi >= 0 && yi >= 0 && xi < W && yi < W;
    const p = yi * W + xi;
    if (!inImage || f.cells[p] !== id) {
      if (++outside > st.patience) return;
    } else {
      outside = 0;
      const att = f.q[p] < 1 ? st.overNucleus : 1;
      if (st.ampA) splat(a, f, id, x, y, st.ampA * st.step * att);
      if (b && st.ampB) splat(b, f, id, x, y, st.ampB * st.step * att);
    }
    const turn = curv + st.wobble * rng.gauss();
    const ndx = dx - turn * dy, ndy = dy + turn * dx;
    // First-order renormalisation: the turn per step is small.
    const inv = 1.5 - 0.5 * (ndx * ndx + ndy * ndy);
    dx = ndx * inv;
    dy = ndy * inv;
    x += dx * st.step;
    y += dy * st.step;
    if (--flip === 0) {
      curv = -curv; // occasional change of bending direction
      flip = 100 + (rng.u32() & 255);
    }
  }
}

/** Point of cell g in the q band [qMin, qMax) (q = normalised squared nucleus radius), or null. */
export function pointInCell(rng: Rng, f: Field, g: CellGeom, qMin: number, qMax: number, tries = 40): [number, number] | null {
  const W = f.size;
  for (let t = 0; t < tries; t++) {
    const x = rng.range(g.x0, g.x1), y = rng.range(g.y0, g.y1);
    const p = (y | 0) * W + (x | 0);
    if (f.cells[p] === g.id && f.q[p] >= qMin && f.q[p] < qMax) return [x, y];
  }
  return null;
}

/** Cytoplasm point biased towards the nucleus (density ∝ 1/q), or null. */
export function perinuclearPoint(rng: Rng, f: Field, g: CellGeom, strength = 1.3): [number, number] | null {
  for (let t = 0; t < 30; t++) {
    const pt = pointInCell(rng, f, g, 1.15, Infinity, 20);
    if (!pt) return null;
    const q = f.q[(pt[1] | 0) * f.size + (pt[0] | 0)];
    if (rng.next() * q < strength) return pt;
  }
  return null;
}

/** Point at normalised nucleus coordinates (u, v) of cell g (u along the major axis; 1 = nucleus edge). */
export function nucleusPoint(g: CellGeom, u: number, v: number): [number, number] {
  const a = u * g.na, b = v * g.nb;
  return [g.nx + a * g.nc - b * g.ns, g.ny + a * g.ns + b * g.nc];
}

export interface Nucleolus {
  x: number;
  y: number;
  r: number;
}

/** Places 2–4 nucleoli inside an interphase nucleus and stamps them (irregular, flat-topped) into `field`. */
export function drawNucleoli(rng: Rng, f: Field, g: CellGeom, out: Float32Array): Nucleolus[] {
  const list: Nucleolus[] = [];
  const count = rng.int(2, 4);
  const rn = Math.sqrt(g.na * g.nb);
  for (let i = 0; i < count; i++) {
    for (let t = 0; t < 10; t++) {
      const ang = rng.range(0, 2 * Math.PI), rad = Math.sqrt(rng.next()) * 0.55;
      const [x, y] = nucleusPoint(g, Math.cos(ang) * rad, Math.sin(ang) * rad);
      const p = Math.round(y) * f.size + Math.round(x);
      if (f.nuclei[p] !== g.id) continue;
      const r = rn * rng.range(0.11, 0.18);
      if (list.some((o) => Math.hypot(o.x - x, o.y - y) < (o.r + r) * 1.1)) continue;
      list.push({ x, y, r });
      for (let s = 0; s < 3; s++) {
        const ox = rng.range(-0.4, 0.4) * r, oy = rng.range(-0.4, 0.4) * r;
        stamp(out, f, g.id, x + ox, y + oy, gaussKernel(r * rng.range(0.45, 0.6)), 0.75, 1.05);
      }
      break;
    }
  }
  return list;
}

/** Scale of subcellular structures relative to a 2048² field. */
export interface Ctx {
  rng: Rng;
  f: Field;
  /** Structure scale (1 at 2048²). */
  sc: number;
  nucleoli: Float32Array;
}

/**
 * Draws the punctate, filamentous and ribbon-like green classes of one interphase cell
 * (the diffuse ones — nucleoplasm, rims, ER, membrane, cytosol — come from the per-pixel pass).
 */
export function drawGreenStamped(ctx: Ctx, g: CellGeom, cls: number, s: number, green: Float32Array, nucleoli: Nucleolus[]): void {
  const { rng, f, sc } = ctx;
  const id = g.id;
  const rn = Math.sqrt(g.na * g.nb);
  switch (cls) {
    case 2: // Nucleoli: bright blobs where the nucleoli are
      for (const o of nucleoli) {
        for (let k = 0; k < 3; k++) {
          stamp(green, f, id, o.x + rng.range(-0.35, 0.35) * o.r, o.y + rng.range(-0.35, 0.35) * o.r, gaussKernel(o.r * rng.range(0.5, 0.65)), 0.55 * s, 1.05);
        }
      }
      break;
    case 3: // Fibrillar centres: clusters of small dots inside each nucleolus
      for (const o of nucleoli) {
        const m = rng.int(3, 8);
        for (let k = 0; k < m; k++) {
          const a = rng.range(0, 2 * Math.PI), r = Math.sqrt(rng.next()) * o.r * 0.75;
          stamp(green, f, id, o.x + Math.cos(a) * r, o.y + Math.sin(a) * r, gaussKernel(1.3 * Math.max(0.8, sc)), 0.9 * s, 1.05);
        }
      }
      break;
    case 4: { // Nuclear speckles: 10–25 irregular dots in the nucleoplasm
      const m = rng.int(10, 25);
      for (let k = 0; k < m; k++) {
        const a = rng.range(0, 2 * Math.PI), r = Math.sqrt(rng.next()) * 0.8;
        const [x, y] = nucleusPoint(g, Math.cos(a) * r, Math.sin(a) * r);
        const p = Math.round(y) * f.size + Math.round(x);
        if (ctx.nucleoli[p] > 0.3) continue;
        const sub = rng.int(1, 3), sig = rn * rng.range(0.045, 0.075);
        for (let j = 0; j < sub; j++) {
          stamp(green, f, id, x + rng.range(-1.2, 1.2) * sig, y + rng.range(-1.2, 1.2) * sig, gaussKernel(sig), 0.5 * s * rng.range(0.6, 1), 1.0);
        }
      }
      break;
    }
    case 5: { // Nuclear bodies: 2–6 small bright round dots
      const m = rng.int(2, 6);
      for (let k = 0; k < m; k++) {
        const a = rng.range(0, 2 * Math.PI), r = Math.sqrt(rng.next()) * 0.75;
        const [x, y] = nucleusPoint(g, Math.cos(a) * r, Math.sin(a) * r);
        stamp(green, f, id, x, y, gaussKernel(Math.max(1.2, rn * 0.035)), 1.0 * s, 1.0);
      }
      break;
    }
    case 7: { // Golgi: fragmented perinuclear ribbon on the MTOC side
      const base = Math.atan2(g.mdy, g.mdx);
      const m = rng.int(30, 60);
      const span = rng.range(0.6, 1.1);
      for (let k = 0; k < m; k++) {
        const a = base + rng.gauss() * span * 0.5;
        // Distance from the nucleus centre along direction a, just beyond the nucleus edge.
        const ca = Math.cos(a), sa = Math.sin(a);
        const u = ca * g.nc + sa * g.ns, v = sa * g.nc - ca * g.ns;
        const edge = 1 / Math.sqrt((u * u) / (g.na * g.na) + (v * v) / (g.nb * g.nb));
        const d = edge * rng.range(1.05, 1.4) + rng.gauss() * 2 * sc;
        stamp(green, f, id, g.nx + ca * d, g.ny + sa * d, gaussKernel(rng.range(1.5, 3.2) * Math.max(0.7, sc)), 0.35 * s, Infinity);
      }
      break;
    }
    case 8: { // Intermediate filaments: long wavy filaments wrapping around the nucleus
      const m = rng.int(18, 32);
      for (let k = 0; k < m; k++) {
        const pt = perinuclearPoint(rng, f, g, 2.5);
        if (!pt) continue;
        const rx = pt[0] - g.nx, ry = pt[1] - g.ny, rl = Math.hypot(rx, ry) || 1;
        const sign = rng.chance(0.5) ? 1 : -1;
        const tx = (-ry / rl) * sign, ty = (rx / rl) * sign; // tangential start: they curl around the nucleus
        for (const dir of [1, -1]) {
          tracePath(rng, f, id, green, null, pt[0], pt[1], tx * dir, ty * dir, {
            step: 0.8, length: g.radius * rng.range(0.8, 1.6), curvature: sign * dir * rng.range(0.002, 0.008) / sc, wobble: 0.06,
            ampA: 0.2 * s * rng.range(0.6, 1.2), ampB: 0, overNucleus: 0.5, patience: 0,
          });
        }
      }
      break;
    }
    case 9: { // Actin: straight parallel stress fibres across the cell
      const ang = Math.atan2(g.ns, g.nc) + rng.range(-0.35, 0.35);
      const ux = Math.cos(ang), uy = Math.sin(ang), px = -uy, py = ux;
      const span = Math.max(g.x1 - g.x0, g.y1 - g.y0);
      const cx = (g.x0 + g.x1) / 2, cy = (g.y0 + g.y1) / 2;
      const spacing = rng.range(7, 13) * Math.max(0.6, sc);
      for (let o = -span / 2; o < span / 2; o += spacing * rng.range(0.6, 1.4)) {
        if (rng.chance(0.25)) continue;
        const t0 = rng.range(-0.6, 0.2) * span;
        const sx = cx + px * o + ux * t0, sy = cy + py * o + uy * t0;
        const amp = 0.32 * s * rng.range(0.3, 1.1);
        // Long patience: a fibre runs on across concave bits of the outline.
        tracePath(rng, f, id, green, null, sx, sy, ux, uy, {
          step: 0.8, length: span * rng.range(0.4, 1.0), curvature: 0, wobble: 0.002, ampA: amp, ampB: 0, overNucleus: 0.6, patience: 100000,
        });
      }
      break;
    }
    case 12: { // Centrosome: 1–2 bright dots at the MTOC
      const m = rng.int(1, 2);
      for (let k = 0; k < m; k++) {
        stamp(green, f, id, g.mx + rng.range(-3, 3) * sc, g.my + rng.range(-3, 3) * sc, gaussKernel(Math.max(1.2, 2.2 * sc)), 1.4 * s, Infinity);
      }
      break;
    }
    case 14: { // Mitochondria: many short tubules, denser around the nucleus
      const m = Math.round(rng.int(250, 400) * (g.area / (Math.PI * g.radius * g.radius)));
      for (let k = 0; k < m; k++) {
        const pt = perinuclearPoint(rng, f, g, 2.2);
        if (!pt) continue;
        const a = rng.range(0, 2 * Math.PI);
        tracePath(rng, f, id, green, null, pt[0], pt[1], Math.cos(a), Math.sin(a), {
          step: 0.8, length: rng.range(8, 26) * Math.max(0.6, sc), curvature: rng.range(-0.06, 0.06), wobble: 0.15,
          ampA: 0.35 * s * rng.range(0.6, 1.2), ampB: 0, overNucleus: 0.3, patience: 0,
        });
      }
      break;
    }
    case 15: { // Aggresome: one big perinuclear blob on the MTOC side
      const r = rn * rng.range(0.2, 0.3);
      const x = g.mx + g.mdx * r * 0.6, y = g.my + g.mdy * r * 0.6;
      for (let k = 0; k < 4; k++) {
        stamp(green, f, id, x + rng.range(-0.4, 0.4) * r, y + rng.range(-0.4, 0.4) * r, gaussKernel(r * rng.range(0.45, 0.6)), 0.45 * s, Infinity);
      }
      break;
    }
    case 17: { // Vesicles: many small punctae throughout the cytoplasm
      const m = Math.round(rng.int(50, 140) * (g.area / (Math.PI * g.radius * g.radius)));
      for (let k = 0; k < m; k++) {
        const pt = pointInCell(rng, f, g, 1.1, Infinity);
        if (!pt) continue;
        stamp(green, f, id, pt[0], pt[1], gaussKernel(rng.range(1.3, 2.4) * Math.max(0.7, sc)), 0.7 * s * rng.range(0.5, 1.1), Infinity);
      }
      break;
    }
    default:
      break;
  }
}

/** Interphase microtubules: radiating from the MTOC, gently curving, to the periphery. */
export function drawMicrotubules(ctx: Ctx, g: CellGeom, red: Float32Array, green: Float32Array | null, ampR: number, ampG: number): void {
  const { rng, f, sc } = ctx;
  const m = Math.round(rng.int(70, 110) * Math.min(1.5, g.area / (Math.PI * g.radius * g.radius)));
  const spread = Math.sqrt(g.na * g.nb) * 0.45;
  for (let k = 0; k < m; k++) {
    const a = rng.range(0, 2 * Math.PI);
    const dx = Math.cos(a), dy = Math.sin(a);
    const amp = rng.range(0.4, 1.1);
    // Nucleated around the MTOC, not all at one point: a dense aster would look artificial.
    const r0 = spread * Math.sqrt(rng.next());
    tracePath(rng, f, g.id, red, green, g.mx + dx * r0, g.my + dy * r0, dx, dy, {
      step: 1.5, length: g.radius * rng.range(1.2, 2.4), curvature: rng.range(-0.006, 0.006) / sc, wobble: 0.03,
      ampA: 0.2 * ampR * amp, ampB: 0.2 * ampG * amp, overNucleus: 0.3, patience: 0,
    });
  }
}

/** Mitotic spindle: fibres bulging between two poles, bright poles and short astral rays. */
export function drawSpindle(ctx: Ctx, g: CellGeom, red: Float32Array, green: Float32Array | null, ampR: number, ampG: number): void {
  const { rng, f, sc } = ctx;
  const ax = -g.ns, ay = g.nc; // perpendicular to the chromatin plate
  const L = g.radius * 0.5;
  const p1x = g.nx - ax * L, p1y = g.ny - ay * L, p2x = g.nx + ax * L, p2y = g.ny + ay * L;
  const m = rng.int(24, 36);
  const step = 0.8;
  const n = Math.ceil((2 * L) / step);
  for (let k = 0; k < m; k++) {
    const bulge = rng.range(-0.55, 0.55) * L;
    const amp = rng.range(0.6, 1.2) * 0.3 * step;
    for (let i = 0; i <= n; i++) {
      const t = i / n, b = bulge * 4 * t * (1 - t);
      const x = p1x + (p2x - p1x) * t + g.nc * b, y = p1y + (p2y - p1y) * t + g.ns * b;
      splat(red, f, g.id, x, y, amp * ampR);
      if (green && ampG) splat(green, f, g.id, x, y, amp * ampG);
    }
  }
  for (const [px, py, sgn] of [[p1x, p1y, -1], [p2x, p2y, 1]] as const) {
    const kern = gaussKernel(Math.max(1.5, 3 * sc));
    stamp(red, f, g.id, px, py, kern, 0.8 * ampR);
    if (green && ampG) stamp(green, f, g.id, px, py, kern, 0.8 * ampG);
    for (let k = 0; k < 10; k++) {
      const a = Math.atan2(ay * sgn, ax * sgn) + rng.range(-1.3, 1.3);
      tracePath(rng, f, g.id, red, green, px, py, Math.cos(a), Math.sin(a), {
        step, length: L * rng.range(0.3, 0.7), curvature: 0, wobble: 0.02, ampA: 0.15 * ampR, ampB: 0.15 * ampG, overNucleus: 1, patience: 0,
      });
    }
  }
}
