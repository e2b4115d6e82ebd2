// The CUDA watershed ('fifo' order, docs/kernels/watershed.md "CUDA"): its kernels emulated on the
// host in three thread orders against the CPU flood (runs everywhere the addon builds), the real
// device against the CPU (skipped without a GPU), and the `device` option.
import { describe, expect, it, vi } from 'vitest';
import { watershed, watershedJs, watershedRun } from '../src/kernels/watershed.js';
import { nativeOrNull } from '../src/native.js';
import { hasCuda, hasNative, randInt, rejection, rng } from './helpers.js';

interface Case {
  name: string;
  W: number;
  H: number;
  elevation: Uint8Array | Uint16Array;
  markers: Int32Array;
  mask: Uint8Array | null;
  connectivity: 4 | 8;
  watershedLine: boolean;
}

/** Small images with few levels: plateaus, seed ties, bursts below the level, competing labels. */
function randomCase(seed: number, lineBursts = false, dims?: [number, number]): Case {
  const r = rng(seed);
  const shape = randInt(r, 8);
  const W = dims ? dims[0] : shape === 0 ? 1 : 1 + randInt(r, 22);
  const H = dims ? dims[1] : shape === 1 ? 1 : 1 + randInt(r, 22);
  const n = W * H;
  const levels = lineBursts ? 2 + randInt(r, 3) : [1, 2, 3, 4, 8, 200][randInt(r, 6)];
  const elevation = r() < 0.3
    ? Uint16Array.from({ length: n }, () => randInt(r, levels) * 257)
    : Uint8Array.from({ length: n }, () => randInt(r, levels));
  const markers = new Int32Array(n);
  const labels = 1 + randInt(r, 5);
  const count = randInt(r, Math.max(2, Math.floor(n / 4)));
  for (let k = 0; k < count; k++) markers[randInt(r, n)] = 1 + randInt(r, labels);
  if (r() < 0.1) markers[randInt(r, n)] = 2147483647;
  const maskKind = randInt(r, 5);
  const mask = maskKind === 0 ? null
    : maskKind === 1 ? new Uint8Array(n)
      : Uint8Array.from({ length: n }, () => (r() < 0.85 ? 1 + randInt(r, 3) : 0));
  const connectivity = r() < 0.5 ? 4 : 8;
  const watershedLine = lineBursts || r() < 0.5;
  return { name: `seed ${seed} ${W}x${H}`, W, H, elevation, markers, mask, connectivity, watershedLine };
}

/** Noisy distance-to-centre basins: many levels, long generations, and basins without a seed. */
function blobCase(seed: number, W: number, H: number, u16: boolean, watershedLine: boolean, connectivity: 4 | 8): Case {
  const r = rng(seed);
  const n = W * H;
  const k = 9;
  const cx = Array.from({ length: k }, () => r() * W), cy = Array.from({ length: k }, () => r() * H);
  const markers = new Int32Array(n), mask = new Uint8Array(n);
  const elevation = u16 ? new Uint16Array(n) : new Uint8Array(n);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let d = 1e9;
      for (let j = 0; j < k; j++) d = Math.min(d, Math.hypot(x - cx[j], y - cy[j]));
      const i = y * W + x;
      const v = d / 3 + r() * 4;
      elevation[i] = u16 ? Math.min(65535, Math.round(v * 300)) : Math.min(255, Math.round(v));
      mask[i] = d < 30 || r() < 0.05 ? 1 : 0;
    }
  }
  // Seeds in two thirds of the basins: the others are reached from outside, as bursts.
  for (let j = 0; j < k; j += 1) {
    if (j % 3 === 2) continue;
    markers[Math.floor(cy[j]) * W + Math.floor(cx[j])] = 1 + (j % 4);
  }
  return { name: `blobs ${W}x${H} ${u16 ? 'u16' : 'u8'} line=${watershedLine} conn=${connectivity}`, W, H, elevation, markers, mask, connectivity, watershedLine };
}

function cpuFifo(c: Case): Int32Array {
  const out = new Int32Array(c.W * c.H);
  watershedJs(c.elevation, c.markers, c.mask, out, {
    width: c.W, height: c.H, connectivity: c.connectivity, watershedLine: c.watershedLine, tieBreak: 'fifo',
  });
  return out;
}

