// Typed surface of the cellcam native addon. Arguments are NOT validated beyond type guards:
// call these through @cellcam/core, which checks shapes, dtypes and ranges first.
// Every kernel works in place on the caller's TypedArrays (no copies) and returns a Promise that
// settles when the work, done on a libuv thread, is finished. Do not touch the arrays meanwhile.
// Rejections are Error/TypeError/RangeError objects with a `code` property (CELLCAM_E_*).

export interface Capabilities {
  /** Built with nvcc (CELLCAM_WITH_CUDA=AUTO found it, or ON). */
  compiledWithCuda: boolean;
  /** Usable CUDA devices right now (0 when not compiled, no driver, or no device). */
  cudaDevices: number;
  /** Why cudaDevices is 0; empty when a device is usable. */
  reason: string;
  /** Hardware threads the CPU kernels use by default. */
  threads: number;
  /** Version compiled into the binary (compared with package.json to catch stale builds). */
  version: string;
  cudaRuntimeVersion: number;
  cudaDriverVersion: number;
  deviceNames: string[];
  /** Each device's global memory in bytes (a batch's stacks are planned against what is free of it). */
  deviceMemory: number[];
  /**
   * The cache of image-sized temporaries (src/scratch.h): bytes kept idle for the next kernel call
   * now, and the most it keeps (CELLCAM_SCRATCH_MB, default 512 MiB; 0 keeps none).
   */
  scratch: { idleBytes: number; limitBytes: number };
}

export type Elevation = Uint8Array | Uint16Array | Float32Array;
export type LabelImage = Uint16Array | Int32Array;

export interface WatershedOptions {
  width: number;
  height: number;
  connectivity: 4 | 8;
  watershedLine: boolean;
  /** 'fifo': bucket/FIFO queue, seeds enter in raster order (fast).
   *  'heap': emulates scikit-image 0.19's binary heap, bit-identical including seed ties. */
  tieBreak: 'fifo' | 'heap';
  /** 'cpu' (default) or 'cuda' ('fifo' ties and Uint8/Uint16 elevation only). */
  device?: 'cpu' | 'cuda';
}

/** What the CUDA watershed's host loop did: levels flooded, generations popped, line rounds, burst generations. */
export interface WatershedFloodStats {
  phases: number;
  generations: number;
  lineRounds: number;
  burstGenerations: number;
  /** Generations put in key order by counting instead of sorted (a level's later ones; 0 with CELLCAM_CUDA_PLACEMENT=sort). */
  placedGenerations: number;
  /** Generations run whole in one launch of one block (small, without a line; 0 with CELLCAM_CUDA_ONE_BLOCK=0). */
  oneBlockGenerations: number;
  /**
   * Launches that ran them: each goes on to the next small generation, of its level or the next, up
   * to the first that bursts (= oneBlockGenerations with CELLCAM_CUDA_LEVEL_RUN=0).
   */
  levelRuns: number;
}

export interface WatershedResult {
  device: 'cpu' | 'cuda';
  /** Why a `device: 'cuda'` call flooded on the CPU after all. */
  deviceNote?: string;
  /** Present when `device: 'cuda'` was asked for. */
  timings?: CudaTimings;
  flood?: WatershedFloodStats;
}

export interface LabelOptions {
  width: number;
  height: number;
  connectivity: 4 | 8;
  /** 'binary': nonzero pixels are foreground (scipy.ndimage.label).
   *  'label': neighbouring pixels join only when their values are equal (skimage.measure.label). */
  mode: 'binary' | 'label';
  /** worker threads (0 = all hardware threads); output is identical for any count */
  threads?: number;
  /** 'cpu' (default) or 'cuda' (device 0; rejects with CELLCAM_E_CUDA and the reason when unusable).
   *  Output is identical on both. */
  device?: 'cpu' | 'cuda';
}

export interface PoolOptions {
  channels: number;
  mapHeight: number;
  mapWidth: number;
  width: number;
  height: number;
  /** Cells are ids 1..cells; an id above this rejects with CELLCAM_E_RANGE. */
  cells: number;
  /** Number of regions in `regions` (values 0..regionCount-1); 0 when regions is null. */
  regionCount: number;
  threads: number;
  device: 'cpu' | 'cuda';
}

export interface RleOptions {
  width: number;
  height: number;
  /** Encode ids 1..cells; an id above this rejects with CELLCAM_E_RANGE. */
  cells: number;
  /** worker threads (0 = all hardware threads); output is identical for any count */
  threads?: number;
  /** 'cpu' (default) or 'cuda' (device 0 finds the runs, the CPU encodes them; rejects with
   *  CELLCAM_E_CUDA and the reason when unusable). Strings are identical on both. */
  device?: 'cpu' | 'cuda';
}

export function version(): string;
export function capabilities(): Capabilities;

/** Seeded watershed, scikit-image 0.19 semantics. `out` (Int32Array, H*W) receives the labels. */
export function watershed(
  elevation: Elevation, markers: Int32Array, mask: Uint8Array | null, out: Int32Array, options: WatershedOptions,
): Promise<WatershedResult>;

