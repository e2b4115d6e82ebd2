/**
 * `cellcam report`: a static, offline HTML report of a run folder — summary with charts, a
 * gallery of per-image pages (HPA composite with outlines, CAM heatmaps, cell annotations) and a
 * cell browser — written as HTML + WebP files beside it (docs/report.md).
 */
import { forEachLimit } from '../util/concurrency.js';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import sharp from 'sharp';
import { HPA_CLASS_NAMES } from '../classes.js';
import { CellcamError, rangeError, typeError } from '../errors.js';
import { imageTensor } from '../features/input.js';
import { readImageSet, CHANNELS, type ImageSet } from '../io/imageset.js';
import { readGrey } from '../io/png.js';
import { NUM_CLASSES } from '../metric/evaluate.js';
import { truthLabelsForMasks } from '../metric/truth-match.js';
import { IMAGE_CLASSIFIER_CONTRACT } from '../model/contracts.js';
import { OrtPool } from '../model/session.js';
import { dirs, modelInputSize, readCamMaps, type CamRecord, type CellRecord } from '../pipeline/stages.js';
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
  OUTLINE, borderLabels, camRange, compositeAt, cellGeometry, colourBar, cropSprite, displaySize, heatmapOverlay, hpaComposite, innerOutline, paintOutline, resizeLabels, type RgbImage,
} from './overlay.js';
import { classPrCurves, curvePoints } from './pr.js';

export { loadRunView, type RunView, type Split } from './load.js';
export { esc, html, raw, jsonForScript, SafeHtml } from './html.js';
export * from './overlay.js';
export { prCurve, classPrCurves, curvePoints, type PrCurve, type ClassPr } from './pr.js';
export { vegaLiteSvg } from './charts.js';

export interface ReportOptions {
  /** the run folder (`cellcam run --out`) */
  run: string;
  /** report folder (default RUN/report) */
  out?: string;
  /** per-image pages for the first N images (test, then validation, then training images); default all */
  images?: number;
  /** per-image pages for exactly these image ids (instead of `images`) */
  ids?: string[];
  /** longer side of the displayed images in pixels (default 768) */
  maxSide?: number;
  /** images rendered in parallel (default min(2, cores)) */
  jobs?: number;
  /** CAM heatmaps (default true; needs the run's image classifier) */
  heatmaps?: boolean;
  onProgress?: (e: { done: number; total: number; id: string }) => void;
}

export interface ReportResult {
  out: string;
  index: string;
  images: number;
  cells: number;
  notices: string[];
  ms: number;
}

/** One row of the cell browser (data/cells.js). */
export interface CellRow {
  image: string;
  cell: number;
  /** index in the image's crop sprite */
  k: number;
  split: Split;
  area: number;
  border: boolean;
  /** pseudo-label ([] = unknown), null for images that were not pseudo-labelled */
  pseudo: number[] | null;
  /** top final classes [class, confidence], best first */
  pred: [number, number][];
  /** true labels of the matching true cell (IoU ≥ 0.5), null when unknown */
  truth: number[] | null;
  /** the top final class (or, without predictions, a pseudo-label) is not a true label; null when no truth */
  wrong: boolean | null;
  page: string;
  sprite: string;
}

interface ImageSummary {
  id: string;
  split: Split;
  page: string;
  thumb: string | null;
  labels: number[];
  cells: number;
  wrong: number;
  notice: string | null;
}

const MARKER = '.cellcam-report';
const TOP = 3;
/** longer side of the heatmap images */
const HEAT_SIDE = 384;
const className = (c: number) => (c === 19 ? 'unknown' : `${c} ${HPA_CLASS_NAMES[c] ?? '?'}`);
const safeName = (id: string) => id.replace(/[^A-Za-z0-9._-]/g, '_');
const fmt = (v: number | null | undefined, d = 3) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));

function tags(list: readonly number[] | null, kind = '', title = ''): SafeHtml {
  if (list === null) return html`<span class="muted">–</span>`;
  if (!list.length) return html`<span class="tag ${kind}" title="${title}">unknown</span>`;
  return html`${list.map((c) => html`<span class="tag ${kind}" title="${title}">${className(c)}</span>`)}`;
}

async function writeWebp(path: string, img: RgbImage, quality = 88): Promise<void> {
  await sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: 3 } })
    .webp({ quality, effort: 0 })
    .toFile(path);
}


