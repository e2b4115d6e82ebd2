/**
 * One image of the report: reads its channels (downscaled by sharp), masks, records and CAM maps,
 * and writes img/{name}/ (composite, thumbnail, crop sprite, heatmap layers) and images/{name}.html.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import sharp from 'sharp';
import { HPA_CLASS_NAMES } from '../classes.js';
import { imageTensorAsync } from '../features/input.js';
import { readImageSet, CHANNELS, type ImageSet } from '../io/imageset.js';
import { readGrey } from '../io/png.js';
import { NUM_CLASSES } from '../metric/evaluate.js';
import { truthLabelsForMasks } from '../metric/truth-match.js';
import type { OrtPool } from '../model/session.js';
import { dirs, openCamMaps, type CamRecord, type CellRecord } from '../pipeline/stages.js';
import { readJsonOrNull } from '../pipeline/store.js';
import { combine } from '../predict/combine.js';
import { encodeCells } from '../submit/encode.js';
import { sigmoid } from '../train/optim.js';
import { html, page, raw, urlPath, type SafeHtml } from './html.js';
import type { RunView, Split } from './load.js';
import {
  OUTLINE, borderLabels, camRange, cellGeometry, cropSprite, displaySize, heatmapLayer, hpaComposite, innerOutline, paintOutline, resizeLabels, type RgbImage,
} from './overlay.js';

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

export interface ImageSummary {
  id: string;
  split: Split;
  page: string;
  thumb: string | null;
  labels: number[];
  cells: number;
  wrong: number;
  notice: string | null;
}

export const TOP = 3;
/** longer side of the heatmap images */
const HEAT_SIDE = 384;
export const className = (c: number) => (c === 19 ? 'unknown' : `${c} ${HPA_CLASS_NAMES[c] ?? '?'}`);
export const fmt = (v: number | null | undefined, d = 3) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));

export function tags(list: readonly number[] | null, kind = '', title = ''): SafeHtml {
  if (list === null) return html`<span class="muted">–</span>`;
  if (!list.length) return html`<span class="tag ${kind}" title="${title}">unknown</span>`;
  return html`${list.map((c) => html`<span class="tag ${kind}" title="${title}">${className(c)}</span>`)}`;
}

// JPEG (libjpeg-turbo via sharp) encodes these photographs ~3× faster than WebP at effort 0, at
// about the same size; both subsample chroma, so one-pixel outlines look the same.
async function writeJpeg(path: string, img: RgbImage, quality = 88): Promise<void> {
  await sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: 3 } })
    .jpeg({ quality })
    .toFile(path);
}


// ---------------------------------------------------------------------------------------------
// one image: files under img/{name}/ and the page images/{name}.html