/**
 * Test-only: the CUDA labelCell chain run on the host executor (src/emulated.cc); equals labelCell with
 * tieBreak 'fifo'. `images` > 1: that many width × height images stacked in each array, one chain.
 */
export function _labelCellEmulated(
  nucleiPred: Uint8Array, cellPred: Uint8Array, nuclei: Uint16Array, cells: Uint16Array,
  options: {
    width: number; height: number; scale?: 1 | 0.5 | 0.25; order?: 'forward' | 'reverse' | 'strided'; images?: number;
    /** Device memory in bytes: an allocation past it fails as on a full device (default: no limit). */
    deviceBytes?: number;
    /** The free memory that the batch's plan sees (default deviceBytes): larger than deviceBytes, a stack runs out and runs again in halves. */
    planBytes?: number;
  },
): {
  cellCount: number; cellCounts: number[]; watersheds: WatershedFloodStats[];
  /** kernel launches, host round trips, and threads launched (the sum of every launch's size) */
  launches: number; reads: number; items: number;
  /** the same by the source line that launched or read them ('label_cell_parallel.h:42'), most threads first */
  sites: { site: string; launches: number; items: number; reads: number }[];
  /** the most device memory one stack held (bytes), and the plan's bytes per pixel (at least the peak's) */
  peakBytes: number; bytesPerPixel: number;
  /** stacks the batch ran as, and stacks that ran out of memory and ran again in halves */
  stacks: number; outOfMemoryRetries: number;
};

/**
 * Test-only: the CUDA watershed's kernels run on the host, one index at a time in the given order
 * (src/emulated.cc). Output equals `watershed` with tieBreak 'fifo'. `images` > 1 floods a batch:
 * that many images of height / images rows, stacked, each as if alone.
 */
export function _watershedEmulated(
  elevation: Uint8Array | Uint16Array, markers: Int32Array, mask: Uint8Array | null, out: Int32Array,
  options: {
    width: number; height: number; connectivity: 4 | 8; watershedLine: boolean; order?: 'forward' | 'reverse' | 'strided'; images?: number;
  },
): { result: 'ok' | 'line-burst' } & WatershedFloodStats;

/**
 * Where one CUDA call's wall-clock time went, in ms: host work (planning, encoding), copies to and
 * from the device, and device work. Present on results that ran with `device: 'cuda'`.
 */
export interface CudaTimings {
  totalMs: number;
  hostMs: number;
  uploadMs: number;
  kernelMs: number;
  downloadMs: number;
}

/** Connected components in raster order. sizes[k] = pixels of label k (sizes[0] = background). */
export function label(
  input: Uint8Array | Uint16Array | Int32Array, out: Int32Array, options: LabelOptions,
): Promise<{ count: number; sizes: Int32Array; device: 'cpu' | 'cuda'; timings?: CudaTimings }>;

/**
 * CAM-to-cell pooling of a [C, h, w] map bilinearly upsampled (half-pixel centres) to H×W, on the fly.
 * Slots: s = 0 is the whole cell; with `regions`, s = 1 + r is region r. `regions` may instead be a
 * nucleus label image (Uint16Array or Int32Array, regionCount 2): region 0 where it is nonzero
 * (nucleus), 1 elsewhere (cytoplasm), derived on the worker's threads.
 * mean/max: Float32Array [(1 + regionCount) * cells * C], index (s * cells + id - 1) * C + c.
 * area: Int32Array [(1 + regionCount) * cells]. Empty (cell, slot): area 0, mean and max NaN.
 */
export function pool(
  map: Float32Array, labels: LabelImage, regions: Uint8Array | LabelImage | null,
  mean: Float32Array, max: Float32Array | null, area: Int32Array, options: PoolOptions,
): Promise<{ device: 'cpu' | 'cuda'; timings?: CudaTimings }>;

/**
 * COCO RLE counts strings (cocoapi rleToString) of every cell 1..cells, column-major. On CUDA the
 * array carries a non-enumerable `timings`.
 */
export function rle(labels: LabelImage, options: RleOptions): Promise<string[] & { timings?: CudaTimings }>;

/** Flat options of resample(): one plane of width × height into out[offset ..] at outWidth × outHeight. */
export interface ResampleOptions {
  width: number;
  height: number;
  outWidth: number;
  outHeight: number;
  /** every output value is multiplied by it (default 1) */
  scale?: number;
  /** first element of out written (default 0) */
  offset?: number;
  /** worker threads; 0 or undefined = all hardware threads. Output never depends on it. */
  threads?: number;
}

/**
 * Area (box) resampling with fractional overlaps, byte-identical to core's resamplePlane: a
 * horizontal pass into float32 rows, then a vertical pass, double accumulators, times `scale`.
 */
export function resample(src: Uint8Array | Uint16Array | Float32Array | Float64Array, out: Float32Array, options: ResampleOptions): Promise<void>;

