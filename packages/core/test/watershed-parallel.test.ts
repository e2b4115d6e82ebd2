// The level- and generation-synchronous formulation of the 'fifo' watershed that a CUDA version
// would use (docs/kernels/watershed.md, "No CUDA version yet"), written as a CPU emulation where
// every generation step reads only the state before it (what parallel threads would see) and
// resolves claims by minimum keys (what atomicMin would do). It must equal watershedJs 'fifo' on
// every case, without a line and with one (one-level images); if it does not, the formulation in
// the docs is wrong.
import { describe, expect, it } from 'vitest';
import { watershedJs } from '../src/kernels/watershed.js';
import { rng, randInt } from './helpers.js';

/** An integer in [lo, hi]. */
const between = (r: () => number, lo: number, hi: number) => lo + randInt(r, hi - lo + 1);

interface Case {
  W: number;
  H: number;
  elevation: Uint8Array;
  markers: Int32Array;
  mask: Uint8Array | null;
  connectivity: 4 | 8;
}

/** Neighbours in the flood's order (up, left, right, down, then the diagonals). */
function neighbours(p: number, W: number, H: number, conn: 4 | 8): number[] {
  const x = p % W, y = (p - x) / W, out: number[] = [];
  const at = (dx: number, dy: number) => {
    const xx = x + dx, yy = y + dy;
    if (xx >= 0 && xx < W && yy >= 0 && yy < H) out.push(yy * W + xx);
  };
  at(0, -1); at(-1, 0); at(1, 0); at(0, 1);
  if (conn === 8) { at(-1, -1); at(1, -1); at(-1, 1); at(1, 1); }
  return out;
}

/**
 * Phases by level; inside a phase, FIFO generations. Each entry of a generation gets the next
 * sequence number in key order (key = sequence number of the pop that claimed it; seeds: raster
 * order before everything). A generation claims, by minimum key, (a) its unclaimed neighbours
 * directly (key = seq) and (b) whole unclaimed components below the level it touches, whose
 * unclaimed border is then claimed at seq + 0.5 (after that entry's direct claims, before the
 * next entry pops). Claimed pixels at the level form the next generation, higher ones wait for
 * their phase.
 */
function levelSynchronous(c: Case): Int32Array {
  const { W, H, elevation: v, connectivity: conn } = c;
  const n = W * H;
  const inMask = (p: number) => (c.mask ? c.mask[p] !== 0 : true);
  const label = new Int32Array(n);
  const pending: { p: number; key: number }[][] = Array.from({ length: 256 }, () => []);
  for (let p = 0; p < n; p++) {
    if (c.markers[p] > 0 && inMask(p)) {
      label[p] = c.markers[p];
      pending[v[p]].push({ p, key: p - n }); // raster order, before every real pop
    }
  }
  const nb = Array.from({ length: n }, (_, p) => neighbours(p, W, H, conn).filter(inMask));
  let seq = 0;
  for (let L = 0; L < 256; L++) {
    let gen = pending[L];
    while (gen.length) {
      gen.sort((a, b) => a.key - b.key || a.p - b.p);
      const seqOf = new Map<number, number>();
      for (const e of gen) seqOf.set(e.p, seq++);
      // Components of unclaimed pixels below L, from the state before this step.
      const comp = new Int32Array(n).fill(-1);
      const members: number[][] = [];
      for (let p = 0; p < n; p++) {
        if (comp[p] >= 0 || label[p] !== 0 || !inMask(p) || v[p] >= L) continue;
        const id = members.length, list = [p];
        comp[p] = id;
        for (let k = 0; k < list.length; k++) {
          for (const q of nb[list[k]]) {
            if (comp[q] < 0 && label[q] === 0 && v[q] < L) {
              comp[q] = id;
              list.push(q);
            }
          }
        }
        members.push(list);
      }
      // Direct claims and component claims: minimum sequence number of an adjacent entry.
      const claim = new Float64Array(n).fill(Infinity);
      const claimer = new Int32Array(n).fill(-1);
      const compKey = new Float64Array(members.length).fill(Infinity);
      const compClaimer = new Int32Array(members.length).fill(-1);
      for (const e of gen) {
        const s = seqOf.get(e.p)!;
        for (const q of nb[e.p]) {
          if (label[q] !== 0) continue;
          if (v[q] < L) {
            if (s < compKey[comp[q]]) (compKey[comp[q]] = s), (compClaimer[comp[q]] = e.p);
          } else if (s < claim[q]) (claim[q] = s), (claimer[q] = e.p);
        }
      }
      // Each claimed component's unclaimed border (at or above L) at its claimer's seq + 0.5.
      members.forEach((list, id) => {
        if (compClaimer[id] < 0) return;
        for (const p of list) {
          for (const q of nb[p]) {
            if (label[q] === 0 && comp[q] !== id && v[q] >= L && compKey[id] + 0.5 < claim[q]) {
              claim[q] = compKey[id] + 0.5;
              claimer[q] = compClaimer[id];
            }
          }
        }
      });
      // Apply: labels, then the next generation and the later phases' entries.
      members.forEach((list, id) => {
        if (compClaimer[id] >= 0) for (const p of list) label[p] = label[compClaimer[id]];
      });
      const next: { p: number; key: number }[] = [];
      for (let q = 0; q < n; q++) {
        if (claimer[q] < 0) continue;
        label[q] = label[claimer[q]];
        const entry = { p: q, key: Math.floor(claim[q]) };
        if (v[q] === L) next.push(entry);
        else pending[v[q]].push(entry);
      }
      gen = next;
    }
  }
  return label;
}

