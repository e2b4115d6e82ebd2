/**
 * The run configuration (`cellcam.json`): every knob of the pipeline with its default, and a
 * validator that names the offending key, what it expected and what it found.
 */
import { existsSync, readFileSync } from 'node:fs';
import { CellcamError } from '../errors.js';
import { DEFAULT_INPUT_SIZE } from '../model/contracts.js';
import { DEFAULT_PSEUDO_LABEL_RULES, type PseudoLabelRules } from '../pseudolabel/pseudolabel.js';

export type CombineRule = 'product' | 'cell' | 'image' | 'mean' | 'geometric';

export interface RunConfig {
  seed: number;
  /** pseudo-label → train-cell cycles (the write-up used 2) */
  cycles: number;
  /** share of training images held out for validation */
  valFraction: number;
  /**
   * scale: post-processing resolution; ties: watershed seed ties, 'heap' (exact, CPU) or 'fifo'
   * (4–6× faster, a few tied pixels differ; runs where --device says, the CUDA labelCell on a
   * GPU); 'auto' is 'heap' with U-Net models and 'fifo' on the model-free maps (resolveTies).
   * nucleiModel + cellModel: the HPA U-Nets as ONNX (docs/model-contract.md) in place of the
   * model-free maps. masks: a folder of {ID}_cells.png (and {ID}_nuclei.png) for every image, made
   * elsewhere (HPA-Cell-Segmentation, `cellcam segment`, another tool), used instead of segmenting.
   */
  segment: { scale: 1 | 0.5 | 0.25; ties: 'heap' | 'fifo' | 'auto'; nucleiModel: string | null; cellModel: string | null; masks: string | null };
  image: {
    /** square input side of the image classifier */
    inputSize: number;
    /** a ready image classifier (ONNX, IMAGE_CLASSIFIER_CONTRACT): skips training */
    model: string | null;
    l2: number;
    epochs: number;
    lr: number;
  };
  pseudoLabel: PseudoLabelRules & {
    /** per-cell CAM statistic: mean over the region, or max over the cell */
    statistic: 'mean' | 'max';
    /** where the mean is taken: the whole cell, its nucleus or its cytoplasm */
    region: 'cell' | 'nucleus' | 'cytoplasm';
    /** weight of the previous cycle's cell classifier in the evidence of later cycles (the rest is the CAM) */
    fuse: number;
  };
  cell: {
    /** 'single': softmax over 19 classes + unknown (the write-up); 'multi': 19 sigmoids */
    mode: 'single' | 'multi';
    hidden: number;
    epochs: number;
    lr: number;
    l2: number;
    /** image-grouped folds for the out-of-fold predictions that relabel the next cycle */
    folds: number;
    /** what an external cell trainer gets: pooled features ('features') or masked crops ('crops') */
    input: 'features' | 'crops';
    /** crop side for 'crops' */
    cropSize: number;
  };
  predict: {
    /** how a cell's final confidence combines the image and cell classifiers (docs/pipeline.md) */
    combine: CombineRule;
  };
  /** external trainer command (docs/trainer-protocol.md); null = built-in trainers */
  trainer: string | null;
  /** passed unchanged to the external trainer as the job's hyperParameters */
  trainerParams: Record<string, unknown>;
}

export const DEFAULT_CONFIG: RunConfig = Object.freeze({
  seed: 1,
  cycles: 2,
  valFraction: 0.1,
  segment: { scale: 1, ties: 'auto', nucleiModel: null, cellModel: null, masks: null },
  image: { inputSize: DEFAULT_INPUT_SIZE, model: null, l2: 1e-2, epochs: 400, lr: 0.05 },
  pseudoLabel: { ...DEFAULT_PSEUDO_LABEL_RULES, statistic: 'mean', region: 'cell', fuse: 0.5 },
  cell: { mode: 'single', hidden: 64, epochs: 60, lr: 3e-3, l2: 1e-4, folds: 3, input: 'features', cropSize: 128 },
  predict: { combine: 'product' },
  trainer: null,
  trainerParams: {},
}) as RunConfig;

type Check = (v: unknown) => boolean;
const num = (lo: number, hi: number): Check => (v) => typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;
const int = (lo: number, hi: number): Check => (v) => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
const oneOf = (...xs: unknown[]): Check => (v) => xs.includes(v);
const strOrNull: Check = (v) => v === null || (typeof v === 'string' && v.length > 0);

