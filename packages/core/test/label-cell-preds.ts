// Synthetic U-Net-format predictions for the labelCell tests (label-cell.test.ts,
// label-cell-cuda.test.ts): blurred Voronoi fields, painted fragments, a >255-nuclei grid for the
// uint8 wrap, replicated low-resolution maps and constant inputs.
import { mulberry32 } from '../src/util/random.js';

export interface Preds { name: string; width: number; height: number; nucleiPred: Uint8Array; cellPred: Uint8Array }

function boxBlur(src: Float32Array, W: number, H: number, r: number): Float32Array {
  const tmp = new Float32Array(W * H), out = new Float32Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let s = 0, c = 0;
      for (let d = -r; d <= r; d++) if (x + d >= 0 && x + d < W) { s += src[y * W + x + d]; c++; }
      tmp[y * W + x] = s / c;
    }
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let s = 0, c = 0;
      for (let d = -r; d <= r; d++) if (y + d >= 0 && y + d < H) { s += tmp[(y + d) * W + x]; c++; }
      out[y * W + x] = s / c;
    }
  }
  return out;
}

/**
 * Sets channel `ch` of a W-wide interleaved H×W×3 map to v on [x0, x1) × [y0, y1), except inside
 * `hole` = [hx0, hy0, hx1, hy1).
 */
function fillRect(p: Uint8Array, W: number, ch: number, x0: number, y0: number, x1: number, y1: number, v: number, hole?: [number, number, number, number]): void {
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      if (hole && x >= hole[0] && x < hole[2] && y >= hole[1] && y < hole[3]) continue;
      p[3 * (y * W + x) + ch] = v;
    }
  }
}

/** U-Net-like maps from label maps: blurred interiors (ch 2), blurred label boundaries (ch 1), noise. */
function predsFromLabels(name: string, W: number, H: number, cells: Int32Array, nuclei: Int32Array, seed: number, noise: number): Preds {
  const r = mulberry32(seed);
  const n = W * H;
  const cm = new Float32Array(n), nm = new Float32Array(n), cb = new Float32Array(n), nb = new Float32Array(n);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      cm[i] = cells[i] > 0 ? 1 : 0;
      nm[i] = nuclei[i] > 0 ? 1 : 0;
      const edge = (a: Int32Array): boolean =>
        (x > 0 && a[i - 1] !== a[i]) || (x < W - 1 && a[i + 1] !== a[i]) || (y > 0 && a[i - W] !== a[i]) || (y < H - 1 && a[i + W] !== a[i]);
      cb[i] = edge(cells) ? 1 : 0;
      nb[i] = edge(nuclei) ? 1 : 0;
    }
  }
  const cmb = boxBlur(cm, W, H, 2), nmb = boxBlur(nm, W, H, 2), cbb = boxBlur(cb, W, H, 1), nbb = boxBlur(nb, W, H, 1);
  const q = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));
  const nucleiPred = new Uint8Array(3 * n), cellPred = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    const z = (): number => (r() - 0.5) * noise;
    nucleiPred[3 * i + 1] = q(255 * nbb[i] * 0.9 + Math.max(0, z()));
    nucleiPred[3 * i + 2] = q(255 * nmb[i] + z());
    cellPred[3 * i + 1] = q(255 * cbb[i] * 0.9 + Math.max(0, z()));
    cellPred[3 * i + 2] = q(255 * cmb[i] + z());
  }
  return { name, width: W, height: H, nucleiPred, cellPred };
}

