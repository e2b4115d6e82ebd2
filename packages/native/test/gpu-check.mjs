#!/usr/bin/env node
// CUDA-vs-CPU check of the addon's CUDA kernels (label, rle, pool, watershed, labelCell), with no dependency beyond the
// built addon and Node itself, so that it runs on a GPU machine where only a Node binary and the
// .node file could be carried (docs/kernels/gpu-check.md). Exit 0 when every CUDA output equals the
// CPU output bit for bit (or when no device is usable: it then says why and checks CPU vs CPU so
// the script itself stays tested), 1 on any difference or error.
//
//   [UV_THREADPOOL_SIZE=16] node packages/native/test/gpu-check.mjs [--small] [--json FILE] [--addon PATH]
//     --small   small inputs only (for compute-sanitizer, which is slow)
//     --json    write the rows (case, equal, cpu ms, cuda ms, CUDA phases, batches) to FILE
//     --only RE only the cases whose name matches the regular expression RE (e.g. for racecheck,
//               too slow for all of --small: --only 'watershed|labelCell')
// On a device it also splits each CUDA time into host work, upload, kernels and download (the
// addon's `timings`), compares pinned staging with pageable copies at 2048^2 and up, and times
// batches of 16 images run one after another and all at once (one stream per libuv thread).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Batches run 16 calls at once: one libuv thread (and so one CUDA stream) each. libuv sizes its
// pool when the pool starts, which the ES module loader does before any line here runs, so the
// size can only come from the environment: without it, run again with it.
if (process.env.UV_THREADPOOL_SIZE === undefined) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, UV_THREADPOOL_SIZE: '16' } });
  process.exit(r.status ?? 1);
}
const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const value = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const only = value('only') === undefined ? null : new RegExp(value('only'));
const wanted = (name) => only === null || only.test(name);
const here = dirname(fileURLToPath(import.meta.url));
const addonPath = resolve(value('addon') ?? join(here, '..', 'build', 'Release', 'cellcam_native.node'));
const native = createRequire(import.meta.url)(addonPath);
const caps = native.capabilities();
const cuda = caps.cudaDevices > 0;
const other = cuda ? 'cuda' : 'cpu';
console.log(`addon ${addonPath}: compiled with CUDA ${caps.compiledWithCuda}, devices ${caps.cudaDevices}${caps.deviceNames?.length ? ` (${caps.deviceNames.join(', ')})` : ''}${caps.reason ? `, ${caps.reason}` : ''}`);
if (!cuda) console.log('no usable CUDA device: checking CPU against CPU only (the script itself), nothing about CUDA');

// mulberry32, a copy of core/src/util/random.ts on purpose: this script must run with nothing but
// Node and the addon (no built core beside it on a GPU machine).
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A label image of `cells` jittered Voronoi blobs (ids in random order) with background gaps. */
function blobs(width, height, cells, seed, Type = Int32Array) {
  const r = rng(seed);
  const cx = [], cy = [], rad = [], id = [];
  for (let k = 0; k < cells; k++) {
    cx.push(r() * width);
    cy.push(r() * height);
    rad.push((0.6 + 0.8 * r()) * Math.sqrt((width * height) / Math.max(1, cells) / Math.PI));
    id.push(k + 1);
  }
  for (let k = cells - 1; k > 0; k--) {
    const j = Math.floor(r() * (k + 1));
    [id[k], id[j]] = [id[j], id[k]];
  }
  const out = new Type(width * height);
  // Nearest centre within its radius, on a coarse grid of candidates for speed.
  const g = 64, gw = Math.ceil(width / g), gh = Math.ceil(height / g), grid = Array.from({ length: gw * gh }, () => []);
  for (let k = 0; k < cells; k++) {
    const x0 = Math.max(0, Math.floor((cx[k] - rad[k]) / g)), x1 = Math.min(gw - 1, Math.floor((cx[k] + rad[k]) / g));
    const y0 = Math.max(0, Math.floor((cy[k] - rad[k]) / g)), y1 = Math.min(gh - 1, Math.floor((cy[k] + rad[k]) / g));
    for (let gy = y0; gy <= y1; gy++) for (let gx = x0; gx <= x1; gx++) grid[gy * gw + gx].push(k);
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let best = -1, bd = Infinity;
      for (const k of grid[Math.floor(y / g) * gw + Math.floor(x / g)]) {
        const d = ((x - cx[k]) ** 2 + (y - cy[k]) ** 2) / rad[k] ** 2;
        if (d < 1 && d < bd) (bd = d), (best = k);
      }
      if (best >= 0 && r() > 0.002) out[y * width + x] = id[best]; // a few holes
    }
  }
  return out;
}

