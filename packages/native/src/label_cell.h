// The HPA post-processing (hpacellseg 0.1.8 label_cell / label_nuclei, scikit-image 0.19 semantics)
// as plain C++ over caller-owned buffers; label_cell.cc runs it in one worker.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

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
// `core`, when given, replaces the CPU chain at the working resolution (the CUDA chain, or its
// emulation): core(nucleiPred, cellPred, w, h, constants, nuclei, cells) -> cell count.
using LabelCellCoreFn = std::function<int64_t(const uint8_t*, const uint8_t*, int64_t, int64_t, const LabelCellConstants&,
                                              uint16_t*, uint16_t*)>;
int64_t LabelCellRun(const uint8_t* nucleiPred, const uint8_t* cellPred, uint16_t* nuclei, uint16_t* cells,
                     int64_t width, int64_t height, double scale, int threads, bool heap = true,
                     const LabelCellCoreFn& core = nullptr);

// A batch of images of one size through a core that runs once on all of them stacked at the working
// resolution (lcpar::LabelCellChain with images > 1): core(nucleiPreds, cellPreds, w, h, images,
// constants, nuclei, cells, counts) with `images` images of w × h stacked in each buffer, writing
// each image's cell count to counts; false on failure. The host part is LabelCellRun's: per-image
// downscale for scale < 1, labels replicated back. Returns false when the core failed.
using LabelCellBatchCoreFn = std::function<bool(const uint8_t*, const uint8_t*, int64_t, int64_t, int64_t, const LabelCellConstants&,
                                                uint16_t*, uint16_t*, int64_t*)>;
bool LabelCellBatchRun(const std::vector<const uint8_t*>& nucleiPreds, const std::vector<const uint8_t*>& cellPreds,
                       const std::vector<uint16_t*>& nuclei, const std::vector<uint16_t*>& cells, int64_t width, int64_t height,
                       double scale, const LabelCellBatchCoreFn& core, int64_t* counts);

// label_nuclei (hpa-spec §4.2) on an interleaved H×W×3 uint8 prediction. Returns the nucleus count.
int64_t LabelNucleiRun(const uint8_t* nucleiPred, uint16_t* nuclei, int64_t width, int64_t height, int threads, bool heap = true);

}  // namespace cellcam
