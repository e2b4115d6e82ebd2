/** Synthetic HPA-like benchmark with per-cell ground truth (`cellcam synth`). */
export { HPA_CLASSES, CLASS_WEIGHTS, planImageLabels } from './classes.js';
export { synthImage, SYNTH_MIN_SIZE, SYNTH_MAX_SIZE, type SynthImage, type SynthImageOptions } from './image.js';
export { renderComposite, type CompositeChannels, type CompositeOptions } from './preview.js';
export { synthesize, resolveSynthOptions, prepareSynthOut, type SynthOptions, type SynthSummary, type ResolvedSynthOptions } from './writer.js';