const maxIdOf = (a) => a.reduce((m, v) => (v > m ? v : m), 0);

// H×W×3 prediction maps from a label image: cell interiors (channel 2) with their borders
// (channel 1), and nuclei where the cell reaches 6 px in every direction.
function predsFromLabels(lab, w, h) {
  const nucleiPred = new Uint8Array(3 * w * h), cellPred = new Uint8Array(3 * w * h);
  const at = (x, y) => (x < 0 || y < 0 || x >= w || y >= h ? 0 : lab[y * w + x]);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x, v = lab[i];
      if (!v) continue;
      const edge = at(x - 1, y) !== v || at(x + 1, y) !== v || at(x, y - 1) !== v || at(x, y + 1) !== v;
      cellPred[3 * i + 2] = 230;
      cellPred[3 * i + 1] = edge ? 200 : 0;
      if (at(x - 6, y) === v && at(x + 6, y) === v && at(x, y - 6) === v && at(x, y + 6) === v) nucleiPred[3 * i + 2] = 240;
    }
  }
  return { nucleiPred, cellPred };
}
const rows = [];
let failures = 0;
const equalBytes = (a, b) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

async function timed(fn) {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

/**
 * Runs `fn(device)` on the CPU and on `other`, compares with `same`, times a few repeats. `bytes`:
 * what the kernel must at least read and write, for the achieved bandwidth (the floor of a
 * memory-bound kernel is bytes / the card's bandwidth, about 3 TB/s on an H100).
 */
const med = (v) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
const PHASES = ['hostMs', 'uploadMs', 'kernelMs', 'downloadMs'];
/** Per-phase medians of the addon's CUDA `timings` (absent on the CPU). */
function phaseMedians(results) {
  const t = results.map((r) => r?.timings).filter(Boolean);
  if (t.length === 0) return null;
  return Object.fromEntries(PHASES.map((k) => [k, med(t.map((x) => x[k]))]));
}
const fmtPhases = (p) => (p ? `[host ${p.hostMs.toFixed(2)} up ${p.uploadMs.toFixed(2)} kern ${p.kernelMs.toFixed(2)} down ${p.downloadMs.toFixed(2)}]` : '');
async function withStaging(mode, fn) {
  const before = process.env.CELLCAM_CUDA_STAGING;
  process.env.CELLCAM_CUDA_STAGING = mode;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.CELLCAM_CUDA_STAGING;
    else process.env.CELLCAM_CUDA_STAGING = before;
  }
}

async function check(name, fn, same, repeats, bytes, { staging = false } = {}) {
  if (!wanted(name)) return;
  try {
    const [a, cpuFirst] = await timed(() => fn('cpu'));
    const [b, otherFirst] = await timed(() => fn(other));
    const equal = same(a, b);
    const cpuMs = [cpuFirst], otherMs = [otherFirst], otherResults = [];
    for (let k = 1; k < repeats; k++) {
      cpuMs.push((await timed(() => fn('cpu')))[1]);
      const [r, ms] = await timed(() => fn(other));
      otherMs.push(ms);
      otherResults.push(r);
    }
    const gbps = bytes / (med(otherMs) * 1e6);
    const phases = phaseMedians(otherResults);
    const row = { case: name, equal, cpuMs: med(cpuMs), [`${other}Ms`]: med(otherMs), firstCallMs: otherFirst, bytes, [`${other}GBps`]: gbps };
    if (phases) Object.assign(row, { phases, kernelGBps: bytes / (phases.kernelMs * 1e6) });
    // The CUDA labelCell chain counts its launches and host round trips: what a round trip costs
    // is (kernel time - launches x launch cost) / reads.
    let extra = '';
    const last = otherResults.at(-1) ?? b;
    if (last?.launches !== undefined) {
      Object.assign(row, { launches: last.launches, reads: last.reads });
      extra += `\n        ${last.launches} launches, ${last.reads} host reads`;
    }
    if (staging && cuda) {
      const pageMs = [], pageResults = [];
      await withStaging('pageable', async () => {
        for (let k = 0; k < repeats; k++) {
          const [r, ms] = await timed(() => fn('cuda'));
          pageMs.push(ms);
          pageResults.push(r);
        }
      });
      row.pageable = { cudaMs: med(pageMs), phases: phaseMedians(pageResults) };
      extra += `\n        pageable copies: ${med(pageMs).toFixed(2)} ms ${fmtPhases(row.pageable.phases)}`;
    }
    rows.push(row);
    if (!equal) failures++;
    console.log(`${equal ? 'equal  ' : 'DIFFER '} ${name.padEnd(46)} cpu ${med(cpuMs).toFixed(2).padStart(9)} ms   ${other} ${med(otherMs).toFixed(2).padStart(9)} ms (first call ${otherFirst.toFixed(1)} ms; ${gbps.toFixed(2)} GB/s, copies included)` +
      (phases ? `\n        ${fmtPhases(phases)} kernels ${row.kernelGBps.toFixed(1)} GB/s` : '') + extra);
  } catch (err) {
    failures++;
    rows.push({ case: name, error: String(err?.message ?? err) });
    console.log(`ERROR   ${name}: ${err?.code ?? ''} ${err?.message ?? err}`);
  }
}