const SCHEMA: Record<string, [Check, string]> = {
  seed: [int(0, 2 ** 32 - 1), 'an integer 0..2^32-1'],
  cycles: [int(1, 10), 'an integer 1..10'],
  valFraction: [num(0, 0.5), 'a number in [0, 0.5]'],
  'segment.scale': [oneOf(1, 0.5, 0.25), '1, 0.5 or 0.25'],
  'segment.ties': [oneOf('heap', 'fifo', 'auto'), "'heap', 'fifo' or 'auto'"],
  'segment.nucleiModel': [strOrNull, 'a model path or null'],
  'segment.cellModel': [strOrNull, 'a model path or null'],
  'segment.masks': [strOrNull, 'a folder or null'],
  'image.inputSize': [(v) => int(64, 2048)(v) && (v as number) % 4 === 0, 'a multiple of 4 in 64..2048'],
  'image.model': [strOrNull, 'a model path or null'],
  'image.l2': [num(0, 10), 'a number in [0, 10]'],
  'image.epochs': [int(1, 100000), 'an integer 1..100000'],
  'image.lr': [num(1e-6, 10), 'a number in [1e-6, 10]'],
  'pseudoLabel.mode': [oneOf('single', 'multi'), "'single' or 'multi'"],
  'pseudoLabel.relative': [num(0, 1), 'a number in [0, 1]'],
  'pseudoLabel.absolute': [num(0, 1), 'a number in [0, 1]'],
  'pseudoLabel.negative': [oneOf('all', 'unknown'), "'all' or 'unknown'"],
  'pseudoLabel.statistic': [oneOf('mean', 'max'), "'mean' or 'max'"],
  'pseudoLabel.region': [oneOf('cell', 'nucleus', 'cytoplasm'), "'cell', 'nucleus' or 'cytoplasm'"],
  'pseudoLabel.fuse': [num(0, 1), 'a number in [0, 1]'],
  'cell.mode': [oneOf('single', 'multi'), "'single' or 'multi'"],
  'cell.hidden': [int(1, 4096), 'an integer 1..4096'],
  'cell.epochs': [int(1, 100000), 'an integer 1..100000'],
  'cell.lr': [num(1e-6, 10), 'a number in [1e-6, 10]'],
  'cell.l2': [num(0, 10), 'a number in [0, 10]'],
  'cell.folds': [int(2, 20), 'an integer 2..20'],
  'predict.combine': [oneOf('product', 'cell', 'image', 'mean', 'geometric'), "'product', 'cell', 'image', 'mean' or 'geometric'"],
  'cell.input': [oneOf('features', 'crops'), "'features' or 'crops'"],
  'cell.cropSize': [int(16, 1024), 'an integer 16..1024'],
  trainer: [strOrNull, 'a shell command or null'],
};

/**
 * Merges a partial config over the defaults and validates it. `source` names where it came from.
 *
 * @example
 * ```ts
 * const config = resolveConfig({ cycles: 3, pseudoLabel: { relative: 0.6 } }, 'cellcam.json');
 * ```
 */
export function resolveConfig(partial: unknown, source = 'config'): RunConfig {
  const out = structuredClone(DEFAULT_CONFIG) as unknown as Record<string, unknown>;
  const walk = (src: unknown, dst: Record<string, unknown>, prefix: string) => {
    if (src === undefined) return;
    if (src === null || typeof src !== 'object' || Array.isArray(src)) {
      throw new CellcamError('CELLCAM_E_CONFIG', `${source}: expected an object for ${prefix || 'the config'} but found ${JSON.stringify(src)}`);
    }
    for (const [k, v] of Object.entries(src)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (!Object.hasOwn(dst, k)) throw new CellcamError('CELLCAM_E_CONFIG', `${source}: unknown key '${key}' (known: ${Object.keys(dst).map((s) => (prefix ? `${prefix}.${s}` : s)).join(', ')})`);
      const cur = dst[k];
      if (key === 'trainerParams') {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new CellcamError('CELLCAM_E_CONFIG', `${source}: expected an object for 'trainerParams' but found ${JSON.stringify(v)}`);
        dst[k] = v;
      } else if (cur !== null && typeof cur === 'object') walk(v, cur as Record<string, unknown>, key);
      else {
        const [ok, what] = SCHEMA[key];
        if (!ok(v)) throw new CellcamError('CELLCAM_E_CONFIG', `${source}: expected ${what} for '${key}' but found ${JSON.stringify(v)}`);
        dst[k] = v;
      }
    }
  };
  walk(partial, out, '');
  const cfg = out as unknown as RunConfig;
  if ((cfg.segment.nucleiModel === null) !== (cfg.segment.cellModel === null)) {
    throw new CellcamError('CELLCAM_E_CONFIG', `${source}: give both segment.nucleiModel and segment.cellModel, or neither (the model-free maps)`);
  }
  if (cfg.segment.masks !== null && cfg.segment.nucleiModel !== null) {
    throw new CellcamError('CELLCAM_E_CONFIG', `${source}: segment.masks replaces the segmentation, so it takes no segment.nucleiModel or segment.cellModel`);
  }
  if (cfg.pseudoLabel.statistic === 'max' && cfg.pseudoLabel.region !== 'cell') {
    throw new CellcamError('CELLCAM_E_CONFIG', `${source}: pseudoLabel.statistic 'max' is taken over the whole cell; set pseudoLabel.region 'cell' or use 'mean'`);
  }
  if (cfg.pseudoLabel.mode === 'multi' && cfg.cell.mode === 'single') {
    throw new CellcamError('CELLCAM_E_CONFIG', `${source}: pseudoLabel.mode 'multi' needs cell.mode 'multi' (a softmax classifier takes one label per cell)`);
  }
  return cfg;
}

/** Reads and validates a JSON config file. */
export function readConfigFile(path: string): RunConfig {
  if (!existsSync(path)) throw new CellcamError('CELLCAM_E_IO', `${path}: config file not found`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CellcamError('CELLCAM_E_CONFIG', `${path}: not valid JSON (${(e as Error).message})`);
  }
  return resolveConfig(parsed, path);
}
