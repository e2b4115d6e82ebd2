// The HPA post-processing (hpacellseg 0.1.8 label_cell / label_nuclei, scikit-image 0.19 semantics)
// as plain C++ over caller-owned buffers; label_cell.cc runs it in one worker.
#pragma once

#include <cstdint>

namespace cellcam {

// label_cell on interleaved H×W×3 uint8 predictions (channel 1 = border, 2 = interior). scale 1
// is exact; 0.5 / 0.25 run at reduced resolution (block-mean downscale, area constants × s²,
// closing radius round(6 s), labels replicated back). threads >= 1 for the parallel steps (the
// output never depends on it). heap: skimage's heap order for watershed seeds of equal level
// (exact); false: raster order (faster, may differ in tied pixels). Returns the cell count.
int64_t LabelCellRun(const uint8_t* nucleiPred, const uint8_t* cellPred, uint16_t* nuclei, uint16_t* cells,
                     int64_t width, int64_t height, double scale, int threads, bool heap = true);

// label_nuclei (hpa-spec §4.2) on an interleaved H×W×3 uint8 prediction. Returns the nucleus count.
int64_t LabelNucleiRun(const uint8_t* nucleiPred, uint16_t* nuclei, int64_t width, int64_t height, int threads, bool heap = true);

}  // namespace cellcam
