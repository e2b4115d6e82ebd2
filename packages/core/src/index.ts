/**
 * @cellcam/core — the cellcam library.
 *
 * Kernels (watershed, connected components, CAM-to-cell pooling, cell RLE) run on the native
 * addon when it is built and on their TypeScript twins otherwise (or with `backend: 'js'`).
 */
export * from './errors.js';
export { capabilities, cudaCopyBandwidth, nativeLoadError, type Backend, type Device, type CudaTimings } from './native.js';
export * from './kernels/watershed.js';
export * from './kernels/label.js';
export * from './kernels/pool.js';
export * from './kernels/rle.js';
export * from './kernels/resample.js';
export { VERSION } from './version.js';
export { doctor, type DoctorReport } from './doctor.js';
export { HPA_CLASS_NAMES } from './classes.js';
export { writeFileAtomic, writeFileAtomicSync, removeStaleTempFiles } from './io/atomic.js';
export { readGrey, readLabels, writeGreyPng, encodeGreyPng, type GreyImage } from './io/png.js';
export { listImageSets, imageSize, readImageSet, CHANNELS, type ChannelName, type ImageSetFiles, type ImageSet, type ReadImageSetOptions } from './io/imageset.js';
export { findMasks, maskNames } from './io/masks.js';
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
export { modelFreeMaps, modelFreeMapsAsync, type ModelFreeRunOptions, normalizeStain, gaussianBlur, distanceTo, type ModelFreeChannels, type ModelFreeOptions } from './segment/model-free.js';
export { segmentImage, segmentFolder, resolveTies, type SegmentTies, type SegmentOptions, type SegmentResult, type SegmentFolderOptions, type SegmentFolderSummary } from './segment/segment.js';
export { segmentationScore, segmentationMatches, combineSegmentationScores, type SegmentationScore, type SegmentationMatches } from './metric/segmentation.js';
export * from './segment/label-cell.js';
export * from './segment/morphology.js';
export * from './model/contracts.js';
export { FEATURE_NAMES, FEATURE_COUNT, FEATURE_LAYOUT, FEATURE_STRIDE, featureModel } from './features/bank.js';
export { imageTensor, imageTensorAsync } from './features/input.js';
export { imageClassifierModel, type LinearHead } from './cam/image-model.js';
export { cellClassifierModel, cellInputTransform, CELL_LOG_EPS } from './train/cell-model.js';
export { trainLogistic, trainMlp, mlpLogits, fitStandardizer, applyStandardizer, balancedPosWeight, activate, sigmoid, type Matrix, type Mlp, type Standardizer, type LinearModel } from './train/optim.js';
export * from './pseudolabel/pseudolabel.js';
export { truthLabelsForMasks } from './metric/truth-match.js';
export { resolveConfig, readConfigFile, DEFAULT_CONFIG, type RunConfig, type CombineRule } from './pipeline/config.js';
export { readImageLabels, loadRunDataset, type RunDataset, type DatasetOptions } from './pipeline/dataset.js';
export * from './pipeline/stages.js';
export { runPipeline, PIPELINE_STAGES, type PipelineStage, type RunOptions, type RunRecord, type StageRecord } from './pipeline/run.js';
export { cellCrops, writeCellCrops, encodeNpy, decodeNpy, DEFAULT_CROP_SIZE, DEFAULT_CROP_PADDING_FRACTION, CROP_MANIFEST_COLUMNS, type CellCropOptions, type CellCrops, type CellCropItem, type WriteCellCropsOptions, type WriteCellCropsResult, type NpyArray } from './io/crops.js';
export { runExternalTrainer, parseProgressLine, checkTrainerJob, trainerCommandLine, TRAINER_MANIFEST_COLUMNS, TRAINER_CONTRACTS, type TrainerJob, type TrainerStage, type TrainerContract, type ExternalTrainerOptions, type ExternalTrainerResult } from './train/external.js';
export { combine } from './predict/combine.js';
export { buildReport, loadRunView, type ReportOptions, type ReportResult, type CellRow, type RunView } from './report/index.js';