/** Voronoi field of wobbly cells (touching each other and the border) with nuclei that may touch. */
export function field(name: string, W: number, H: number, count: number, seed: number, cellR: number, nucR: number, noise: number): Preds {
  const r = mulberry32(seed);
  const sx: number[] = [], sy: number[] = [], rad: number[] = [], nrad: number[] = [];
  for (let k = 0; k < count; k++) {
    sx.push(r() * W);
    sy.push(r() * H);
    rad.push(cellR * (0.7 + 0.6 * r()));
    nrad.push(nucR * (0.7 + 0.6 * r()));
  }
  const cells = new Int32Array(W * H), nuclei = new Int32Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let b = Infinity, k1 = 0;
      for (let k = 0; k < count; k++) {
        const d = (x - sx[k]) ** 2 + (y - sy[k]) ** 2;
        if (d < b) { b = d; k1 = k; }
      }
      const d = Math.sqrt(b), ang = Math.atan2(y - sy[k1], x - sx[k1]);
      const wob = 1 + 0.15 * Math.sin(3 * ang + k1) + 0.05 * Math.sin(5 * ang + 2 * k1);
      if (d < rad[k1] * wob) {
        cells[y * W + x] = k1 + 1;
        if (d < nrad[k1] * wob) nuclei[y * W + x] = k1 + 1;
      }
    }
  }
  return predsFromLabels(name, W, H, cells, nuclei, seed, noise);
}

/** Rectangles and rings painted straight into the channels (no blur): fragments, holes, border cells. */
export function fragments(): Preds {
  const W = 360, H = 300, n = W * H;
  const nucleiPred = new Uint8Array(3 * n), cellPred = new Uint8Array(3 * n);
  const paint = (p: Uint8Array, ch: number, x0: number, y0: number, x1: number, y1: number, v: number, hole?: [number, number, number, number]): void =>
    fillRect(p, W, ch, x0, y0, x1, y1, v, hole);
  // A cell on the left border (nucleus with a 20×20 hole that remove_small_holes fills).
  paint(cellPred, 2, 0, 20, 120, 140, 250);
  paint(nucleiPred, 2, 10, 40, 80, 110, 240, [30, 60, 50, 80]);
  // A ring-shaped cell (its 30×30 hole is filled by __fill_holes) around a nucleus.
  paint(cellPred, 2, 150, 10, 260, 120, 230, [215, 70, 245, 100]);
  paint(nucleiPred, 2, 160, 20, 210, 75, 255);
  // Two touching cells with touching nuclei separated by a border line in both maps.
  paint(cellPred, 2, 20, 170, 200, 290, 255);
  paint(cellPred, 1, 109, 170, 111, 290, 200);
  paint(nucleiPred, 2, 60, 200, 160, 260, 255);
  paint(nucleiPred, 1, 109, 200, 111, 260, 255);
  // Fragments: a nucleus too small for the seeds (300 px), one too small as a nucleus (1600 px),
  // a 3-px speck, a cell without a nucleus, a cell too small (4000 px), green lines.
  paint(nucleiPred, 2, 300, 20, 320, 35, 255);
  paint(cellPred, 2, 290, 10, 340, 60, 255);
  paint(nucleiPred, 2, 300, 90, 340, 130, 255);
  paint(cellPred, 2, 285, 80, 355, 160, 255);
  paint(nucleiPred, 2, 270, 200, 273, 201, 255);
  paint(cellPred, 2, 220, 180, 300, 280, 240);
  paint(cellPred, 2, 310, 200, 350, 300, 255);
  paint(nucleiPred, 2, 315, 230, 345, 290, 250);
  paint(cellPred, 1, 0, 150, 360, 152, 180);
  paint(cellPred, 1, 205, 0, 207, 300, 90);
  return { name: 'fragments', width: W, height: H, nucleiPred, cellPred };
}

/**
 * More than 255 nuclei (low resolution, for the scale 0.25 pipeline): a tall cell A (nucleus id 1) on
 * the left and a 17×18 grid of cells. The nucleus ids 256 and 257 wrap in `.astype(np.uint8)`: cell
 * 256 becomes background and cell 257 becomes id 1, merging with A across the gap between them.
 */