export type MorphologyOp =
  | 'threshold' | 'removeSmallObjects' | 'removeSmallHoles' | 'binaryErosion' | 'binaryFillHoles'
  | 'findBoundaries' | 'grey' | 'otsu';

/** Flat options of morphology(); each op reads the fields it needs (see morphology.cc). */
export interface MorphologyOptions {
  width: number;
  height: number;
  /** worker threads (0 = all hardware threads); output is identical for any count */
  threads?: number;
  /** threshold: out = input[i*channels+channel] / divisor > value */
  value?: number;
  divisor?: number;
  channels?: number;
  channel?: number;
  /** removeSmallObjects */
  minSize?: number;
  mode?: 'binary' | 'label';
  /** removeSmallHoles */
  areaThreshold?: number;
  /** removeSmallObjects / removeSmallHoles / binaryErosion */
  connectivity?: 4 | 8;
  /** binaryErosion: value of the pixels outside the image */
  borderValue?: boolean;
  /** grey: disk(radius) footprint and the operation */
  radius?: number;
  op?: 'dilation' | 'erosion' | 'closing' | 'opening';
}

/**
 * The primitives of the HPA post-processing (scikit-image 0.19 semantics). `out` is a Uint8Array
 * (threshold, masks, findBoundaries), the input's dtype (removeSmallObjects, grey) or null (otsu).
 * Resolves to: otsu the threshold; threshold the pixels set; removeSmallObjects the objects kept;
 * removeSmallHoles the holes filled; others 0.
 */
export function morphology(
  op: MorphologyOp, input: Uint8Array | Uint16Array | Int32Array | Float32Array | Float64Array,
  out: Uint8Array | Uint16Array | Int32Array | null, options: MorphologyOptions,
): Promise<number>;

export interface LabelCellNativeOptions {
  width: number;
  height: number;
  /** 1, 0.5 or 0.25 (reduced-resolution fast path) */
  scale: number;
  /** worker threads for the parallel steps (0 = all hardware threads); output never depends on it */
  threads: number;
  /** watershed seed ties: 'heap' (default, scikit-image's order, exact) or 'fifo' (raster order, faster) */
  tieBreak?: 'heap' | 'fifo';
  /** labelCell only: 'cpu' (default) or 'cuda' (tieBreak 'fifo' only). */
  device?: 'cpu' | 'cuda';
  /**
   * labelCell only: a batch of this many width × height images (default 1), each argument either
   * one array holding them all stacked or, with images > 1, an Array of one typed array per image
   * (used in place: no stacking copy); on 'cuda' they go through one stacked chain on the device
   * (several, each of as many images as the free device memory holds, when it does not hold them
   * all), on the CPU one after another.
   */
  images?: number;
}

/** hpacellseg label_cell on H×W×3 uint8 predictions, the whole chain in one worker. */
export function labelCell(
  nucleiPred: Uint8Array | Uint8Array[], cellPred: Uint8Array | Uint8Array[], nuclei: Uint16Array | Uint16Array[],
  cells: Uint16Array | Uint16Array[], options: LabelCellNativeOptions,
): Promise<{
  cellCount: number; cellCounts: number[]; device: 'cpu' | 'cuda'; timings?: CudaTimings; watersheds?: WatershedFloodStats[]; launches?: number; reads?: number;
  /** CUDA: the stacks the batch ran as (more than 1 when the device's free memory did not hold it at once), and stacks that ran out of memory and ran again in halves */
  stacks?: number; outOfMemoryRetries?: number;
}>;

/**
 * The CUDA device's memory bandwidth as a device-to-device copy of `bytes` (default 256 MiB),
 * `reps` times (default 10), reaches it; bytesPerSecond counts each byte read and written.
 * Rejects with CELLCAM_E_CUDA and the reason when no device is usable.
 */
export function cudaCopyBandwidth(options: { bytes?: number; reps?: number }): Promise<{ bytesPerSecond: number; bytes: number; reps: number; device: string }>;

/**
 * Model-free prediction maps (channel 2 of two width × height × 3 uint8 maps) from the red, blue and
 * yellow stains, the same bytes as core's TypeScript twin `modelFreeMaps`. Stains are Uint8Array
 * (bitDepth 8) or Uint16Array (16); every option is required (core fills in the defaults).
 */
export function modelFreeMaps(
  red: Uint8Array | Uint16Array, blue: Uint8Array | Uint16Array, yellow: Uint8Array | Uint16Array, nucleiPred: Uint8Array, cellPred: Uint8Array,
  options: {
    width: number; height: number; bitDepth: 8 | 16; lengthScale: number; nucleusSigma: number; cellSigma: number; decay: number;
    intensityWeight: number; threads: number;
  },
): Promise<void>;

/** hpacellseg label_nuclei on an H×W×3 uint8 prediction. */
export function labelNuclei(
  nucleiPred: Uint8Array, nuclei: Uint16Array, options: { width: number; height: number; threads: number; tieBreak?: 'heap' | 'fifo' },
): Promise<{ count: number }>;