export interface ImageContext {
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

export interface RenderedImage {
  summary: ImageSummary;
  rows: CellRow[];
}

export async function renderImage(ctx: ImageContext, id: string): Promise<RenderedImage> {
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
  const labels = lab ? (lab.data instanceof Uint16Array ? lab.data : Uint16Array.from(lab.data)) : null;
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
  let truthCells: (number[] | null)[] | null = null;
  if (t && masks) {
    const size = masks === rec?.masks ? rec : { width: W, height: H };
    try {
      truthCells = truthLabelsForMasks(t, masks, 0.5, size);
    } catch (e) {
      notes.push(`true labels not shown: ${(e as Error).message}`);
    }
  }

  const rows: CellRow[] = [];
  const sprite = urlPath('img', name, 'cells.jpg');
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
  // The channels are decoded and downscaled to display size by sharp (libvips threads), so the
  // composite and everything drawn on it are computed at display size only.
  if (dirOf) img = await readImageSet(dirOf, id, { maxSide: ctx.maxSide }).catch((e) => (notes.push(`image files unreadable: ${(e as Error).message}`), null));
  const sameSize = !!img && img.sourceWidth === W && img.sourceHeight === H;
  if (img && labels && !sameSize) {
    notes.push(`image is ${img.sourceWidth}×${img.sourceHeight} but its masks ${W}×${H}: outlines not drawn`);
  }
  const heat: { cls: number; why: string; file: string; range: { lo: number; hi: number }; size: { width: number; height: number } }[] = [];
  let thumb: string | null = null, geometry: ReturnType<typeof cellGeometry> | null = null, disp = { width: 0, height: 0 };
  if (img) {
    disp = { width: img.width, height: img.height };
    const annotated: RgbImage = hpaComposite(img);
    let dl: Uint16Array | null = null, outline: Uint8Array | null = null;
    if (labels && sameSize) {
      dl = resizeLabels(labels, W, H, disp.width, disp.height);
      outline = await innerOutline(dl, disp.width, disp.height);
      if (nuc && nuc.width === W && nuc.height === H) {
        const dn = resizeLabels(nuc.data, W, H, disp.width, disp.height);
        paintOutline(annotated, await innerOutline(dn, disp.width, disp.height), dn, OUTLINE.nucleus);
      }
      paintOutline(annotated, outline, dl, OUTLINE.cell, (l) => (wrongIds.has(l) ? OUTLINE.wrong : OUTLINE.cell));
      geometry = cellGeometry(dl, disp.width, disp.height, maxId);
    }
    await writeJpeg(join(imgDir, 'composite.jpg'), annotated);
    const tw = Math.min(256, disp.width), th = Math.max(1, Math.round((disp.height * tw) / disp.width));
    await sharp(Buffer.from(annotated.data.buffer, annotated.data.byteOffset, annotated.data.byteLength), { raw: { width: disp.width, height: disp.height, channels: 3 } }).resize(tw, th, { kernel: 'lanczos3' }).jpeg({ quality: 80 }).toFile(join(imgDir, 'thumb.jpg'));
    thumb = urlPath('img', name, 'thumb.jpg');
    if (geometry) {
      const boxes = cellIds.map((c) => geometry![c] ?? { x0: 0, y0: 0, x1: 1, y1: 1 });
      await writeJpeg(join(imgDir, 'cells.jpg'), cropSprite(annotated, boxes, 64), 85);
    }
    // CAM heatmaps: the image's labels and its top predicted classes, each a transparent layer at
    // map resolution that the page stacks over the (CSS-greyed) composite.
    // The maps the cam stage stored (the very ones it pooled); older runs: rerun the image classifier.
    const stored = ctx.heatmaps && cam ? await openCamMaps(d.cam, cam) : null;
    if (stored || ctx.pool) {
      let C: number, h: number, w: number, channel: (c: number) => Float32Array;
      if (stored) ({ classes: C, h, w } = stored), (channel = (c) => stored.channel(c));
      else {
        // The model's input comes from the full-size channels, as in the cam stage (`img` is display size).
        const full = await readImageSet(dirOf!, id);
        const res = await ctx.pool!.run({ image: { dtype: 'float32', dims: [1, 4, ctx.camSize, ctx.camSize], data: await imageTensorAsync(full, ctx.camSize) } }, { outputs: ['logits', 'cam'] });
        [, C, h, w] = res.cam.dims;
        const camData = res.cam.data as Float32Array;
        channel = (c) => camData.subarray(c * h * w, (c + 1) * h * w);
        pImage ??= Array.from(res.logits.data as Float32Array, sigmoid);
      }
      pImage ??= new Array(C).fill(0);
      const shown = new Map<number, string>();
      for (const c of imageLabels ?? trueImageLabels ?? []) shown.set(c, imageLabels ? 'image label' : 'true label');
      pImage.map((p, c) => [c, p]).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, TOP)
        .forEach(([c]) => shown.set(c, shown.has(c) ? `${shown.get(c)}, top predicted` : 'top predicted'));
      const hs = displaySize(disp.width, disp.height, HEAT_SIDE);
      for (const [c, why] of shown) {
        if (c >= C) continue;
        const map = channel(c), range = camRange(map);
        const layer = heatmapLayer(map, w, h, range);
        const file = `cam-${c}.png`;
        await sharp(Buffer.from(layer.data.buffer, layer.data.byteOffset, layer.data.byteLength), { raw: { width: w, height: h, channels: 4 } }).png({ compressionLevel: 1 }).toFile(join(imgDir, file));
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
<div class="figure"><img id="composite" src="${fromPage(urlPath('img', name, 'composite.jpg'))}" width="${disp.width}" height="${disp.height}" alt="composite of ${id}">${markers}</div>` : ''}
${heat.length ? html`<h2>CAM heatmaps</h2>
<p class="legend muted">Each map scaled on its own (where the model sees the class; how strongly is p, the image probability): CAM logit at the map's 2nd percentile
<img src="../assets/colourbar.png" width="160" height="10" alt="colour scale"> at its 98th percentile (values in each caption).</p>
<div class="heat">${heat.map((x) => html`<div class="card"><div class="layers"><img class="base" src="${fromPage(urlPath('img', name, 'composite.jpg'))}" width="${x.size.width}" height="${x.size.height}" alt="" loading="lazy"><img class="layer" src="${fromPage(x.file)}" alt="CAM ${className(x.cls)}" loading="lazy"></div>
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