export function wrapLowRes(): Preds & { cellA: number; cell256: number; cell257: number } {
  const W = 384, H = 384, n = W * H;
  const nucleiPred = new Uint8Array(3 * n), cellPred = new Uint8Array(3 * n);
  const rect = (p: Uint8Array, ch: number, x0: number, y0: number, x1: number, y1: number, v: number): void => fillRect(p, W, ch, x0, y0, x1, y1, v);
  rect(cellPred, 1, 0, 0, W, H, 255); // gaps between the cells are border
  rect(cellPred, 2, 0, 0, 20, H, 255);
  rect(cellPred, 1, 0, 0, 20, H, 0);
  rect(nucleiPred, 2, 3, 2, 16, 15, 255);
  for (let r = 0; r < 18; r++) {
    for (let c = 0; c < 17; c++) {
      const x = 21 + 21 * c, y = 21 * r;
      rect(cellPred, 2, x, y, x + 20, y + 20, 255);
      rect(cellPred, 1, x, y, x + 20, y + 20, 0);
      rect(nucleiPred, 2, x + 3, y + 4, x + 16, y + 17, 255);
    }
  }
  const at = (x: number, y: number): number => y * W + x;
  return {
    name: 'wrap', width: W, height: H, nucleiPred, cellPred,
    cellA: at(10, 200), cell256: at(21 + 21 * 16 + 10, 21 * 14 + 10), cell257: at(21 + 10, 21 * 15 + 10),
  };
}

/** Replicates low-resolution predictions f×f (a block mean of them gives them back exactly). */
export function replicate(p: Preds, f: number): Preds {
  const W = p.width * f, H = p.height * f;
  const up = (a: Uint8Array): Uint8Array => {
    const o = new Uint8Array(3 * W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const s = 3 * (((y / f) | 0) * p.width + ((x / f) | 0)), d = 3 * (y * W + x);
        o[d] = a[s]; o[d + 1] = a[s + 1]; o[d + 2] = a[s + 2];
      }
    }
    return o;
  };
  return { name: `${p.name}×${f}`, width: W, height: H, nucleiPred: up(p.nucleiPred), cellPred: up(p.cellPred) };
}

export function constant(name: string, W: number, H: number, n1: number, n2: number, c1: number, c2: number): Preds {
  const nucleiPred = new Uint8Array(3 * W * H), cellPred = new Uint8Array(3 * W * H);
  for (let i = 0; i < W * H; i++) {
    nucleiPred[3 * i + 1] = n1; nucleiPred[3 * i + 2] = n2;
    cellPred[3 * i + 1] = c1; cellPred[3 * i + 2] = c2;
  }
  return { name, width: W, height: H, nucleiPred, cellPred };
}


/**
 * Every size threshold of label_cell met exactly by one object and missed by one pixel by its twin
 * (scale 1; painted, no blur, so the sizes are exact). Each pair shows in the output:
 * - seeds (500): A's seed core is 20×25 = 500 px (kept: A is a cell), B's 499 (no marker: no cell);
 * - nuclei (2500, step 4): C's nucleus is 50×50 (a cell), D's 2499 (removed: no cell);
 * - holes (1000): E's nucleus keeps a 1000-px hole (0 in the nuclei output), F's 999-px hole is filled;
 * - cells (5500, step 8): G's region is a 90×90 frame of 5500 px (kept; __fill_holes then fills the
 *   frame), H's is 5499 (removed);
 * - cells (5500, step 12): I's 59×104 region ends as 55×100 = 5500 px after the two __fill_holes
 *   (kept), J's lacks a 6-px corner triangle that the disk(6) closing keeps, ending 5499 (removed);
 * - nuclei (2500, step 13): K's 50×52 nucleus overlaps its final cell by 50×50 (kept), L's by 2499
 *   (no nucleus, though L is a cell).
 * `at` gives one pixel inside each object.
 */