/**
 * The same generations with a watershed line, for one-level images (labelCell's nuclei
 * watershed floods its mask with elevation 1 everywhere, so there are no bursts). A popped entry
 * becomes a line pixel when its neighbours carry two different labels at its pop: seeds from the
 * start, other pixels once popped (earlier generation, or earlier in this one) and not line. That
 * status is found in rounds (each round reads the previous one; it depends only on smaller
 * sequence numbers, so it settles), then entries that are not line claim their unclaimed
 * neighbours by minimum sequence number.
 */
function levelSynchronousLine(c: Case): Int32Array {
  const { W, H, connectivity: conn } = c;
  const n = W * H;
  const inMask = (p: number) => (c.mask ? c.mask[p] !== 0 : true);
  const nb = Array.from({ length: n }, (_, p) => neighbours(p, W, H, conn).filter(inMask));
  const seed = new Uint8Array(n);
  const label = new Int32Array(n); // a seed's label, or the label an entry was claimed with
  const popped = new Int32Array(n).fill(-1); // sequence number of the pop, -1 before it
  const line = new Uint8Array(n);
  let gen: { p: number; key: number }[] = [];
  for (let p = 0; p < n; p++) {
    if (c.markers[p] > 0 && inMask(p)) {
      seed[p] = 1;
      label[p] = c.markers[p];
      gen.push({ p, key: p - n });
    }
  }
  let seq = 0;
  while (gen.length) {
    gen.sort((a, b) => a.key - b.key || a.p - b.p);
    const mySeq = new Map<number, number>();
    for (const e of gen) mySeq.set(e.p, seq++);
    // Rounds of line tests until nothing changes.
    let status = new Map<number, boolean>(gen.map((e) => [e.p, false]));
    for (let round = 0; round <= gen.length; round++) {
      const next = new Map<number, boolean>();
      for (const e of gen) {
        const s = mySeq.get(e.p)!;
        const shown = new Set<number>();
        for (const q of nb[e.p]) {
          const qs = mySeq.get(q);
          const before = popped[q] >= 0 || (qs !== undefined && qs < s);
          const isLine = popped[q] >= 0 ? line[q] === 1 : qs !== undefined && qs < s ? status.get(q)! : false;
          if (seed[q] ? !(before && isLine) : before && !isLine) shown.add(label[q]);
        }
        next.set(e.p, shown.size > 1);
      }
      const same = gen.every((e) => next.get(e.p) === status.get(e.p));
      status = next;
      if (same) break;
    }
    for (const e of gen) {
      popped[e.p] = mySeq.get(e.p)!;
      line[e.p] = status.get(e.p) ? 1 : 0;
    }
    // Claims by the entries that are not line: minimum sequence number.
    const claimer = new Map<number, number>();
    for (const e of gen) {
      if (line[e.p]) continue;
      for (const q of nb[e.p]) {
        if (seed[q] || popped[q] >= 0 || label[q] !== 0) continue; // labelled, popped or already claimed
        const cur = claimer.get(q);
        if (cur === undefined || mySeq.get(e.p)! < mySeq.get(cur)!) claimer.set(q, e.p);
      }
    }
    gen = [];
    for (const [q, by] of claimer) {
      label[q] = label[by];
      gen.push({ p: q, key: mySeq.get(by)! });
    }
  }
  // Line pixels are 0, except seeds (skimage keeps a seed's label); never-popped pixels are 0.
  return Int32Array.from({ length: n }, (_, p) => (popped[p] < 0 ? 0 : line[p] && !seed[p] ? 0 : label[p]));
}