// ---------------------------------------------------------------------------------------------
// one image: files under img/{name}/ and the page images/{name}.html

interface ImageContext {
  view: RunView;
  out: string;
  maxSide: number;
  pool: OrtPool | null;
  camSize: number;
  /** whether heatmaps are wanted (stored maps are used first; `pool` only for runs without them) */
  heatmaps: boolean;
  names: Map<string, string>;
  order: string[];
}

async function renderImage(ctx: ImageContext, id: string): Promise<{ summary: ImageSummary; rows: CellRow[] }> {
  const { view, out } = ctx;
  const d = dirs(view.dir);
  const split = view.split.get(id)!;
  const name = ctx.names.get(id)!;
  const imgDir = join(out, 'img', name);
  await mkdir(imgDir, { recursive: true });
  const pageRel = urlPath('images', `${name}.html`);
  const fromPage = (p: string) => urlPath('..', ...p.split('/'));
  const notes: string[] = [];
  const segSplit = split === 'test' ? 'test' : 'train';

  const cellsPng = join(d.segment(segSplit), `${id}_cells.png`), nucleiPng = join(d.segment(segSplit), `${id}_nuclei.png`);
  const lab = await readGrey(cellsPng).catch((e) => (notes.push(`cell masks unreadable: ${(e as Error).message}`), null));
  const nuc = existsSync(nucleiPng) ? await readGrey(nucleiPng).catch(() => null) : null;
  if (lab && !nuc) notes.push('nucleus masks missing: no nucleus outlines');
  const labels = lab ? Uint16Array.from(lab.data) : null;
  const W = lab?.width ?? 0, H = lab?.height ?? 0;

  // Cells in CellRecord order (ascending ids of non-empty labels).
  const rec = await readJsonOrNull<CellRecord>(join(d.features, `${id}.json`));
  let cellIds: number[] = [], area: number[] = [], masks: string[] | null = null;
  let maxId = 0;
  if (labels) for (let i = 0; i < labels.length; i++) if (labels[i] > maxId) maxId = labels[i];
  if (rec && (!labels || (rec.width === W && rec.height === H))) {
    cellIds = rec.cellIds;
    area = rec.area;
    masks = rec.masks;
  } else if (labels) {
    const counts = new Float64Array(maxId + 1);
    for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
    for (let c = 1; c <= maxId; c++) if (counts[c] > 0) (cellIds.push(c), area.push(counts[c]));
  }
  const n = cellIds.length;
  const border = labels ? borderLabels(labels, W, H) : new Set<number>();

  // Labels and predictions.
  const cam = await readJsonOrNull<CamRecord>(join(d.cam, `${id}.json`));
  let pImage: number[] | null = cam?.logits ? cam.logits.map(sigmoid) : null;
  const imageLabels = view.labels.get(id) ?? null;
  const t = view.truth?.get(id) ?? null;
  const trueImageLabels = t ? [...new Set(t.cells.flatMap((c) => c.labels))].sort((a, b) => a - b) : null;
  const pseudo = split === 'train' ? (view.pseudo?.labels[id] ?? null) : null;
  let pCell: ArrayLike<number> | null = null;
  if (split === 'train') pCell = view.oof?.probs[id] ?? null;
  else if (view.predict?.probs[id]) {
    pCell = view.predict.probs[id].cell;
    pImage ??= view.predict.probs[id].image;
  }
  if (pCell && pCell.length !== n * NUM_CLASSES) {
    notes.push(`final probabilities have ${pCell.length / NUM_CLASSES} cells but the masks ${n}: not shown`);
    pCell = null;
  }
  if (pseudo && pseudo.length !== n) notes.push(`pseudo-labels have ${pseudo.length} cells but the masks ${n}`);
  if (!masks && t && labels) masks = await encodeCells(labels, W, H).then((m) => cellIds.map((c) => m[c - 1]));
  const truthCells = t && masks ? truthLabelsForMasks(t, masks, 0.5) : null;

  const rows: CellRow[] = [];
  const sprite = urlPath('img', name, 'cells.webp');
  for (let i = 0; i < n; i++) {
    let pred: [number, number][] = [];
    if (pCell && pImage) {
      const conf = Array.from({ length: NUM_CLASSES }, (_, c) => combine(view.config.predict.combine, pImage![c], pCell![i * NUM_CLASSES + c]));
      pred = conf.map((v, c) => [c, v] as [number, number]).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, TOP);
    }
    const ps = pseudo ? (pseudo[i] ?? null) : null;
    const tr = truthCells ? truthCells[i] : null;
    let wrong: boolean | null = null;
    if (tr) wrong = pred.length ? !tr.includes(pred[0][0]) : ps ? ps.some((c) => !tr.includes(c)) : null;
    rows.push({ image: id, cell: cellIds[i], k: i, split, area: area[i], border: border.has(cellIds[i]), pseudo: ps, pred, truth: tr, wrong, page: pageRel, sprite });
  }
  const wrongIds = new Set(rows.filter((r) => r.wrong).map((r) => r.cell));

  // Pixels.
  const dirOf = view.imageDir(split);
  let img: ImageSet | null = null;
  if (dirOf) img = await readImageSet(dirOf, id, { allowNonSquare: true }).catch((e) => (notes.push(`image files unreadable: ${(e as Error).message}`), null));
  if (img && labels && (img.width !== W || img.height !== H)) {
    notes.push(`image is ${img.width}×${img.height} but its masks ${W}×${H}: outlines not drawn`);
  }
  const heat: { cls: number; why: string; file: string; range: { lo: number; hi: number }; size: { width: number; height: number } }[] = [];
  let thumb: string | null = null, geometry: ReturnType<typeof cellGeometry> | null = null, disp = { width: 0, height: 0 };
  if (img) {
    disp = displaySize(img.width, img.height, ctx.maxSide);
    const base = await compositeAt(hpaComposite(img), disp);
    const annotated: RgbImage = { ...base, data: Uint8Array.from(base.data) };
    let dl: Uint16Array | null = null, outline: Uint8Array | null = null;
    if (labels && img.width === W && img.height === H) {
      dl = resizeLabels(labels, W, H, disp.width, disp.height);
      outline = await innerOutline(dl, disp.width, disp.height);
      if (nuc && nuc.width === W && nuc.height === H) {
        const dn = resizeLabels(nuc.data, W, H, disp.width, disp.height);
        paintOutline(annotated, await innerOutline(dn, disp.width, disp.height), dn, OUTLINE.nucleus);
      }
      paintOutline(annotated, outline, dl, OUTLINE.cell, (l) => (wrongIds.has(l) ? OUTLINE.wrong : OUTLINE.cell));
      geometry = cellGeometry(dl, disp.width, disp.height, maxId);
    }
    await writeWebp(join(imgDir, 'composite.webp'), annotated);
    const tw = Math.min(256, disp.width), th = Math.max(1, Math.round((disp.height * tw) / disp.width));
    await sharp(Buffer.from(annotated.data), { raw: { width: disp.width, height: disp.height, channels: 3 } }).resize(tw, th, { kernel: 'lanczos3' }).webp({ quality: 80, effort: 0 }).toFile(join(imgDir, 'thumb.webp'));
    thumb = urlPath('img', name, 'thumb.webp');
    if (geometry) {
      const boxes = cellIds.map((c) => geometry![c] ?? { x0: 0, y0: 0, x1: 1, y1: 1 });
      await writeWebp(join(imgDir, 'cells.webp'), cropSprite(annotated, boxes, 64), 85);
    }
    // CAM heatmaps: the image's labels and its top predicted classes, at most HEAT_SIDE px (they are shown as cards).
    // The maps the cam stage stored (the very ones it pooled); older runs: rerun the image classifier.
    const stored = ctx.heatmaps && cam ? await readCamMaps(d.cam, cam) : null;
    if (stored || ctx.pool) {
      let C: number, h: number, w: number, camData: Float32Array;
      if (stored) ({ classes: C, h, w, data: camData } = stored);
      else {
        const res = await ctx.pool!.run({ image: { dtype: 'float32', dims: [1, 4, ctx.camSize, ctx.camSize], data: imageTensor(img, ctx.camSize) } }, { outputs: ['logits', 'cam'] });
        [, C, h, w] = res.cam.dims;
        camData = res.cam.data as Float32Array;
        pImage ??= Array.from(res.logits.data as Float32Array, sigmoid);
      }
      pImage ??= new Array(C).fill(0);
      const shown = new Map<number, string>();
      for (const c of imageLabels ?? trueImageLabels ?? []) shown.set(c, imageLabels ? 'image label' : 'true label');
      pImage.map((p, c) => [c, p]).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, TOP)
        .forEach(([c]) => shown.set(c, shown.has(c) ? `${shown.get(c)}, top predicted` : 'top predicted'));
      const hs = displaySize(disp.width, disp.height, HEAT_SIDE);
      const small: RgbImage = hs.width === disp.width && hs.height === disp.height ? base : {
        ...hs, data: new Uint8Array(await sharp(Buffer.from(base.data), { raw: { width: disp.width, height: disp.height, channels: 3 } }).resize(hs.width, hs.height, { fit: 'fill' }).raw().toBuffer()),
      };
      const sl = dl ? resizeLabels(dl, disp.width, disp.height, hs.width, hs.height) : null;
      const so = sl ? await innerOutline(sl, hs.width, hs.height) : null;
      for (const [c, why] of shown) {
        if (c >= C) continue;
        const map = camData.subarray(c * h * w, (c + 1) * h * w), range = camRange(map);
        const o = heatmapOverlay(small, map, w, h, range);
        if (so && sl) paintOutline(o, so, sl, [200, 200, 200]);
        const file = `cam-${c}.webp`;
        await writeWebp(join(imgDir, file), o, 82);
        heat.push({ cls: c, why, file: urlPath('img', name, file), range, size: hs });
      }
    }
  } else if (!dirOf) notes.push('image folder not available: no composite');

  // The page.
  const idx = ctx.order.indexOf(id);
  const link = (k: number, label: string) => (k >= 0 && k < ctx.order.length ? html`<a href="${urlPath(`${ctx.names.get(ctx.order[k])!}.html`)}">${label}</a>` : html`<span class="muted">${label}</span>`);
  const originals = img ? CHANNELS.map((c) => html`<a href="${urlPath(...relative(join(out, 'images'), resolve(img!.files[c])).split(/[\\/]/))}">${c}</a> `) : [];
  const predictedImage = pImage ? pImage.map((p, c) => [c, p] as [number, number]).sort((a, b) => b[1] - a[1]).filter(([, p], k) => p >= 0.5 || k < TOP) : [];
  const markers = geometry && disp.width
    ? rows.map((r) => {
      const g = geometry![r.cell];
      if (!g) return '';
      const tip = `cell ${r.cell} · pseudo-label: ${r.pseudo === null ? '–' : r.pseudo.length ? r.pseudo.map(className).join(', ') : 'unknown'}` +
        ` · final: ${r.pred.map(([c, p]) => `${className(c)} ${p.toFixed(2)}`).join(', ') || '–'}` + (r.truth ? ` · truth: ${r.truth.map(className).join(', ') || '–'}` : '');
      return html`<span class="mark${r.wrong ? ' bad' : ''}" style="left:${((100 * g.cx) / disp.width).toFixed(2)}%;top:${((100 * g.cy) / disp.height).toFixed(2)}%" title="${tip}">${r.cell}</span>`;
    })
    : [];
  const body = html`
<h1>${id} <span class="muted">(${split === 'val' ? 'validation' : split} image)</span></h1>
<p>${link(idx - 1, '← previous')} · <a href="../gallery.html">gallery</a> · ${link(idx + 1, 'next →')} ·
<a id="to-cells" href="../cells.html#image=${encodeURIComponent(id)}">this image's cells in the cell browser</a>
${originals.length ? html` · originals (full size): ${originals}` : ''}</p>
${notes.length ? html`<div class="notice">${notes.map((x) => html`<div>${x}</div>`)}</div>` : ''}
<table><tr><th>image labels</th><td>${imageLabels ? tags(imageLabels) : html`<span class="muted">not labelled (test image)</span>`}</td></tr>
${trueImageLabels ? html`<tr><th>true labels (truth file)</th><td>${tags(trueImageLabels, 'truth')}</td></tr>` : ''}
<tr><th>predicted (image classifier)</th><td>${predictedImage.length ? predictedImage.map(([c, p]) => html`<span class="tag pred">${className(c)} ${p.toFixed(2)}</span>`) : html`<span class="muted">–</span>`}</td></tr>
<tr><th>cells</th><td>${n}${truthCells ? html` · <span class="tag bad">${wrongIds.size} wrong</span> (top final class not a true label of the matching true cell)` : ''}</td></tr></table>
${img ? html`<h2>Composite</h2>
<p class="muted">red = microtubules, green = protein, blue = nucleus, yellow added to red and green; outlines: cells white, nuclei cyan${truthCells ? ', wrong cells red' : ''}. Hover a cell number for its pseudo-label and final classes.</p>
<div class="figure"><img id="composite" src="${fromPage(urlPath('img', name, 'composite.webp'))}" width="${disp.width}" height="${disp.height}" alt="composite of ${id}">${markers}</div>` : ''}
${heat.length ? html`<h2>CAM heatmaps</h2>
<p class="legend muted">Each map scaled on its own (where the model sees the class; how strongly is p, the image probability): CAM logit at the map's 2nd percentile
<img src="../assets/colourbar.png" width="160" height="10" alt="colour scale"> at its 98th percentile (values in each caption).</p>
<div class="heat">${heat.map((x) => html`<div class="card"><img src="${fromPage(x.file)}" width="${x.size.width}" height="${x.size.height}" alt="CAM ${className(x.cls)}" loading="lazy">
<div class="cap"><b>${className(x.cls)}</b> · ${x.why}${pImage ? ` · p = ${pImage[x.cls].toFixed(2)}` : ''} · <span class="muted">logit ${x.range.lo.toFixed(1)} … ${x.range.hi.toFixed(1)}</span></div></div>`)}</div>` : ''}
<h2>Cells</h2>
<table><tr><th class="num">cell</th><th class="num">area (px)</th><th>border</th><th>pseudo-label</th><th>final top classes</th>${truthCells ? html`<th>truth</th>` : ''}</tr>
${rows.map((r) => html`<tr${raw(r.wrong ? ' class="bad"' : '')}><td class="num">${r.cell}</td><td class="num">${r.area}</td><td>${r.border ? 'yes' : ''}</td>
<td>${split === 'train' ? tags(r.pseudo) : html`<span class="muted">${split === 'val' ? 'validation' : 'test'}: not pseudo-labelled</span>`}</td>
<td>${r.pred.length ? r.pred.map(([c, p]) => html`<span class="tag pred">${className(c)} ${p.toFixed(3)}</span>`) : html`<span class="muted">–</span>`}</td>
${truthCells ? html`<td>${r.truth ? tags(r.truth, r.wrong ? 'bad' : 'truth') : html`<span class="muted">no true cell</span>`}</td>` : ''}</tr>`)}
</table>
${split === 'train' && rows.some((r) => r.pred.length) ? html`<p class="muted">Final classes of training cells use the cycle-${view.oof?.cycle ?? ''} cell classifier's out-of-fold probabilities (it never trained on these cells), combined with the image classifier as for test cells.</p>` : ''}`;
  await writeFile(join(out, 'images', `${name}.html`), page({ title: id, root: '../', active: 'image', body }));
  return {
    summary: { id, split, page: pageRel, thumb, labels: imageLabels ?? trueImageLabels ?? [], cells: n, wrong: wrongIds.size, notice: notes.length ? notes.join('; ') : null },
    rows: geometry ? rows : rows.map((r) => ({ ...r, sprite: '' })),
  };
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
      const curves = await classPrCurves(view.truth, view.submission);
      if (curves.length) {
        const pts: PrPoint[] = curves.flatMap((c) => curvePoints(c).map((p) => ({ className: `${className(c.label)} (AP ${c.ap.toFixed(2)})`, ...p })));
        const classes = curves.map((c) => `${className(c.label)} (AP ${c.ap.toFixed(2)})`);
        parts.push(html`<h2>Precision–recall curves</h2><p class="muted">Cycle ${view.predict.cycle} submission on the test images, IoU ≥ 0.6; the interpolated (VOC) precision, so the area under each curve is the class AP.</p>`);
        parts.push(await chart(prSpec(pts, classes, `cycle ${view.predict.cycle}, test images`), notices, 'precision–recall'));
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
 * `cells.html`, with WebP images under `img/`. Partial, failed or older runs give a report of
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
  const maxSide = o.maxSide === undefined ? 768 : checkInt('options.maxSide', o.maxSide, 64, 8192);
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
  try {
    const ctx: ImageContext = { view, out, maxSide, pool, camSize, heatmaps: o.heatmaps !== false, names, order: ids };
    await forEachLimit(ids, jobs, async (id, i) => {
      const r = await renderImage(ctx, id);
      summaries[i] = r.summary;
      cellRows[i] = r.rows;
      o.onProgress?.({ done: ++done, total: ids.length, id });
    });
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