const small = flag('small');
const sizes = small ? [[1, 1], [1, 97], [97, 1], [37, 53], [256, 256]] : [[1, 1], [1, 4097], [4097, 1], [37, 53], [512, 512], [2048, 2048], [3072, 3072]];
const repeats = small ? 1 : 5;

for (const [w, h] of sizes) {
  const cells = Math.max(1, Math.round((60 * w * h) / (2048 * 2048)));
  const lab = blobs(w, h, Math.max(cells, Math.min(300, Math.floor((w * h) / 40))), w * 7919 + h);
  const mask = Uint8Array.from(lab, (v) => (v ? 1 : 0));
  const lab16 = Uint16Array.from(lab);
  const big = w * h >= 2048 * 2048;
  for (const connectivity of [4, 8]) {
    await check(`label binary u8 ${w}x${h} conn ${connectivity}`, async (device) => {
      const out = new Int32Array(w * h);
      const r = await native.label(mask, out, { width: w, height: h, connectivity, mode: 'binary', threads: 0, device });
      return { out, count: r.count, sizes: Int32Array.from(r.sizes), timings: r.timings };
    }, (a, b) => a.count === b.count && equalBytes(a.out, b.out) && equalBytes(a.sizes, b.sizes), repeats, 5 * w * h, { staging: big });
    await check(`label label-mode u16 ${w}x${h} conn ${connectivity}`, async (device) => {
      const out = new Int32Array(w * h);
      const r = await native.label(lab16, out, { width: w, height: h, connectivity, mode: 'label', threads: 0, device });
      return { out, count: r.count, sizes: Int32Array.from(r.sizes), timings: r.timings };
    }, (a, b) => a.count === b.count && equalBytes(a.out, b.out) && equalBytes(a.sizes, b.sizes), repeats, 6 * w * h, { staging: big });
  }
  let maxId = 0;
  for (const v of lab) if (v > maxId) maxId = v;
  for (const [tag, labels] of [['i32', lab], ['u16', lab16]]) {
    await check(`rle ${tag} ${w}x${h} (${maxId} cells)`, (device) => native.rle(labels, { width: w, height: h, cells: maxId, threads: 0, device }),
      (a, b) => a.length === b.length && a.every((s, k) => s === b[k]), repeats, labels.BYTES_PER_ELEMENT * w * h, { staging: big });
  }
  // Watershed ('fifo', the CUDA flood of watershed_levels.h): a wavy u8/u16 elevation inside the
  // cells with one seed per cell at its first pixel (unseeded dips flood as bursts), and the
  // nuclei watershed's shape (elevation = mask, a line). Line floods over many levels (bursts with
  // a line, one step each) only up to 512².
  {
    const r2 = rng(w * 31 + h);
    const e8 = new Uint8Array(w * h), markers = new Int32Array(w * h), seen = new Uint8Array(maxIdOf(lab) + 1);
    for (let i = 0; i < w * h; i++) {
      const x = i % w, y = (i - x) / w;
      e8[i] = Math.max(0, Math.min(255, Math.round(128 + 70 * Math.sin(x / 17) * Math.cos(y / 23) + 25 * r2())));
      if (lab[i] && !seen[lab[i]]) (seen[lab[i]] = 1), (markers[i] = lab[i]);
    }
    const e16 = Uint16Array.from(e8, (v) => v * 257);
    const variants = [['u8', e8, mask, false, 4], ['u16', e16, mask, false, 8], ['mask, line', mask, mask, true, 4]];
    if (w * h <= 512 * 512) variants.push(['u8, line', e8, mask, true, 8]);
    for (const [tag, elevation, wmask, watershedLine, connectivity] of variants) {
      await check(`watershed ${tag} ${w}x${h} conn ${connectivity}`, async (device) => {
        const out = new Int32Array(w * h);
        const res = await native.watershed(elevation, markers, wmask, out, { width: w, height: h, connectivity, watershedLine, tieBreak: 'fifo', device });
        return { out, timings: res.timings };
      }, (a, b) => equalBytes(a.out, b.out), repeats, (elevation.BYTES_PER_ELEMENT + 9) * w * h);
    }
  }
  // labelCell ('fifo' ties, the CUDA chain) on U-Net-like maps drawn from the cells, full
  // resolution and the 0.25 fast path.
  if (w * h >= 37 * 53) {
    // Cells of about 40 000 px: the chain drops those under 5 500.
    const big = blobs(w, h, Math.max(1, Math.round((w * h) / 40000)), w * 31 + h * 17);
    const { nucleiPred, cellPred } = predsFromLabels(big, w, h);
    for (const scale of [1, 0.25]) {
      await check(`labelCell fifo scale ${scale} ${w}x${h}`, async (device) => {
        const nuclei = new Uint16Array(w * h), cells = new Uint16Array(w * h);
        const res = await native.labelCell(nucleiPred, cellPred, nuclei, cells, { width: w, height: h, scale, threads: 0, tieBreak: 'fifo', device });
        return { nuclei, cells, count: res.cellCount, timings: res.timings, launches: res.launches, reads: res.reads };
      }, (a, b) => a.count === b.count && equalBytes(a.cells, b.cells) && equalBytes(a.nuclei, b.nuclei), repeats, 8 * w * h);
    }
  }
  // Pooling: 19 channels at 1/16 resolution (at least 1×1), with nucleus/cytoplasm regions.
  const mh = Math.max(1, Math.round(h / 16)), mw = Math.max(1, Math.round(w / 16)), C = 19;
  const r = rng(w + 31 * h);
  const map = Float32Array.from({ length: C * mh * mw }, () => (r() - 0.5) * 40);
  // two regions in 32-px blocks (nucleus-like spans, not one-pixel runs)
  const regions = Uint8Array.from(lab, (_, i) => (((i % w) >> 5) + (Math.floor(i / w) >> 5)) & 1);
  for (const [tag, reg, R] of [['cells', null, 0], ['cells+regions', regions, 2]]) {
    for (const wantMax of [true, false]) {
      await check(`pool ${tag} ${wantMax ? 'mean+max' : 'mean'} ${w}x${h} (${C} ch ${mw}x${mh})`, async (device) => {
        const n = (1 + R) * maxId * C;
        const mean = new Float32Array(n), max = wantMax ? new Float32Array(n) : null, area = new Int32Array((1 + R) * maxId);
        const res = await native.pool(map, lab, reg, mean, max, area, { channels: C, mapHeight: mh, mapWidth: mw, width: w, height: h, cells: maxId, regionCount: R, threads: 0, device });
        return { mean, max, area, timings: res.timings };
      }, (a, b) => equalBytes(a.mean, b.mean) && (a.max === null ? b.max === null : equalBytes(a.max, b.max)) && equalBytes(a.area, b.area), repeats,
      map.byteLength + lab.byteLength + (reg ? reg.byteLength : 0), { staging: big });
    }
  }
}