function randomCase(seed: number): Case {
  const r = rng(seed);
  const W = between(r, 1, 24), H = between(r, 1, 24), n = W * H;
  const levels = [2, 3, 6, 256][between(r, 0, 3)];
  const elevation = Uint8Array.from({ length: n }, () => between(r, 0, levels - 1));
  const markers = new Int32Array(n);
  const seeds = between(r, 1, Math.max(1, Math.floor(n / 8)));
  for (let k = 0; k < seeds; k++) markers[between(r, 0, n - 1)] = between(r, 1, 5);
  const mask = r() < 0.5 ? null : Uint8Array.from({ length: n }, () => (r() < 0.85 ? 1 : 0));
  return { W, H, elevation, markers, mask, connectivity: r() < 0.5 ? 4 : 8 };
}

/** One-level images (elevation 1 everywhere) with a mask, for the line mode. */
function flatCase(seed: number): Case {
  const c = randomCase(seed);
  return { ...c, elevation: new Uint8Array(c.W * c.H).fill(1) };
}

/** The FIFO flood of each case, and how many cases the emulation gets wrong. */
function compare(cases: Case[], watershedLine: boolean, emulate: (c: Case) => Int32Array): { fifos: Int32Array[]; differing: number } {
  let differing = 0;
  const fifos = cases.map((c) => {
    const fifo = new Int32Array(c.W * c.H);
    watershedJs(c.elevation, c.markers, c.mask, fifo, { width: c.W, height: c.H, connectivity: c.connectivity, watershedLine, tieBreak: 'fifo' });
    const par = emulate(c);
    if (!fifo.every((x, i) => x === par[i])) differing++;
    return fifo;
  });
  return { fifos, differing };
}

describe("the level-synchronous formulation of the 'fifo' watershed (planned CUDA algorithm)", () => {
  it('equals the FIFO flood without a line on 1000 random cases (few levels: plateaus, ties, bursts below the level)', () => {
    const { fifos, differing } = compare(Array.from({ length: 1000 }, (_, k) => randomCase(7000 + k)), false, levelSynchronous);
    expect(differing).toBe(0);
    // two labels or more: the order between them matters
    expect(fifos.filter((f) => new Set(f).size > 2).length).toBeGreaterThan(600);
  });

  it('with a watershed line, equals the FIFO flood on 1000 random one-level images (the nuclei watershed of labelCell)', () => {
    const cases = Array.from({ length: 1000 }, (_, k) => flatCase(9000 + k));
    const { fifos, differing } = compare(cases, true, levelSynchronousLine);
    expect(differing).toBe(0);
    // cases where a line separates two labels or more
    const lines = fifos.filter((f, k) => f.some((x, i) => x === 0 && (cases[k].mask ? cases[k].mask![i] !== 0 : true)) && new Set(f).size > 2);
    expect(lines.length).toBeGreaterThan(300);
  });
});
