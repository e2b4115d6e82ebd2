// Entry points of every kernel as registered on the addon's exports (see addon.cc).
#pragma once
#include <napi.h>

namespace cellcam {
// watershed(elevation, markers, mask|null, out, opts) -> Promise<void>        (watershed.cc)
Napi::Value Watershed(const Napi::CallbackInfo& info);
// _watershedEmulated(elevation, markers, mask|null, out, opts) -> stats, test-only (emulated.cc)
Napi::Value WatershedEmulated(const Napi::CallbackInfo& info);
// _labelCellEmulated(nucleiPred, cellPred, nuclei, cells, opts) -> stats, test-only (emulated.cc)
Napi::Value LabelCellEmulated(const Napi::CallbackInfo& info);
// label(input, out, opts) -> Promise<{count, sizes}>                          (label.cc)
Napi::Value Label(const Napi::CallbackInfo& info);
// pool(map, labels, regions|null, mean, max|null, area, opts) -> Promise<{device}> (pool.cc)
Napi::Value Pool(const Napi::CallbackInfo& info);
// rle(labels, opts) -> Promise<string[]>                                      (rle.cc)
Napi::Value Rle(const Napi::CallbackInfo& info);
// morphology(op, input, out|null, opts) -> Promise<number>                    (morphology.cc)
Napi::Value Morphology(const Napi::CallbackInfo& info);
// labelCell(nucleiPred, cellPred, nuclei, cells, opts) -> Promise<{cellCount}> (label_cell.cc)
Napi::Value LabelCell(const Napi::CallbackInfo& info);
// labelNuclei(nucleiPred, nuclei, opts) -> Promise<{count}>                   (label_cell.cc)
Napi::Value LabelNuclei(const Napi::CallbackInfo& info);
// resample(src, out, opts) -> Promise<void>                                   (resample.cc)
Napi::Value Resample(const Napi::CallbackInfo& info);
// modelFreeMaps(red, blue, yellow, nucleiPred, cellPred, opts) -> Promise<void> (model_free.cc)
Napi::Value ModelFree(const Napi::CallbackInfo& info);
}  // namespace cellcam
