/**
 * Geometry of a synthetic HPA field: a monolayer of irregular touching cells (a domain-warped,
 * anisotropic, weighted Voronoi tessellation of a jittered hexagonal seed grid), round mitotic
 * cells, a distance-to-cell-border map, and one irregular nucleus per cell.
 */
import { Fbm, Fbm2 } from './noise.js';
import type { Rng } from './random.js';

/**
 * Nominal cell spacing (px) for an image side: 390 px at 2048² (about 30 cells counting the
 * border-cut ones). Smaller fields get somewhat smaller cells so that 512² still holds several
 * whole cells; larger ones grow the cells slowly.
 */
export function cellSpacing(size: number): number {
  return 390 * Math.pow(size / 2048, size <= 2048 ? 0.8 : 0.5);
}

/** Per-cell geometry used by the renderers (index = cell id - 1). */
export interface CellGeom {
  id: number;
  /** Bounding box, inclusive-exclusive. */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  area: number;
  mitotic: boolean;
  /** Nominal cell radius (px). */
  radius: number;
  /** Nucleus centre, semi-axes (px) and orientation (cos, sin of the major axis). */
  nx: number;
  ny: number;
  na: number;
  nb: number;
  nc: number;
  ns: number;
  /** Microtubule organising centre (next to the nucleus): also the Golgi/centrosome/aggresome side. */
  mx: number;
  my: number;
  /** Unit vector from nucleus centre towards the MTOC. */
  mdx: number;
  mdy: number;
}

export interface Field {
  size: number;
  /** Cell label image, ids 1..n, 0 = background gap. */
  cells: Uint16Array;
  /** Nucleus label image (nucleus id = cell id). */
  nuclei: Uint16Array;
  /**
   * 3-4 chamfer distance to the nearest border with another cell or background (not the image
   * edge), in thirds of a pixel.
   */
  dist3: Uint16Array;
  /** Normalised squared nucleus radius of each pixel w.r.t. its own cell's nucleus (< 1 inside); 9 outside cells. */
  q: Float32Array;
  geom: CellGeom[];
}

interface Seed {
  x: number;
  y: number;
  /** Inverse squared size weight and anisotropy (metric u²/e + v²·e in the rotated frame). */
  is2: number;
  ie: number;
  e: number;
  c: number;
  s: number;
  r2max: number;
  radius: number;
  mitotic: boolean;
}

const BLOCK = 8;

/**
 * Lays out the cells and nuclei of one field.
 * `mitoticCount` interior cells are made round (mitotic); their nuclei are condensed chromatin plates.
 */