// Bad input: the CUDA paths must reject it with the CPU's error (code and message).
{
  const w = 67, h = 45, lab = blobs(w, h, 12, 5);
  const bad = Int32Array.from(lab);
  bad[30 * w + 40] = 99; // id > cells
  const reg = Uint8Array.from(lab, (v, i) => (i === 20 * w + 10 ? 7 : v & 1)); // region >= regionCount
  const C = 3, map = new Float32Array(C * 3 * 4);
  const cases = {
    'pool: id > cells': (device) => native.pool(map, bad, null, new Float32Array(12 * C), null, new Int32Array(12), { channels: C, mapHeight: 3, mapWidth: 4, width: w, height: h, cells: 12, regionCount: 0, threads: 0, device }),
    'pool: region >= regionCount': (device) => native.pool(map, lab, reg, new Float32Array(36 * C), null, new Int32Array(36), { channels: C, mapHeight: 3, mapWidth: 4, width: w, height: h, cells: 12, regionCount: 2, threads: 0, device }),
    'pool: cells = 0': (device) => native.pool(map, lab, null, new Float32Array(0), null, new Int32Array(0), { channels: C, mapHeight: 3, mapWidth: 4, width: w, height: h, cells: 0, regionCount: 0, threads: 0, device }),
    'rle: id > cells': (device) => native.rle(bad, { width: w, height: h, cells: 12, threads: 0, device }),
  };
  await check('pool: no labelled pixel (NaN means, zero areas)', async (device) => {
    const mean = new Float32Array(12 * C * 2), area = new Int32Array(24);
    const res = await native.pool(map, new Int32Array(w * h), reg.map((v) => v & 1), mean, mean.slice(), area, { channels: C, mapHeight: 3, mapWidth: 4, width: w, height: h, cells: 8, regionCount: 2, threads: 0, device });
    return { mean, area, timings: res.timings };
  }, (a, b) => equalBytes(a.mean, b.mean) && equalBytes(a.area, b.area), 1, 1);
  for (const [name, fn] of Object.entries(cases)) {
    if (!wanted(`rejects ${name}`)) continue;
    const outcome = async (device) => fn(device).then(() => 'resolved', (e) => `${e.code}: ${e.message}`);
    const a = await outcome('cpu'), b = await outcome(other);
    const equal = a === b.replace(/^CELLCAM_E_CUDA: .*/, 'cuda failed') && a !== 'resolved';
    rows.push({ case: `rejects ${name}`, equal, cpu: a, [other]: b });
    if (!equal) failures++;
    console.log(`${equal ? 'equal  ' : 'DIFFER '} rejects ${name.padEnd(38)} ${a}${equal ? '' : `  vs  ${b}`}`);
  }
}