export function thresholds(): Preds & { at: Record<string, number>; holeAt: { E: number; F: number } } {
  const W = 650, H = 260, n = W * H;
  const nucleiPred = new Uint8Array(3 * n), cellPred = new Uint8Array(3 * n);
  const set = (p: Uint8Array, ch: number, x0: number, y0: number, x1: number, y1: number, v: number): void => fillRect(p, W, ch, x0, y0, x1, y1, v);
  const px = (p: Uint8Array, ch: number, x: number, y: number, v: number): void => fillRect(p, W, ch, x, y, x + 1, y + 1, v);
  // One object at x = kept, its twin (one pixel short) at x = missed.
  const twins = (kept: number, missed: number, paint: (x0: number, miss: boolean) => void): void => { paint(kept, false); paint(missed, true); };
  // A, B: nuclei whose border channel blocks all seeds but a 20×25 core (B: minus one corner pixel).
  twins(10, 110, (x0, miss) => {
    set(cellPred, 2, x0, 10, x0 + 80, 110, 255);
    set(nucleiPred, 2, x0 + 10, 30, x0 + 70, 90, 255);
    set(nucleiPred, 1, x0 + 10, 30, x0 + 70, 90, 255);
    set(nucleiPred, 1, x0 + 20, 40, x0 + 40, 65, 0);
    if (miss) px(nucleiPred, 1, x0 + 20, 40, 255);
  });
  // C, D: a 50×50 nucleus (D: minus one corner pixel).
  twins(210, 310, (x0, miss) => {
    set(cellPred, 2, x0, 10, x0 + 80, 110, 255);
    set(nucleiPred, 2, x0 + 15, 30, x0 + 65, 80, 255);
    if (miss) px(nucleiPred, 2, x0 + 64, 79, 0);
  });
  // E, F: a 70×70 nucleus with a 25×40 hole (F: one hole pixel painted back).
  twins(410, 530, (x0, miss) => {
    set(cellPred, 2, x0, 10, x0 + 100, 110, 255);
    set(nucleiPred, 2, x0 + 15, 25, x0 + 85, 95, 255);
    set(nucleiPred, 2, x0 + 30, 40, x0 + 55, 80, 0);
    if (miss) px(nucleiPred, 2, x0 + 30, 40, 255);
  });
  // G, H: a 90×90 cell region with a 40×65 gap (H: gap one pixel wider on one row).
  twins(10, 120, (x0, miss) => {
    set(cellPred, 2, x0, 140, x0 + 90, 230, 255);
    set(cellPred, 2, x0 + 30, 155, x0 + 70, 220, 0);
    if (miss) px(cellPred, 2, x0 + 29, 155, 0);
    set(nucleiPred, 2, x0 + 5, 160, x0 + 55, 210, 255);
  });
  // I, J: a 59×104 cell region (J: minus the corner pixels with dx + dy <= 2).
  twins(230, 310, (x0, miss) => {
    set(cellPred, 2, x0, 140, x0 + 59, 244, 255);
    if (miss) for (let d = 0; d <= 2; d++) for (let e = 0; d + e <= 2; e++) px(cellPred, 2, x0 + d, 140 + e, 0);
    set(nucleiPred, 2, x0 + 4, 160, x0 + 54, 215, 255);
  });
  // K, L: an 80×100 cell region; a 50×52 nucleus on its top two rows, which the cell loses (L: minus
  // one corner pixel inside the cell).
  twins(390, 490, (x0, miss) => {
    set(cellPred, 2, x0, 140, x0 + 80, 240, 255);
    set(nucleiPred, 2, x0 + 10, 140, x0 + 60, 192, 255);
    if (miss) px(nucleiPred, 2, x0 + 59, 191, 0);
  });
  const at = (x: number, y: number): number => y * W + x;
  return {
    name: 'thresholds', width: W, height: H, nucleiPred, cellPred,
    at: {
      A: at(50, 60), B: at(150, 60), C: at(250, 55), D: at(350, 55), E: at(460, 30), F: at(580, 30),
      G: at(30, 185), H: at(140, 185), I: at(260, 190), J: at(340, 190), K: at(420, 170), L: at(520, 170),
    },
    holeAt: { E: at(450, 60), F: at(570, 60) },
  };
}
