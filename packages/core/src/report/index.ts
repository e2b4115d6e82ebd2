/**
 * `cellcam report`: a static, offline HTML report of a run folder — summary with charts, a
 * gallery of per-image pages (HPA composite with outlines, CAM heatmaps, cell annotations) and a
 * cell browser — written as HTML + JPEG/PNG files beside it (docs/report.md).
 */
import type { RunConfig } from '../pipeline/config.js';
import { resolveTies } from '../segment/segment.js';
import { forEachLimit } from '../util/concurrency.js';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import sharp from 'sharp';
import { HPA_CLASS_NAMES } from '../classes.js';
import { CellcamError, rangeError, typeError } from '../errors.js';
import { readImageSet, CHANNELS, type ImageSet } from '../io/imageset.js';
import { readGrey } from '../io/png.js';
import { NUM_CLASSES } from '../metric/evaluate.js';
import { IMAGE_CLASSIFIER_CONTRACT } from '../model/contracts.js';
import { OrtPool } from '../model/session.js';
import { dirs, modelInputSize, openCamMaps, type CamRecord, type CellRecord } from '../pipeline/stages.js';
import { readJsonOrNull } from '../pipeline/store.js';
import { combine } from '../predict/combine.js';
import { encodeCells } from '../submit/encode.js';
import { sigmoid } from '../train/optim.js';
import { checkInt } from '../util/validate.js';
import { VERSION } from '../version.js';
import { apBarSpec, mapSpec, prSpec, pseudoSpec, stageSpec, vegaLiteSvg, type ApRow, type PrPoint } from './charts.js';
import { CELLS_JS, CSS, html, jsonForScript, page, raw, urlPath, type SafeHtml } from './html.js';
import { loadRunView, type RunView, type Split } from './load.js';
import {
  OUTLINE, borderLabels, camRange, cellGeometry, colourBar, cropSprite, displaySize, heatmapLayer, hpaComposite, innerOutline, paintOutline, resizeLabels, type RgbImage,
} from './overlay.js';
import { classPrCurves, curvePoints } from './pr.js';
import type { ClassCurve } from '../metric/evaluate.js';
import { className, fmt, renderImage, tags, type CellRow, type ImageContext, type ImageSummary, type RenderedImage } from './render.js';

export { loadRunView, type RunView, type Split } from './load.js';
export { esc, html, raw, jsonForScript, SafeHtml } from './html.js';
export * from './overlay.js';
export { prCurve, classPrCurves, curvePoints, type PrCurve, type ClassPr } from './pr.js';
export { vegaLiteSvg } from './charts.js';
export type { CellRow } from './render.js';

export interface ReportOptions {
  /** the run folder (`cellcam run --out`) */
  run: string;
  /** report folder (default RUN/report) */
  out?: string;
  /** per-image pages for the first N images (test, then validation, then training images); default all */
  images?: number;
  /** per-image pages for exactly these image ids (instead of `images`) */
  ids?: string[];
  /** longer side of the displayed images in pixels (default 512; the pages link the originals) */
  maxSide?: number;
  /** images rendered concurrently (default min(2, cores)) */
  jobs?: number;
  /** CAM heatmaps (default true; needs the run's image classifier) */
  heatmaps?: boolean;
  onProgress?: (e: { done: number; total: number; id: string }) => void;
}

const MARKER = '.cellcam-report';
const safeName = (id: string) => id.replace(/[^A-Za-z0-9._-]/g, '_');

export interface ReportResult {
  out: string;
  index: string;
  images: number;
  cells: number;
  notices: string[];
  ms: number;
}

// ---------------------------------------------------------------------------------------------
// summary page

async function chart(spec: Parameters<typeof vegaLiteSvg>[0], notices: string[], what: string): Promise<SafeHtml> {
  try {
    return html`<div class="chart">${raw(await vegaLiteSvg(spec))}</div>`;
  } catch (e) {
    notices.push(`The ${what} chart could not be drawn: ${(e as Error).message}`);
    return html``;
  }
}