export function buildField(rng: Rng, size: number, mitoticCount: number): Field {
  const W = size, H = size, N = W * H;
  const d = cellSpacing(size);
  const seeds = placeSeeds(rng, size, d, mitoticCount);

  // Bins of side d: the nearest seed of any point lies in its 3x3 bin neighbourhood.
  const nb = Math.ceil(size / d) + 1;
  const bins: number[][] = Array.from({ length: nb * nb }, () => []);
  seeds.forEach((s, i) => bins[Math.min(nb - 1, (s.y / d) | 0) * nb + Math.min(nb - 1, (s.x / d) | 0)].push(i));
  const cand: Int32Array[] = [];
  for (let by = 0; by < nb; by++) {
    for (let bx = 0; bx < nb; bx++) {
      const list: number[] = [];
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = by + dy, xx = bx + dx;
          if (yy >= 0 && yy < nb && xx >= 0 && xx < nb) list.push(...bins[yy * nb + xx]);
        }
      }
      cand.push(Int32Array.from(list));
    }
  }
  const warp = new Fbm2(rng, W, H, d * 0.6, 3, 0.5);
  const amp = d * 0.26;

  const labelAt = (x: number, y: number): number => {
    warp.sample(x, y);
    const px = x + amp * warp.x;
    const py = y + amp * warp.y;
    let bx = (px / d) | 0, by = (py / d) | 0;
    if (bx < 0) bx = 0;
    else if (bx >= nb) bx = nb - 1;
    if (by < 0) by = 0;
    else if (by >= nb) by = nb - 1;
    const list = cand[by * nb + bx];
    let best = 0, bestD = Infinity;
    for (let k = 0; k < list.length; k++) {
      const s = seeds[list[k]];
      const dx = px - s.x, dy = py - s.y;
      const u = dx * s.c + dy * s.s, v = dy * s.c - dx * s.s;
      const dd = (u * u * s.ie + v * v * s.e) * s.is2;
      if (dd < bestD && dd < s.r2max) {
        bestD = dd;
        best = list[k] + 1;
      }
    }
    return best;
  };

  // Evaluate on a coarse lattice and refine only the blocks whose corners disagree (cell borders).
  const cells = new Uint16Array(N);
  const gw = Math.ceil((W - 1) / BLOCK) + 1, gh = Math.ceil((H - 1) / BLOCK) + 1;
  const grid = new Int32Array(gw * gh);
  for (let gy = 0; gy < gh; gy++) {
    const y = Math.min(gy * BLOCK, H - 1);
    for (let gx = 0; gx < gw; gx++) grid[gy * gw + gx] = labelAt(Math.min(gx * BLOCK, W - 1), y);
  }
  for (let gy = 0; gy < gh - 1; gy++) {
    const y0 = gy * BLOCK, y1 = Math.min(y0 + BLOCK, H);
    for (let gx = 0; gx < gw - 1; gx++) {
      const x0 = gx * BLOCK, x1 = Math.min(x0 + BLOCK, W);
      const l = grid[gy * gw + gx];
      const same = grid[gy * gw + gx + 1] === l && grid[(gy + 1) * gw + gx] === l && grid[(gy + 1) * gw + gx + 1] === l;
      for (let y = y0; y < y1; y++) {
        const row = y * W;
        if (same) for (let x = row + x0, e = row + x1; x < e; x++) cells[x] = l;
        else for (let x = x0; x < x1; x++) cells[row + x] = labelAt(x, y);
      }
    }
  }

  // Mitotic cells round up and detach: a disc, with a gap where their old territory was.
  seeds.forEach((s, i) => {
    if (!s.mitotic) return;
    const id = i + 1, r = s.radius * 0.62, r2 = r * r;
    const bx0 = Math.max(0, Math.floor(s.x - d)), bx1 = Math.min(W, Math.ceil(s.x + d));
    const by0 = Math.max(0, Math.floor(s.y - d)), by1 = Math.min(H, Math.ceil(s.y + d));
    for (let y = by0; y < by1; y++) {
      for (let x = bx0; x < bx1; x++) {
        const p = y * W + x, dx = x - s.x, dy = y - s.y;
        const inside = dx * dx + dy * dy < r2 * (1 + 0.1 * (warp.sample(x, y), warp.x));
        if (inside) cells[p] = id;
        else if (cells[p] === id) cells[p] = 0;
      }
    }
  });

  const area = keepLargestComponents(cells, W, H, seeds.length);

  // Drop slivers, then renumber 1..n in seed order.
  const minArea = 0.06 * d * d;
  const remap = new Uint16Array(seeds.length + 1);
  let n = 0;
  for (let i = 1; i <= seeds.length; i++) remap[i] = area[i] >= minArea ? ++n : 0;
  if (n !== seeds.length) for (let p = 0; p < N; p++) cells[p] = remap[cells[p]];
  const keptSeeds: Seed[] = [];
  for (let i = 1; i <= seeds.length; i++) if (remap[i]) keptSeeds.push(seeds[i - 1]);

  const dist3 = new Uint16Array(N);
  chamferToBorders(cells, W, H, dist3);
  const field = placeNuclei(rng, cells, dist3, W, H, keptSeeds);
  return dropCellsWithoutNucleus(field);
}

/** Removes cells whose nucleus got (almost) no pixels and renumbers the rest 1..n. */
function dropCellsWithoutNucleus(f: Field): Field {
  const n = f.geom.length, N = f.cells.length;
  const nucArea = new Int32Array(n + 1);
  for (let p = 0; p < N; p++) nucArea[f.nuclei[p]]++;
  const remap = new Int32Array(n + 1);
  let m = 0;
  for (let id = 1; id <= n; id++) remap[id] = nucArea[id] >= 12 ? ++m : 0;
  if (m === n) return f;
  for (let p = 0; p < N; p++) {
    const l = f.cells[p];
    if (l === 0) continue;
    const r = remap[l];
    f.cells[p] = r;
    f.nuclei[p] = f.nuclei[p] ? r : 0;
    if (r === 0) f.q[p] = 9;
  }
  const geom = f.geom.filter((g) => remap[g.id] > 0).map((g) => ({ ...g, id: remap[g.id] }));
  // Borders changed where cells vanished: the gap is background now.
  chamferToBorders(f.cells, f.size, f.size, f.dist3);
  return { ...f, geom };
}

