/**
 * HTML for the report: a tagged template that escapes every interpolated value unless it is
 * already markup, JSON safe inside <script>, and the shared page shell, stylesheet and cell-table
 * script (inline JavaScript, no CDN).
 */

/** Markup that is already safe (built by `html` or marked with `raw`). */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes text for element content and quoted attribute values. */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"'`]/g, (c) => ESC[c]);
}

/** Marks trusted markup (SVG from the chart library, our own fragments) as safe. */
export function raw(s: string): SafeHtml {
  return new SafeHtml(s);
}

type Part = SafeHtml | string | number | boolean | null | undefined | readonly Part[];

function render(v: Part): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return esc(v);
}

/**
 * Tagged template: interpolations are escaped (strings, numbers), nested `html` fragments and
 * arrays of them are inserted as they are, null/undefined/false print nothing.
 *
 * @example
 * ```ts
 * html`<td title="${name}">${cells.map((c) => html`<b>${c}</b>`)}</td>`.value;
 * ```
 */
export function html(strings: TemplateStringsArray, ...values: Part[]): SafeHtml {
  let s = strings[0];
  for (let i = 0; i < values.length; i++) s += render(values[i]) + strings[i + 1];
  return new SafeHtml(s);
}

/**
 * A value as a JavaScript literal safe inside <script>…</script>: `<` (so `</script>` and
 * `<!--` cannot occur), U+2028 and U+2029 are written as escapes.
 */