/**
 * A batch: random cases of one size, converted to the first one's dtype, connectivity and line
 * (a missing mask becomes all ones), and stacked into one image of `images` times the rows.
 */
function batchOf(seed: number, images: number, lineBursts: boolean): { stacked: Case; parts: Case[] } {
  const first = randomCase(seed, lineBursts);
  const u16 = first.elevation instanceof Uint16Array;
  const parts = [first, ...Array.from({ length: images - 1 }, (_, j) => randomCase(seed * 31 + j + 1, lineBursts, [first.W, first.H]))]
    .map((c) => ({
      ...c,
      connectivity: first.connectivity,
      watershedLine: first.watershedLine,
      elevation: u16 === c.elevation instanceof Uint16Array ? c.elevation
        : u16 ? Uint16Array.from(c.elevation, (v) => v * 257) : Uint8Array.from(c.elevation, (v) => v / 257),
    }));
  const masked = parts.some((c) => c.mask !== null);
  const n = first.W * first.H;
  const concat = <T extends Uint8Array | Uint16Array | Int32Array>(a: T[], make: (len: number) => T): T => {
    const out = make(a.length * n);
    a.forEach((x, k) => out.set(x, k * n));
    return out;
  };
  const stacked: Case = {
    ...parts[0],
    name: `batch ${seed}: ${images} × ${first.W}x${first.H}`,
    H: first.H * images,
    elevation: u16 ? concat(parts.map((c) => c.elevation as Uint16Array), (l) => new Uint16Array(l)) : concat(parts.map((c) => c.elevation as Uint8Array), (l) => new Uint8Array(l)),
    markers: concat(parts.map((c) => c.markers), (l) => new Int32Array(l)),
    mask: masked ? concat(parts.map((c) => c.mask ?? new Uint8Array(n).fill(1)), (l) => new Uint8Array(l)) : null,
  };
  return { stacked, parts };
}