function placeSeeds(rng: Rng, size: number, d: number, mitoticCount: number): Seed[] {
  const nx = Math.max(2, Math.round(size / d));
  const ny = Math.max(2, Math.round(size / (d * 0.866)));
  const sx = size / nx, sy = size / ny;
  const seeds: Seed[] = [];
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      if (rng.chance(0.04)) continue; // a missing cell leaves a gap the neighbours only partly fill
      const x = (i + 0.5 + (j % 2 ? 0.22 : -0.22) + rng.range(-0.28, 0.28)) * sx;
      const y = (j + 0.5 + rng.range(-0.28, 0.28)) * sy;
      const w = rng.range(0.82, 1.2);
      const e = rng.range(1, 1.7);
      const a = rng.range(0, Math.PI);
      seeds.push({
        x: Math.min(size - 3, Math.max(2, x)),
        y: Math.min(size - 3, Math.max(2, y)),
        is2: 1 / (w * w),
        ie: 1 / e,
        e,
        c: Math.cos(a),
        s: Math.sin(a),
        r2max: (0.78 * d) ** 2,
        radius: 0.5 * d * w,
        mitotic: false,
      });
    }
  }
  // Mitotic cells: interior seeds, spread apart.
  const interior = seeds.filter((s) => s.x > d * 0.7 && s.x < size - d * 0.7 && s.y > d * 0.7 && s.y < size - d * 0.7);
  const pool = interior.length > 0 ? interior : seeds;
  rng.shuffle(pool);
  for (let k = 0; k < Math.min(mitoticCount, pool.length); k++) {
    const s = pool[k];
    s.mitotic = true;
    s.is2 = 1;
    s.ie = 1;
    s.e = 1;
  }
  return seeds;
}

/**
 * Keeps each label's largest 4-connected component; other fragments become background.
 * Works on horizontal runs (a few per row) with union-find, not on pixels. Returns the area kept
 * per label.
 */
function keepLargestComponents(lab: Uint16Array, W: number, H: number, nLabels: number): Int32Array {
  const cap = 1024;
  let rs = new Int32Array(cap), re = new Int32Array(cap), rl = new Int32Array(cap);
  let nr = 0;
  const rowStart = new Int32Array(H + 1);
  const push = (s: number, e: number, l: number) => {
    if (nr === rs.length) {
      const grow = (a: Int32Array) => { const b = new Int32Array(a.length * 2); b.set(a); return b; };
      rs = grow(rs); re = grow(re); rl = grow(rl);
    }
    rs[nr] = s; re[nr] = e; rl[nr] = l; nr++;
  };
  for (let y = 0; y < H; y++) {
    rowStart[y] = nr;
    const row = y * W;
    let x = 0;
    while (x < W) {
      const l = lab[row + x];
      let e = x + 1;
      while (e < W && lab[row + e] === l) e++;
      if (l !== 0) push(x, e, l);
      x = e;
    }
  }
  rowStart[H] = nr;
  const parent = new Int32Array(nr);
  for (let i = 0; i < nr; i++) parent[i] = i;
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  for (let y = 1; y < H; y++) {
    let j = rowStart[y - 1];
    const jEnd = rowStart[y];
    for (let i = rowStart[y]; i < rowStart[y + 1]; i++) {
      while (j < jEnd && re[j] <= rs[i]) j++;
      for (let k = j; k < jEnd && rs[k] < re[i]; k++) {
        if (rl[k] === rl[i]) {
          const a = find(i), b = find(k);
          if (a !== b) parent[a] = b;
        }
      }
    }
  }
  const size = new Float64Array(nr);
  for (let i = 0; i < nr; i++) size[find(i)] += re[i] - rs[i];
  const best = new Int32Array(nLabels + 1).fill(-1);
  for (let i = 0; i < nr; i++) {
    if (parent[i] !== i) continue;
    const l = rl[i];
    if (best[l] < 0 || size[i] > size[best[l]]) best[l] = i;
  }
  const area = new Int32Array(nLabels + 1);
  for (let y = 0; y < H; y++) {
    for (let i = rowStart[y]; i < rowStart[y + 1]; i++) {
      if (find(i) !== best[rl[i]]) lab.fill(0, y * W + rs[i], y * W + re[i]);
      else area[rl[i]] += re[i] - rs[i];
    }
  }
  return area;
}

