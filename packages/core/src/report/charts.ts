/**
 * The report's charts as static SVG, made at build time: Vega-Lite specifications compiled to
 * Vega and rendered headless by a Vega View (renderer 'none' + toSVG: no canvas, no browser).
 */
import type { TopLevelSpec } from 'vega-lite';

// Vega loads on the first chart, not with @cellcam/core: it takes about half a second to import,
// which every `cellcam` command paid, and vega-canvas's top-level await made the whole library
// impossible to require() from CommonJS.
let vegaModules: Promise<[typeof import('vega'), typeof import('vega-lite')]> | null = null;
const loadVega = () => (vegaModules ??= Promise.all([import('vega'), import('vega-lite')]));

const FONT = 'system-ui, -apple-system, Segoe UI, Roboto, sans-serif';
const CONFIG = {
  font: FONT,
  axis: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 },
  header: { labelFontSize: 11, titleFontSize: 12 },
  view: { stroke: '#d9dee7' },
};

/** Renders a Vega-Lite spec to an SVG string. */
export async function vegaLiteSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, { compile }] = await loadVega();
  const vg = compile({ config: CONFIG, ...spec } as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(vg), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface ApRow {
  className: string;
  /** submission name: 'broadcast', 'cycle 1', … */
  submission: string;
  ap: number;
}

/** Per-class AP as grouped bars, one bar per submission (the broadcast baseline beside the cycles). */
export function apBarSpec(rows: readonly ApRow[], order: readonly string[], classOrder: readonly string[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: rows as ApRow[] },
    width: { step: 14 * Math.max(1, order.length) + 6 } as unknown as number,
    height: 220,
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'className', type: 'nominal', sort: classOrder as string[], title: null, axis: { labelAngle: -40 } },
      xOffset: { field: 'submission', sort: order as string[] },
      y: { field: 'ap', type: 'quantitative', title: 'AP (IoU ≥ 0.6)', scale: { domain: [0, 1] } },
      color: { field: 'submission', type: 'nominal', sort: order as string[], title: 'submission', scale: { scheme: 'tableau10' } },
    },
  } as TopLevelSpec;
}

export interface PrPoint {
  className: string;
  recall: number;
  precision: number;
}

/** Precision–recall curves, one small panel per class (interpolated precision, as VOC AP integrates it). */
export function prSpec(points: readonly PrPoint[], classOrder: readonly string[], subtitle: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Precision–recall per class', subtitle, fontSize: 13 },
    data: { values: points as PrPoint[] },
    facet: { field: 'className', type: 'nominal', sort: classOrder as string[], title: null, header: { labelLimit: 150 } },
    columns: 5,
    spec: {
      width: 150,
      height: 110,
      mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.5 },
      encoding: {
        x: { field: 'recall', type: 'quantitative', scale: { domain: [0, 1] } },
        y: { field: 'precision', type: 'quantitative', scale: { domain: [0, 1] } },
      },
    },
  } as TopLevelSpec;
}

/** mAP per submission and split (line over the cycles, references as points). */
export function mapSpec(rows: readonly { split: string; submission: string; mAP: number }[], order: readonly string[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: rows as object[] },
    width: 70 * Math.max(2, order.length),
    height: 200,
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: { field: 'submission', type: 'ordinal', sort: order as string[], title: null, axis: { labelAngle: 0 } },
      y: { field: 'mAP', type: 'quantitative', title: 'cell-level mAP@0.6', scale: { domain: [0, 1] } },
      color: { field: 'split', type: 'nominal', title: 'images' },
    },
  } as TopLevelSpec;
}

/** Pseudo-labelled cells per class and cycle (unknown included). */
export function pseudoSpec(rows: readonly { className: string; cycle: string; cells: number }[], classOrder: readonly string[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: rows as object[] },
    height: 200,
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'className', type: 'nominal', sort: classOrder as string[], title: null, axis: { labelAngle: -40 } },
      xOffset: { field: 'cycle' },
      y: { field: 'cells', type: 'quantitative', title: 'pseudo-labelled cells' },
      color: { field: 'cycle', type: 'nominal', title: 'cycle' },
    },
  } as TopLevelSpec;
}

/** Time per stage (seconds), horizontal bars. */
export function stageSpec(rows: readonly { stage: string; seconds: number }[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: rows as object[] },
    width: 360,
    mark: { type: 'bar', tooltip: true, color: '#4c78a8' },
    encoding: {
      y: { field: 'stage', type: 'nominal', sort: null, title: null },
      x: { field: 'seconds', type: 'quantitative', title: 'seconds' },
    },
  } as TopLevelSpec;
}