const same = (a: Int32Array, b: Int32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

// Half general, half line floods over two to four levels: the line's bursts (a burst stops at
// pixels next to another label, which pop as line pixels) need many cases to show every shape.
const randomCases = Array.from({ length: 2000 }, (_, k) => randomCase(7000 + k, k % 2 === 1));
const blobCases = [false, true].flatMap((u16) => [false, true].map((wsl) => blobCase(90 + (u16 ? 2 : 0) + (wsl ? 1 : 0), 97, 71, u16, wsl, wsl ? 8 : 4)));
const orders = ['forward', 'reverse', 'strided'] as const;

describe.skipIf(!hasNative)('CUDA watershed kernels emulated on the host', () => {
  const native = nativeOrNull()!;
  const totals = { withLine: { bursts: 0, rounds: 0, generations: 0 }, noLine: { bursts: 0 }, generations: 0, placed: 0, oneBlock: 0, runs: 0 };

  it.each(orders)('equal the CPU fifo flood on 2000 random cases, threads in %s order', (order) => {
    for (const c of randomCases) {
      const out = new Int32Array(c.W * c.H);
      const st = native._watershedEmulated(c.elevation, c.markers, c.mask, out, {
        width: c.W, height: c.H, connectivity: c.connectivity, watershedLine: c.watershedLine, order,
      });
      if (!same(out, cpuFifo(c))) expect.fail(`${c.name} (${c.connectivity}-conn, line ${c.watershedLine}) differs in ${order} order`);
      totals.generations += st.generations;
      totals.placed += st.placedGenerations;
      totals.oneBlock += st.oneBlockGenerations;
      totals.runs += st.levelRuns;
      if (c.watershedLine) {
        totals.withLine.bursts += st.burstGenerations;
        totals.withLine.rounds += st.lineRounds;
        totals.withLine.generations += st.generations;
      } else {
        totals.noLine.bursts += st.burstGenerations;
      }
    }
  });

  it('the random cases reach every path: bursts with and without a line, line statuses that need several rounds', () => {
    expect(totals.noLine.bursts).toBeGreaterThan(100);
    expect(totals.withLine.bursts).toBeGreaterThan(100);
    // One round per step settles nothing; a second confirms. More means chains of line pixels.
    expect(totals.withLine.rounds).toBeGreaterThan(2 * totals.withLine.generations);
    // A level's later generations are placed by counting; its first is sorted.
    expect(totals.placed).toBeGreaterThan(0.2 * totals.generations);
    expect(totals.placed).toBeLessThan(totals.generations);
    // Small generations without a line run in one block, placed and sorted ones.
    expect(totals.oneBlock).toBeGreaterThan(0.2 * totals.generations);
    expect(totals.oneBlock).toBeLessThan(totals.generations);
    // And most runs of them in one launch: a level without bursts, and the levels after it.
    expect(totals.runs).toBeGreaterThan(0);
    expect(totals.runs).toBeLessThan(0.6 * totals.oneBlock);
  });

  // The paths that sessions 12 and 13 replaced, which the GPU scripts time against the new ones:
  // CELLCAM_CUDA_PLACEMENT=sort sorts every generation, CELLCAM_CUDA_FUSED_SEARCH=0 searches for
  // the next level in a launch of its own, CELLCAM_CUDA_ONE_BLOCK=0 runs no generation in one
  // block (also a row of its own), CELLCAM_CUDA_LEVEL_RUN=0 one generation per one-block launch.
  // The variables are read per call.
  const before = { CELLCAM_CUDA_PLACEMENT: 'sort', CELLCAM_CUDA_FUSED_SEARCH: '0', CELLCAM_CUDA_ONE_BLOCK: '0' };
  it.each([
    { path: 'every path of before session 12', env: before, label: 'the random cases', cases: randomCases, order: 'strided', unused: ['placedGenerations', 'oneBlockGenerations'], oneEach: false },
    { path: 'every path of before session 12', env: before, label: 'the blob cases', cases: blobCases, order: 'strided', unused: ['placedGenerations', 'oneBlockGenerations'], oneEach: false },
    { path: 'no generation in one block', env: { CELLCAM_CUDA_ONE_BLOCK: '0' }, label: 'the random cases', cases: randomCases, order: 'reverse', unused: ['oneBlockGenerations', 'levelRuns'], oneEach: false },
    { path: 'one generation per one-block launch', env: { CELLCAM_CUDA_LEVEL_RUN: '0' }, label: 'the random cases', cases: randomCases, order: 'strided', unused: [], oneEach: true },
    { path: 'sorted later generations in runs', env: { CELLCAM_CUDA_PLACEMENT: 'sort' }, label: 'the random cases', cases: randomCases, order: 'forward', unused: ['placedGenerations'], oneEach: false },
  ] as const)('with $path, equal the CPU flood on $label', ({ env, cases, order, unused, oneEach }) => {
    for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
    try {
      let generations = 0;
      for (const c of cases) {
        const out = new Int32Array(c.W * c.H);
        const st = native._watershedEmulated(c.elevation, c.markers, c.mask, out, {
          width: c.W, height: c.H, connectivity: c.connectivity, watershedLine: c.watershedLine, order,
        });
        if (!same(out, cpuFifo(c))) expect.fail(`${c.name} (${c.connectivity}-conn, line ${c.watershedLine}) differs on the older path`);
        for (const u of unused) expect(st[u]).toBe(0);
        if (oneEach) expect(st.levelRuns).toBe(st.oneBlockGenerations);  // one run per one-block generation
        generations += st.generations;
      }
      expect(generations).toBeGreaterThan(cases.length);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it.each(blobCases.map((c) => [c.name, c] as const))('equal the CPU flood on %s', (_name, c) => {
    const expected = cpuFifo(c);
    for (const order of orders) {
      const out = new Int32Array(c.W * c.H);
      const st = native._watershedEmulated(c.elevation, c.markers, c.mask, out, {
        width: c.W, height: c.H, connectivity: c.connectivity, watershedLine: c.watershedLine, order,
      });
      expect(same(out, expected), `${order} order`).toBe(true);
      expect(st.burstGenerations).toBeGreaterThan(0);
      expect(st.placedGenerations).toBeGreaterThan(0);
    }
  });

  it('flood a batch of stacked images (same label values in each) as if each were alone', () => {
    let bursts = 0;
    for (let k = 0; k < 400; k++) {
      const { stacked: c, parts } = batchOf(12000 + k, 2 + (k % 4), k % 2 === 1);
      const out = new Int32Array(c.W * c.H);
      const order = orders[k % 3];
      const st = native._watershedEmulated(c.elevation, c.markers, c.mask, out, {
        width: c.W, height: c.H, connectivity: c.connectivity, watershedLine: c.watershedLine, order, images: parts.length,
      });
      bursts += st.burstGenerations;
      const n = c.W * parts[0].H;
      parts.forEach((p, j) => {
        if (!same(out.subarray(j * n, (j + 1) * n), cpuFifo(p))) expect.fail(`${c.name}: image ${j} (${p.name}) differs in ${order} order`);
      });
    }
    expect(bursts).toBeGreaterThan(50);
  });

  it('write `out` only at the end, so it may be the markers array', () => {
    const c = randomCases.find((x) => x.W * x.H > 100 && x.markers.some((v) => v > 0) && x.mask === null)!;
    const expected = cpuFifo(c);
    const inPlace = c.markers.slice();
    native._watershedEmulated(c.elevation, inPlace, c.mask, inPlace, {
      width: c.W, height: c.H, connectivity: c.connectivity, watershedLine: c.watershedLine, order: 'reverse',
    });
    expect(same(inPlace, expected)).toBe(true);
  });
});

describe.skipIf(!hasCuda)('CUDA watershed on the device', { timeout: 300_000 }, () => {
  it('equals the CPU on the random cases and the basins, with and without a line', async () => {
    for (const c of [...randomCases.slice(0, 200), ...blobCases]) {
      const opts = { width: c.W, height: c.H, connectivity: c.connectivity, watershedLine: c.watershedLine, mask: c.mask };
      const gpu = await watershed(c.elevation, c.markers, { ...opts, device: 'cuda' });
      expect(gpu.device).toBe('cuda');
      if (!same(gpu, cpuFifo(c))) expect.fail(`${c.name} (${c.connectivity}-conn, line ${c.watershedLine}) differs on CUDA`);
    }
  });

  it('equals the CPU at 1024² and reports its timings', async () => {
    for (const wsl of [false, true]) {
      const c = blobCase(5, 1024, 1024, false, wsl, 4);
      const opts = { width: c.W, height: c.H, connectivity: c.connectivity, watershedLine: c.watershedLine, mask: c.mask };
      const cpu = await watershed(c.elevation, c.markers, { ...opts, device: 'cpu' });
      const gpu = await watershed(c.elevation, c.markers, { ...opts, device: 'cuda' });
      expect(same(gpu, cpu)).toBe(true);
      expect(gpu.timings!.kernelMs).toBeGreaterThan(0);
    }
  });
});

describe('watershed device option', () => {
  const c = blobCase(3, 40, 30, false, false, 4);
  const opts = { width: c.W, height: c.H, mask: c.mask };

  it.skipIf(!hasNative || hasCuda)("device 'cuda' without a usable GPU rejects with CELLCAM_E_CUDA and the reason", async () => {
    const err = await rejection(watershed(c.elevation, c.markers, { ...opts, device: 'cuda' }));
    expect(err.code).toBe('CELLCAM_E_CUDA');
    expect(err.message).toMatch(/options\.device is 'cuda' but no CUDA device is usable: .+/);
  });

  it.skipIf(!hasNative)("device 'auto' floods on the CPU (faster than one CUDA flood) and says why", async () => {
    const r = await watershed(c.elevation, c.markers, { ...opts, device: 'auto' });
    expect(r.device).toBe('cpu');
    expect(r.deviceNote).toMatch(hasCuda ? /^CUDA not used: one watershed alone floods faster on the CPU/ : /^CUDA not used: /);
    expect(same(r, cpuFifo(c))).toBe(true);
  });

  it.each([
    ['auto, GPU usable', 'auto', { run: 'cuda' }, null, { run: 'cpu', note: expect.stringMatching(/^CUDA not used: one watershed alone floods faster on the CPU .*device 'cuda' runs it on the GPU$/) }],
    ['cuda, GPU usable', 'cuda', { run: 'cuda' }, null, { run: 'cuda' }],
    ['auto, GPU usable, heap ties', 'auto', { run: 'cuda' }, "tieBreak 'heap' has no CUDA version", { run: 'cpu', note: "CUDA not used: tieBreak 'heap' has no CUDA version" }],
    ['auto, no GPU', 'auto', { run: 'cpu', note: 'CUDA not used: no device' }, null, { run: 'cpu', note: 'CUDA not used: no device' }],
    ['cpu', 'cpu', { run: 'cpu' }, null, { run: 'cpu' }],
    ['auto, no addon', 'auto', { run: 'js', note: 'CUDA not used: x' }, null, { run: 'js', note: 'CUDA not used: x' }],
  ] as const)("watershedRun: %s", (_name, device, picked, blocker, want) => {
    expect(watershedRun(device, picked, blocker)).toEqual(want);
  });

  it.skipIf(!hasNative)("the default is the CPU, without a note; backend 'js' says 'js'", async () => {
    const r = await watershed(c.elevation, c.markers, opts);
    expect(r.device).toBe('cpu');
    expect(r.deviceNote).toBeUndefined();
    const js = await watershed(c.elevation, c.markers, { ...opts, backend: 'js' });
    expect(js.device).toBe('js');
    expect(same(js, r)).toBe(true);
  });

  it.skipIf(!hasNative)("device 'auto' keeps tieBreak 'heap' and Float32 elevation on the CPU, saying why", async () => {
    const heap = await watershed(c.elevation, c.markers, { ...opts, tieBreak: 'heap', device: 'auto' });
    expect(heap.device).toBe('cpu');
    expect(heap.deviceNote).toMatch(/CUDA not used: (tieBreak 'heap' has no CUDA version|.+)/);
    const f = await watershed(Float32Array.from(c.elevation), c.markers, { ...opts, device: 'auto' });
    expect(f.device).toBe('cpu');
    if (hasCuda) expect(f.deviceNote).toMatch(/Float32Array elevation has no CUDA version/);
  });

  it.each([
    ['tieBreak heap', { tieBreak: 'heap' as const }, 'RangeError', 'CELLCAM_E_ARG', /^Expected 'fifo' for options\.tieBreak with options\.device 'cuda' but received string 'heap'$/],
    ['a device name', { device: 'gpu' as never }, 'RangeError', 'CELLCAM_E_ARG', /^Expected 'auto', 'cpu' or 'cuda' for options\.device but received string 'gpu'$/],
  ])("rejects %s with device 'cuda' before any work", async (_name, extra, ctor, code, msg) => {
    const err = await rejection(watershed(c.elevation, c.markers, { ...opts, device: 'cuda', ...extra }));
    expect(err.constructor.name).toBe(ctor);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(msg);
  });

  it("rejects Float32 elevation with device 'cuda'", async () => {
    const err = await rejection(watershed(Float32Array.from(c.elevation), c.markers, { ...opts, device: 'cuda' }));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(/^Expected Uint8Array or Uint16Array for elevation with options\.device 'cuda' but received Float32Array of length 1200$/);
  });

  it.skipIf(!hasNative)('the native boundary names a bad device, heap ties and float elevation on CUDA', async () => {
    const native = nativeOrNull()!;
    const out = new Int32Array(c.W * c.H);
    const base = { width: c.W, height: c.H, connectivity: 4 as const, watershedLine: false, tieBreak: 'fifo' as const };
    const cases: [unknown, object, RegExp][] = [
      [c.elevation, { ...base, device: 'gpu' }, /Expected 'cpu' or 'cuda' for options\.device but received string 'gpu'/],
      [c.elevation, { ...base, device: 'cuda', tieBreak: 'heap' }, /Expected 'fifo' for options\.tieBreak with options\.device 'cuda'/],
      [Float32Array.from(c.elevation), { ...base, device: 'cuda' }, /Expected Uint8Array or Uint16Array for elevation with options\.device 'cuda'/],
    ];
    for (const [e, o, msg] of cases) {
      expect(() => native.watershed(e as Uint8Array, c.markers, c.mask, out, o as never)).toThrow(msg);
    }
  });
});
