/**
 * @cellcam/core — the cellcam library.
 *
 * Kernels (watershed, connected components, CAM-to-cell pooling, cell RLE) run on the native
 * addon when it is built and on their TypeScript twins otherwise (or with `backend: 'js'`).
 */
export * from './errors.js';
export { capabilities, nativeLoadError, type Backend, type Device } from './native.js';
export * from './kernels/watershed.js';
export * from './kernels/label.js';
export * from './kernels/pool.js';
export * from './kernels/rle.js';
export { VERSION } from './version.js';
export { doctor, type DoctorReport } from './doctor.js';
export { HPA_CLASS_NAMES } from './classes.js';
export { writeFileAtomic, writeFileAtomicSync } from './io/atomic.js';
export { readGrey, writeGreyPng, encodeGreyPng, type GreyImage } from './io/png.js';
export { listImageSets, imageSize, readImageSet, CHANNELS, type ChannelName, type ImageSetFiles, type ImageSet } from './io/imageset.js';
export * from './submit/encode.js';
export * from './submit/writer.js';
export { readSubmissionRows, parsePredictions, SUBMISSION_HEADER, type SubmissionRow, type Prediction } from './submit/csv.js';
export { validateSubmission, type ValidateOptions, type ValidationProblem, type ValidationReport } from './submit/validate.js';
export * from './metric/evaluate.js';
export { maskIou, boxIou, rleMask, rleIntersection, type RleMask } from './metric/rle-iou.js';
export { writeBaseline, type BaselineKind, type BaselineOptions } from './metric/baseline.js';
export * from './synth/index.js';
export { mulberry32 } from './util/random.js';
export * from './model/onnx-writer.js';
export * from './model/session.js';
export { rescale, rescalePlane, rescaledSize, imgAsFloat, floatToUbyte, padReflect, hpaPadding, resizeArea } from './segment/resize.js';
export * from './segment/unet.js';
export { readRgb8 } from './io/png.js';
export { modelFreeMaps, normalizeStain, gaussianBlur, distanceTo, type ModelFreeChannels, type ModelFreeOptions } from './segment/model-free.js';
export { segmentImage, segmentFolder, type SegmentOptions, type SegmentResult, type SegmentFolderOptions, type SegmentFolderSummary } from './segment/segment.js';
export { segmentationScore, segmentationMatches, combineSegmentationScores, type SegmentationScore, type SegmentationMatches } from './metric/segmentation.js';
export * from './segment/label-cell.js';
export * from './segment/morphology.js';