// Batches of 16 images at 2048^2 and 3072^2: 16 calls one after another, then 16 at once (each on
// its own libuv thread and CUDA stream). Every output must equal the single CPU result.
const batches = [];
if (!small) {
  const B = 16;
  for (const side of [2048, 3072]) {
    const w = side, h = side;
    const lab = blobs(w, h, 300, side * 7919 + side);
    const mask = Uint8Array.from(lab, (v) => (v ? 1 : 0));
    const lab16 = Uint16Array.from(lab);
    let maxId = 0;
    for (const v of lab) if (v > maxId) maxId = v;
    const mh = side / 16, mw = side / 16, C = 19;
    const r = rng(side);
    const map = Float32Array.from({ length: C * mh * mw }, () => (r() - 0.5) * 40);
    // Elevation: distance-like bowls around each cell's first pixel, where its seed sits.
    const wsMarkers = new Int32Array(w * h), wsElevation = new Uint8Array(w * h), seen = new Uint8Array(maxId + 1);
    for (let i = 0; i < w * h; i++) {
      const x = i % w, y = (i - x) / w;
      if (lab[i] && !seen[lab[i]]) (seen[lab[i]] = 1), (wsMarkers[i] = lab[i]);
      wsElevation[i] = Math.min(255, Math.round(128 + 70 * Math.sin(x / 17) * Math.cos(y / 23) + 25 * r()));
    }
    const preds = predsFromLabels(lab, w, h);
    const kernels = {
      'label binary u8 conn 8': async (device) => {
        const out = new Int32Array(w * h);
        await native.label(mask, out, { width: w, height: h, connectivity: 8, mode: 'binary', threads: 0, device });
        return out;
      },
      'rle u16': (device) => native.rle(lab16, { width: w, height: h, cells: maxId, threads: 0, device }),
      'watershed u8 (nuclei-seeded cells, fifo)': async (device) => {
        const out = new Int32Array(w * h);
        await native.watershed(wsElevation, wsMarkers, mask, out, { width: w, height: h, connectivity: 4, watershedLine: false, tieBreak: 'fifo', device });
        return out;
      },
      'labelCell fifo (predictions drawn from the cells)': async (device) => {
        const nuclei = new Uint16Array(w * h), cells = new Uint16Array(w * h);
        await native.labelCell(preds.nucleiPred, preds.cellPred, nuclei, cells, { width: w, height: h, threads: 0, tieBreak: 'fifo', device });
        return cells;
      },
      'pool cells mean+max (19 ch)': async (device) => {
        const mean = new Float32Array(maxId * C), max = new Float32Array(maxId * C), area = new Int32Array(maxId);
        await native.pool(map, lab, null, mean, max, area, { channels: C, mapHeight: mh, mapWidth: mw, width: w, height: h, cells: maxId, regionCount: 0, threads: 0, device });
        return mean;
      },
    };
    // The 16 labelCell images as ONE call (labelCell's `images`: one stacked chain on the device,
    // whose launches and host round trips the batch shares), each equal to the single CPU result.
    if (wanted(`batch of ${B}: labelCell fifo stacked, one call ${w}x${h}`)) {
      const name = `batch of ${B}: labelCell fifo stacked, one call ${w}x${h}`;
      try {
        const n = w * h;
        const ref = await kernels['labelCell fifo (predictions drawn from the cells)']('cpu');
        const np = new Uint8Array(3 * n * B), cp = new Uint8Array(3 * n * B);
        for (let k = 0; k < B; k++) {
          np.set(preds.nucleiPred, 3 * n * k);
          cp.set(preds.cellPred, 3 * n * k);
        }
        const row = { case: name, images: B };
        let equal = true;
        const device = cuda ? 'cuda' : 'cpu';
        const nuclei = new Uint16Array(n * B), cells = new Uint16Array(n * B);
        const opts = { width: w, height: h, threads: 0, tieBreak: 'fifo', device, images: B };
        await native.labelCell(np, cp, nuclei, cells, opts); // warm
        cells.fill(0);
        const t0 = performance.now();
        const res = await native.labelCell(np, cp, nuclei, cells, opts);
        row[device] = { stackedMsPerImage: (performance.now() - t0) / B, launches: res.launches, reads: res.reads, timings: res.timings };
        for (let k = 0; k < B; k++) equal &&= equalBytes(cells.subarray(k * n, (k + 1) * n), ref) && res.cellCounts[k] === res.cellCounts[0];
        row.equal = equal;
        if (!equal) failures++;
        batches.push(row);
        console.log(`${equal ? 'equal  ' : 'DIFFER '} ${name.padEnd(46)} ${device} ${row[device].stackedMsPerImage.toFixed(2)} ms per image` +
          (res.launches !== undefined ? ` (${res.launches} launches, ${res.reads} host reads for the batch)` : ''));
      } catch (err) {
        failures++;
        batches.push({ case: name, error: String(err?.message ?? err) });
        console.log(`ERROR   ${name}: ${err?.code ?? ''} ${err?.message ?? err}`);
      }
    }
    for (const [kname, fn] of Object.entries(kernels)) {
      const name = `batch of ${B}: ${kname} ${w}x${h}`;
      if (!wanted(name)) continue;
      try {
        const ref = await fn('cpu');
        const same = (x) => (Array.isArray(ref) ? x.length === ref.length && x.every((v, k) => v === ref[k]) : equalBytes(x, ref));
        const row = { case: name, images: B };
        let equal = true;
        for (const device of cuda ? ['cpu', 'cuda'] : ['cpu']) {
          await fn(device); // warm
          let t0 = performance.now();
          for (let k = 0; k < B; k++) equal &&= same(await fn(device));
          const seqMs = (performance.now() - t0) / B;
          t0 = performance.now();
          const outs = await Promise.all(Array.from({ length: B }, () => fn(device)));
          const parMs = (performance.now() - t0) / B;
          equal &&= outs.every(same);
          row[device] = { sequentialMsPerImage: seqMs, concurrentMsPerImage: parMs };
        }
        row.equal = equal;
        if (!equal) failures++;
        batches.push(row);
        const fmt = (d) => (row[d] ? `${d} ${row[d].sequentialMsPerImage.toFixed(2)} / ${row[d].concurrentMsPerImage.toFixed(2)} ms per image` : '');
        console.log(`${equal ? 'equal  ' : 'DIFFER '} ${name.padEnd(46)} one after another / all at once: ${fmt('cpu')}   ${fmt('cuda')}`);
      } catch (err) {
        failures++;
        batches.push({ case: name, error: String(err?.message ?? err) });
        console.log(`ERROR   ${name}: ${err?.code ?? ''} ${err?.message ?? err}`);
      }
    }
  }
}

const json = value('json');
if (json) writeFileSync(json, JSON.stringify({ date: new Date().toISOString(), node: process.version, capabilities: caps, compared: `cpu vs ${other}`, staging: process.env.CELLCAM_CUDA_STAGING ?? 'pinned', uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE), rows, batches }, null, 2));
console.log(`${rows.length + batches.length - failures} equal, ${failures} different or failed (cpu vs ${other})`);
process.exit(failures ? 1 : 0);
