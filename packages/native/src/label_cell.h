// The HPA post-processing (hpacellseg 0.1.8 label_cell / label_nuclei, scikit-image 0.19 semantics)
// as plain C++ over caller-owned buffers; label_cell.cc runs it in one worker.
#pragma once

#include <cstdint>
#include <functional>

namespace cellcam {

// label_cell's size and radius constants at a scale (area constants × s², radius round(6 s), numpy
// rounding): seeds, holes, mask objects, nuclei and cells (pixels), and the closing radius.
struct LabelCellConstants {
  int64_t seedMinSize, holeArea, maskMinSize, nucleusMinSize, cellMinSize;
  int closingRadius;
};
LabelCellConstants LabelCellConstantsFor(double scale);

// label_cell on interleaved H×W×3 uint8 predictions (channel 1 = border, 2 = interior). scale 1
// is exact; 0.5 / 0.25 run at reduced resolution (block-mean downscale, area constants × s²,
// closing radius round(6 s), labels replicated back). threads >= 1 for the parallel steps (the
// output never depends on it). heap: skimage's heap order for watershed seeds of equal level
// (exact); false: raster order (faster, may differ in tied pixels). Returns the cell count.
int64_t LabelCellRun(const uint8_t* nucleiPred, const uint8_t* cellPred, uint16_t* nuclei, uint16_t* cells,
                     int64_t width, int64_t height, double scale, int threads, bool heap = true);

// The chain at the working resolution, on `images` images of w × h stacked in each buffer:
// core(nucleiPreds, cellPreds, w, h, images, constants, nuclei, cells, counts) writes each image's
// cell count to counts and returns false on failure. The CUDA chain (one stacked chain for a
// batch) and its emulation plug in here; LabelCellRun plugs in the CPU chain.
using LabelCellCoreFn = std::function<bool(const uint8_t*, const uint8_t*, int64_t, int64_t, int64_t, const LabelCellConstants&,
                                           uint16_t*, uint16_t*, int64_t*)>;
// LabelCellRun's host part around `core`, for `images` width × height images stacked in each
// array: at scale 1 the core works on the caller's buffers; else each image is downscaled into
// one stacked working buffer and its labels replicated back, on up to `threads` threads. False
// when the core failed.
bool LabelCellRunOn(const LabelCellCoreFn& core, const uint8_t* nucleiPreds, const uint8_t* cellPreds, uint16_t* nuclei,
                    uint16_t* cells, int64_t width, int64_t height, int64_t images, double scale, int64_t* counts, int threads);

// label_nuclei (hpa-spec §4.2) on an interleaved H×W×3 uint8 prediction. Returns the nucleus count.
int64_t LabelNucleiRun(const uint8_t* nucleiPred, uint16_t* nuclei, int64_t width, int64_t height, int threads, bool heap = true);

}  // namespace cellcam