async function summaryBody(view: RunView, images: ImageSummary[], cellCount: number, notices: string[]): Promise<SafeHtml> {
  const r = view.record;
  const classOrder = Array.from({ length: NUM_CLASSES }, (_, c) => className(c));
  const parts: SafeHtml[] = [];
  const splitCount = (s: Split) => [...view.split.values()].filter((x) => x === s).length;
  // The head goes first but is made last, so that notices from the charts below are in it.
  const head = () => html`<h1>Run ${view.dir}</h1>
${notices.length ? html`<div class="notice" id="notices"><b>Notice</b><ul>${notices.map((x) => html`<li>${x}</li>`)}</ul></div>` : ''}
<table><tr><th>status</th><td>${r?.status ?? 'unknown (no run.json)'}${r?.stoppedAfter ? ` (stopped after ${r.stoppedAfter})` : ''}</td></tr>
<tr><th>started / finished</th><td>${r?.startedAt ?? '–'} / ${r?.finishedAt ?? '–'}</td></tr>
<tr><th>images</th><td>${r ? `${r.split.train} train, ${r.split.val} validation, ${r.split.test} test` : `${splitCount('train')} train, ${splitCount('val')} validation, ${splitCount('test')} test`} · ${images.length} in this report (<a href="gallery.html">gallery</a>)</td></tr>
<tr><th>cells in this report</th><td>${cellCount} (<a href="cells.html">cell browser</a>)</td></tr>
<tr><th>inputs</th><td>${r ? html`train ${r.inputs.train}<br>test ${r.inputs.test}<br>labels ${r.inputs.labels}<br>truth ${r.inputs.truth ?? '–'}` : '–'}</td></tr>
<tr><th>segmentation</th><td>${r?.config?.segment ? segmentationSource(r.config.segment) : '–'}</td></tr>
<tr><th>report</th><td>cellcam ${VERSION}, ${new Date().toISOString()}</td></tr></table>`;
  if (r?.versions) parts.push(html`<h2>Versions</h2><table>${Object.entries(r.versions).map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</table>`);
  if (r?.config) parts.push(html`<details><summary>Configuration</summary><pre>${JSON.stringify(r.config, null, 2)}</pre></details>`);
  if (r?.stages?.length) {
    parts.push(html`<h2>Stages</h2><table><tr><th>stage</th><th class="num">time</th><th>counts</th></tr>
${r.stages.map((s) => html`<tr><td>${s.stage}</td><td class="num">${(s.ms / 1000).toFixed(1)} s</td><td>${Object.entries(s.counts ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')}</td></tr>`)}</table>`);
    parts.push(await chart(stageSpec(r.stages.map((s) => ({ stage: s.stage, seconds: s.ms / 1000 }))), notices, 'stage time'));
  }
  if (r?.pseudoLabels?.length) {
    parts.push(html`<h2>Pseudo-labels</h2><table><tr><th>cycle</th><th class="num">images</th><th class="num">cells</th><th class="num">labelled</th><th class="num">unknown</th><th class="num">precision</th><th class="num">recall</th></tr>
${r.pseudoLabels.map((p, i) => html`<tr><td>${i + 1}</td><td class="num">${p.images}</td><td class="num">${p.cells}</td><td class="num">${p.labelled}</td><td class="num">${p.unknown}</td><td class="num">${fmt(p.quality?.precision)}</td><td class="num">${fmt(p.quality?.recall)}</td></tr>`)}</table>
<p class="muted">Precision and recall of the (cell, label) pairs against the true labels of the matching cells (IoU ≥ 0.5), when the truth is known.</p>`);
    const rows = r.pseudoLabels.flatMap((p, i) => [
      ...(p.perClass ?? []).map((cells, c) => ({ className: className(c), cycle: String(i + 1), cells })),
      { className: 'unknown', cycle: String(i + 1), cells: p.unknown },
    ]);
    parts.push(await chart(pseudoSpec(rows, [...classOrder, 'unknown']), notices, 'pseudo-label'));
  }
  if (r?.validation && r.validation.imageMAP !== null) {
    parts.push(html`<h2>Image-level metrics (validation images)</h2><table><tr><th>mAP</th><td class="num">${fmt(r.validation.imageMAP, 4)}</td></tr><tr><th>micro F1 at 0.5</th><td class="num">${fmt(r.validation.imageF1, 4)}</td></tr></table>`);
  }
  if (view.evaluations.length) {
    const splits = [...new Set(view.evaluations.map((e) => e.split))];
    parts.push(html`<h2>Cell-level mAP@0.6 (same segmentation)</h2>
<table><tr><th>submission</th>${splits.map((s) => html`<th class="num">${s === 'val' ? 'validation' : 'test'}</th>`)}</tr>
${[...new Set(view.evaluations.map((e) => e.name))].map((name) => html`<tr><td>${name}</td>${splits.map((s) => html`<td class="num">${fmt(view.evaluations.find((e) => e.split === s && e.name === name)?.result.mAP, 4)}</td>`)}</tr>`)}</table>
<p class="muted">broadcast: the image's true labels on every cell (the yardstick); image-only: the image classifier on every cell; oracle: each cell takes the true labels of the true cell it overlaps most (the ceiling of this segmentation).</p>`);
    const order = [...new Set(view.evaluations.map((e) => e.name))];
    parts.push(await chart(mapSpec(view.evaluations.map((e) => ({ split: e.split === 'val' ? 'validation' : 'test', submission: e.name, mAP: e.result.mAP })), order), notices, 'mAP'));
    const apSplit = splits.includes('test') ? 'test' : splits[0];
    const apRows: ApRow[] = view.evaluations
      .filter((e) => e.split === apSplit && (e.name === 'broadcast' || e.name.startsWith('cycle')))
      .flatMap((e) => e.result.classes.filter((c) => c.ap !== null).map((c) => ({ className: className(c.label), submission: e.name, ap: c.ap as number })));
    if (apRows.length) {
      parts.push(html`<h2>Per-class AP (${apSplit === 'val' ? 'validation' : 'test'} images)</h2><p class="muted">Each cycle beside the broadcast baseline; classes without true cells are left out.</p>`);
      parts.push(await chart(apBarSpec(apRows, order.filter((x) => x === 'broadcast' || x.startsWith('cycle')), classOrder), notices, 'per-class AP'));
    }
  }
  if (view.truth && view.submission && view.predict) {
    try {
      // The evaluate stage keeps the curves of each cycle's test submission; older runs: recompute
      // the latest cycle's (earlier cycles are then left out).
      const latest = view.predict.cycle;
      const storedOf = (k: number) => view.evaluations.find((e) => e.split === 'test' && e.name === `cycle ${k}`)?.result.curves;
      const byCycle: [number, ClassCurve[]][] = [[latest, storedOf(latest) ?? (await classPrCurves(view.truth, view.submission)).map((c) => ({ label: c.label, numGt: c.numGt, ap: c.ap, points: curvePoints(c) }))]];
      for (let k = latest - 1; k >= 1; k--) {
        const c = storedOf(k);
        if (c) byCycle.push([k, c]);
      }
      if (byCycle[0][1].length) {
        const title = (c: ClassCurve) => `${className(c.label)} (AP ${c.ap.toFixed(2)})`;
        const prChart = (k: number, curves: ClassCurve[]) => chart(
          prSpec(curves.flatMap((c) => c.points.map((p): PrPoint => ({ className: title(c), ...p }))), curves.map(title), `cycle ${k}, test images`), notices, 'precision–recall');
        parts.push(html`<h2>Precision–recall curves</h2><p class="muted">Cycle ${latest} submission on the test images, IoU ≥ 0.6; the interpolated (VOC) precision, so the area under each curve is the class AP.</p>`);
        parts.push(await prChart(latest, byCycle[0][1]));
        for (const [k, curves] of byCycle.slice(1)) {
          if (curves.length) parts.push(html`<details class="cycle-pr"><summary>Cycle ${k} (earlier)</summary>${await prChart(k, curves)}</details>`);
        }
      }
    } catch (e) {
      notices.push(`The precision–recall curves could not be computed: ${(e as Error).message}`);
    }
  }
  return html`${head()}${parts}`;
}

// ---------------------------------------------------------------------------------------------

function galleryBody(images: ImageSummary[]): SafeHtml {
  const sections = (['test', 'val', 'train'] as Split[]).map((s) => {
    const list = images.filter((x) => x.split === s);
    if (!list.length) return '';
    return html`<h2>${s === 'val' ? 'Validation' : s === 'test' ? 'Test' : 'Training'} images (${list.length})</h2><div class="grid gallery">
${list.map((x) => html`<a class="card" href="${x.page}">${x.thumb ? html`<img src="${x.thumb}" alt="${x.id}" loading="lazy">` : html`<div class="muted">no composite</div>`}
<div class="cap"><b>${x.id}</b><br>${x.cells} cells${x.wrong ? html` · <span class="tag bad">${x.wrong} wrong</span>` : ''}<br>${tags(x.labels)}${x.notice ? html`<br><span class="muted">${x.notice}</span>` : ''}</div></a>`)}
</div>`;
  });
  return html`<h1>Gallery</h1>${images.length ? sections : html`<p class="notice">No images in this report.</p>`}`;
}

function cellsBody(): SafeHtml {
  return html`<h1>Cell browser</h1>
<div class="filters">
<label>image <input id="f-image" placeholder="id contains…" size="24"></label>
<label>class <select id="f-class"><option value="">any</option></select></label>
<label>in <select id="f-field"><option value="any">pseudo-label or top class</option><option value="pseudo">pseudo-label</option><option value="pred">top final class</option></select></label>
<label>top confidence ≥ <input id="f-conf" type="number" min="0" max="1" step="0.05" value="0" style="width:5em"></label>
<label>border <select id="f-border"><option value="">any</option><option value="no">not at the border</option><option value="yes">at the border</option></select></label>
<label><input id="f-wrong" type="checkbox"> wrong only</label>
<span id="count" class="muted"></span></div>
<table id="cells-table"><thead><tr><th>crop</th><th data-key="image">image</th><th data-key="cell" class="num">cell</th><th data-key="split">split</th><th data-key="area" class="num">area</th>
<th data-key="border">border</th><th data-key="pseudo">pseudo-label</th><th data-key="pred">final top classes</th><th data-key="conf" class="num">confidence</th><th data-key="truth">truth</th></tr></thead>
<tbody id="cells-body"></tbody></table><button id="more">show more</button>`;
}

/**
 * Writes the report of a run folder: `index.html` (summary), `gallery.html`, `images/{ID}.html`,
 * `cells.html`, with JPEG/PNG images under `img/`. Partial, failed or older runs give a report of
 * what exists, with a notice of what is missing.
 *
 * @example
 * ```ts
 * const r = await buildReport({ run: 'out', images: 40 });
 * console.log(`open ${r.index}`, r.notices);
 * ```
 */
export async function buildReport(o: ReportOptions): Promise<ReportResult> {
  const t0 = performance.now();
  if (typeof o?.run !== 'string' || !o.run) throw typeError('options.run', 'a run folder path', o?.run);
  if (o.images !== undefined) checkInt('options.images', o.images, 0);
  if (o.ids !== undefined && (!Array.isArray(o.ids) || o.ids.some((x) => typeof x !== 'string' || !x))) throw typeError('options.ids', 'an array of image ids', o.ids);
  const maxSide = o.maxSide === undefined ? 512 : checkInt('options.maxSide', o.maxSide, 64, 8192);
  const jobs = o.jobs === undefined ? Math.max(1, Math.min(2, availableParallelism())) : checkInt('options.jobs', o.jobs, 1, 256);
  const run = resolve(o.run);
  const out = resolve(o.out ?? join(run, 'report'));
  const view = await loadRunView(run);
  const notices = [...view.notices];

  let ids = view.ids;
  if (o.ids) {
    const unknown = o.ids.filter((id) => !view.split.has(id) || !ids.includes(id));
    if (unknown.length) throw rangeError('options.ids', `ids of segmented images of ${run}`, unknown.slice(0, 3).join(', '), 'CELLCAM_E_ARG');
    ids = o.ids;
  } else if (o.images !== undefined && o.images < ids.length) {
    notices.push(`Per-image pages for the first ${o.images} of ${ids.length} images (--images); the cell browser covers those images.`);
    ids = ids.slice(0, o.images);
  }

  if (existsSync(out) && existsSync(join(out, MARKER))) {
    for (const p of ['img', 'images', 'assets', 'data', 'index.html', 'gallery.html', 'cells.html']) await rm(join(out, p), { recursive: true, force: true });
  }
  for (const p of ['img', 'images', 'assets', 'data']) await mkdir(join(out, p), { recursive: true });
  await writeFile(join(out, MARKER), `cellcam ${VERSION} report of ${run}\n`);
  await writeFile(join(out, 'assets', 'report.css'), CSS);
  await writeFile(join(out, 'assets', 'cells.js'), CELLS_JS);
  const bar = colourBar(160, 10);
  await sharp(Buffer.from(bar.data), { raw: { width: bar.width, height: bar.height, channels: 3 } }).png().toFile(join(out, 'assets', 'colourbar.png'));

  // Unique file names per id.
  const names = new Map<string, string>(), used = new Set<string>();
  for (const id of ids) {
    let nm = safeName(id), k = 1;
    while (used.has(nm.toLowerCase())) nm = `${safeName(id)}-${++k}`;
    used.add(nm.toLowerCase());
    names.set(id, nm);
  }

  let pool: OrtPool | null = null, camSize = 0;
  // Runs from before the cam stage stored its maps: rerun the image classifier for the heatmaps.
  const needModel = ids.some((id) => !existsSync(join(dirs(view.dir).cam, `${id}.cam.npy`)));
  if (o.heatmaps !== false && needModel && view.imageModel && ids.length && (view.trainDir || view.testDir)) {
    try {
      camSize = await modelInputSize(view.imageModel, view.config.image?.inputSize ?? 512);
      pool = await OrtPool.create(view.imageModel, { contract: IMAGE_CLASSIFIER_CONTRACT, executionProviders: ['cpu'], workers: Math.min(jobs, 2) });
    } catch (e) {
      notices.push(`The image classifier ${view.imageModel} could not be loaded (${(e as Error).message}): no CAM heatmaps.`);
      pool = null;
    }
  }
  const summaries: ImageSummary[] = new Array(ids.length);
  const cellRows: CellRow[][] = new Array(ids.length);
  let done = 0;
  const finish = (i: number, r: RenderedImage) => {
    summaries[i] = r.summary;
    cellRows[i] = r.rows;
    o.onProgress?.({ done: ++done, total: ids.length, id: ids[i] });
  };
  try {
    // One JavaScript thread; `jobs` images in flight, so that one image's JavaScript runs while
    // sharp (libvips threads) decodes and encodes the others. Worker threads were measured and
    // did not help on 2 cores: the CPUs are already saturated, and each isolate adds its own GC.
    const ctx: ImageContext = { view, out, maxSide, pool, camSize, heatmaps: o.heatmaps !== false, names, order: ids };
    await forEachLimit(ids, jobs, async (id, i) => finish(i, await renderImage(ctx, id)));
  } finally {
    await pool?.close();
  }
  const rows = cellRows.flat();
  await writeFile(join(out, 'data', 'cells.js'), `window.CELLS = ${jsonForScript({ classes: HPA_CLASS_NAMES, cells: rows })};\n`);
  await writeFile(join(out, 'gallery.html'), page({ title: 'Gallery', root: '', active: 'gallery', body: galleryBody(summaries) }));
  await writeFile(join(out, 'cells.html'), page({ title: 'Cell browser', root: '', active: 'cells', body: cellsBody(), scripts: ['data/cells.js', 'assets/cells.js'] }));
  const body = await summaryBody(view, summaries, rows.length, notices);
  const index = join(out, 'index.html');
  await writeFile(index, page({ title: 'Summary', root: '', active: 'summary', body }));
  if (!existsSync(index)) throw new CellcamError('CELLCAM_E_IO', `${index}: could not be written`);
  return { out, index, images: ids.length, cells: rows.length, notices, ms: Math.round(performance.now() - t0) };
}

/** Where the run's cells came from, in words (run.json's config.segment; older runs lack the newer keys). */
export function segmentationSource(seg: Partial<RunConfig['segment']>): string {
  if (seg.masks) return `masks from ${seg.masks}`;
  // Runs from before the ties could be chosen used the heap order; 'auto' is resolved as the run did.
  const ties = resolveTies(seg.ties ?? 'heap', !!seg.nucleiModel);
  const post = `the HPA post-processing (${ties} ties${seg.scale && seg.scale !== 1 ? `, scale ${seg.scale}` : ''})`;
  if (seg.nucleiModel) return `U-Nets ${seg.nucleiModel} and ${seg.cellModel}, ${post}`;
  return `model-free maps, ${post}`;
}