export function jsonForScript(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** A relative URL path: each segment percent-encoded. */
export function urlPath(...segments: string[]): string {
  return segments.map((s) => (s === '..' || s === '.' ? s : encodeURIComponent(s))).join('/');
}

export interface PageOptions {
  title: string;
  /** path from the page to the report root ('' or '../') */
  root: string;
  active: 'summary' | 'gallery' | 'cells' | 'image';
  body: SafeHtml;
  scripts?: string[];
}

/** The page shell: head, navigation, body. */
export function page(o: PageOptions): string {
  const nav = ([['summary', 'index.html', 'Summary'], ['gallery', 'gallery.html', 'Gallery'], ['cells', 'cells.html', 'Cell browser']] as const).map(
    ([k, href, label]) => html`<a href="${o.root + href}" id="nav-${k}"${raw(o.active === k ? ' class="active"' : '')}>${label}</a>`,
  );
  return `<!doctype html>\n${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · cellcam report</title><link rel="stylesheet" href="${o.root}assets/report.css"></head>
<body><header><span class="brand">cellcam report</span><nav>${nav}</nav></header><main>
${o.body}
</main>${(o.scripts ?? []).map((s) => html`<script src="${o.root + s}"></script>`)}</body></html>`.value}\n`;
}

export const CSS = `
:root { --fg: #1d2330; --muted: #5c6577; --line: #d9dee7; --bg: #f6f7fa; --accent: #2458c6; --bad: #c62828; --warn: #8a5a00; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 24px; align-items: center; padding: 10px 20px; background: #111827; color: #fff; position: sticky; top: 0; z-index: 5; }
header .brand { font-weight: 600; }
header nav a { color: #cbd5e1; text-decoration: none; margin-right: 16px; }
header nav a.active, header nav a:hover { color: #fff; text-decoration: underline; }
main { padding: 16px 20px 40px; max-width: 1400px; }
h1 { font-size: 22px; margin: 8px 0 12px; } h2 { font-size: 17px; margin: 22px 0 8px; } h3 { font-size: 15px; margin: 14px 0 6px; }
table { border-collapse: collapse; background: #fff; margin: 6px 0 12px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: middle; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.notice { border-left: 4px solid var(--warn); background: #fff6e0; padding: 8px 12px; margin: 8px 0; }
.notice ul { margin: 4px 0; padding-left: 18px; }
.muted { color: var(--muted); }
.chart { background: #fff; border: 1px solid var(--line); padding: 6px; margin: 8px 0; overflow-x: auto; }
.chart svg { max-width: 100%; height: auto; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 10px; }
.card { background: #fff; border: 1px solid var(--line); padding: 6px; }
.card img { width: 100%; height: auto; display: block; background: #000; }
.card .cap { font-size: 12px; margin-top: 4px; }
.gallery a { color: inherit; text-decoration: none; }
.tag { display: inline-block; padding: 0 6px; margin: 1px 2px 1px 0; border-radius: 9px; background: #e6ecf8; font-size: 12px; white-space: nowrap; }
.tag.truth { background: #e3f4e6; } .tag.pred { background: #f3e8fb; } .tag.bad { background: #fde2e2; color: var(--bad); }
.figure { position: relative; display: inline-block; max-width: 100%; }
.figure img { display: block; max-width: 100%; height: auto; }
.figure .mark { position: absolute; transform: translate(-50%, -50%); font: 600 11px/1 system-ui, sans-serif; color: #fff; background: rgba(0,0,0,.55);
  border-radius: 8px; padding: 2px 4px; pointer-events: auto; cursor: default; }
.figure .mark.bad { background: rgba(198,40,40,.9); }
.heat { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 10px; }
/* A heatmap: the composite greyed and darkened (0.45 × luminance), the map's colour layer stretched over the whole image. */
.layers { position: relative; }
.layers img { display: block; width: 100%; height: auto; }
.layers .base { filter: grayscale(1) brightness(0.45); }
.layers .layer { position: absolute; left: 0; top: 0; width: 100%; height: 100%; background: transparent; }
.legend img { vertical-align: middle; border: 1px solid var(--line); }
tr.bad td { background: #fff1f1; }
.thumb { display: inline-block; width: 64px; height: 64px; overflow: hidden; background: #000; vertical-align: middle; }
.thumb img { display: block; height: 64px; max-width: none; }
#cells-table th { cursor: pointer; user-select: none; position: sticky; top: 40px; background: #eef1f6; }
#cells-table th.sorted-asc::after { content: " ▲"; } #cells-table th.sorted-desc::after { content: " ▼"; }
.filters { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin: 8px 0; }
.filters input, .filters select { padding: 3px 6px; }
pre { background: #fff; border: 1px solid var(--line); padding: 8px; overflow: auto; max-height: 420px; }
`;

/**
 * The cell browser: renders window.CELLS (from data/cells.js) as a table, sorted and filtered in
 * the page; shows at most `limit` rows at a time so a 20 000-cell run stays responsive.
 */
export const CELLS_JS = `(function () {
  'use strict';
  var data = window.CELLS || { classes: [], cells: [] };
  var rows = data.cells, shown = 500, sortKey = 'image', sortDir = 1;
  var $ = function (id) { return document.getElementById(id); };
  var esc = function (s) { return String(s).replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; }); };
  var cls = function (k) { return k === 19 ? 'unknown' : (data.classes[k] || String(k)); };
  var sel = $('f-class');
  data.classes.forEach(function (n, k) { var o = document.createElement('option'); o.value = String(k); o.textContent = k + ' ' + n; sel.appendChild(o); });
  var params = new URLSearchParams(location.hash.slice(1));
  if (params.get('image')) $('f-image').value = params.get('image');
  if (params.get('class')) sel.value = params.get('class');
  function value(c, k) {
    switch (k) {
      case 'image': return c.image; case 'cell': return c.cell; case 'split': return c.split; case 'area': return c.area; case 'border': return c.border ? 1 : 0;
      case 'pseudo': return c.pseudo === null ? '~' : c.pseudo.length ? cls(c.pseudo[0]) : 'unknown';
      case 'pred': return c.pred.length ? cls(c.pred[0][0]) : '~'; case 'conf': return c.pred.length ? c.pred[0][1] : -1;
      case 'truth': return c.wrong === null ? 0 : c.wrong ? 2 : 1; default: return 0;
    }
  }
  function filtered() {
    var img = $('f-image').value.trim().toLowerCase(), k = sel.value, field = $('f-field').value, minConf = Number($('f-conf').value) || 0;
    var border = $('f-border').value, wrong = $('f-wrong').checked;
    return rows.filter(function (c) {
      if (img && c.image.toLowerCase().indexOf(img) < 0) return false;
      if (border === 'no' && c.border) return false; if (border === 'yes' && !c.border) return false;
      if (wrong && c.wrong !== true) return false;
      if (k !== '') {
        var kk = Number(k);
        var inPseudo = c.pseudo !== null && c.pseudo.indexOf(kk) >= 0, inPred = c.pred.length > 0 && c.pred[0][0] === kk;
        if (field === 'pseudo' ? !inPseudo : field === 'pred' ? !inPred : !(inPseudo || inPred)) return false;
      }
      if (minConf > 0 && !(c.pred.length && c.pred[0][1] >= minConf)) return false;
      return true;
    });
  }
  function draw() {
    var list = filtered().sort(function (a, b) {
      var x = value(a, sortKey), y = value(b, sortKey);
      return (x < y ? -1 : x > y ? 1 : a.image < b.image ? -1 : a.image > b.image ? 1 : a.cell - b.cell) * sortDir;
    });
    $('count').textContent = list.length + ' of ' + rows.length + ' cells' + (list.length > shown ? ' (first ' + shown + ' shown)' : '');
    var out = [];
    for (var i = 0; i < Math.min(shown, list.length); i++) {
      var c = list[i];
      var pseudo = c.pseudo === null ? '<span class="muted">–</span>' : c.pseudo.length ? c.pseudo.map(function (k) { return '<span class="tag">' + esc(cls(k)) + '</span>'; }).join('') : '<span class="tag">unknown</span>';
      var pred = c.pred.map(function (p) { return '<span class="tag pred">' + esc(cls(p[0])) + ' ' + p[1].toFixed(2) + '</span>'; }).join('');
      var truth = c.truth === null ? '<span class="muted">–</span>' : c.truth.map(function (k) { return '<span class="tag ' + (c.wrong ? 'bad' : 'truth') + '">' + esc(cls(k)) + '</span>'; }).join('') || '<span class="muted">no true cell</span>';
      out.push('<tr' + (c.wrong ? ' class="bad"' : '') + '><td><a class="thumb" href="' + esc(c.page) + '"><img loading="lazy" alt="cell ' + c.cell + '" src="' + esc(c.sprite) + '" style="margin-left:-' + (c.k * 64) + 'px"></a></td>' +
        '<td><a href="' + esc(c.page) + '">' + esc(c.image) + '</a></td><td class="num">' + c.cell + '</td><td>' + esc(c.split) + '</td><td class="num">' + c.area + '</td><td>' + (c.border ? 'yes' : '') + '</td>' +
        '<td>' + pseudo + '</td><td>' + pred + '</td><td class="num">' + (c.pred.length ? c.pred[0][1].toFixed(3) : '') + '</td><td>' + truth + '</td></tr>');
    }
    $('cells-body').innerHTML = out.join('');
    $('more').style.display = list.length > shown ? '' : 'none';
    Array.prototype.forEach.call(document.querySelectorAll('#cells-table th'), function (th) {
      th.className = th.dataset.key === sortKey ? (sortDir > 0 ? 'sorted-asc' : 'sorted-desc') : '';
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll('#cells-table th[data-key]'), function (th) {
    th.addEventListener('click', function () {
      if (sortKey === th.dataset.key) sortDir = -sortDir; else { sortKey = th.dataset.key; sortDir = th.dataset.key === 'conf' || th.dataset.key === 'area' ? -1 : 1; }
      draw();
    });
  });
  ['f-image', 'f-class', 'f-field', 'f-conf', 'f-border', 'f-wrong'].forEach(function (id) { $(id).addEventListener('input', function () { shown = 500; draw(); }); });
  $('more').addEventListener('click', function () { shown += 500; draw(); });
  draw();
})();
`;