/**
 * 3-4 chamfer distance to the nearest pixel whose 4-neighbour has another label, in chamfer units
 * (3 per pixel, saturating at 65535). The image edge is not a border.
 */
function chamferToBorders(lab: Uint16Array, W: number, H: number, d: Uint16Array): void {
  const INF = 65535;
  // Forward pass, seeding the border pixels on the fly (all labels are known).
  for (let y = 0; y < H; y++) {
    const row = y * W;
    for (let x = 0; x < W; x++) {
      const p = row + x, l = lab[p];
      if ((x > 0 && lab[p - 1] !== l) || (x < W - 1 && lab[p + 1] !== l) || (y > 0 && lab[p - W] !== l) || (y < H - 1 && lab[p + W] !== l)) {
        d[p] = 0;
        continue;
      }
      let v = INF;
      if (x > 0) {
        const a = d[p - 1] + 3;
        if (a < v) v = a;
      }
      if (y > 0) {
        const b = d[p - W] + 3;
        if (b < v) v = b;
        if (x > 0) {
          const c = d[p - W - 1] + 4;
          if (c < v) v = c;
        }
        if (x < W - 1) {
          const e = d[p - W + 1] + 4;
          if (e < v) v = e;
        }
      }
      d[p] = v;
    }
  }
  for (let y = H - 1; y >= 0; y--) {
    const row = y * W;
    for (let x = W - 1; x >= 0; x--) {
      const p = row + x;
      let v = d[p];
      if (v === 0) continue;
      if (x < W - 1) {
        const a = d[p + 1] + 3;
        if (a < v) v = a;
      }
      if (y < H - 1) {
        const b = d[p + W] + 3;
        if (b < v) v = b;
        if (x < W - 1) {
          const c = d[p + W + 1] + 4;
          if (c < v) v = c;
        }
        if (x > 0) {
          const e = d[p + W - 1] + 4;
          if (e < v) v = e;
        }
      }
      d[p] = v;
    }
  }
}

/** Nucleus margin to the cell border (px): nuclei never touch their cell's outline. */
const NUCLEUS_MARGIN = 3;

function placeNuclei(rng: Rng, cells: Uint16Array, dist3: Uint16Array, W: number, H: number, seeds: Seed[]): Field {
  const n = seeds.length, N = W * H;
  const x0 = new Int32Array(n + 1).fill(W), y0 = new Int32Array(n + 1).fill(H);
  const x1 = new Int32Array(n + 1), y1 = new Int32Array(n + 1);
  const area = new Int32Array(n + 1);
  const sumX = new Float64Array(n + 1), sumY = new Float64Array(n + 1);
  const bestD = new Int32Array(n + 1).fill(-1);
  const bestP = new Int32Array(n + 1);
  for (let y = 0; y < H; y++) {
    const row = y * W;
    // Prefer interior points away from the image edge too, so nuclei are rarely cut.
    const ey = 3 * Math.min(y + 1, H - y);
    let x = 0;
    while (x < W) {
      const l = cells[row + x];
      let e = x + 1;
      while (e < W && cells[row + e] === l) e++;
      if (l !== 0) {
        // Statistics per horizontal run, distance maximum per pixel.
        area[l] += e - x;
        sumX[l] += ((x + e - 1) * (e - x)) / 2;
        sumY[l] += y * (e - x);
        if (x < x0[l]) x0[l] = x;
        if (e > x1[l]) x1[l] = e;
        if (y < y0[l]) y0[l] = y;
        if (y >= y1[l]) y1[l] = y + 1;
        let bd = bestD[l], bp = bestP[l];
        // The most interior point only needs to be found to a pixel or two: sample every other one.
        if ((y & 1) === 0) for (let xx = x + (x & 1); xx < e; xx += 2) {
          let dd = dist3[row + xx];
          if (ey < dd) dd = ey;
          const ex = 3 * (xx < W - xx ? xx + 1 : W - xx);
          if (ex < dd) dd = ex;
          if (dd > bd) {
            bd = dd;
            bp = row + xx;
          }
        }
        bestD[l] = bd;
        bestP[l] = bp;
      }
      x = e;
    }
  }
  const size = W;
  const geom: CellGeom[] = [];
  // Nucleus frame per cell, in flat arrays for the per-pixel pass.
  const fx = new Float64Array(n + 1), fy = new Float64Array(n + 1), fc = new Float64Array(n + 1), fs = new Float64Array(n + 1);
  const fa = new Float64Array(n + 1), fb = new Float64Array(n + 1), fn = new Float64Array(n + 1);
  for (let id = 1; id <= n; id++) {
    const s = seeds[id - 1];
    const px = bestP[id] % W, py = (bestP[id] / W) | 0, room = bestD[id] / 3;
    const cx = sumX[id] / area[id], cy = sumY[id] / area[id];
    // Between the pole of inaccessibility and the centroid (nuclei sit a little off-centre).
    let nx = px + 0.3 * (cx - px), ny = py + 0.3 * (cy - py);
    const ci = Math.round(ny) * W + Math.round(nx);
    if (cells[ci] !== id || dist3[ci] < bestD[id] * 0.75) {
      nx = px;
      ny = py;
    }
    let na: number, nb: number, ang: number;
    if (s.mitotic) {
      // Condensed chromatin: a metaphase plate, long and thin.
      na = s.radius * 0.42;
      nb = s.radius * rng.range(0.11, 0.15);
      ang = rng.range(0, Math.PI);
      nx = s.x;
      ny = s.y;
    } else {
      const rn = Math.min(s.radius * rng.range(0.36, 0.46), Math.max(4, room - NUCLEUS_MARGIN) * 0.95);
      const e = Math.sqrt(rng.range(1, 1.45));
      na = rn * e;
      nb = rn / e;
      // Nuclei tend to follow the cell's elongation.
      ang = Math.atan2(s.s, s.c) + rng.range(-0.4, 0.4);
    }
    const nc = Math.cos(ang), ns = Math.sin(ang);
    fx[id] = nx; fy[id] = ny; fc[id] = nc; fs[id] = ns;
    fa[id] = 1 / (na * na); fb[id] = 1 / (nb * nb); fn[id] = s.mitotic ? 0.45 : 0.3;
    geom.push({
      id, x0: x0[id], y0: y0[id], x1: x1[id], y1: y1[id], area: area[id], mitotic: s.mitotic, radius: s.radius,
      nx, ny, na, nb, nc, ns, mx: nx, my: ny, mdx: 1, mdy: 0,
    });
  }
  // One pass: normalised nucleus radius q of every cell pixel; nucleus = q < 1 away from the outline.
  const shape = new Fbm(rng, W, H, cellSpacing(size) * 0.2, 2, 0.4);
  const shapeRow = new Float32Array(W);
  const q = new Float32Array(N).fill(9);
  const nuclei = new Uint16Array(N);
  const margin3 = NUCLEUS_MARGIN * 3;
  for (let y = 0; y < H; y++) {
    // Features of this noise are tens of pixels wide: every other row is enough.
    if ((y & 1) === 0) shape.fillRow(y, shapeRow);
    const row = y * W;
    let x0 = 0;
    while (x0 < W) {
      const id = cells[row + x0];
      let x1 = x0 + 1;
      while (x1 < W && cells[row + x1] === id) x1++;
      if (id !== 0) {
        const cx = fx[id], cy = fy[id], c = fc[id], s = fs[id], ia = fa[id], ib = fb[id], na = fn[id];
        const dy = y - cy;
        for (let x = x0; x < x1; x++) {
          const p = row + x, dx = x - cx;
          const u = dx * c + dy * s, v = dy * c - dx * s;
          const qq = u * u * ia + v * v * ib + na * shapeRow[x];
          q[p] = qq;
          if (qq < 1 && dist3[p] >= margin3) nuclei[p] = id;
        }
      }
      x0 = x1;
    }
  }
  // MTOC: just outside the nucleus on a random side that is still inside the cell.
  for (const g of geom) {
    for (let tries = 0; tries < 12; tries++) {
      const phi = rng.range(0, 2 * Math.PI);
      const cu = Math.cos(phi) * g.na * 1.25, cv = Math.sin(phi) * g.nb * 1.25;
      const tx = g.nx + cu * g.nc - cv * g.ns, ty = g.ny + cu * g.ns + cv * g.nc;
      const ti = Math.round(ty) * W + Math.round(tx);
      if (tx >= 0 && ty >= 0 && tx < W - 0.5 && ty < H - 0.5 && cells[ti] === g.id && dist3[ti] > 12) {
        g.mx = tx;
        g.my = ty;
        const len = Math.hypot(tx - g.nx, ty - g.ny) || 1;
        g.mdx = (tx - g.nx) / len;
        g.mdy = (ty - g.ny) / len;
        break;
      }
    }
  }
  return { size, cells, nuclei, dist3, q, geom };
}
